//! What `lamlog replay` did, as text or as JSON.
//!
//! The totals say how many on-failure messages were read, replayed and left
//! in the queue, how many records were read back from the stream and how
//! many had expired, and what the pipeline stored. Every message that was
//! left or that lost records is listed with its reason, so an operator can
//! act on it without reading logs.

use std::io::Write;

use lamlog::batch::BatchSummary;
use serde::Serialize;

/// The totals of one run.
#[derive(Debug, Default, Serialize)]
pub struct ReplaySummary {
    /// Nothing was stored and nothing deleted.
    pub dry_run: bool,
    /// The queue read.
    pub queue_url: String,
    /// The store written (empty on a dry run).
    pub db: String,
    /// Distinct messages received.
    pub messages_read: u64,
    /// Messages whose records were all committed and that were deleted (on
    /// a dry run: whose records were read).
    pub messages_replayed: u64,
    /// Messages left in the queue: not on-failure records, unreadable
    /// ranges, a failed store.
    pub messages_left: u64,
    /// Records read back from the stream.
    pub records: u64,
    /// Records named by a message that the stream no longer holds (from
    /// the batch sizes; see `problems`).
    pub records_lost: u64,
    /// Pipeline batches run.
    pub batches: u64,
    /// Invocations in those batches.
    pub invocations: u64,
    /// Invocation rows inserted.
    pub inserted: u64,
    /// Invocation rows changed.
    pub updated: u64,
    /// Invocation rows already stored as they are: earlier deliveries.
    pub already_present: u64,
    /// Dead letters inserted (a replayed dead letter is not counted twice).
    pub dead_letters: u64,
    /// Records that could not be decoded, in this run.
    pub undecodable_records: u64,
    /// Alerts raised for the first time (stored in the alerts table).
    pub new_alerts: u64,
    /// One entry per message that was left or lost records.
    pub problems: Vec<Problem>,
}

/// A message that needs a look.
#[derive(Debug, Serialize)]
pub struct Problem {
    /// The SQS message id.
    pub message_id: String,
    /// The batch it names (`stream shard:start..end`), when it could be read.
    pub batch: Option<String>,
    /// What happened.
    pub reason: String,
    /// Whether the message is still in the queue.
    pub left_in_queue: bool,
    /// Records lost, when known.
    pub records_lost: Option<u64>,
}

impl ReplaySummary {
    /// Adds one committed pipeline batch.
    pub fn add_batch(&mut self, batch: &BatchSummary) {
        self.batches += 1;
        self.invocations += batch.invocations;
        self.inserted += batch.outcome.inserted;
        self.updated += batch.outcome.updated;
        self.already_present += batch.outcome.unchanged;
        self.dead_letters += batch.outcome.dead_letters;
        self.undecodable_records += batch.undecodable_records;
        self.new_alerts += batch.outcome.new_alerts.len() as u64;
    }

    /// Records a problem and says it on stderr as it happens.
    pub fn report(&mut self, problem: Problem) {
        let place = if problem.left_in_queue {
            "left in the queue"
        } else {
            "deleted"
        };
        let batch = problem
            .batch
            .as_deref()
            .map_or_else(String::new, |batch| format!(" ({batch})"));
        eprintln!(
            "lamlog replay: message {}{batch}: {} [{place}]",
            problem.message_id, problem.reason
        );
        if problem.left_in_queue {
            self.messages_left += 1;
        }
        self.records_lost += problem.records_lost.unwrap_or(0);
        self.problems.push(problem);
    }

    /// Whether anything needs a look: a message left, or records lost.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Prints the summary, as JSON or as text.
    pub fn print(&self, json: bool) -> anyhow::Result<()> {
        let mut out = std::io::stdout().lock();
        if json {
            writeln!(out, "{}", serde_json::to_string_pretty(self)?)?;
            return Ok(());
        }
        if self.dry_run {
            writeln!(
                out,
                "dry run: read {} message(s) from {}; nothing stored, nothing deleted",
                self.messages_read, self.queue_url
            )?;
        } else {
            writeln!(
                out,
                "replayed {} of {} message(s) from {} into {}",
                self.messages_replayed,
                self.messages_read,
                self.queue_url,
                if self.db.is_empty() { "-" } else { &self.db }
            )?;
        }
        writeln!(
            out,
            "  messages     {:>10}  ({} replayed, {} left in the queue)",
            self.messages_read, self.messages_replayed, self.messages_left
        )?;
        writeln!(
            out,
            "  records      {:>10}  ({} lost: expired from the stream)",
            self.records, self.records_lost
        )?;
        writeln!(
            out,
            "  invocations  {:>10}  ({} inserted, {} updated, {} already present)",
            self.invocations, self.inserted, self.updated, self.already_present
        )?;
        writeln!(
            out,
            "  dead letters {:>10}  ({} undecodable records in this run)",
            self.dead_letters, self.undecodable_records
        )?;
        writeln!(out, "  new alerts   {:>10}", self.new_alerts)?;
        for problem in &self.problems {
            let place = if problem.left_in_queue {
                "left"
            } else {
                "lost"
            };
            writeln!(
                out,
                "  {place}: {} {}: {}",
                problem.message_id,
                problem.batch.as_deref().unwrap_or("-"),
                problem.reason
            )?;
        }
        Ok(())
    }
}
