//! Pruning: how old a row must be before dropping it cannot undo exactly-once.
//!
//! The stores turn re-deliveries into no-ops by merging into the row a key
//! already has. Once that row is pruned, a re-delivered record finds nothing
//! to merge into: a REPORT is stored again and its rollups are added twice,
//! its alerts raised again. So a row may only go once Kinesis can no longer
//! deliver the records that made it:
//!
//! - the stream keeps a record for its retention (`RetentionPeriodHours` in
//!   `deploy/template.yaml`: 48 h); until then `lamlog replay` can still read
//!   it back from the stream;
//! - the event source mapping retries a record until it is
//!   `MaximumRecordAgeInSeconds` old (at most the retention: a record that has
//!   left the stream cannot be retried).
//!
//! The minimum age is the sum of the two ([`Redelivery::minimum_age_ms`]):
//! each bounds delivery on its own, and their sum also covers the time
//! between a log line's timestamp (which is what a row's age is measured
//! from) and the moment its record reached the stream, plus what the
//! configuration of a running deployment may lag behind the template. With
//! the defaults that is 96 hours, far below any useful retention of
//! invocation rows (weeks), so it costs nothing to be generous.
//!
//! Rows with no REPORT yet (pending rows) have no time of their own; they are
//! aged by when the store first saw them (`first_seen_ms`, the earliest
//! receive time of the batches that touched them), under the same minimum.

use std::fmt;

/// One hour in milliseconds.
const HOUR_MS: i64 = 3_600_000;

/// The stream retention of `deploy/template.yaml` (`RetentionPeriodHours:
/// 48`), the default of `lamlog db prune --retention`.
pub const DEFAULT_STREAM_RETENTION_MS: i64 = 48 * HOUR_MS;

/// How long Kinesis can still deliver a record: the two settings of a
/// deployment that bound it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Redelivery {
    /// The stream's retention period (ms).
    pub retention_ms: i64,
    /// The event source mapping's maximum record age (ms).
    pub max_record_age_ms: i64,
}

impl Default for Redelivery {
    /// The template's retention, with the record age limit at its largest
    /// useful value, the retention itself: whatever limit below the retention
    /// a deployment chooses, the default minimum covers it.
    fn default() -> Redelivery {
        Redelivery {
            retention_ms: DEFAULT_STREAM_RETENTION_MS,
            max_record_age_ms: DEFAULT_STREAM_RETENTION_MS,
        }
    }
}

impl Redelivery {
    /// The youngest age a prune may remove: retention plus maximum record
    /// age (see the module comment for why both).
    pub fn minimum_age_ms(&self) -> i64 {
        self.retention_ms.saturating_add(self.max_record_age_ms)
    }

    /// Refuses a prune of rows younger than [`Redelivery::minimum_age_ms`].
    pub fn check(&self, older_than_ms: i64) -> Result<(), TooYoung> {
        let minimum_age_ms = self.minimum_age_ms();
        if older_than_ms < minimum_age_ms {
            return Err(TooYoung {
                older_than_ms,
                minimum_age_ms,
                redelivery: *self,
            });
        }
        Ok(())
    }
}

/// A prune that would drop rows Kinesis may still re-deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to prune rows younger than {minimum} (asked for rows older than {older_than}): \
     Kinesis can re-deliver a record for the stream retention ({retention}) plus the event \
     source mapping's maximum record age ({max_record_age}), and a record re-delivered after its \
     row was pruned would be counted again (its rollups added twice, its alerts raised again)",
    minimum = Age(*.minimum_age_ms),
    older_than = Age(*.older_than_ms),
    retention = Age(.redelivery.retention_ms),
    max_record_age = Age(.redelivery.max_record_age_ms),
)]
pub struct TooYoung {
    /// The age asked for.
    pub older_than_ms: i64,
    /// The youngest age allowed.
    pub minimum_age_ms: i64,
    /// The settings the minimum came from.
    pub redelivery: Redelivery,
}

/// What a prune removed.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct PruneOutcome {
    /// Day partitions dropped whole (PostgreSQL), oldest first.
    pub dropped_partitions: Vec<String>,
    /// Reported invocations deleted row by row: every one on SQLite, those of
    /// PostgreSQL's default partition (times that have no day partition).
    pub deleted_invocations: u64,
    /// Invocations still waiting for their REPORT, deleted by the time they
    /// were first seen.
    pub deleted_pending: u64,
    /// Environments (how log streams started) last seen before the cutoff.
    pub deleted_environments: u64,
    /// Log streams' memory trails whose last sample is before the cutoff.
    pub deleted_memory_trails: u64,
}

/// An age in milliseconds printed as `lamlog` reads ages back: whole days
/// from a week up (`30d`), else whole hours (`96h`, as Kinesis states its
/// retention), else minutes, rounded up so that the printed age is never
/// below the real one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Age(pub i64);

impl fmt::Display for Age {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MINUTE_MS: i64 = 60_000;
        const DAY_MS: i64 = 24 * HOUR_MS;
        let age_ms = self.0;
        if age_ms >= 7 * DAY_MS && age_ms % DAY_MS == 0 {
            write!(formatter, "{}d", age_ms / DAY_MS)
        } else if age_ms % HOUR_MS == 0 {
            write!(formatter, "{}h", age_ms / HOUR_MS)
        } else {
            let minutes = age_ms / MINUTE_MS + i64::from(age_ms % MINUTE_MS > 0);
            write!(formatter, "{minutes}m")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_print_in_the_largest_whole_unit() {
        assert_eq!(Age(30 * 24 * HOUR_MS).to_string(), "30d");
        assert_eq!(Age(4 * 24 * HOUR_MS).to_string(), "96h");
        assert_eq!(Age(36 * HOUR_MS).to_string(), "36h");
        assert_eq!(Age(90 * 60_000).to_string(), "90m");
        assert_eq!(Age(90 * 60_000 + 1).to_string(), "91m");
        assert_eq!(Age(0).to_string(), "0h");
    }

    #[test]
    fn the_minimum_is_retention_plus_record_age() {
        let redelivery = Redelivery {
            retention_ms: 10 * HOUR_MS,
            max_record_age_ms: 5 * HOUR_MS,
        };
        assert_eq!(redelivery.minimum_age_ms(), 15 * HOUR_MS);
        assert!(redelivery.check(15 * HOUR_MS).is_ok());
        let refused = redelivery.check(15 * HOUR_MS - 1).unwrap_err();
        assert_eq!(refused.minimum_age_ms, 15 * HOUR_MS);
        assert!(refused.to_string().contains("15h"), "{refused}");
        assert_eq!(
            Redelivery::default().minimum_age_ms(),
            2 * DEFAULT_STREAM_RETENTION_MS
        );
    }
}
