//! `stream_memory`: each log stream's last warm samples of Max Memory Used,
//! carried from batch to batch inside the batch's transaction, and the
//! `memory_growth` alerts they raise ([`lamlog_core::growth`]).
//!
//! The trail is read, advanced with the batch's new samples and written back
//! in the transaction that stores the invocations, so a batch rolled back
//! leaves no sample behind, and its retry judges the same samples again.

use lamlog_core::growth::{advance, SamplesByStream, StreamKey, Trail};
use lamlog_core::meta::meta_key;
use rusqlite::{Connection, OptionalExtension, Transaction};

use super::{alerts, failed};
use crate::store::{GrowingStream, StoreBatch, StoreError, WriteOutcome};

const SELECT_TRAIL: &str = "
    SELECT trail FROM stream_memory
     WHERE account = ?1 AND log_group = ?2 AND log_stream = ?3";

const UPSERT_TRAIL: &str = "
    INSERT INTO stream_memory (
        account, log_group, log_stream, function, memory_size_mb, trail, last_ms, slope_mb,
        invocations_to_limit)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
    ON CONFLICT (account, log_group, log_stream) DO UPDATE SET
        function = excluded.function,
        memory_size_mb = excluded.memory_size_mb,
        trail = excluded.trail,
        last_ms = excluded.last_ms,
        slope_mb = excluded.slope_mb,
        invocations_to_limit = excluded.invocations_to_limit";

/// Served by `stream_memory_last`; the verdict is NULL unless growing.
const SELECT_GROWING: &str = "
    SELECT account, function, log_group, log_stream, memory_size_mb, trail, slope_mb,
           invocations_to_limit, last_ms
      FROM stream_memory
     WHERE last_ms >= ?1 AND slope_mb IS NOT NULL
     ORDER BY invocations_to_limit, account, log_group, log_stream";

/// Advances every stream of `observations`; new alerts go to `outcome`.
pub(super) fn advance_streams(
    transaction: &Transaction<'_>,
    batch: &StoreBatch<'_>,
    observations: SamplesByStream<'_>,
    outcome: &mut WriteOutcome,
) -> Result<(), StoreError> {
    for (stream, mut samples) in observations.into_sorted() {
        let Some(last) = samples.last() else {
            continue;
        };
        let function = last.function.clone();
        let memory_size_mb = last.memory_size_mb;
        let mut trail = read(transaction, &stream)?;
        let meta = batch.metadata.get(&meta_key(&stream.account, &function));
        let advanced = advance(&mut trail, &stream, &mut samples, meta, batch.rules);
        write(
            transaction,
            (&stream, &function, memory_size_mb),
            &trail,
            advanced.growing,
        )?;
        if let Some(alert) = advanced.alert {
            if alerts::insert_alert(transaction, batch, &alert)? {
                outcome.new_alerts.push(alert);
            }
        }
    }
    Ok(())
}

/// The stream's stored trail (empty for a stream not seen yet).
fn read(transaction: &Transaction<'_>, stream: &StreamKey) -> Result<Trail, StoreError> {
    let stored: Option<String> = transaction
        .prepare_cached(SELECT_TRAIL)
        .and_then(|mut statement| {
            statement
                .query_row(
                    (&stream.account, &stream.log_group, &stream.log_stream),
                    |row| row.get(0),
                )
                .optional()
        })
        .map_err(failed("reading stream_memory"))?;
    Ok(stored
        .map(|text| Trail::decode(&text))
        .transpose()?
        .unwrap_or_default())
}

/// Writes a stream's trail and its verdict.
fn write(
    transaction: &Transaction<'_>,
    (stream, function, memory_size_mb): (&StreamKey, &str, u32),
    trail: &Trail,
    growing: Option<(f64, u64)>,
) -> Result<(), StoreError> {
    let (slope_mb, invocations_to_limit) = match growing {
        Some((slope, to_limit)) => (
            Some(slope),
            Some(i64::try_from(to_limit).unwrap_or(i64::MAX)),
        ),
        None => (None, None),
    };
    transaction
        .prepare_cached(UPSERT_TRAIL)
        .and_then(|mut statement| {
            statement.execute(rusqlite::params![
                stream.account,
                stream.log_group,
                stream.log_stream,
                function,
                memory_size_mb,
                trail.encode(),
                trail.last_ms().unwrap_or(0),
                slope_mb,
                invocations_to_limit,
            ])
        })
        .map_err(failed("writing stream_memory"))?;
    Ok(())
}

/// The streams whose latest verdict is growing; see
/// [`crate::store::Store::growing_streams`].
pub(super) fn growing_streams(
    connection: &Connection,
    since_ms: Option<i64>,
) -> Result<Vec<GrowingStream>, StoreError> {
    let reading = failed("reading stream_memory");
    let mut statement = connection
        .prepare_cached(SELECT_GROWING)
        .map_err(&reading)?;
    let mut rows = statement
        .query([since_ms.unwrap_or(i64::MIN)])
        .map_err(&reading)?;
    let mut streams = Vec::new();
    while let Some(row) = rows.next().map_err(&reading)? {
        let trail: String = row.get(5).map_err(&reading)?;
        streams.push(GrowingStream {
            account: row.get(0).map_err(&reading)?,
            function: row.get(1).map_err(&reading)?,
            log_group: row.get(2).map_err(&reading)?,
            log_stream: row.get(3).map_err(&reading)?,
            memory_size_mb: row.get(4).map_err(&reading)?,
            last_used_mb: Trail::decode(&trail)?.last_used_mb().map_or(0, i64::from),
            slope_mb: row.get(6).map_err(&reading)?,
            invocations_to_limit: row.get(7).map_err(&reading)?,
            last_ms: row.get(8).map_err(&reading)?,
        });
    }
    Ok(streams)
}
