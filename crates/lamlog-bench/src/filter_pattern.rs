//! A CloudWatch Logs subscription filter pattern that passes every line the
//! parser takes evidence from, and how much of a workload it lets through.
//!
//! Term patterns (`?START ?REPORT …`) are case-sensitive, and JSON patterns
//! (`{ $.type = "platform.*" }`) cannot be OR-ed with terms, while lamlog
//! reads error levels in any letter case (`"level":"Error"`), platform
//! records as JSON and as text, and out-of-memory signatures anywhere in a
//! line. A regex pattern (`%…%`) is matched against the raw message, text
//! or JSON alike, and can spell any letter case with classes (`[Ee]`), so one
//! pattern covers both formats. CloudWatch's regex allows alphanumerics,
//! `:_#=@/;,-` and the operators `^$?[]{}|\*+.`, no parentheses and no
//! space; the pattern below uses only literals, `_`, classes, `.`, escapes
//! and top-level `|`, which is the subset [`matches`] implements.
//!
//! What it lets through, and why each branch:
//!
//! - `START|END|REPORT` (INIT_/RESTORE_ lines contain START or REPORT),
//!   `EXTENSION|TELEMETRY|LOGS`: text platform lines, by their keyword;
//! - `platform\.`: JSON platform records (`"type":"platform.report"`);
//! - the error levels in any case, `error|fatal|crit|fail` (CRITICAL
//!   contains CRIT; `errorType` contains error): Python `[ERROR]`, Node's
//!   `\tERROR\t`, .NET's `fail`/`crit`, JSON `level`/`log_level`, error
//!   documents, and the platform's `Error: Runtime exited` crash lines;
//! - `emory`: every out-of-memory signature the parser knows;
//! - `timed.out.after`, `Process.exited`: timeouts and the legacy crash line;
//! - `\\u`: JSON that spells a character as `\uXXXX`, which the parser
//!   reads unescaped (`"level":"\u0045RROR"` is an error) and no literal
//!   branch can see.
//!
//! What it drops: application lines at other levels and unrecognised lines,
//! which lamlog only counts (the `lines`, `app` and `other` metrics), never
//! stores. Statuses, error types and invocations are unchanged; the
//! measurement in [`measure`] checks that on the generated workload.

use lamlog_core::assemble::Assembler;
use lamlog_core::decode::{decode, DecodeLimits, Format, Record};
use serde::Serialize;

/// The pattern, as the template's subscription filter and account policy
/// carry it (the template test checks that they do).
pub const LINES_LAMLOG_READS: &str = "%START|END|REPORT|EXTENSION|TELEMETRY|LOGS|platform\\.\
|[Ee][Rr][Rr][Oo][Rr]|[Ff][Aa][Tt][Aa][Ll]|[Cc][Rr][Ii][Tt]|[Ff][Aa][Ii][Ll]\
|emory|timed.out.after|Process.exited|\\\\u%";

/// One element of a branch.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Atom {
    /// This byte.
    Byte(u8),
    /// Any byte but a newline.
    Any,
    /// Any of these bytes.
    Class(Vec<u8>),
}

/// Whether `message` contains a match of `pattern`, a `%…%` regex made of
/// top-level alternatives of literals, escapes, `.` and `[…]` classes.
/// Anything else in the pattern is an error, so that a pattern this
/// matcher cannot judge is never taken for lossless.
pub fn matches(pattern: &str, message: &str) -> Result<bool, String> {
    let branches = compile(pattern)?;
    let bytes = message.as_bytes();
    Ok(branches.iter().any(|branch| {
        (0..=bytes.len().saturating_sub(branch.len()))
            .any(|start| branch_matches_at(branch, &bytes[start..]))
    }))
}

fn branch_matches_at(branch: &[Atom], bytes: &[u8]) -> bool {
    branch.len() <= bytes.len()
        && branch.iter().zip(bytes).all(|(atom, &byte)| match atom {
            Atom::Byte(wanted) => byte == *wanted,
            Atom::Any => byte != b'\n',
            Atom::Class(set) => set.contains(&byte),
        })
}

fn compile(pattern: &str) -> Result<Vec<Vec<Atom>>, String> {
    let body = pattern
        .strip_prefix('%')
        .and_then(|rest| rest.strip_suffix('%'))
        .ok_or_else(|| format!("{pattern:?} is not a %…% regex pattern"))?;
    let mut branches = vec![Vec::new()];
    let mut bytes = body.bytes();
    while let Some(byte) = bytes.next() {
        let atom = match byte {
            b'|' => {
                branches.push(Vec::new());
                continue;
            }
            b'.' => Atom::Any,
            b'\\' => Atom::Byte(bytes.next().ok_or("a trailing \\")?),
            b'[' => {
                let mut set = Vec::new();
                loop {
                    match bytes.next().ok_or("an unclosed [")? {
                        b']' => break,
                        b'^' | b'-' | b'\\' | b'[' => {
                            return Err(
                                "negated classes, ranges and escapes in [] are not read".into()
                            )
                        }
                        member => set.push(member),
                    }
                }
                Atom::Class(set)
            }
            literal if literal.is_ascii_alphanumeric() || b":_#=@/;,-".contains(&literal) => {
                Atom::Byte(literal)
            }
            other => return Err(format!("{:?} is not read by this matcher", other as char)),
        };
        if let Some(branch) = branches.last_mut() {
            branch.push(atom);
        }
    }
    if branches.iter().any(Vec::is_empty) {
        return Err("an empty alternative matches every line".into());
    }
    Ok(branches)
}

/// What the pattern lets through of a Kinesis event, and whether what the
/// parser makes of it is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Filtered {
    /// Log lines in the input.
    pub lines: u64,
    /// Log lines the pattern passes.
    pub kept_lines: u64,
    /// Bytes of messages in the input.
    pub bytes: u64,
    /// Bytes of the messages the pattern passes.
    pub kept_bytes: u64,
    /// Invocations assembled from every line.
    pub invocations: u64,
    /// Whether the invocations assembled from the kept lines equal those
    /// from every line, field by field (status and error type included),
    /// and the error-line count is the same.
    pub lossless: bool,
}

/// Runs `pattern` over the events of `kinesis_events` and compares the
/// invocations assembled with and without it.
pub fn measure(pattern: &str, kinesis_events: &[Vec<u8>]) -> Result<Filtered, String> {
    let mut all = Assembler::new();
    let mut kept = Assembler::new();
    let mut filtered = Filtered::default();
    for event in kinesis_events {
        for record in decode(event, Format::Kinesis, &DecodeLimits::default()).records {
            let Ok(Record::Data(mut envelope)) = record else {
                continue;
            };
            all.add_envelope(&envelope);
            let mut passed = Vec::with_capacity(envelope.events.len());
            for log_event in envelope.events.drain(..) {
                filtered.lines += 1;
                filtered.bytes += log_event.message.len() as u64;
                if matches(pattern, &log_event.message)? {
                    filtered.kept_lines += 1;
                    filtered.kept_bytes += log_event.message.len() as u64;
                    passed.push(log_event);
                }
            }
            envelope.events = passed;
            kept.add_envelope(&envelope);
        }
    }
    let (every, every_counts) = all.finish();
    let (some, some_counts) = kept.finish();
    filtered.invocations = every.len() as u64;
    filtered.lossless = every == some && every_counts.app_errors == some_counts.app_errors;
    Ok(filtered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lamlog_core::parse::{parse, LogLine};

    /// Whether the parser takes anything from the line beyond a count: every
    /// kind but plain application lines and unrecognised ones.
    fn parser_needs(message: &str) -> bool {
        !matches!(parse(message), LogLine::App { .. } | LogLine::Other { .. })
    }

    #[test]
    fn keeps_every_corpus_line_the_parser_needs() {
        let corpus = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/corpus/lines.jsonl"),
        )
        .expect("the shared corpus, ../shared/corpus/lines.jsonl from the project root");
        let mut needed = 0;
        for line in corpus.lines().filter(|line| !line.trim().is_empty()) {
            let case: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let message = case["message"].as_str().expect("a message");
            if parser_needs(message) {
                needed += 1;
                assert!(
                    matches(LINES_LAMLOG_READS, message).unwrap(),
                    "the pattern drops {message:?}, which parses as {:?}",
                    parse(message)
                );
            }
        }
        assert!(needed > 40, "only {needed} corpus lines checked");
    }

    #[test]
    fn keeps_lines_that_are_errors_in_any_spelling() {
        for message in [
            "{\"timestamp\":\"2024-01-01T00:00:00Z\",\"level\":\"Error\",\"requestId\":\"r1\",\"message\":\"x\"}\n",
            "{\"level\":\"\\u0045RROR\",\"requestId\":\"r1\",\"message\":\"x\"}",
            "{\"time\":\"2024-05-20T16:29:45.019Z\",\"type\":\"platform\\u002eruntimeDone\",\"record\":{\"requestId\":\"r1\",\"status\":\"error\"}}",
            "2024-01-01T00:00:00.000Z\tr1\tfail\tboom\n",
            "2024-01-01T00:00:00.000Z\tr1\tCRIT\tboom\n",
            "FATAL Lambda runtime invoke{requestId=\"8f\"}: handler failed\n",
            "2024-01-01T00:00:00.000Z r1 <--- JavaScript heap out of memory\n",
            "2024-01-01T00:00:00.000Z\tr1\tTask timed out after 3.00 seconds\n",
            "RequestId: r1 Process exited before completing request\n",
        ] {
            assert!(parser_needs(message), "{message:?} parses as {:?}", parse(message));
            assert!(matches(LINES_LAMLOG_READS, message).unwrap(), "{message:?}");
        }
    }

    #[test]
    fn drops_plain_application_lines() {
        for message in [
            "[INFO]\t2020-01-31T22:12:58.534Z\t1c8d\t## EVENT\n",
            "2019-06-07T19:11:20.562Z\tc793\tINFO\tENVIRONMENT VARIABLES\n",
            "{\"timestamp\":\"2024-01-01T00:00:00Z\",\"level\":\"INFO\",\"requestId\":\"r1\",\"message\":\"ok\"}",
        ] {
            assert!(!parser_needs(message));
            assert!(!matches(LINES_LAMLOG_READS, message).unwrap(), "{message:?}");
        }
    }

    #[test]
    fn the_measurement_tells_a_lossy_pattern_from_a_lossless_one() {
        let keys = vec!["123456789012#orders".to_owned()];
        let events = vec![crate::workload::report_only_event(&keys, 20).unwrap()];
        let kept = measure(LINES_LAMLOG_READS, &events).unwrap();
        assert_eq!(
            (kept.lines, kept.kept_lines, kept.invocations),
            (20, 20, 20)
        );
        assert!(kept.lossless);
        // A pattern that drops the REPORT lines loses every invocation.
        let lossy = measure("%START%", &events).unwrap();
        assert_eq!((lossy.lines, lossy.kept_lines), (20, 0));
        assert!(!lossy.lossless);
    }

    #[test]
    fn the_template_carries_this_pattern() {
        let template = include_str!("../../../deploy/template.yaml");
        // The log group's subscription, single-quoted YAML (no escapes).
        assert!(template.contains(&format!("'{LINES_LAMLOG_READS}'")));
        // The account policy, as a JSON string inside the policy document.
        let json = serde_json::to_string(LINES_LAMLOG_READS).unwrap();
        assert!(template.contains(&format!("\"FilterPattern\":{json}")));
        assert!(
            LINES_LAMLOG_READS.len() <= 1024,
            "CloudWatch's pattern limit"
        );
    }

    #[test]
    fn the_matcher_reads_its_subset_and_refuses_the_rest() {
        assert!(matches("%a.c|x%", "zabcz").unwrap());
        assert!(matches("%[Ee]rr%", "an err").unwrap());
        assert!(!matches("%[Ee]rr%", "an Rrr").unwrap());
        assert!(matches("%a\\.b%", "a.b").unwrap());
        assert!(!matches("%a\\.b%", "axb").unwrap());
        assert!(matches("%\\\\u%", "\\u0045").unwrap());
        assert!(!matches("%a.c%", "a\nc").unwrap());
        for unread in ["START", "%a b%", "%(a)%", "%a*%", "%[a-z]%", "%a||b%", "%%"] {
            assert!(matches(unread, "a").is_err(), "{unread}");
        }
    }
}
