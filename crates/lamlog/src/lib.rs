//! lamlog: the batch driver, the backends behind the enrich, store and notify
//! traits, and the `lamlog` command line.

pub mod generate;
