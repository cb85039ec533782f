//! One alert a generated workload must raise, as each rule's truth states
//! it (`alerts`, `cost_spikes`, `growth`).

use serde::Serialize;

/// One expected alert.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct AlertTruth {
    pub(crate) kind: &'static str,
    pub(crate) account: String,
    pub(crate) function: String,
    pub(crate) window_start_ms: i64,
}
