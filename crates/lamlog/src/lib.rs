//! lamlog: the batch driver, the backends behind the enrich, store and notify
//! traits, and the `lamlog` command line.

#[cfg(feature = "aws")]
pub mod aws;
pub mod batch;
pub mod deliver;
pub mod enrich;
pub mod generate;
pub mod notify;
pub mod redact;
#[cfg(feature = "replay")]
pub mod replay;
#[cfg(feature = "secrets")]
pub mod secrets;
pub mod store;
pub mod tune_chart;
