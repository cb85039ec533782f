//! `stream_memory`: each log stream's last warm samples of Max Memory Used,
//! carried from batch to batch inside the batch's transaction, and the
//! `memory_growth` alerts they raise ([`lamlog_core::growth`]); the SQLite
//! store's rule, set-based: one read of the trails of every stream with new
//! samples ([`read`]), the trails advanced in Rust ([`advance_all`]), one
//! upsert of them all ([`Upsert::send`]). The read and the upsert need
//! nothing from the rollups or the windows, so the caller sends each in the
//! pipeline of one of those statements (`write.rs`), and the trails cost the
//! batch no round trip of their own.
//!
//! A stream belongs to one function, whose advisory lock the caller holds
//! (`locks.rs`), so two writers never advance the same trail at once.

use std::collections::HashMap;

use deadpool_postgres::Client;
use lamlog_core::growth::{advance, Observation, SamplesByStream, StreamKey, Trail};
use lamlog_core::judge::Alert;
use lamlog_core::meta::meta_key;

use super::change::Change;
use super::failed;
use super::pipeline::Tx;
use crate::store::{GrowingStream, StoreBatch, StoreError};

const SELECT_TRAILS: &str = "
    SELECT s.account, s.log_group, s.log_stream, s.trail
      FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[]) AS k(account, log_group, log_stream)
      JOIN stream_memory s
        ON s.account = k.account AND s.log_group = k.log_group AND s.log_stream = k.log_stream";

const UPSERT_TRAILS: &str = "
    INSERT INTO stream_memory (
        account, log_group, log_stream, function, memory_size_mb, trail, last_ms, slope_mb,
        invocations_to_limit)
    SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::TEXT[], $5::BIGINT[],
                         $6::TEXT[], $7::BIGINT[], $8::DOUBLE PRECISION[], $9::BIGINT[])
    ON CONFLICT (account, log_group, log_stream) DO UPDATE SET
        function = excluded.function,
        memory_size_mb = excluded.memory_size_mb,
        trail = excluded.trail,
        last_ms = excluded.last_ms,
        slope_mb = excluded.slope_mb,
        invocations_to_limit = excluded.invocations_to_limit";

/// The statements the batch pipelines (see `pipeline.rs`).
pub(super) const STATEMENTS: [&str; 2] = [SELECT_TRAILS, UPSERT_TRAILS];

/// Served by `stream_memory_last`; the verdict is NULL unless growing.
const SELECT_GROWING: &str = "
    SELECT account, function, log_group, log_stream, memory_size_mb, trail, slope_mb,
           invocations_to_limit, last_ms
      FROM stream_memory
     WHERE last_ms >= $1 AND slope_mb IS NOT NULL
     ORDER BY invocations_to_limit, account, log_group, log_stream";

/// The batch's new warm samples, per stream, in stream order.
pub(super) type Observations = Vec<(StreamKey, Vec<Observation>)>;

/// The new warm samples among `changes`.
pub(super) fn observations(changes: &[Change<'_>]) -> Observations {
    let mut observations = SamplesByStream::default();
    for change in changes {
        observations.observe(
            change.old.map(|old| &old.invocation),
            &change.merged.invocation,
        );
    }
    observations.into_sorted()
}

/// Advances the trail of every stream of `observations` from its `stored`
/// trail; returns the upsert of the new states and the `memory_growth`
/// alerts found (to be inserted if their key is absent).
pub(super) fn advance_all(
    batch: &StoreBatch<'_>,
    observations: Observations,
    mut stored: HashMap<StreamKey, Trail>,
) -> (Upsert, Vec<Alert>) {
    let mut upsert = Upsert::default();
    let mut alerts = Vec::new();
    for (stream, mut samples) in observations {
        let Some(last) = samples.last() else {
            continue;
        };
        let (function, memory_size_mb) = (last.function.clone(), last.memory_size_mb);
        let mut trail = stored.remove(&stream).unwrap_or_default();
        let meta = batch.metadata.get(&meta_key(&stream.account, &function));
        let advanced = advance(&mut trail, &stream, &mut samples, meta, batch.rules);
        upsert.push((stream, function, memory_size_mb), &trail, advanced.growing);
        alerts.extend(advanced.alert);
    }
    (upsert, alerts)
}

/// The stored trail of each stream of `observations` that has one.
pub(super) async fn read(
    transaction: &Tx,
    observations: &Observations,
) -> Result<HashMap<StreamKey, Trail>, StoreError> {
    if observations.is_empty() {
        return Ok(HashMap::new());
    }
    let (mut accounts, mut groups, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for (stream, _) in observations {
        accounts.push(stream.account.as_str());
        groups.push(stream.log_group.as_str());
        names.push(stream.log_stream.as_str());
    }
    let statement = transaction
        .prepare_cached(SELECT_TRAILS)
        .await
        .map_err(failed("preparing the stream_memory read"))?;
    let rows = transaction
        .query(&statement, &[&accounts, &groups, &names])
        .await
        .map_err(failed("reading stream_memory"))?;
    let mut stored = HashMap::with_capacity(rows.len());
    for row in rows {
        let reading = failed("reading stream_memory");
        let key = StreamKey {
            account: row.try_get(0).map_err(&reading)?,
            log_group: row.try_get(1).map_err(&reading)?,
            log_stream: row.try_get(2).map_err(&reading)?,
        };
        let trail: &str = row.try_get(3).map_err(&reading)?;
        stored.insert(key, Trail::decode(trail)?);
    }
    Ok(stored)
}

/// The columns of the trails to write, as arrays.
#[derive(Default)]
pub(super) struct Upsert {
    accounts: Vec<String>,
    groups: Vec<String>,
    names: Vec<String>,
    functions: Vec<String>,
    memory_sizes: Vec<i64>,
    trails: Vec<String>,
    last_ms: Vec<i64>,
    slopes: Vec<Option<f64>>,
    to_limits: Vec<Option<i64>>,
}

impl Upsert {
    fn push(
        &mut self,
        (stream, function, memory_size_mb): (StreamKey, String, u32),
        trail: &Trail,
        growing: Option<(f64, u64)>,
    ) {
        self.accounts.push(stream.account);
        self.groups.push(stream.log_group);
        self.names.push(stream.log_stream);
        self.functions.push(function);
        self.memory_sizes.push(i64::from(memory_size_mb));
        self.trails.push(trail.encode());
        self.last_ms.push(trail.last_ms().unwrap_or(0));
        self.slopes.push(growing.map(|(slope, _)| slope));
        self.to_limits
            .push(growing.map(|(_, to_limit)| i64::try_from(to_limit).unwrap_or(i64::MAX)));
    }

    /// Writes the trails (nothing to send when there are none).
    pub(super) async fn send(self, transaction: &Tx) -> Result<(), StoreError> {
        if self.accounts.is_empty() {
            return Ok(());
        }
        let statement = transaction
            .prepare_cached(UPSERT_TRAILS)
            .await
            .map_err(failed("preparing the stream_memory upsert"))?;
        transaction
            .execute(
                &statement,
                &[
                    &self.accounts,
                    &self.groups,
                    &self.names,
                    &self.functions,
                    &self.memory_sizes,
                    &self.trails,
                    &self.last_ms,
                    &self.slopes,
                    &self.to_limits,
                ],
            )
            .await
            .map_err(failed("writing stream_memory"))?;
        Ok(())
    }
}

/// The streams whose latest verdict is growing; see
/// [`crate::store::Store::growing_streams`].
pub(super) async fn growing_streams(
    client: &Client,
    since_ms: Option<i64>,
) -> Result<Vec<GrowingStream>, StoreError> {
    let reading = failed("reading stream_memory");
    let statement = client
        .prepare_cached(SELECT_GROWING)
        .await
        .map_err(&reading)?;
    let rows = client
        .query(&statement, &[&since_ms.unwrap_or(i64::MIN)])
        .await
        .map_err(&reading)?;
    let mut streams = Vec::with_capacity(rows.len());
    for row in &rows {
        let trail = Trail::decode(row.try_get(5).map_err(&reading)?)?;
        streams.push(GrowingStream {
            account: row.try_get(0).map_err(&reading)?,
            function: row.try_get(1).map_err(&reading)?,
            log_group: row.try_get(2).map_err(&reading)?,
            log_stream: row.try_get(3).map_err(&reading)?,
            memory_size_mb: row.try_get(4).map_err(&reading)?,
            last_used_mb: trail.last_used_mb().map_or(0, i64::from),
            slope_mb: row.try_get(6).map_err(&reading)?,
            invocations_to_limit: row.try_get(7).map_err(&reading)?,
            last_ms: row.try_get(8).map_err(&reading)?,
        });
    }
    Ok(streams)
}
