//! parse → assemble → price → judge over any sequence of lines, asserting the
//! invariants the stages promise:
//! - statuses only rise: fed one line at a time and merged, an invocation's
//!   status and its set of statuses never lose anything;
//! - the assembled invocations (and line counts) are the same for any order
//!   of the same lines: input order, reversed, and a permutation drawn from
//!   the input, and the same as merging the lines one by one;
//! - cost is finite and ≥ 0, for any billing granularity;
//! - judged alerts agree with the state: only reported invocations alert, a
//!   timeout or out-of-memory status alerts, dedup keys split back into their
//!   alert's kind, account, function and window, and windows are right;
//! - nothing panics or overflows (build with `-a`: overflow checks on).
//!
//! Input layout: records separated by `\x1e` (ASCII record separator, which
//! real messages do not contain, so that multi-line messages and trailing
//! newlines survive). The first record configures the run (see [`Config`]);
//! each other record is one selector byte (account, log group, timestamp)
//! followed by the message. A line keeps its own selector wherever it moves,
//! so a permutation moves evidence, never changes it.
#![no_main]

use std::collections::BTreeMap;

use lamlog_core::assemble::{Assembler, Invocation, InvocationKey, LineCounts, Status};
use lamlog_core::judge::{invocation_alerts, AlertKind, AlertRules};
use lamlog_core::meta::{AlertThresholds, Architecture, FunctionMeta};
use lamlog_core::parse::{parse, LogLine};
use lamlog_core::price::{price, Billing, PriceTable};
use libfuzzer_sys::fuzz_target;

const SEPARATOR: u8 = 0x1e;
const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];
/// Two function groups, a custom group and the bare prefix (which names no
/// function, so it stands for itself).
const LOG_GROUPS: [&str; 4] = ["/aws/lambda/alpha", "/aws/lambda/beta", "custom-group", "/aws/lambda/"];
/// 2023-11-14T22:13:20Z; selectors spread lines over half an hour from here.
const BASE_TIME_MS: i64 = 1_700_000_000_000;

/// One input line: where it comes from and what it says.
struct Line<'a> {
    account: &'static str,
    log_group: &'static str,
    timestamp_ms: Option<i64>,
    message: std::borrow::Cow<'a, str>,
}

impl<'a> Line<'a> {
    /// Selector bits: 0 account, 1–2 log group, 3–7 timestamp (0 none, 30
    /// and 31 the extremes of `i64`, else a step of 61 s from the base).
    fn read(record: &'a [u8]) -> Option<Line<'a>> {
        let (&selector, message) = record.split_first()?;
        let timestamp_ms = match selector >> 3 {
            0 => None,
            30 => Some(i64::MIN),
            31 => Some(i64::MAX),
            step => Some(BASE_TIME_MS + i64::from(step) * 61_000),
        };
        Some(Line {
            account: ACCOUNTS[usize::from(selector & 1)],
            log_group: LOG_GROUPS[usize::from((selector >> 1) & 3)],
            timestamp_ms,
            message: String::from_utf8_lossy(message),
        })
    }

}

/// A line with its parse: each line is parsed once and assembled in every
/// order from there, which keeps the target fast enough for long campaigns.
struct Parsed<'line, 'message> {
    line: &'line Line<'message>,
    parsed: LogLine<'line>,
}

impl Parsed<'_, '_> {
    fn add_to(&self, assembler: &mut Assembler) {
        assembler.add_line(self.line.account, self.line.log_group, self.line.timestamp_ms, &self.parsed);
    }
}

/// What the first record sets: byte 0 bits are arm64, request fee, a flat
/// what-if price, function metadata present; bytes 1–8 the billing
/// granularity (little-endian, 1 ms when short); byte 9 the configured
/// timeout in seconds; byte 10 the memory-used ratio in percent.
struct Config {
    architecture: Architecture,
    billing: Billing,
    meta: Option<FunctionMeta>,
}

impl Config {
    fn read(record: &[u8]) -> Config {
        let byte = |index: usize| record.get(index).copied().unwrap_or(0);
        let flags = byte(0);
        let granularity_ms = record.get(1..9).map_or(1, |bytes| u64::from_le_bytes(bytes.try_into().expect("eight bytes")));
        let meta = (flags & 8 != 0).then(|| FunctionMeta {
            timeout_seconds: (byte(9) != 0).then(|| f64::from(byte(9))),
            alerts: AlertThresholds { memory_used_ratio: Some(f64::from(byte(10)) / 100.0), ..AlertThresholds::default() },
            ..FunctionMeta::default()
        });
        Config {
            architecture: if flags & 1 != 0 { Architecture::Arm64 } else { Architecture::X86_64 },
            billing: Billing { granularity_ms, request_fee: flags & 2 != 0, usd_per_gb_s: (flags & 4 != 0).then_some(0.000_016_66) },
            meta,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut records = data.split(|byte| *byte == SEPARATOR);
    let config = Config::read(records.next().unwrap_or_default());
    let read: Vec<Line> = records.filter_map(Line::read).collect();
    let lines: Vec<Parsed> = read.iter().map(|line| Parsed { line, parsed: parse(&line.message) }).collect();

    let (invocations, counts) = assemble(lines.iter());
    let merged = merge_one_by_one(&lines);
    assert_same(&invocations, &merged.into_values().collect::<Vec<_>>(), "merged line by line");
    let (reversed, reversed_counts) = assemble(lines.iter().rev());
    assert_same(&invocations, &reversed, "reversed");
    assert_eq!(counts, reversed_counts);
    let (shuffled, shuffled_counts) = assemble(permutation(data, lines.len()).into_iter().map(|index| &lines[index]));
    assert_same(&invocations, &shuffled, "permuted");
    assert_eq!(counts, shuffled_counts);

    let prices = PriceTable::list();
    let rules = AlertRules::default();
    for invocation in &invocations {
        check_cost(invocation, &config, prices.for_region(None));
        check_alerts(invocation, config.meta.as_ref(), &rules);
    }
});

fn assemble<'a, 'line: 'a, 'message: 'line>(lines: impl Iterator<Item = &'a Parsed<'line, 'message>>) -> (Vec<Invocation>, LineCounts) {
    let mut assembler = Assembler::new();
    for line in lines {
        line.add_to(&mut assembler);
    }
    assembler.finish()
}

/// Feeds the lines one at a time, each assembled alone and merged into what
/// came before, as the stores merge a batch into stored rows; asserts after
/// each line that its invocation lost no status and that a merge repeated
/// changes nothing.
fn merge_one_by_one(lines: &[Parsed]) -> BTreeMap<InvocationKey, Invocation> {
    let mut merged: BTreeMap<InvocationKey, Invocation> = BTreeMap::new();
    for line in lines {
        let (single, _) = assemble(std::iter::once(line));
        for evidence in single {
            match merged.get_mut(&evidence.key()) {
                None => {
                    merged.insert(evidence.key(), evidence);
                }
                Some(current) => {
                    let before = current.status_flags;
                    current.merge(&evidence);
                    let after = current.status_flags;
                    assert!(current.status() >= before.max(), "status fell from {:?} to {:?}", before.max(), current.status());
                    assert_eq!(before.0 & !after.0, 0, "statuses {before:?} lost some in {after:?}");
                    assert!(current.status() >= evidence.status(), "merge lost the status of its evidence");
                    assert!(!current.merge(&evidence), "merging the same evidence twice changed {:?}", current.key());
                }
            }
        }
    }
    merged
}

/// A permutation of `0..len` drawn from the input (Fisher–Yates over an
/// xorshift seeded with the input's FNV-1a hash), so a crash replays exactly.
fn permutation(data: &[u8], len: usize) -> Vec<usize> {
    let mut state = data.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)) | 1;
    let mut order: Vec<usize> = (0..len).collect();
    for index in (1..len).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let other = usize::try_from(state % (index as u64 + 1)).expect("index fits usize");
        order.swap(index, other);
    }
    order
}

/// Equal invocations; NaN figures compare by their Debug text.
fn assert_same(expected: &[Invocation], actual: &[Invocation], how: &str) {
    if expected != actual {
        assert_eq!(format!("{expected:#?}"), format!("{actual:#?}"), "the invocations {how} differ");
    }
}

fn check_cost(invocation: &Invocation, config: &Config, prices: &lamlog_core::price::Prices) {
    let (Some(memory_size_mb), Some(duration_ms), true) = (invocation.memory_size_mb, invocation.duration_ms, invocation.is_reported()) else {
        return;
    };
    let cost = price(memory_size_mb, duration_ms, invocation.billed_duration_ms, config.architecture, prices, &config.billing);
    for (name, figure) in [("gb_s", cost.gb_s), ("compute_usd", cost.compute_usd), ("request_usd", cost.request_usd), ("total_usd", cost.total_usd)] {
        assert!(figure.is_finite() && figure >= 0.0, "{name} = {figure} for {invocation:?}");
    }
    assert!(cost.total_usd >= cost.request_usd);
    if let Some(billed_ms) = invocation.billed_duration_ms {
        assert_eq!(cost.billed_duration_ms, billed_ms, "a REPORT's billed duration is what is billed");
    }
}

fn check_alerts(invocation: &Invocation, meta: Option<&FunctionMeta>, rules: &AlertRules) {
    let alerts = invocation_alerts(invocation, meta, rules);
    let Some(start_time_ms) = invocation.start_time_ms.filter(|_| invocation.is_reported()) else {
        assert!(alerts.is_empty(), "an invocation without its REPORT alerts: {alerts:?}");
        return;
    };
    let has = |kind: AlertKind| alerts.iter().any(|alert| alert.kind == kind);
    assert_eq!(has(AlertKind::Timeout), invocation.status_flags.contains(Status::Timeout));
    assert_eq!(has(AlertKind::OutOfMemory), invocation.status_flags.contains(Status::Oom));
    assert!(!has(AlertKind::ErrorRate), "error rate is a window rule");
    let window_ms = i128::from(rules.window_ms);
    for alert in &alerts {
        let start = i128::from(alert.window_start_ms);
        let time = i128::from(start_time_ms);
        assert!(
            alert.window_start_ms == i64::MIN || (start <= time && time - start < window_ms && start % window_ms == 0),
            "window {} does not hold {start_time_ms}",
            alert.window_start_ms
        );
        let (kind, account, function) = (alert.kind.as_str(), &invocation.account, &invocation.function);
        // The key names its alert unambiguously: it splits back into exactly
        // the kind, account, function and window, whatever the names hold.
        let fields = lamlog_core::key::split('|', &alert.dedup_key, 4);
        let window = alert.window_start_ms.to_string();
        assert_eq!(fields.as_deref(), Some([kind, account.as_str(), function.as_str(), window.as_str()].map(str::to_owned).as_slice()));
        assert_eq!(alert.request_id.as_deref(), Some(invocation.request_id.as_str()));
    }
}
