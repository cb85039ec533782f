//! Function metadata: what lamlog knows about a function beyond its logs.
//!
//! Logs say what happened; metadata says what it means. The architecture
//! decides the price per GB-second, the configured timeout decides when a slow
//! invocation is close to timing out, and per-function thresholds tune the
//! alert rules. Metadata is keyed by `account#function` and comes from DynamoDB
//! in production or from a TOML/JSON file locally; this module only defines
//! its shape, so that the pure stages can use it without knowing its source.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The instruction set a function runs on; it decides the GB-second price.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum Architecture {
    /// Intel/AMD, Lambda's default.
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    /// Graviton.
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    /// The name Lambda uses (`x86_64` or `arm64`).
    pub fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

impl std::str::FromStr for Architecture {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "x86_64" | "x86" | "amd64" => Ok(Architecture::X86_64),
            "arm64" | "arm" | "aarch64" | "graviton" => Ok(Architecture::Arm64),
            other => Err(format!(
                "unknown architecture {other:?}: expected x86_64 or arm64"
            )),
        }
    }
}

impl std::fmt::Display for Architecture {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Per-function alert thresholds. Every field is optional: an absent field
/// takes the default of [`crate::judge::AlertRules`].
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertThresholds {
    /// Alert when max memory used reaches this fraction of memory size (default 0.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_used_ratio: Option<f64>,
    /// Alert when duration reaches this fraction of the configured timeout (default 0.8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ratio: Option<f64>,
    /// Alert when a window's failed fraction exceeds this (default 0.05).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate: Option<f64>,
    /// A window needs at least this many invocations before its error rate counts (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_rate_min_invocations: Option<u64>,
    /// Alert when init or restore duration exceeds this (default 3000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cold_start_ms: Option<f64>,
    /// Alert when a log stream's max memory used is projected to reach the
    /// memory size within this many invocations (default 1000; see
    /// `lamlog_core::growth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_growth_horizon: Option<u64>,
    /// Alert when an hour's cost exceeds this multiple of the function's
    /// baseline (default 3.0; see `judge::cost_spike`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_spike_multiple: Option<f64>,
    /// … and is at least this many USD (default 0.50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_spike_min_usd: Option<f64>,
    /// Alert kinds switched off for this function (for example `["memory_pressure"]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled: Vec<String>,
}

/// What lamlog knows about one function, keyed by `account#function`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionMeta {
    /// Tenant or customer the function's cost belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Instruction set; x86_64 when unknown.
    #[serde(default)]
    pub architecture: Architecture,
    /// AWS region, which selects the price table row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// For example `python3.13`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
    /// The configured timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<f64>,
    /// Free-form tags.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Per-function alert thresholds.
    #[serde(default)]
    pub alerts: AlertThresholds,
    /// A custom log group that belongs to this function (advanced logging
    /// controls let a function log anywhere since 2023).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// Configured ephemeral storage (`/tmp`), MB; above 512 it is charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ephemeral_storage_mb: Option<u32>,
    /// The function runs on provisioned concurrency: its invocations pay the
    /// provisioned duration price, except where the logs say otherwise (a
    /// JSON `platform.initStart` of the stream that says `on-demand`, or a
    /// REPORT with an `Init Duration`: an on-demand spill-over).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub provisioned_concurrency: bool,
}

impl FunctionMeta {
    /// Whether a SnapStart restore of this function is charged: Python's and
    /// .NET's are, Java's are not. `false` when the runtime is unknown.
    pub fn snapstart_restores_charged(&self) -> bool {
        self.runtime.as_deref().is_some_and(|runtime| {
            let runtime = runtime.to_ascii_lowercase();
            runtime.starts_with("python") || runtime.starts_with("dotnet")
        })
    }
}

/// The metadata key of a function: `account#function`, with `%` and `#` in
/// the account escaped ([`crate::key`]), so that a `#` in either name never
/// makes two functions share a key.
pub fn meta_key(account: &str, function: &str) -> String {
    crate::key::join('#', &[account, function])
}

/// The account and function of a metadata key (`None` when it is not of the
/// form `account#function`).
pub fn split_meta_key(key: &str) -> Option<(String, String)> {
    let mut fields = crate::key::split('#', key, 2)?.into_iter();
    Some((fields.next()?, fields.next()?))
}
