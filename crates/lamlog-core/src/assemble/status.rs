//! How an invocation ended: [`Status`], and [`StatusFlags`], the set of
//! statuses its lines claimed.
//!
//! Statuses are ordered by severity so that merging evidence only ever
//! raises an invocation's status, whatever order its lines arrive in.

use serde::Serialize;

/// How an invocation ended, in rising order of severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Returned normally.
    #[default]
    Success,
    /// Raised or returned an error.
    Error,
    /// The runtime process died.
    Crash,
    /// Killed for using more memory than configured.
    Oom,
    /// Ran past its timeout.
    Timeout,
}

impl Status {
    /// Every status, in severity order.
    pub const ALL: [Status; 5] = [
        Status::Success,
        Status::Error,
        Status::Crash,
        Status::Oom,
        Status::Timeout,
    ];

    /// The lower-case name used in JSON and SQL.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Crash => "crash",
            Status::Oom => "oom",
            Status::Timeout => "timeout",
        }
    }

    pub(super) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// Every status some line has claimed for an invocation. Kept as a set rather
/// than only its maximum so that alert rules can ask "was it ever seen to run
/// out of memory" and get the same answer whatever order the lines came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct StatusFlags(pub u8);

impl StatusFlags {
    /// The flags holding one status.
    pub fn of(status: Status) -> StatusFlags {
        StatusFlags(status.bit())
    }

    /// Whether `status` was seen.
    pub fn contains(self, status: Status) -> bool {
        self.0 & status.bit() != 0
    }

    /// The most severe status seen (success when none).
    pub fn max(self) -> Status {
        Status::ALL
            .into_iter()
            .rev()
            .find(|status| self.contains(*status))
            .unwrap_or(Status::Success)
    }
}
