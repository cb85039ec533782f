//! The chunking and the retry loop, against a scripted transport and a paused clock.

use std::sync::Mutex;

use lamlog_core::meta::FunctionMeta;

use super::*;

/// A table in memory that can misbehave: the first `unprocessed_rounds`
/// answers leave half of their keys unprocessed, and `failures` calls in a
/// row fail transiently first. Each call takes `latency`.
#[derive(Default)]
struct ScriptedTable {
    known: BTreeSet<String>,
    unprocessed_rounds: Mutex<u32>,
    failures: Mutex<u32>,
    latency: Duration,
    chunk_sizes: Mutex<Vec<usize>>,
}

impl BatchGet for ScriptedTable {
    async fn batch_get(&self, keys: &[String]) -> Result<BatchGetPage, CallError> {
        self.chunk_sizes.lock().unwrap().push(keys.len());
        tokio::time::sleep(self.latency).await;
        {
            let mut failures = self.failures.lock().unwrap();
            if *failures > 0 {
                *failures -= 1;
                return Err(CallError::Transient("connection refused".to_owned()));
            }
        }
        let (served, unprocessed) = {
            let mut rounds = self.unprocessed_rounds.lock().unwrap();
            if *rounds > 0 {
                *rounds -= 1;
                let half = keys.len().div_ceil(2);
                (&keys[..half], keys[half..].to_vec())
            } else {
                (keys, Vec::new())
            }
        };
        let items = served
            .iter()
            .filter(|key| self.known.contains(*key))
            .map(|key| item::meta_item("pk", key, None, &FunctionMeta::default()).unwrap())
            .collect();
        Ok(BatchGetPage { items, unprocessed })
    }
}

fn keys(count: usize) -> Vec<String> {
    (0..count).map(|index| format!("1#f{index:03}")).collect()
}

fn table_knowing(known: &[String]) -> ScriptedTable {
    ScriptedTable {
        known: known.iter().cloned().collect(),
        ..ScriptedTable::default()
    }
}

#[test]
fn keys_are_deduplicated_and_chunked_by_one_hundred() {
    let mut wanted = keys(250);
    wanted.extend(keys(30));
    let chunks = chunk_keys(&wanted);
    let sizes: Vec<usize> = chunks.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let flattened: Vec<String> = chunks.concat();
    assert_eq!(flattened, keys(250));
    assert!(chunk_keys(&[]).is_empty());
    assert_eq!(chunk_keys(&keys(100)).len(), 1);
    assert_eq!(chunk_keys(&keys(101)).len(), 2);
}

#[test]
fn a_key_too_long_for_dynamodb_is_never_asked_for() {
    // DynamoDB refuses a whole BatchGetItem that names a key past 2048 bytes
    // ("Size of hashkey has exceeded the maximum size limit"): a forged log
    // group name must not spoil its batch's lookup.
    let too_long = format!("123456789012#{}", "x".repeat(MAX_KEY_BYTES));
    let at_limit = "k".repeat(MAX_KEY_BYTES);
    let chunks = chunk_keys(&[too_long, at_limit.clone(), keys(1)[0].clone()]);
    assert_eq!(chunks, [vec![keys(1)[0].clone(), at_limit]]);
}

#[tokio::test(start_paused = true)]
async fn chunks_are_fetched_concurrently() {
    let wanted = keys(250);
    let table = ScriptedTable {
        latency: Duration::from_millis(100),
        ..table_knowing(&wanted[..10])
    };
    let source = DynamoDbSource::new(table, "pk", DEFAULT_DEADLINE);
    let started = Instant::now();
    let resolved = source.fetch(&wanted).await.unwrap();
    assert_eq!(resolved.len(), 10);
    assert_eq!(source.calls(), 3);
    // Three calls of 100 ms each, at the same time.
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    let mut sizes = source.transport().chunk_sizes.lock().unwrap().clone();
    sizes.sort_unstable();
    assert_eq!(sizes, [50, 100, 100]);
}

#[tokio::test(start_paused = true)]
async fn unprocessed_keys_are_asked_again_until_none_are_left() {
    let wanted = keys(80);
    let table = ScriptedTable {
        unprocessed_rounds: Mutex::new(2),
        ..table_knowing(&wanted)
    };
    let source = DynamoDbSource::new(table, "pk", DEFAULT_DEADLINE);
    let resolved = source.fetch(&wanted).await.unwrap();
    assert_eq!(resolved.len(), 80);
    assert_eq!(source.calls(), 3);
    // 80 keys, then the unprocessed half (40), then its unprocessed half (20).
    assert_eq!(
        *source.transport().chunk_sizes.lock().unwrap(),
        [80, 40, 20]
    );
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_within_the_deadline() {
    let wanted = keys(5);
    let table = ScriptedTable {
        failures: Mutex::new(3),
        ..table_knowing(&wanted)
    };
    let source = DynamoDbSource::new(table, "pk", DEFAULT_DEADLINE);
    let resolved = source.fetch(&wanted).await.unwrap();
    assert_eq!(resolved.len(), 5);
    assert_eq!(source.calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_backend_that_stays_down_is_unavailable_at_the_deadline() {
    let table = ScriptedTable {
        failures: Mutex::new(u32::MAX),
        ..ScriptedTable::default()
    };
    let deadline = Duration::from_secs(2);
    let source = DynamoDbSource::new(table, "pk", deadline);
    let started = Instant::now();
    let error = source.fetch(&keys(3)).await.unwrap_err();
    assert!(error.is_transient());
    assert!(matches!(error, EnrichError::Unavailable(_)), "{error}");
    assert!(error.to_string().contains("connection refused"), "{error}");
    assert!(started.elapsed() <= deadline, "{:?}", started.elapsed());
    // Backoff ceilings 25, 50, …, 1000 ms fit several attempts in 2 s.
    assert!(source.calls() >= 3, "{}", source.calls());
}

#[tokio::test(start_paused = true)]
async fn a_call_that_hangs_is_cut_at_the_deadline() {
    let table = ScriptedTable {
        latency: Duration::from_secs(3600),
        ..ScriptedTable::default()
    };
    let source = DynamoDbSource::new(table, "pk", Duration::from_millis(500));
    let started = Instant::now();
    let error = source.fetch(&keys(1)).await.unwrap_err();
    assert!(matches!(error, EnrichError::Unavailable(_)), "{error}");
    assert_eq!(started.elapsed(), Duration::from_millis(500));
}

/// A transport whose every call is refused as malformed.
struct Refusing;

impl BatchGet for Refusing {
    async fn batch_get(&self, _keys: &[String]) -> Result<BatchGetPage, CallError> {
        Err(CallError::Rejected(
            "ResourceNotFoundException: no table".to_owned(),
        ))
    }
}

#[tokio::test(start_paused = true)]
async fn a_rejected_request_is_not_retried() {
    let source = DynamoDbSource::new(Refusing, "pk", DEFAULT_DEADLINE);
    let error = source.fetch(&keys(1)).await.unwrap_err();
    assert!(!error.is_transient());
    assert_eq!(source.calls(), 1);
}
