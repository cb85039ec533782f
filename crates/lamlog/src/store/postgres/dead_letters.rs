//! The dead letters of a batch: inserted once each, keyed by
//! [`DeadLetter::dedup_key`], in one statement.

use std::collections::BTreeMap;

use super::pipeline::Tx;
use super::{failed, rows};
use crate::store::{DeadLetter, StoreError};

/// Inserts each dead letter whose key is absent.
pub(super) const INSERT_DEAD_LETTERS: &str = "
    INSERT INTO dead_letters (
        dedup_key, source, position, record_index, sequence_number, byte_offset, reason,
        raw, received_at_ms, raw_len, raw_sha256)
    SELECT * FROM unnest($1::TEXT[], $2::TEXT[], $3::TEXT[], $4::BIGINT[], $5::TEXT[],
                         $6::BIGINT[], $7::TEXT[], $8::BYTEA[], $9::BIGINT[],
                         $10::BIGINT[], $11::BYTEA[])
    ON CONFLICT (dedup_key) DO NOTHING";

/// Inserts the dead letters whose key is not stored; returns how many.
pub(super) async fn insert(
    transaction: &Tx,
    dead_letters: &[DeadLetter],
) -> Result<u64, StoreError> {
    if dead_letters.is_empty() {
        return Ok(0);
    }
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
    for cleaned in by_key.values() {
        let position = &cleaned.dead_letter.position;
        record_indexes
            .push(i64::try_from(position.record_index).map_err(|_| too_big("record index"))?);
        byte_offsets.push(
            position
                .byte_offset
                .map(i64::try_from)
                .transpose()
                .map_err(|_| too_big("byte offset"))?,
        );
    }
    let keys: Vec<&str> = by_key.keys().map(String::as_str).collect();
    let sources: Vec<&str> = by_key.values().map(|row| row.source.as_ref()).collect();
    let positions: Vec<&str> = by_key.values().map(|row| row.position.as_str()).collect();
    let sequence_numbers: Vec<Option<&str>> = by_key
        .values()
        .map(|row| row.sequence_number.as_deref())
        .collect();
    let reasons: Vec<&str> = by_key.values().map(|row| row.reason.as_ref()).collect();
    let raws: Vec<&[u8]> = by_key
        .values()
        .map(|row| row.dead_letter.raw.as_slice())
        .collect();
    let received: Vec<i64> = by_key
        .values()
        .map(|row| row.dead_letter.received_at_ms)
        .collect();
    let lengths: Vec<i64> = by_key
        .values()
        .map(|row| i64::try_from(row.dead_letter.raw_len).map_err(|_| too_big("length")))
        .collect::<Result<_, _>>()?;
    let hashes: Vec<&[u8]> = by_key
        .values()
        .map(|row| row.dead_letter.raw_sha256.as_slice())
        .collect();
    let statement = transaction
        .prepare_cached(INSERT_DEAD_LETTERS)
        .await
        .map_err(failed("preparing the dead letter insert"))?;
    transaction
        .execute(
            &statement,
            &[
                &keys,
                &sources,
                &positions,
                &record_indexes,
                &sequence_numbers,
                &byte_offsets,
                &reasons,
                &raws,
                &received,
                &lengths,
                &hashes,
            ],
        )
        .await
        .map_err(failed("inserting dead_letters"))
}
