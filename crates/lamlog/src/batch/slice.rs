//! A slice: the records of one transaction, gathered one record at a time.
//!
//! A record is folded into the slice's invocations as soon as it is decoded,
//! and its events are dropped then, so a slice holds its assembled
//! invocations and its dead letters, never its inflated log events. What it
//! holds is measured as it grows ([`Slice::held_bytes`]), so that the Lambda
//! handler and `lamlog ingest` can commit a slice when it reaches a
//! [`SliceBound`] and go on with a new one. Committing early never changes
//! what is stored: an invocation whose lines fall in two slices is merged by
//! key by the store, as it is across Kinesis batches.

use lamlog_core::assemble::{Assembler, Environment, Invocation};
use lamlog_core::decode::{DecodeError, Record};

use super::BatchSummary;
use crate::store::DeadLetter;

/// When a slice is full: the first of its two bounds it reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SliceBound {
    /// Records (decoded, control or bad) per slice.
    pub records: usize,
    /// Bytes of assembled state and dead letters per slice
    /// ([`Slice::held_bytes`]). A record is never split, so a slice may pass
    /// this by what its last record added.
    pub held_bytes: usize,
}

impl SliceBound {
    /// The default bound of what one slice holds: 8 MB. With the store's
    /// copies of it during the commit, a slice then stays within a few tens
    /// of MB, whatever its records inflate to.
    pub const DEFAULT_HELD_BYTES: usize = 8 * 1024 * 1024;

    /// A bound of `records` records and the default held bytes.
    pub fn records(records: usize) -> SliceBound {
        SliceBound {
            records,
            held_bytes: SliceBound::DEFAULT_HELD_BYTES,
        }
    }
}

/// The records of one transaction, folded in as they are decoded.
#[derive(Debug)]
pub struct Slice {
    source: String,
    received_at_ms: i64,
    assembler: Assembler,
    dead_letters: Vec<DeadLetter>,
    dead_letter_bytes: usize,
    summary: BatchSummary,
}

impl Slice {
    /// An empty slice of records from `source` (named in dead letters),
    /// received at `received_at_ms`.
    pub fn new(source: &str, received_at_ms: i64) -> Slice {
        Slice {
            source: source.to_owned(),
            received_at_ms,
            assembler: Assembler::new(),
            dead_letters: Vec::new(),
            dead_letter_bytes: 0,
            summary: BatchSummary::default(),
        }
    }

    /// Folds one decoded record in: its events into the invocations (then
    /// they are dropped), or the record into a dead letter with its raw bytes.
    pub fn add(&mut self, record: Result<Record, DecodeError>) {
        self.summary.records += 1;
        match record {
            Ok(Record::Data(envelope)) => self.assembler.add_envelope(&envelope),
            Ok(Record::Control(_)) => self.summary.control_messages += 1,
            Err(error) => {
                self.summary.undecodable_records += 1;
                let letter = DeadLetter::of_decode_error(&self.source, error, self.received_at_ms);
                self.dead_letter_bytes += dead_letter_bytes(&letter);
                self.dead_letters.push(letter);
            }
        }
    }

    /// Records folded in so far.
    pub fn records(&self) -> u64 {
        self.summary.records
    }

    /// What the slice holds, in bytes: the assembler's estimate of its
    /// invocations plus the dead letters.
    pub fn held_bytes(&self) -> usize {
        self.assembler.held_bytes() + self.dead_letter_bytes
    }

    /// Whether the slice has reached one of `bound`'s limits.
    pub fn is_full(&self, bound: SliceBound) -> bool {
        self.records() >= bound.records as u64 || self.held_bytes() >= bound.held_bytes
    }

    /// Whether nothing was added.
    pub fn is_empty(&self) -> bool {
        self.summary.records == 0
    }

    /// The parts a commit needs: the source, the invocations in key order,
    /// the dead letters, the summary so far and the reception time. It
    /// sorts the invocations, so `lamlog ingest` calls it on its reading
    /// thread, not on the one that commits.
    pub fn finish(self) -> Finished {
        let held_bytes = self.held_bytes() as u64;
        let mut assembler = self.assembler;
        let environments = assembler.take_environments();
        let (invocations, lines) = assembler.finish();
        let mut summary = self.summary;
        summary.lines = lines;
        summary.held_bytes = held_bytes;
        Finished {
            source: self.source,
            invocations,
            environments,
            dead_letters: self.dead_letters,
            summary,
            received_at_ms: self.received_at_ms,
        }
    }
}

/// A slice, assembled, ready to be stored.
#[derive(Debug)]
pub struct Finished {
    pub(super) source: String,
    pub(super) invocations: Vec<Invocation>,
    /// How the environments whose `platform.initStart` it holds started.
    pub(super) environments: Vec<Environment>,
    pub(super) dead_letters: Vec<DeadLetter>,
    pub(super) summary: BatchSummary,
    pub(super) received_at_ms: i64,
}

impl Finished {
    /// Records folded into the slice.
    pub fn records(&self) -> u64 {
        self.summary.records
    }
}

/// What a dead letter holds: its raw bytes, its texts and itself.
fn dead_letter_bytes(letter: &DeadLetter) -> usize {
    std::mem::size_of::<DeadLetter>()
        + letter.raw.len()
        + letter.source.len()
        + letter.reason.len()
        + letter
            .position
            .sequence_number
            .as_ref()
            .map_or(0, String::len)
        + letter.position.event_id.as_ref().map_or(0, String::len)
}
