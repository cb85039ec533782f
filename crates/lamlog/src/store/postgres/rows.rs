//! One `invocations` row ↔ one [`StoredInvocation`], and the text PostgreSQL
//! cannot hold.
//!
//! Every field of [`Invocation`] has a column, so a stored row rebuilds the
//! exact value that was merged into it (see the SQLite store's
//! `invocation_row.rs`, whose [`join`] rule is repeated here). Unsigned Rust
//! integers go into `BIGINT`: a value past `i64::MAX` is refused with
//! [`StoreError::Statement`] before anything is written, as SQLite refuses it.

use std::borrow::Cow;

use lamlog_core::assemble::{Invocation, InvocationKey, StatusFlags};
use lamlog_core::meta::Architecture;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;

use crate::store::{DeadLetter, StoreError, StoredInvocation};

/// The columns of `invocations` (and `pending_invocations`), in table order.
pub(super) const COLUMNS: [&str; 25] = [
    "account",
    "function",
    "request_id",
    "log_group",
    "version",
    "start_time_ms",
    "duration_ms",
    "billed_duration_ms",
    "memory_size_mb",
    "max_memory_used_mb",
    "init_duration_ms",
    "restore_duration_ms",
    "billed_restore_duration_ms",
    "xray_trace_id",
    "timeout_seconds",
    "cold_start",
    "status",
    "status_flags",
    "error_type",
    "enriched",
    "tenant",
    "architecture",
    "region",
    "cost_usd",
    "log_stream",
];

/// The types of [`COLUMNS`], for binary `COPY`.
pub const COLUMN_TYPES: [Type; 25] = [
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::FLOAT8,
    Type::INT8,
    Type::INT8,
    Type::INT8,
    Type::FLOAT8,
    Type::FLOAT8,
    Type::INT8,
    Type::TEXT,
    Type::FLOAT8,
    Type::BOOL,
    Type::TEXT,
    Type::INT2,
    Type::TEXT,
    Type::BOOL,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::FLOAT8,
    Type::TEXT,
];

/// [`COLUMNS`] joined by commas, each prefixed with `prefix` (`"i."`, `""`).
pub fn column_list(prefix: &str) -> String {
    COLUMNS
        .iter()
        .map(|column| format!("{prefix}{column}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A row as PostgreSQL values, in [`COLUMNS`] order.
pub struct SqlRow<'a> {
    row: &'a StoredInvocation,
    start_time_ms: Option<i64>,
    billed_duration_ms: Option<i64>,
    memory_size_mb: Option<i64>,
    max_memory_used_mb: Option<i64>,
    billed_restore_duration_ms: Option<i64>,
    status: &'static str,
    status_flags: i16,
    architecture: &'static str,
}

impl<'a> SqlRow<'a> {
    /// Converts a row, refusing integers no `BIGINT` holds.
    pub fn new(row: &'a StoredInvocation) -> Result<SqlRow<'a>, StoreError> {
        let invocation = &row.invocation;
        let too_big = |column: &str, value: u64| {
            StoreError::Rejected(format!(
                "{column} {value} of request {:?} of {} does not fit a database integer",
                invocation.request_id, invocation.function
            ))
        };
        let bigint = |column: &str, value: Option<u64>| {
            value
                .map(|value| i64::try_from(value).map_err(|_| too_big(column, value)))
                .transpose()
        };
        Ok(SqlRow {
            row,
            start_time_ms: invocation.start_time_ms,
            billed_duration_ms: bigint("billed_duration_ms", invocation.billed_duration_ms)?,
            memory_size_mb: invocation.memory_size_mb.map(i64::from),
            max_memory_used_mb: invocation.max_memory_used_mb.map(i64::from),
            billed_restore_duration_ms: bigint(
                "billed_restore_duration_ms",
                invocation.billed_restore_duration_ms,
            )?,
            status: invocation.status().as_str(),
            status_flags: i16::from(invocation.status_flags.0),
            architecture: row.architecture.as_str(),
        })
    }

    /// The values, in [`COLUMNS`] order.
    pub fn values(&self) -> [&(dyn ToSql + Sync); 25] {
        let invocation = &self.row.invocation;
        [
            &invocation.account,
            &invocation.function,
            &invocation.request_id,
            &invocation.log_group,
            &invocation.version,
            &self.start_time_ms,
            &invocation.duration_ms,
            &self.billed_duration_ms,
            &self.memory_size_mb,
            &self.max_memory_used_mb,
            &invocation.init_duration_ms,
            &invocation.restore_duration_ms,
            &self.billed_restore_duration_ms,
            &invocation.xray_trace_id,
            &invocation.timeout_seconds,
            &invocation.cold_start,
            &self.status,
            &self.status_flags,
            &invocation.error_type,
            &self.row.enriched,
            &self.row.tenant,
            &self.architecture,
            &self.row.region,
            &self.row.cost_usd,
            &invocation.log_stream,
        ]
    }
}

/// Reads a row selected as [`column_list`] starting at column `first`.
pub(super) fn from_row(row: &Row, first: usize) -> Result<StoredInvocation, String> {
    fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
        row: &'r Row,
        index: usize,
    ) -> Result<T, String> {
        row.try_get(index)
            .map_err(|error| format!("reading invocations column {index}: {error}"))
    }
    let unsigned = |index: usize| -> Result<Option<u64>, String> {
        get::<Option<i64>>(row, first + index)?
            .map(|value| u64::try_from(value).map_err(|_| format!("negative value {value}")))
            .transpose()
    };
    let small = |index: usize| -> Result<Option<u32>, String> {
        get::<Option<i64>>(row, first + index)?
            .map(|value| u32::try_from(value).map_err(|_| format!("value {value} out of range")))
            .transpose()
    };
    let flags: i16 = get(row, first + 17)?;
    let architecture: String = get(row, first + 21)?;
    let invocation = Invocation {
        account: get(row, first)?,
        function: get(row, first + 1)?,
        request_id: get(row, first + 2)?,
        log_group: get(row, first + 3)?,
        version: get(row, first + 4)?,
        log_stream: get(row, first + 24)?,
        start_time_ms: get(row, first + 5)?,
        duration_ms: get(row, first + 6)?,
        billed_duration_ms: unsigned(7)?,
        memory_size_mb: small(8)?,
        max_memory_used_mb: small(9)?,
        init_duration_ms: get(row, first + 10)?,
        restore_duration_ms: get(row, first + 11)?,
        billed_restore_duration_ms: unsigned(12)?,
        xray_trace_id: get(row, first + 13)?,
        timeout_seconds: get(row, first + 14)?,
        cold_start: get(row, first + 15)?,
        status_flags: StatusFlags(
            u8::try_from(flags).map_err(|_| format!("status flags {flags}"))?,
        ),
        error_type: get(row, first + 18)?,
    };
    Ok(StoredInvocation {
        invocation,
        enriched: get(row, first + 19)?,
        tenant: get(row, first + 20)?,
        architecture: architecture.parse::<Architecture>()?,
        region: get(row, first + 22)?,
        cost_usd: get(row, first + 23)?,
    })
}

/// The join of a stored row and new evidence for the same key, exactly as
/// the SQLite store joins them: the invocation merges as a lattice join;
/// `enriched` only turns on, and metadata comes from the new side when it is
/// enriched (metadata is refreshed), else from the stored one; the cost is
/// set once, from the REPORT, so a stored cost is kept.
pub(super) fn join(
    existing: &StoredInvocation,
    new: &StoredInvocation,
) -> (StoredInvocation, bool) {
    let mut invocation = existing.invocation.clone();
    let invocation_changed = invocation.merge(&new.invocation);
    let take_new = new.enriched;
    let pick = |new_value: &Option<String>, old_value: &Option<String>| {
        if take_new {
            new_value.clone()
        } else {
            old_value.clone()
        }
    };
    let merged = StoredInvocation {
        invocation,
        enriched: existing.enriched || new.enriched,
        tenant: pick(&new.tenant, &existing.tenant),
        architecture: if take_new {
            new.architecture
        } else {
            existing.architecture
        },
        region: pick(&new.region, &existing.region),
        cost_usd: existing.cost_usd.or(new.cost_usd),
    };
    let changed = invocation_changed || merged != *existing;
    (merged, changed)
}

/// The key of a row.
pub(super) fn key_of(row: &StoredInvocation) -> InvocationKey {
    row.invocation.key()
}

/// `text` with every NUL replaced by U+FFFD (PostgreSQL text cannot hold NUL;
/// see the module comment of `store::postgres`).
pub(super) fn clean_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', "\u{fffd}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn clean_in_place(text: &mut String) {
    if let Cow::Owned(cleaned) = clean_text(text) {
        *text = cleaned;
    }
}

fn clean_option(text: &mut Option<String>) {
    if let Some(text) = text {
        clean_in_place(text);
    }
}

/// `row`, with its text cleaned of NUL; borrowed when it had none (always,
/// in practice).
pub(super) fn clean_invocation(row: &StoredInvocation) -> Cow<'_, StoredInvocation> {
    let invocation = &row.invocation;
    let texts = [
        Some(&invocation.account),
        Some(&invocation.function),
        Some(&invocation.request_id),
        Some(&invocation.log_group),
        invocation.version.as_ref(),
        invocation.xray_trace_id.as_ref(),
        invocation.error_type.as_ref(),
        row.tenant.as_ref(),
        row.region.as_ref(),
    ];
    if !texts.into_iter().flatten().any(|text| text.contains('\0')) {
        return Cow::Borrowed(row);
    }
    let mut cleaned = row.clone();
    let invocation = &mut cleaned.invocation;
    clean_in_place(&mut invocation.account);
    clean_in_place(&mut invocation.function);
    clean_in_place(&mut invocation.request_id);
    clean_in_place(&mut invocation.log_group);
    clean_option(&mut invocation.version);
    clean_option(&mut invocation.xray_trace_id);
    clean_option(&mut invocation.error_type);
    clean_option(&mut cleaned.tenant);
    clean_option(&mut cleaned.region);
    Cow::Owned(cleaned)
}

/// A dead letter's text columns, cleaned of NUL; its raw bytes are untouched.
pub(super) struct CleanDeadLetter<'a> {
    /// The dedup key (of the original record, then cleaned).
    pub dedup_key: String,
    /// `source`.
    pub source: Cow<'a, str>,
    /// `position`.
    pub position: String,
    /// `sequence_number`.
    pub sequence_number: Option<String>,
    /// `reason`.
    pub reason: Cow<'a, str>,
    /// The record.
    pub dead_letter: &'a DeadLetter,
}

impl<'a> CleanDeadLetter<'a> {
    /// The columns of one dead letter.
    pub(super) fn new(dead_letter: &'a DeadLetter) -> CleanDeadLetter<'a> {
        CleanDeadLetter {
            dedup_key: clean_text(&dead_letter.dedup_key()).into_owned(),
            source: clean_text(&dead_letter.source),
            position: clean_text(&dead_letter.position_key()).into_owned(),
            sequence_number: dead_letter
                .position
                .sequence_number
                .as_deref()
                .map(|number| clean_text(number).into_owned()),
            reason: clean_text(&dead_letter.reason),
            dead_letter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_becomes_the_replacement_character() {
        assert_eq!(clean_text("a\0b"), "a\u{fffd}b");
        assert!(matches!(clean_text("plain"), Cow::Borrowed("plain")));
        let mut row = StoredInvocation {
            invocation: Invocation {
                request_id: "r\0".to_owned(),
                ..Invocation::default()
            },
            enriched: false,
            tenant: None,
            architecture: Architecture::X86_64,
            region: Some("\0".to_owned()),
            cost_usd: None,
        };
        let cleaned = clean_invocation(&row).into_owned();
        assert_eq!(cleaned.invocation.request_id, "r\u{fffd}");
        assert_eq!(cleaned.region.as_deref(), Some("\u{fffd}"));
        row = cleaned.clone();
        assert!(matches!(clean_invocation(&row), Cow::Borrowed(_)));
    }
}
