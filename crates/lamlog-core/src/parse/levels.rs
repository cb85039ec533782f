//! Log levels: which words name one, and which of them mark an error.
//!
//! The text reader (`app`) and the JSON reader (`json`) both decide whether
//! an application line is an error by its level, so the vocabulary lives here,
//! apart from both, and neither reader has to import the other for it.
//!
//! Most runtimes and loggers write levels as short upper-case words (`INFO`,
//! `WARNING`, `CRITICAL`). The .NET runtime writes the short lower-case
//! labels of Microsoft.Extensions.Logging instead, in the same tab-separated
//! place as Node's: `trce`, `dbug`, `info`, `warn`, `fail` and `crit`.
//! `fail` is .NET's error and `crit` its critical.

/// The .NET runtime's level labels, lowest first.
const DOTNET_LEVELS: [&str; 6] = ["trce", "dbug", "info", "warn", "fail", "crit"];

/// Whether `word` names a level: a short upper-case word (`INFO`,
/// `WARNING`, …) or one of the .NET runtime's lower-case labels.
pub(super) fn is_level_word(word: &str) -> bool {
    let upper_case =
        (1..=16).contains(&word.len()) && word.bytes().all(|byte| byte.is_ascii_uppercase());
    upper_case || DOTNET_LEVELS.contains(&word)
}

/// The levels that make an application line an error, in any letter case:
/// `ERROR`, `FATAL`, `CRITICAL`, and .NET's `fail` and `crit`.
pub(super) fn is_error_level(level: &str) -> bool {
    ["ERROR", "FATAL", "CRITICAL", "FAIL", "CRIT"]
        .iter()
        .any(|error| level.eq_ignore_ascii_case(error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotnet_labels_are_levels_and_fail_and_crit_are_errors() {
        for label in DOTNET_LEVELS {
            assert!(is_level_word(label), "{label}");
        }
        let errors: Vec<&str> = DOTNET_LEVELS
            .into_iter()
            .filter(|label| is_error_level(label))
            .collect();
        assert_eq!(errors, ["fail", "crit"]);
        assert!(!is_level_word("information"));
        assert!(!is_level_word("hello"));
    }
}
