//! The dead letters of a batch: inserted once each, keyed by
//! [`DeadLetter::dedup_key`], in one statement (in the batch's first round
//! trip: it depends on nothing else the batch does).

use std::collections::BTreeMap;

use tokio_postgres::Statement;

use super::pipeline::{param, Slot, Turn};
use super::rows;
use crate::store::{DeadLetter, StoreError};

/// Inserts the dead letters whose key is not stored; its count is how many.
pub(super) const INSERT: &str = "
    INSERT INTO dead_letters (
        dedup_key, source, position, record_index, sequence_number, byte_offset, reason,
        raw, received_at_ms, raw_len, raw_sha256)
    SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[],
                         $6::BIGINT[], $7::TEXT[], $8::BYTEA[], $9::BIGINT[],
                         $10::BIGINT[], $11::BYTEA[])
    ON CONFLICT (dedup_key) DO NOTHING";

/// A batch's dead letters, cleaned and deduplicated, ready to insert.
pub(super) struct DeadLetterRows<'d> {
    by_key: BTreeMap<String, rows::CleanDeadLetter<'d>>,
    record_indexes: Vec<i64>,
    byte_offsets: Vec<Option<i64>>,
    lengths: Vec<i64>,
}

impl<'d> DeadLetterRows<'d> {
    /// Cleans `dead_letters`; [`StoreError::Rejected`] when a number does
    /// not fit a database integer.
    pub fn new(dead_letters: &'d [DeadLetter]) -> Result<DeadLetterRows<'d>, StoreError> {
        let mut by_key: BTreeMap<String, rows::CleanDeadLetter<'_>> = BTreeMap::new();
        for dead_letter in dead_letters {
            let cleaned = rows::CleanDeadLetter::new(dead_letter);
            by_key.entry(cleaned.dedup_key.clone()).or_insert(cleaned);
        }
        let too_big = |what: &str| {
            StoreError::Rejected(format!(
                "dead letter {what} does not fit a database integer"
            ))
        };
        let mut record_indexes = Vec::with_capacity(by_key.len());
        let mut byte_offsets = Vec::with_capacity(by_key.len());
        let mut lengths = Vec::with_capacity(by_key.len());
        for cleaned in by_key.values() {
            let dead_letter = cleaned.dead_letter;
            let position = &dead_letter.position;
            record_indexes
                .push(i64::try_from(position.record_index).map_err(|_| too_big("record index"))?);
            byte_offsets.push(
                position
                    .byte_offset
                    .map(i64::try_from)
                    .transpose()
                    .map_err(|_| too_big("byte offset"))?,
            );
            lengths.push(i64::try_from(dead_letter.raw_len).map_err(|_| too_big("length"))?);
        }
        Ok(DeadLetterRows {
            by_key,
            record_indexes,
            byte_offsets,
            lengths,
        })
    }

    /// Adds the insert to `turn`, if there is a dead letter.
    pub fn push<'a>(&'a self, turn: &mut Turn<'a>, insert: &Statement) -> Option<Slot> {
        if self.by_key.is_empty() {
            return None;
        }
        let rows = || self.by_key.values();
        Some(turn.execute(
            "inserting dead_letters",
            insert,
            vec![
                param(self.by_key.keys().map(String::as_str).collect::<Vec<_>>()),
                param(rows().map(|row| row.source.as_ref()).collect::<Vec<&str>>()),
                param(rows().map(|row| row.position.as_str()).collect::<Vec<_>>()),
                param(self.record_indexes.as_slice()),
                param(rows().map(|row| row.sequence_number.as_deref()).collect::<Vec<_>>()),
                param(self.byte_offsets.as_slice()),
                param(rows().map(|row| row.reason.as_ref()).collect::<Vec<&str>>()),
                param(rows().map(|row| row.dead_letter.raw.as_slice()).collect::<Vec<_>>()),
                param(rows().map(|row| row.dead_letter.received_at_ms).collect::<Vec<i64>>()),
                param(self.lengths.as_slice()),
                param(rows().map(|row| row.dead_letter.raw_sha256.as_slice()).collect::<Vec<_>>()),
            ],
        ))
    }
}
