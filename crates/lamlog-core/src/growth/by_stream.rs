//! A batch's new warm samples, grouped by stream, for a store to advance
//! each stream's trail once.

use std::borrow::Cow;
use std::collections::HashMap;

use foldhash::fast::RandomState;

use super::{stream_observation_of, Observation, StreamKey};
use crate::assemble::Invocation;

/// A stream's (account, log group, log stream).
type Names<'a> = (Cow<'a, str>, Cow<'a, str>, Cow<'a, str>);

/// The new samples of a batch, per stream.
///
/// The names are borrowed from the batch where they can be, so each
/// stream's names are copied once, not once per sample. The map is hashed
/// (foldhash, seeded per map), not ordered: every new row looks its stream
/// up, and hashing the names costs less than comparing them down a tree
/// (BENCHMARKS.md §2). [`SamplesByStream::into_sorted`] gives the streams
/// in order.
#[derive(Debug, Default)]
pub struct SamplesByStream<'a>(HashMap<Names<'a>, Vec<Observation>, RandomState>);

impl<'a> SamplesByStream<'a> {
    /// Takes the sample of `new`, the row the batch leaves (`old` the
    /// stored row before it), if its REPORT is new and it ran warm with a
    /// log stream and memory figures. The stream's names are borrowed.
    pub fn observe(&mut self, old: Option<&Invocation>, new: &'a Invocation) {
        if let Some(((account, log_group, log_stream), observation)) =
            stream_observation_of(old, new)
        {
            let names = (account.into(), log_group.into(), log_stream.into());
            self.0.entry(names).or_default().push(observation);
        }
    }

    /// [`SamplesByStream::observe`] of a row that does not live as long as
    /// the grouping (a stored row joined with new evidence): the stream's
    /// names are copied.
    pub fn observe_copied(&mut self, old: Option<&Invocation>, new: &Invocation) {
        if let Some(((account, log_group, log_stream), observation)) =
            stream_observation_of(old, new)
        {
            let copied = |name: &str| Cow::Owned(name.to_owned());
            let names = (copied(account), copied(log_group), copied(log_stream));
            self.0.entry(names).or_default().push(observation);
        }
    }

    /// The streams in key order, each with its samples in the order taken.
    pub fn into_sorted(self) -> Vec<(StreamKey, Vec<Observation>)> {
        let mut streams: Vec<(StreamKey, Vec<Observation>)> = self
            .0
            .into_iter()
            .map(|((account, log_group, log_stream), samples)| {
                let stream = StreamKey {
                    account: account.into_owned(),
                    log_group: log_group.into_owned(),
                    log_stream: log_stream.into_owned(),
                };
                (stream, samples)
            })
            .collect();
        streams.sort_unstable_by(|(left, _), (right, _)| left.cmp(right));
        streams
    }
}
