//! Checks `parse` against the shared corpus of real Lambda log messages.
//!
//! The corpus lives outside the repository, in `../shared/corpus/lines.jsonl`
//! from the workspace root, and is read in place so that a shape added there
//! is checked without touching this file. Each line is
//! `{"source", "message", "expect"}`; every key of `expect` must match the
//! serialised parse (floats to 1e-9, `null` meaning absent). All mismatches
//! are gathered into one failure so that a new batch of shapes shows
//! everything it breaks at once.

use std::path::PathBuf;

use lamlog_core::parse::parse;
use serde_json::Value;

fn corpus_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/lines.jsonl")
}

/// Equality as the corpus README defines it.
fn matches(expected: &Value, actual: Option<&Value>) -> bool {
    match (expected, actual) {
        (Value::Null, None | Some(Value::Null)) => true,
        (Value::Number(expected), Some(Value::Number(actual))) => {
            match (expected.as_f64(), actual.as_f64()) {
                (Some(expected), Some(actual)) => (expected - actual).abs() <= 1e-9,
                _ => false,
            }
        }
        (expected, Some(actual)) => expected == actual,
        (_, None) => false,
    }
}

#[test]
fn every_corpus_line_parses_as_expected() {
    let path = corpus_path();
    let corpus = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read the corpus at {}: {error}; it must exist next to the workspace (../shared/corpus/lines.jsonl)",
            path.display()
        )
    });
    let mut checked = 0usize;
    let mut failures = Vec::new();
    for (index, text) in corpus.lines().enumerate() {
        let line_number = index + 1;
        if text.trim().is_empty() {
            continue;
        }
        let case: Value = match serde_json::from_str(text) {
            Ok(case) => case,
            Err(error) => {
                failures.push(format!("line {line_number}: not JSON: {error}"));
                continue;
            }
        };
        let source = case["source"].as_str().unwrap_or("?");
        let (Some(message), Some(expect)) = (case["message"].as_str(), case["expect"].as_object())
        else {
            failures.push(format!(
                "line {line_number} ({source}): no message or expect"
            ));
            continue;
        };
        let parsed = serde_json::to_value(parse(message)).expect("a LogLine always serialises");
        for (key, expected) in expect {
            let actual = parsed.get(key);
            if !matches(expected, actual) {
                failures.push(format!(
                    "line {line_number} ({source}): {key}: expected {expected}, got {}\n    message: {message:?}\n    parsed:  {parsed}",
                    actual.map_or_else(|| "nothing".to_owned(), Value::to_string),
                ));
            }
        }
        checked += 1;
    }
    assert!(
        checked > 0,
        "the corpus at {} holds no cases",
        path.display()
    );
    assert!(
        failures.is_empty(),
        "{} mismatch(es) over {checked} corpus lines:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
