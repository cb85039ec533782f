//! Log levels: which words name one, and which of them mark an error.
//!
//! The text reader (`app`) and the JSON reader (`json`) both decide whether
//! an application line is an error by its level, so the vocabulary lives here,
//! apart from both, and neither reader has to import the other for it.

/// The levels that make an application line an error, in any letter case.
pub(super) fn is_error_level(level: &str) -> bool {
    ["ERROR", "FATAL", "CRITICAL"]
        .iter()
        .any(|error| level.eq_ignore_ascii_case(error))
}
