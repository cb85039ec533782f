//! Poison isolation: a batch whose data the database refuses
//! ([`StoreError::Rejected`]: a value out of range, a key too large for its
//! index, a violated constraint) is split until the refused invocations are
//! found; they become dead letters with the database's message, and the rest
//! commits. Any other error is the database's, not the data's (a missing
//! table, disk full, a lock): it fails the batch as it is, for a retry,
//! rather than dead-letter data that is fine.
//!
//! Without this, one record whose content makes a statement fail (text
//! printed by application code that looks like a platform line, with figures
//! or ids no check foresaw) fails its batch on every retry, and the Kinesis
//! shard behind it stops. Parse-time bounds make such records rare; this is
//! the net under them.
//!
//! The batch is bisected: each half is written in its own transaction, and a
//! half that is refused is halved again, down to single invocations. That
//! costs about `2 × log2(n)` extra transactions per poison invocation, and
//! nothing at all when the batch commits. Splitting keeps the exactly-once
//! contract: the stored content does not depend on how a stream is split
//! into batches. A refused invocation's dead letter keeps its evidence as
//! JSON (its raw bytes were assembled away) and the database's message; its
//! key is stable, so a replay stores it once.

use lamlog_core::decode::SourcePosition;

use super::{DeadLetter, Store, StoreBatch, StoreError, StoredInvocation, WriteOutcome};

/// Writes `batch` with `store`, isolating invocations whose data the
/// database refuses ([`StoreError::is_poison`]) as dead letters named after
/// `source`. Any other error is returned as it is; so is a refusal of the
/// batch's decode dead letters alone, which have no smaller part to fall
/// back to.
pub async fn write_isolating_poison<S: Store>(
    store: &mut S,
    batch: &StoreBatch<'_>,
    source: &str,
) -> Result<WriteOutcome, StoreError> {
    let refusal = match store.write_batch(batch).await {
        Ok(outcome) => return Ok(outcome),
        Err(error) if !error.is_poison() || batch.invocations.is_empty() => return Err(error),
        Err(error) => error,
    };
    let mut total = WriteOutcome::default();
    // The dead letters first, alone, then the invocations by halves.
    if !batch.dead_letters.is_empty() {
        let dead_letters_only = StoreBatch {
            invocations: &[],
            ..*batch
        };
        add(&mut total, store.write_batch(&dead_letters_only).await?);
    }
    let mut refused: Vec<(&StoredInvocation, StoreError)> = Vec::new();
    let mut pending: Vec<(&[StoredInvocation], Option<StoreError>)> =
        halves(batch.invocations, refusal);
    while let Some((part, known_refusal)) = pending.pop() {
        let error = match known_refusal {
            Some(error) => error,
            None => {
                let sub_batch = StoreBatch {
                    invocations: part,
                    dead_letters: &[],
                    ..*batch
                };
                match store.write_batch(&sub_batch).await {
                    Ok(outcome) => {
                        add(&mut total, outcome);
                        continue;
                    }
                    Err(error) if !error.is_poison() => return Err(error),
                    Err(error) => error,
                }
            }
        };
        match part {
            [single] => refused.push((single, error)),
            _ => pending.extend(halves(part, error)),
        }
    }
    if !refused.is_empty() {
        let dead_letters: Vec<DeadLetter> = refused
            .iter()
            .map(|(invocation, error)| refused_dead_letter(invocation, error, source, batch))
            .collect();
        let refused_only = StoreBatch {
            invocations: &[],
            dead_letters: &dead_letters,
            ..*batch
        };
        add(&mut total, store.write_batch(&refused_only).await?);
    }
    Ok(total)
}

/// The two halves of a refused part, to be tried in order (the second half
/// is pushed first, so the first is popped first). A part of one invocation
/// keeps its refusal: it is the poison.
fn halves(
    part: &[StoredInvocation],
    refusal: StoreError,
) -> Vec<(&[StoredInvocation], Option<StoreError>)> {
    if part.len() == 1 {
        return vec![(part, Some(refusal))];
    }
    let (first, second) = part.split_at(part.len() / 2);
    vec![(second, None), (first, None)]
}

fn add(total: &mut WriteOutcome, outcome: WriteOutcome) {
    total.inserted += outcome.inserted;
    total.updated += outcome.updated;
    total.unchanged += outcome.unchanged;
    total.dead_letters += outcome.dead_letters;
    total.new_alerts.extend(outcome.new_alerts);
}

/// The dead letter of an invocation the database refused: its evidence as
/// JSON, and the database's message.
fn refused_dead_letter(
    stored: &StoredInvocation,
    error: &StoreError,
    source: &str,
    batch: &StoreBatch<'_>,
) -> DeadLetter {
    let invocation = &stored.invocation;
    let raw = serde_json::to_vec(invocation).unwrap_or_else(|error| {
        format!("the invocation could not be serialized: {error}").into_bytes()
    });
    let reason = format!(
        "the database refused invocation {:?} of {:?} in account {:?}: {error}",
        shortened(&invocation.request_id),
        shortened(&invocation.function),
        shortened(&invocation.account)
    );
    DeadLetter::new(
        source,
        SourcePosition::default(),
        reason,
        &raw,
        batch.received_at_ms,
    )
}

/// At most 128 bytes of `text` (cut at a character boundary), for a reason
/// that stays readable when the refused value is huge; the raw evidence
/// keeps it whole.
fn shortened(text: &str) -> String {
    const MAX_BYTES: usize = 128;
    if text.len() <= MAX_BYTES {
        return text.to_owned();
    }
    let mut end = MAX_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], text.len())
}
