//! Parse any message: it never panics, always serialises, and a REPORT it
//! returns always has a request id and a duration (never half-filled).
#![no_main]

use lamlog_core::parse::{parse, LogLine};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let message = String::from_utf8_lossy(data);
    let line = parse(&message);
    let json = serde_json::to_value(&line).expect("every LogLine serialises");
    assert!(json.get("kind").is_some_and(|kind| kind.is_string()));
    if let LogLine::Report(report) = &line {
        assert!(!report.request_id.is_empty());
        assert!(report.duration_ms.is_some());
    }
    // Parsing is a pure function of the text.
    assert_eq!(parse(&message), line);
});
