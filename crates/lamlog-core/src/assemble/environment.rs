//! Environments: how each execution environment of a batch started.
//!
//! A log stream is one execution environment. The JSON format's
//! `platform.initStart` says once, at its start, how it started
//! (`initializationType`): on demand, on provisioned concurrency or from a
//! SnapStart snapshot. That decides the duration price of every invocation
//! it runs afterwards, usually in later batches, so the store keeps what the
//! batches saw and the pipeline prices each invocation by its stream's entry.

use serde::Serialize;

use crate::parse::InitializationType;

/// An execution environment: one log stream of one log group.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct EnvironmentKey {
    /// The account that owns the log group.
    pub account: String,
    /// The log group.
    pub log_group: String,
    /// The log stream.
    pub log_stream: String,
}

/// An environment and how it started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Environment {
    /// Which environment.
    pub key: EnvironmentKey,
    /// How it started.
    pub initialization_type: InitializationType,
}
