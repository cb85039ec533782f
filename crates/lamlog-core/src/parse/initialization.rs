//! How an execution environment was initialised, as the JSON format's
//! `platform.initStart` says in `initializationType`.

use serde::Serialize;

/// `initializationType` of `platform.initStart`: it decides the duration
/// price of every invocation the environment then runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InitializationType {
    /// Started for an invocation (`on-demand`): the on-demand price.
    OnDemand,
    /// Started ahead of traffic (`provisioned-concurrency`): the provisioned
    /// duration price.
    ProvisionedConcurrency,
    /// Restored from a SnapStart snapshot (`snap-start`).
    SnapStart,
}

impl InitializationType {
    /// The name Lambda uses, which the stores keep.
    pub fn as_str(self) -> &'static str {
        match self {
            InitializationType::OnDemand => "on-demand",
            InitializationType::ProvisionedConcurrency => "provisioned-concurrency",
            InitializationType::SnapStart => "snap-start",
        }
    }

    /// The type Lambda names `name`; `None` for a name it does not use.
    pub fn from_name(name: &str) -> Option<InitializationType> {
        match name {
            "on-demand" => Some(InitializationType::OnDemand),
            "provisioned-concurrency" => Some(InitializationType::ProvisionedConcurrency),
            "snap-start" => Some(InitializationType::SnapStart),
            _ => None,
        }
    }
}
