//! What the integration tests share, loaded once: each test file reaches it
//! as `crate::support::…`.

pub mod cli;
#[path = "../store_conformance/evidence.rs"]
pub mod evidence;
pub mod kept;
#[path = "../moto/mod.rs"]
pub mod moto;
pub mod oracle;
pub mod oracle_delivery;
pub mod oracle_workload;
#[path = "../postgres/schema.rs"]
pub mod postgres_schema;
pub mod records;
pub mod split_stream;
#[path = "../tls_cluster/mod.rs"]
pub mod tls_cluster;
