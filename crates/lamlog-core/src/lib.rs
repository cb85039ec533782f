//! lamlog-core: the pure stages of the lamlog pipeline.
//!
//! ```text
//! bytes ─decode─► Envelope ─parse─► LogLine ─assemble─► Invocation ─price─► cost ─judge─► Alert
//! ```
//!
//! Nothing here does I/O, spawns a task or talks to AWS: each stage is a plain
//! synchronous function over data it is handed, so it can be fuzzed,
//! property-tested and benchmarked on its own. The stages that touch the world
//! (enrich, store, notify) live in the `lamlog` crate.

pub mod assemble;
pub mod calendar;
pub mod charges;
pub mod decode;
pub mod growth;
pub mod judge;
pub mod key;
pub mod meta;
pub mod parse;
pub mod price;
pub mod rollup;
pub mod tune;
pub mod window;
