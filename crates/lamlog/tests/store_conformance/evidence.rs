//! Log evidence for the conformance suite, and how it becomes a batch.
//!
//! Tests describe what happened as platform lines (`LogLine` values built by
//! hand, since the suite must not depend on the text parser) and run them
//! through the real `Assembler`, enrichment from a fixed metadata map, and
//! the real pricing, exactly as the batch driver will. What reaches the store
//! is therefore shaped like production data, not like a test's idea of it.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::LazyLock;

use lamlog::store::{DeadLetter, Store, StoreBatch, StoredInvocation, WriteOutcome};
use lamlog_core::assemble::{Assembler, Invocation};
use lamlog_core::decode::SourcePosition;
use lamlog_core::judge::AlertRules;
use lamlog_core::meta::{meta_key, AlertThresholds, Architecture, FunctionMeta};
use lamlog_core::parse::{LogLine, Report, ReportStatus};
use lamlog_core::price::{price, Billing, PriceTable};

/// One line of evidence: which log group it was in, when, and what it says.
#[derive(Debug, Clone)]
pub struct Evidence {
    pub account: String,
    pub log_group: String,
    pub timestamp_ms: i64,
    pub line: LogLine<'static>,
}

impl Evidence {
    pub fn new(
        account: &str,
        function: &str,
        timestamp_ms: i64,
        line: LogLine<'static>,
    ) -> Evidence {
        Evidence {
            account: account.to_owned(),
            log_group: format!("/aws/lambda/{function}"),
            timestamp_ms,
            line,
        }
    }
}

/// The figures of a REPORT line.
#[derive(Debug, Clone, Copy)]
pub struct Figures {
    pub duration_ms: f64,
    pub memory_size_mb: u32,
    pub max_memory_used_mb: u32,
    pub init_duration_ms: Option<f64>,
}

impl Figures {
    pub fn new(duration_ms: f64, memory_size_mb: u32, max_memory_used_mb: u32) -> Figures {
        Figures {
            duration_ms,
            memory_size_mb,
            max_memory_used_mb,
            init_duration_ms: None,
        }
    }
}

/// A REPORT line; `status` and `error_type` as Lambda prints them on failure.
pub fn report(
    request_id: &str,
    figures: Figures,
    status: Option<ReportStatus>,
    error_type: Option<&str>,
) -> LogLine<'static> {
    LogLine::Report(Report {
        request_id: Cow::Owned(request_id.to_owned()),
        duration_ms: Some(figures.duration_ms),
        billed_duration_ms: Some(figures.duration_ms.ceil() as u64),
        memory_size_mb: Some(figures.memory_size_mb),
        max_memory_used_mb: Some(figures.max_memory_used_mb),
        init_duration_ms: figures.init_duration_ms,
        status,
        error_type: error_type.map(|text| Cow::Owned(text.to_owned())),
        ..Report::default()
    })
}

pub fn start(request_id: &str) -> LogLine<'static> {
    LogLine::Start {
        request_id: Cow::Owned(request_id.to_owned()),
        version: Some(Cow::Borrowed("$LATEST")),
    }
}

/// `Task timed out after N seconds`.
pub fn timeout(request_id: &str, timeout_seconds: f64) -> LogLine<'static> {
    LogLine::Timeout {
        request_id: Some(Cow::Owned(request_id.to_owned())),
        timeout_seconds,
    }
}

/// `Runtime exited …`; `killed` is `signal: killed`, an out-of-memory kill.
pub fn crash(request_id: &str, killed: bool) -> LogLine<'static> {
    LogLine::Crash {
        request_id: Cow::Owned(request_id.to_owned()),
        error_type: Some(Cow::Borrowed("Runtime.ExitError")),
        killed,
    }
}

/// An application error line (`[ERROR] ValueError …`).
pub fn app_error(request_id: &str, error_type: &str) -> LogLine<'static> {
    LogLine::AppError {
        request_id: Some(Cow::Owned(request_id.to_owned())),
        level: Some(Cow::Borrowed("ERROR")),
        error_type: Some(Cow::Owned(error_type.to_owned())),
    }
}

/// A dead letter as the Kinesis source makes it.
pub fn dead_letter(record_index: usize, raw: Vec<u8>, reason: &str) -> DeadLetter {
    DeadLetter::new(
        "arn:aws:kinesis:eu-west-1:123456789012:stream/lamlog",
        SourcePosition {
            record_index,
            sequence_number: Some(format!("4959{record_index:016}")),
            ..SourcePosition::default()
        },
        reason.to_owned(),
        &raw,
        1_750_000_000_000,
    )
}

/// Metadata, rules and the receive time shared by every batch of a test.
#[derive(Debug, Clone)]
pub struct Setup {
    pub metadata: BTreeMap<String, FunctionMeta>,
    pub rules: AlertRules,
    /// When the batches arrive (epoch ms): [`RECEIVED_AT_MS`] unless a test
    /// says otherwise.
    pub received_at_ms: i64,
}

impl Setup {
    /// No metadata and rules whose windows are easy to reason about.
    pub fn plain() -> Setup {
        Setup {
            metadata: BTreeMap::new(),
            rules: AlertRules::default(),
            received_at_ms: RECEIVED_AT_MS,
        }
    }

    pub fn with_meta(mut self, account: &str, function: &str, meta: FunctionMeta) -> Setup {
        self.metadata.insert(meta_key(account, function), meta);
        self
    }

    /// A function on Graviton with a 3 s timeout and a tenant.
    pub fn arm_function_meta(error_rate: Option<f64>) -> FunctionMeta {
        FunctionMeta {
            tenant: Some("acme".to_owned()),
            architecture: Architecture::Arm64,
            region: Some("eu-west-1".to_owned()),
            timeout_seconds: Some(3.0),
            alerts: AlertThresholds {
                error_rate,
                ..AlertThresholds::default()
            },
            ..FunctionMeta::default()
        }
    }

    /// Assembles evidence into the invocations of one batch, enriched and priced.
    pub fn invocations<'a>(
        &self,
        evidence: impl IntoIterator<Item = &'a Evidence>,
    ) -> Vec<StoredInvocation> {
        let mut assembler = Assembler::new();
        for item in evidence {
            assembler.add_line(
                &item.account,
                &item.log_group,
                Some(item.timestamp_ms),
                &item.line,
            );
        }
        let (invocations, _counts) = assembler.finish();
        invocations
            .into_iter()
            .map(|invocation| self.enrich_and_price(invocation))
            .collect()
    }

    /// What the enrich and price stages make of an assembled invocation.
    pub fn enrich_and_price(&self, invocation: Invocation) -> StoredInvocation {
        static PRICES: LazyLock<PriceTable> = LazyLock::new(PriceTable::list);
        let meta = self
            .metadata
            .get(&meta_key(&invocation.account, &invocation.function));
        let architecture = meta.map_or(Architecture::default(), |meta| meta.architecture);
        let region = meta.and_then(|meta| meta.region.clone());
        let cost_usd = match (
            invocation.is_reported(),
            invocation.memory_size_mb,
            invocation.duration_ms,
        ) {
            (true, Some(memory_size_mb), Some(duration_ms)) => {
                let prices = PRICES.for_region(region.as_deref());
                let billed_ms = invocation.billed_duration_ms;
                Some(
                    price(
                        memory_size_mb,
                        duration_ms,
                        billed_ms,
                        architecture,
                        prices,
                        &Billing::default(),
                    )
                    .total_usd,
                )
            }
            _ => None,
        };
        StoredInvocation {
            enriched: meta.is_some(),
            tenant: meta.and_then(|meta| meta.tenant.clone()),
            architecture,
            region,
            cost_usd,
            invocation,
        }
    }

    /// Writes one batch, received at the setup's `received_at_ms`; a
    /// failure fails the test.
    pub async fn write<S: Store>(
        &self,
        store: &mut S,
        invocations: &[StoredInvocation],
        dead_letters: &[DeadLetter],
    ) -> WriteOutcome {
        self.write_received_at(store, invocations, dead_letters, self.received_at_ms)
            .await
    }

    /// Writes one batch received at `received_at_ms`; a failure fails the test.
    pub async fn write_received_at<S: Store>(
        &self,
        store: &mut S,
        invocations: &[StoredInvocation],
        dead_letters: &[DeadLetter],
        received_at_ms: i64,
    ) -> WriteOutcome {
        let batch = StoreBatch {
            invocations,
            dead_letters,
            metadata: &self.metadata,
            rules: &self.rules,
            received_at_ms,
            unsent_alert_delay_ms: lamlog::store::UNSENT_ALERT_DELAY_MS,
        };
        match store.write_batch(&batch).await {
            Ok(outcome) => outcome,
            Err(error) => panic!("writing a batch failed: {error}"),
        }
    }

    /// Assembles `evidence` and writes it as one batch.
    pub async fn write_evidence<S: Store>(
        &self,
        store: &mut S,
        evidence: &[Evidence],
    ) -> WriteOutcome {
        let invocations = self.invocations(evidence);
        self.write(store, &invocations, &[]).await
    }
}

/// The account of the hand-written fixtures.
pub const ACCOUNT: &str = "123456789012";
/// A minute boundary (and a multiple of every window used here).
pub const BASE_MS: i64 = 1_750_000_200_000;
/// When the fixtures' batches arrive: a day after [`BASE_MS`], later than
/// every fixture's lines, as a consumer's clock is.
pub const RECEIVED_AT_MS: i64 = BASE_MS + 86_400_000;

/// The store's canonical dump; a failure fails the test.
pub async fn dump<S: Store>(store: &mut S) -> String {
    store
        .dump()
        .await
        .unwrap_or_else(|error| panic!("dumping failed: {error}"))
}

/// The lines of `dump` that belong to `table`.
pub fn table_lines<'a>(dump: &'a str, table: &str) -> Vec<&'a str> {
    let prefix = format!("{table} ");
    dump.lines()
        .filter(|line| line.starts_with(&prefix))
        .collect()
}

/// `table_lines`, failing the test unless there is exactly one.
pub fn only_line<'a>(dump: &'a str, table: &str) -> &'a str {
    let lines = table_lines(dump, table);
    assert_eq!(lines.len(), 1, "expected one {table} row in:\n{dump}");
    lines[0]
}

/// `column="text"` as the dump prints a text value.
pub fn text_field(column: &str, value: &str) -> String {
    format!(" {column}={value:?}")
}
