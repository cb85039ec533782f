//! The lamlog Lambda function: Kinesis (or direct CloudWatch Logs) events in,
//! rows in the store and alerts to SNS out.
//!
//! `main` reads the [`config::Config`] once, builds the [`state::State`]
//! once (store, SDK clients, cache), then hands each event to
//! [`state::State::invoke`], which calls the plain async
//! [`handler::handle`] and prints one EMF line ([`metrics`]).

pub mod config;
pub mod database;
pub mod handler;
pub mod metrics;
pub mod state;
