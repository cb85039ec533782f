//! The reading side of `lamlog ingest`, on a thread of its own: inputs are
//! read in pieces, their records decoded and folded into slices there, and
//! each full slice finished (its invocations put in key order), while the
//! caller commits the slice before. Reading then costs no wall time as
//! long as it is faster than the store, and the machine's second core does
//! it.
//!
//! Slices are handed over in input order, and the reader starts the next
//! one only once the caller has taken the last: at most two are alive at
//! once, the one being committed and the one being filled, each bounded by
//! its [`SliceBound`].

use std::path::PathBuf;
use std::thread::JoinHandle;

use anyhow::Context;
use lamlog::batch::{Finished, Slice, SliceBound};
use lamlog_core::decode::{decode_lazily, DecodeLimits, Format};
use tokio::sync::mpsc;

use super::super::now_ms;
use super::pieces::{Pieces, PIECE_BYTES};

/// What one slice of `lamlog ingest` holds at most: half the handler's
/// bound, as two are alive at once.
pub const HELD_BYTES: usize = SliceBound::DEFAULT_HELD_BYTES / 2;

/// What the reader hands over: a full slice, or what is left at an input's
/// end, with what was read since the last handoff.
#[derive(Debug)]
pub struct Handoff {
    /// The input the slice's records came from, as dead letters name it.
    pub source: String,
    /// The records to commit, finished on this thread; `None` for the
    /// counts of last inputs that held no records.
    pub slice: Option<Finished>,
    /// Inputs opened since the last handoff.
    pub inputs: u64,
    /// Bytes read since the last handoff.
    pub bytes: u64,
}

/// What `lamlog ingest` reads, and how.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The inputs, in order (`-` is stdin).
    pub inputs: Vec<PathBuf>,
    /// How they are wrapped (`Auto`: found per input).
    pub format: Format,
    /// When a slice is full.
    pub bound: SliceBound,
    /// Decode limits.
    pub limits: DecodeLimits,
}

/// The reader, running.
#[derive(Debug)]
pub struct Reading {
    handoffs: mpsc::Receiver<Handoff>,
    thread: JoinHandle<anyhow::Result<()>>,
}

impl Reading {
    /// Starts reading `plan`'s inputs on a new thread; `progress` counts the
    /// bytes read.
    pub fn start(plan: Plan, progress: indicatif::ProgressBar) -> anyhow::Result<Reading> {
        let (sender, handoffs) = mpsc::channel(1);
        let thread = std::thread::Builder::new()
            .name("lamlog-read".to_owned())
            .spawn(move || read(&plan, &sender, &progress))
            .context("starting the reading thread")?;
        Ok(Reading { handoffs, thread })
    }

    /// The next handoff, in input order; `None` once the reader has stopped,
    /// at the end of its inputs or at an error [`Reading::finish`] returns.
    pub async fn next(&mut self) -> Option<Handoff> {
        self.handoffs.recv().await
    }

    /// Waits for the reader to stop and returns its error, if it had one.
    /// Call it once [`Reading::next`] has returned `None`.
    pub fn finish(self) -> anyhow::Result<()> {
        drop(self.handoffs);
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => anyhow::bail!("the reading thread panicked"),
        }
    }
}

/// Reads every input and hands over its slices; stops early, without an
/// error, when the receiver is gone (its commit failed).
fn read(
    plan: &Plan,
    sender: &mpsc::Sender<Handoff>,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<()> {
    let mut courier = Courier::new(sender)?;
    for path in &plan.inputs {
        let source = path.display().to_string();
        let mut pieces = Pieces::open(path, plan.format, PIECE_BYTES)?;
        courier.pending.inputs += 1;
        let mut slice = Slice::new(&source, now_ms());
        while let Some(piece) = pieces
            .next_piece()
            .with_context(|| format!("reading {source}"))?
        {
            courier.pending.bytes += piece.bytes.len() as u64;
            for mut record in decode_lazily(&piece.bytes, piece.format, &plan.limits) {
                piece.place(&mut record);
                slice.add(record);
                if slice.is_full(plan.bound) {
                    let full = std::mem::replace(&mut slice, Slice::new(&source, 0));
                    if !courier.deliver(&source, Some(full)) {
                        return Ok(());
                    }
                    slice = Slice::new(&source, now_ms());
                }
            }
            progress.inc(piece.bytes.len() as u64);
        }
        if !slice.is_empty() && !courier.deliver(&source, Some(slice)) {
            return Ok(());
        }
    }
    // What the last inputs counted, when they held no records.
    if courier.pending.inputs > 0 || courier.pending.bytes > 0 {
        let last = plan.inputs.last().map(|path| path.display().to_string());
        courier.deliver(&last.unwrap_or_default(), None);
    }
    Ok(())
}

/// What was read and not yet handed over.
#[derive(Debug, Default)]
struct Counts {
    inputs: u64,
    bytes: u64,
}

/// Hands slices over, one at a time.
struct Courier<'a> {
    sender: &'a mpsc::Sender<Handoff>,
    /// Waits, on this thread, for the receiver to take a handoff.
    waiter: tokio::runtime::Runtime,
    pending: Counts,
}

impl Courier<'_> {
    fn new(sender: &mpsc::Sender<Handoff>) -> anyhow::Result<Courier<'_>> {
        let waiter = tokio::runtime::Builder::new_current_thread()
            .build()
            .context("starting the reading thread's runtime")?;
        Ok(Courier {
            sender,
            waiter,
            pending: Counts::default(),
        })
    }

    /// Hands `slice` over with the counts so far, then waits until the
    /// receiver has taken it, so that the next slice is started only then:
    /// at most two are alive at once, the one being committed and the one
    /// being filled (or waiting). False when the receiver is gone.
    fn deliver(&mut self, source: &str, slice: Option<Slice>) -> bool {
        let counts = std::mem::take(&mut self.pending);
        let handoff = Handoff {
            source: source.to_owned(),
            slice: slice.map(Slice::finish),
            inputs: counts.inputs,
            bytes: counts.bytes,
        };
        self.sender.blocking_send(handoff).is_ok()
            && self.waiter.block_on(self.sender.reserve()).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use super::*;

    /// A directory of inputs, removed when dropped.
    struct Inputs(PathBuf);

    impl Inputs {
        fn of(texts: &[String]) -> (Inputs, Vec<PathBuf>) {
            let dir = std::env::temp_dir().join(format!(
                "lamlog-reader-{}-{}",
                std::process::id(),
                fastrand::u64(..)
            ));
            std::fs::create_dir_all(&dir).unwrap();
            let paths = texts
                .iter()
                .enumerate()
                .map(|(index, text)| {
                    let path = dir.join(format!("{index}.log"));
                    std::fs::write(&path, text).unwrap();
                    path
                })
                .collect();
            (Inputs(dir), paths)
        }
    }

    impl Drop for Inputs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// `count` subscription payloads, back to back: `count` records, each an
    /// invocation's START line.
    fn payloads(count: usize) -> String {
        (0..count)
            .map(|index| {
                format!(
                    r#"{{"owner":"123456789012","logGroup":"/aws/lambda/f","logStream":"s","logEvents":[{{"id":"{index}","timestamp":1700000000000,"message":"START RequestId: {index:08x}-0000-4000-8000-000000000000 Version: $LATEST\n"}}]}}"#
                ) + "\n"
            })
            .collect()
    }

    fn plan(inputs: Vec<PathBuf>, records: usize) -> Plan {
        Plan {
            inputs,
            format: Format::Cwl,
            bound: SliceBound::records(records),
            limits: DecodeLimits::default(),
        }
    }

    /// Every record of `path`, decoded in one go.
    fn records_in(path: &Path) -> u64 {
        let bytes = std::fs::read(path).unwrap();
        decode_lazily(&bytes, Format::Cwl, &DecodeLimits::default()).count() as u64
    }

    async fn all_handoffs(mut reading: Reading) -> (Vec<Handoff>, anyhow::Result<()>) {
        let mut handoffs = Vec::new();
        while let Some(handoff) = reading.next().await {
            handoffs.push(handoff);
        }
        (handoffs, reading.finish())
    }

    #[tokio::test]
    async fn slices_come_in_input_order_and_every_input_and_byte_is_counted() {
        let (_dir, paths) =
            Inputs::of(&[payloads(2_500), String::new(), payloads(7), String::new()]);
        let reading =
            Reading::start(plan(paths.clone(), 1_000), indicatif::ProgressBar::hidden()).unwrap();
        let (handoffs, result) = all_handoffs(reading).await;
        result.unwrap();

        assert_eq!(handoffs.iter().map(|h| h.inputs).sum::<u64>(), 4);
        let bytes: u64 = paths
            .iter()
            .map(|path| std::fs::metadata(path).unwrap().len())
            .sum();
        assert_eq!(handoffs.iter().map(|h| h.bytes).sum::<u64>(), bytes);
        for path in &paths {
            let source = path.display().to_string();
            let slices: Vec<u64> = handoffs
                .iter()
                .filter(|handoff| handoff.source == source)
                .filter_map(|handoff| handoff.slice.as_ref().map(Finished::records))
                .collect();
            assert_eq!(slices.iter().sum::<u64>(), records_in(path), "{source}");
            let (last, full) = slices.split_last().unwrap_or((&0, &[]));
            assert!(full.iter().all(|records| *records == 1_000), "{slices:?}");
            assert!(*last <= 1_000, "{slices:?}");
        }
        let order: Vec<&str> = handoffs.iter().map(|h| h.source.as_str()).collect();
        let mut sorted = order.clone();
        sorted.sort_by_key(|source| {
            paths
                .iter()
                .position(|path| path.display().to_string() == *source)
        });
        assert_eq!(order, sorted);
        // The last input, empty, is still counted, with nothing to commit.
        let last = handoffs.last().unwrap();
        assert!(last.slice.is_none());
        assert_eq!(last.inputs, 1);
    }

    #[tokio::test]
    async fn the_next_slice_is_read_while_one_is_committed() {
        let (_dir, paths) = Inputs::of(&[payloads(3_000)]);
        let mut reading =
            Reading::start(plan(paths, 1_000), indicatif::ProgressBar::hidden()).unwrap();
        let first = reading.next().await.unwrap();
        assert!(first.slice.is_some());
        // Holding the first, as a commit does, and asking for nothing: the
        // reader fills the next one and hands it over meanwhile.
        let mut waited = Duration::ZERO;
        while reading.handoffs.is_empty() && waited < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += Duration::from_millis(10);
        }
        assert_eq!(reading.handoffs.len(), 1, "nothing was read ahead");
        let (rest, result) = all_handoffs(reading).await;
        result.unwrap();
        let records: u64 = std::iter::once(&first)
            .chain(&rest)
            .filter_map(|handoff| handoff.slice.as_ref().map(Finished::records))
            .sum();
        assert_eq!(records, 3_000);
    }

    #[tokio::test]
    async fn no_third_slice_is_started_while_two_are_alive() {
        let texts: Vec<String> = (0..4).map(|_| payloads(1)).collect();
        let (_dir, paths) = Inputs::of(&texts);
        let first_bytes = std::fs::metadata(&paths[0]).unwrap().len();
        let progress = indicatif::ProgressBar::hidden();
        let mut reading = Reading::start(plan(paths, 1), progress.clone()).unwrap();
        let _committing = reading.next().await.unwrap();
        let mut waited = Duration::ZERO;
        while reading.handoffs.is_empty() && waited < Duration::from_secs(20) {
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += Duration::from_millis(10);
        }
        assert_eq!(reading.handoffs.len(), 1);
        // One slice being committed, one waiting: the reader reads no more.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(progress.position(), first_bytes, "the reader went on");
        let (rest, result) = all_handoffs(reading).await;
        result.unwrap();
        assert_eq!(rest.len(), 3);
    }

    #[tokio::test]
    async fn a_read_error_comes_after_the_slices_before_it() {
        let (dir, mut paths) = Inputs::of(&[payloads(10)]);
        let missing = dir.0.join("missing.log");
        paths.push(missing.clone());
        let reading = Reading::start(plan(paths, 1_000), indicatif::ProgressBar::hidden()).unwrap();
        let (handoffs, result) = all_handoffs(reading).await;
        assert_eq!(handoffs.len(), 1);
        assert_eq!(handoffs[0].slice.as_ref().map(Finished::records), Some(10));
        let error = format!("{:#}", result.unwrap_err());
        assert!(error.contains(&missing.display().to_string()), "{error}");
    }

    #[tokio::test]
    async fn a_failed_commit_stops_the_reader() {
        let (_dir, paths) = Inputs::of(&[payloads(50_000)]);
        let mut reading =
            Reading::start(plan(paths, 10), indicatif::ProgressBar::hidden()).unwrap();
        assert!(reading.next().await.is_some());
        // The caller gives up: the reader, blocked on a full channel, stops.
        reading.finish().unwrap();
    }
}
