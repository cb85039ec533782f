//! The generator's truth, read back, and a store's content compared with it.
//!
//! `lamlog generate` writes what really happened from its own parameters
//! (`truth.json`, `truth-invocations.ndjson`), so comparing a store with it
//! finds bugs that comparing lamlog with lamlog would share. A store is read
//! through [`Store::dump`](lamlog::store::Store::dump), whose canonical text
//! both stores write alike, and compared:
//!
//! - every invocation, field by field: status, cold start, time, duration,
//!   billed duration, memory size, max memory used, init and restore
//!   durations, architecture, enrichment and cost (to 1e-12 relative);
//! - every per-function, per-minute rollup sum, against sums over the truth;
//! - the alerts, as (kind, account, function, window).
//!
//! What lamlog cannot know comes from the truth too: a function left out of
//! `metadata.toml` (`has_metadata: false`) is stored un-enriched and priced
//! as x86_64, lamlog's documented default; an invocation is stored with the
//! status its logs show (`logged_status`), which for an error no line names
//! is a success.
//!
//! Costs are checked by arithmetic typed here from AWS's price page, not by
//! lamlog's price function: request fee + GB × billed seconds × price per
//! GB-second.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;

/// AWS Lambda list prices, US East, first tier (aws.amazon.com/lambda/pricing).
/// $0.20 per million requests.
const REQUEST_USD: f64 = 0.000_000_2;
const X86_64_USD_PER_GB_S: f64 = 0.000_016_666_7;
const ARM64_USD_PER_GB_S: f64 = 0.000_013_333_4;

/// What AWS charges for one invocation on the list price. The operations are
/// those of the formula, in its order, so the result is the same `f64` any
/// correct implementation gets; a cost that lands on half a pico-dollar then
/// rounds the same way in the rollups.
pub fn aws_list_cost(architecture: &str, memory_size_mb: u32, billed_duration_ms: u64) -> f64 {
    let usd_per_gb_s = match architecture {
        "arm64" => ARM64_USD_PER_GB_S,
        "x86_64" => X86_64_USD_PER_GB_S,
        other => panic!("unknown architecture {other:?}"),
    };
    let gb_s = f64::from(memory_size_mb) / 1024.0 * (billed_duration_ms as f64 / 1000.0);
    REQUEST_USD + gb_s * usd_per_gb_s
}

/// One function of `truth.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct FunctionTruth {
    pub account: String,
    pub function: String,
    pub has_metadata: bool,
}

/// One line of `truth-invocations.ndjson`.
#[derive(Debug, Clone, Deserialize)]
pub struct InvocationTruth {
    pub account: String,
    pub function: String,
    pub request_id: String,
    pub log_format: String,
    pub architecture: String,
    /// How it really ended.
    pub status: String,
    /// How its logs say it ended: lamlog can know no more.
    pub logged_status: String,
    pub cold_start: bool,
    pub start_time_ms: i64,
    pub duration_ms: f64,
    pub billed_duration_ms: u64,
    pub memory_size_mb: u32,
    pub max_memory_used_mb: u32,
    pub init_duration_ms: Option<f64>,
    pub restore_duration_ms: Option<f64>,
    pub billed_restore_duration_ms: Option<u64>,
    pub cost_usd: f64,
}

/// One alert of `truth.json`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct AlertTruth {
    pub kind: String,
    pub account: String,
    pub function: String,
    pub window_start_ms: i64,
}

#[derive(Deserialize)]
struct TruthFile {
    functions: Vec<FunctionTruth>,
    invocations_file: String,
    alerts: Vec<AlertTruth>,
}

/// (account, function, request id).
pub type Key = (String, String, String);

/// The whole truth of one generated directory.
pub struct Truth {
    pub functions: BTreeMap<(String, String), FunctionTruth>,
    pub invocations: BTreeMap<Key, InvocationTruth>,
    pub alerts: BTreeSet<AlertTruth>,
}

impl Truth {
    /// Reads `truth.json` and the invocation file it names.
    pub fn load(dir: &Path) -> Truth {
        let file: TruthFile =
            serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap();
        let lines = std::fs::read_to_string(dir.join(&file.invocations_file)).unwrap();
        let invocations = lines
            .lines()
            .map(|line| serde_json::from_str::<InvocationTruth>(line).unwrap())
            .map(|truth| {
                let key = (
                    truth.account.clone(),
                    truth.function.clone(),
                    truth.request_id.clone(),
                );
                (key, truth)
            })
            .collect();
        Truth {
            functions: file
                .functions
                .into_iter()
                .map(|function| {
                    (
                        (function.account.clone(), function.function.clone()),
                        function,
                    )
                })
                .collect(),
            invocations,
            alerts: file.alerts.into_iter().collect(),
        }
    }

    /// Whether lamlog gets `account#function`'s metadata.
    fn enriched(&self, account: &str, function: &str) -> bool {
        self.functions[&(account.to_owned(), function.to_owned())].has_metadata
    }

    /// The architecture and cost lamlog must store for `truth`: the real
    /// ones when the function is enriched, x86_64's otherwise.
    pub fn expected_pricing(&self, truth: &InvocationTruth) -> (&'static str, f64) {
        let architecture = if self.enriched(&truth.account, &truth.function) {
            match truth.architecture.as_str() {
                "arm64" => "arm64",
                _ => "x86_64",
            }
        } else {
            "x86_64"
        };
        let cost = aws_list_cost(architecture, truth.memory_size_mb, truth.billed_duration_ms);
        (architecture, cost)
    }
}

/// One value of a dump line.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
}

impl Cell {
    pub fn integer(&self) -> Option<i64> {
        match self {
            Cell::Integer(value) => Some(*value),
            _ => None,
        }
    }

    pub fn real(&self) -> Option<f64> {
        match self {
            Cell::Real(value) => Some(*value),
            Cell::Integer(value) => Some(*value as f64),
            _ => None,
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Cell::Text(value) => value,
            other => panic!("not text: {other:?}"),
        }
    }
}

/// A row of a dump: column → value.
pub type Row = BTreeMap<String, Cell>;

/// The rows of `table` in a store dump (`table col=value …` lines; text is
/// Rust-debug quoted, reals Rust-debug printed, blobs `x'…'`).
pub fn dump_rows(dump: &str, table: &str) -> Vec<Row> {
    let prefix = format!("{table} ");
    dump.lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(parse_row)
        .collect()
}

fn parse_row(mut rest: &str) -> Row {
    let mut row = Row::new();
    while !rest.is_empty() {
        let (name, after_name) = rest.split_once('=').unwrap();
        let (cell, after_value) = parse_cell(after_name);
        row.insert(name.to_owned(), cell);
        rest = after_value.strip_prefix(' ').unwrap_or(after_value);
    }
    row
}

fn parse_cell(text: &str) -> (Cell, &str) {
    if let Some(quoted) = text.strip_prefix('"') {
        let mut value = String::new();
        let mut characters = quoted.char_indices();
        while let Some((index, character)) = characters.next() {
            match character {
                '"' => return (Cell::Text(value), &quoted[index + 1..]),
                '\\' => match characters.next().map(|(_, escaped)| escaped) {
                    Some('n') => value.push('\n'),
                    Some('t') => value.push('\t'),
                    Some('r') => value.push('\r'),
                    Some('u') => {
                        let digits: String = characters
                            .by_ref()
                            .map(|(_, digit)| digit)
                            .take_while(|digit| *digit != '}')
                            .filter(|digit| *digit != '{')
                            .collect();
                        let code = u32::from_str_radix(&digits, 16).unwrap();
                        value.push(char::from_u32(code).unwrap());
                    }
                    Some(other) => value.push(other),
                    None => panic!("dangling escape in {text:?}"),
                },
                other => value.push(other),
            }
        }
        panic!("unterminated text in {text:?}");
    }
    let end = text.find(' ').unwrap_or(text.len());
    let (token, rest) = text.split_at(end);
    let cell = if token == "null" {
        Cell::Null
    } else if token.starts_with("x'") {
        Cell::Text(token.to_owned())
    } else if let Ok(integer) = token.parse::<i64>() {
        Cell::Integer(integer)
    } else {
        Cell::Real(
            token
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("bad value {token:?}")),
        )
    };
    (cell, rest)
}

fn key_of(row: &Row) -> Key {
    (
        row["account"].text().to_owned(),
        row["function"].text().to_owned(),
        row["request_id"].text().to_owned(),
    )
}

fn relative_difference(found: f64, expected: f64) -> f64 {
    (found - expected).abs() / expected.abs().max(f64::MIN_POSITIVE)
}

/// Every difference between the stored invocations and the truth.
pub fn invocation_mismatches(dump: &str, truth: &Truth) -> Vec<String> {
    let mut mismatches = Vec::new();
    let rows: BTreeMap<Key, Row> = dump_rows(dump, "invocations")
        .into_iter()
        .map(|row| (key_of(&row), row))
        .collect();
    for key in truth
        .invocations
        .keys()
        .filter(|key| !rows.contains_key(*key))
    {
        mismatches.push(format!("{key:?}: in the truth, not stored"));
    }
    for key in rows
        .keys()
        .filter(|key| !truth.invocations.contains_key(*key))
    {
        mismatches.push(format!("{key:?}: stored, not in the truth"));
    }
    for (key, expected) in &truth.invocations {
        let Some(row) = rows.get(key) else { continue };
        let (architecture, cost_usd) = truth.expected_pricing(expected);
        let optional_real = |value: Option<f64>| value.map_or(Cell::Null, Cell::Real);
        let optional_integer =
            |value: Option<u64>| value.map_or(Cell::Null, |value| Cell::Integer(value as i64));
        let fields = [
            ("status", Cell::Text(expected.logged_status.clone())),
            ("cold_start", Cell::Integer(i64::from(expected.cold_start))),
            ("start_time_ms", Cell::Integer(expected.start_time_ms)),
            ("duration_ms", Cell::Real(expected.duration_ms)),
            (
                "billed_duration_ms",
                Cell::Integer(expected.billed_duration_ms as i64),
            ),
            (
                "memory_size_mb",
                Cell::Integer(i64::from(expected.memory_size_mb)),
            ),
            (
                "max_memory_used_mb",
                Cell::Integer(i64::from(expected.max_memory_used_mb)),
            ),
            ("init_duration_ms", optional_real(expected.init_duration_ms)),
            (
                "restore_duration_ms",
                optional_real(expected.restore_duration_ms),
            ),
            (
                "billed_restore_duration_ms",
                optional_integer(expected.billed_restore_duration_ms),
            ),
            ("architecture", Cell::Text(architecture.to_owned())),
            (
                "enriched",
                Cell::Integer(i64::from(truth.enriched(&key.0, &key.1))),
            ),
        ];
        for (column, wanted) in fields {
            let found = row.get(column).unwrap_or(&Cell::Null);
            let equal = match (found, &wanted) {
                (Cell::Real(found), Cell::Real(wanted)) => found.to_bits() == wanted.to_bits(),
                (found, wanted) => found == wanted,
            };
            if !equal {
                mismatches.push(format!(
                    "{key:?} {column}: stored {found:?}, truth {wanted:?} ({} format)",
                    expected.log_format
                ));
            }
        }
        match row.get("cost_usd").and_then(Cell::real) {
            Some(found) if relative_difference(found, cost_usd) <= 1e-12 => {}
            found => mismatches.push(format!(
                "{key:?} cost_usd: stored {found:?}, truth {cost_usd}"
            )),
        }
    }
    mismatches
}

/// The summed columns of `function_minute`, and `duration_max_us`.
const SUMMED: [&str; 10] = [
    "invocations",
    "successes",
    "errors",
    "crashes",
    "ooms",
    "timeouts",
    "cold_starts",
    "duration_sum_us",
    "billed_mb_ms",
    "cost_pico_usd",
];

/// (account, function, minute) → the figures of `SUMMED`, then the max duration.
type Rollups = BTreeMap<(String, String, i64), [i64; 11]>;

/// The rollups the truth implies: counts, sums in µs, MB·ms and
/// pico-dollars (each invocation rounded on its own, as rollups are integers).
pub fn truth_rollups(truth: &Truth) -> Rollups {
    let mut rollups = Rollups::new();
    for expected in truth.invocations.values() {
        let minute_ms = expected.start_time_ms.div_euclid(60_000) * 60_000;
        let sums = rollups
            .entry((
                expected.account.clone(),
                expected.function.clone(),
                minute_ms,
            ))
            .or_default();
        let status_column = match expected.logged_status.as_str() {
            "success" => 1,
            "error" => 2,
            "crash" => 3,
            "oom" => 4,
            "timeout" => 5,
            other => panic!("unknown status {other}"),
        };
        let duration_us = (expected.duration_ms * 1000.0).round() as i64;
        let (_, cost_usd) = truth.expected_pricing(expected);
        sums[0] += 1;
        sums[status_column] += 1;
        sums[6] += i64::from(expected.cold_start);
        sums[7] += duration_us;
        sums[8] += i64::from(expected.memory_size_mb) * expected.billed_duration_ms as i64;
        sums[9] += (cost_usd * 1e12).round() as i64;
        sums[10] = sums[10].max(duration_us);
    }
    rollups
}

/// Every difference between the stored per-minute rollups and the truth's.
pub fn rollup_mismatches(dump: &str, truth: &Truth) -> Vec<String> {
    let mut stored = Rollups::new();
    for row in dump_rows(dump, "function_minute") {
        let key = (
            row["account"].text().to_owned(),
            row["function"].text().to_owned(),
            row["minute_ms"].integer().unwrap(),
        );
        let mut figures = [0i64; 11];
        for (index, column) in SUMMED.iter().chain(["duration_max_us"].iter()).enumerate() {
            figures[index] = row[*column].integer().unwrap();
        }
        stored.insert(key, figures);
    }
    let expected = truth_rollups(truth);
    let mut mismatches = Vec::new();
    for key in expected
        .keys()
        .chain(stored.keys())
        .collect::<BTreeSet<_>>()
    {
        let (found, wanted) = (stored.get(key), expected.get(key));
        if found != wanted {
            mismatches.push(format!(
                "rollup {key:?}: stored {found:?}, truth {wanted:?} \
                 (invocations, successes, errors, crashes, ooms, timeouts, cold starts, \
                 duration µs, MB·ms, pico-USD, max µs)"
            ));
        }
    }
    mismatches
}

/// The stored alerts as the truth writes them.
pub fn stored_alerts(dump: &str) -> BTreeSet<AlertTruth> {
    dump_rows(dump, "alerts")
        .iter()
        .map(|row| AlertTruth {
            kind: row["kind"].text().to_owned(),
            account: row["account"].text().to_owned(),
            function: row["function"].text().to_owned(),
            window_start_ms: row["window_start_ms"].integer().unwrap(),
        })
        .collect()
}

/// Every difference between the stored alerts and the truth's.
pub fn alert_mismatches(dump: &str, truth: &Truth) -> Vec<String> {
    let stored = stored_alerts(dump);
    let mut mismatches: Vec<String> = truth
        .alerts
        .difference(&stored)
        .map(|alert| format!("alert {alert:?}: in the truth, not stored"))
        .collect();
    mismatches.extend(
        stored
            .difference(&truth.alerts)
            .map(|alert| format!("alert {alert:?}: stored, not in the truth")),
    );
    mismatches
}

/// Everything that differs, capped at a readable length; empty when the
/// store holds exactly the truth.
pub fn mismatches(dump: &str, truth: &Truth) -> Vec<String> {
    let mut all = invocation_mismatches(dump, truth);
    all.extend(rollup_mismatches(dump, truth));
    all.extend(alert_mismatches(dump, truth));
    all
}

/// Panics with the first differences when the store is not the truth.
pub fn assert_store_is_truth(dump: &str, truth: &Truth, what: &str) {
    let found = mismatches(dump, truth);
    assert!(
        found.is_empty(),
        "{what}: {} differences from the truth, first ones:\n{}",
        found.len(),
        found
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The poison record of `support/oracle_delivery.rs` is kept once, byte for
/// byte, whatever the replays.
pub fn assert_one_dead_letter(dump: &str) {
    let letters = dump_rows(dump, "dead_letters");
    assert_eq!(letters.len(), 1, "dead letters: {letters:?}");
    let raw_hex: String = b"!!not base64!!"
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(letters[0]["raw"], Cell::Text(format!("x'{raw_hex}'")));
}
