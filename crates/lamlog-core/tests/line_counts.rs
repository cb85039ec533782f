//! Lines that parse to `other` are counted by reason, and the reasons add up
//! to the `other` total. The counts are read serialised, as the CLI prints
//! them in its summary and the Lambda puts them in its metrics.

use lamlog_core::assemble::Assembler;
use lamlog_core::parse::parse;
use serde_json::Value;

#[test]
fn other_lines_are_counted_by_reason() {
    let long_id = "a".repeat(4096);
    let messages = [
        "hello from my function".to_owned(),
        "Success!".to_owned(),
        "REPORT invalid report log line".to_owned(),
        "REPORT RequestId: r-1\tDuration: 123456789012345678901234567890 ms".to_owned(),
        "REPORT RequestId: r-2\tDuration: 1.00 ms\tMemory Size: 0 MB".to_owned(),
        "Task timed out after 99999999.00 seconds".to_owned(),
        format!("START RequestId: {long_id} Version: $LATEST"),
        "START RequestId: r-3 Version: $LATEST".to_owned(),
        "REPORT RequestId: r-3\tDuration: 1.00 ms\tMemory Size: 128 MB".to_owned(),
        "[INFO]\t2024-01-01T00:00:00.000Z\tr-3\thello".to_owned(),
    ];
    let mut assembler = Assembler::new();
    for message in &messages {
        assembler.add_line("123456789012", "/aws/lambda/fn", Some(0), &parse(message));
    }
    let counts = serde_json::to_value(assembler.counts()).expect("counts serialise");
    let by_reason = &counts["other_by_reason"];
    let count = |reason: &str| by_reason[reason].as_u64();
    assert_eq!(count("unrecognised"), Some(2), "{counts}");
    assert_eq!(count("unparsable_platform_line"), Some(1), "{counts}");
    assert_eq!(count("figure_out_of_range"), Some(3), "{counts}");
    assert_eq!(count("id_too_long"), Some(1), "{counts}");
    let sum: u64 = by_reason
        .as_object()
        .expect("an object of counts")
        .values()
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(counts["other"].as_u64(), Some(sum));
    assert_eq!(counts["lines"].as_u64(), Some(messages.len() as u64));
    assert_eq!(counts["platform"].as_u64(), Some(2));
    assert_eq!(counts["app"].as_u64(), Some(1));

    // The rejected lines created no invocation; only r-3 is there.
    let (invocations, _) = assembler.finish();
    let request_ids: Vec<&str> = invocations
        .iter()
        .map(|invocation| invocation.request_id.as_str())
        .collect();
    assert_eq!(request_ids, ["r-3"]);
}
