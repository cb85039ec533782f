//! Enrich: attach [`FunctionMeta`] to the functions of a batch.
//!
//! Metadata comes from a [`MetaSource`]: a local TOML/JSON file here, DynamoDB
//! in production. Every source sits behind the same [`MetaCache`], a bounded
//! TTL cache that also remembers misses, so that a batch of thousands of
//! invocations of a few dozen functions costs a few dozen cache lookups and at
//! most one fetch per uncached function, batched.
//!
//! A function with no metadata is still stored, flagged `enriched = false`.

use std::collections::{BTreeMap, BTreeSet};

use lamlog_core::meta::FunctionMeta;

pub mod cache;
#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod file;

pub use cache::{CacheStats, MetaCache};

/// What the metadata says about one `account#name` key.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The function's name. It differs from the key's name when the key is a
    /// custom log group mapped to a function.
    pub function: String,
    /// The metadata.
    pub meta: FunctionMeta,
}

/// Why metadata could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// The metadata file could not be read.
    #[error("reading metadata file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The metadata file is not valid TOML or JSON of the expected shape.
    #[error("metadata file {path} is invalid: {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// What was wrong, with its location.
        detail: String,
    },
    /// The backend did not answer in time or refused; retrying may help.
    #[error("metadata backend unavailable: {0}")]
    Unavailable(String),
    /// The backend refused the request itself (no such table, wrong key
    /// schema): retrying the same request cannot help.
    #[error("metadata backend rejected the request: {0}")]
    Rejected(String),
}

impl EnrichError {
    /// Whether retrying the batch may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, EnrichError::Unavailable(_))
    }
}

/// A place metadata is fetched from, many keys at a time.
#[allow(async_fn_in_trait)]
pub trait MetaSource {
    /// Fetches the metadata of `keys` (`account#name`, distinct). Keys with no
    /// metadata are simply absent from the answer.
    async fn fetch(&self, keys: &[String]) -> Result<BTreeMap<String, Resolved>, EnrichError>;

    /// Bounds every wait of later fetches, retries included, by `deadline`
    /// (`None`: only the source's own limits). A source that does no I/O
    /// has nothing to bound.
    fn set_deadline(&mut self, _deadline: Option<tokio::time::Instant>) {}
}

/// What the enrich stage does when its source is unavailable
/// ([`EnrichError::is_transient`]) after the source's own retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnavailable {
    /// Fail the batch, so that it is retried later (the default: nothing is
    /// stored without the metadata it should have had).
    #[default]
    Fail,
    /// Go on without metadata for the keys the cache could not answer; their
    /// invocations are stored with `enriched = false`. Those keys are not
    /// cached, so the next batch asks the source again.
    StoreUnenriched,
}

impl std::str::FromStr for OnUnavailable {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "fail" => Ok(OnUnavailable::Fail),
            "store-unenriched" => Ok(OnUnavailable::StoreUnenriched),
            other => Err(format!(
                "unknown enrichment policy {other:?}: expected fail or store-unenriched"
            )),
        }
    }
}

/// The enrich stage: a source behind the cache.
///
/// The unavailability policy lives here rather than in a wrapper source:
/// a wrapper that answered "nothing" would have its answer cached as misses
/// for a whole TTL, leaving functions unenriched long after the backend is
/// back.
#[derive(Debug)]
pub struct Enricher<S> {
    source: S,
    cache: MetaCache,
    on_unavailable: OnUnavailable,
    degraded_lookups: std::sync::atomic::AtomicU64,
}

impl<S: MetaSource> Enricher<S> {
    /// An enricher over `source` with `cache` in front.
    pub fn new(source: S, cache: MetaCache) -> Enricher<S> {
        Enricher {
            source,
            cache,
            on_unavailable: OnUnavailable::default(),
            degraded_lookups: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The same enricher with another unavailability policy.
    pub fn on_unavailable(mut self, policy: OnUnavailable) -> Enricher<S> {
        self.on_unavailable = policy;
        self
    }

    /// The source, for its own counters.
    pub fn source(&self) -> &S {
        &self.source
    }

    /// Bounds the source's waits by `deadline` (see [`MetaSource::set_deadline`]).
    pub fn set_deadline(&mut self, deadline: Option<tokio::time::Instant>) {
        self.source.set_deadline(deadline);
    }

    /// Lookups answered without the source because it was unavailable and
    /// the policy is [`OnUnavailable::StoreUnenriched`].
    pub fn degraded_lookups(&self) -> u64 {
        self.degraded_lookups
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The cache's counters.
    pub fn stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// The metadata of every key in `keys`, from the cache where it can, and
    /// with one fetch for the rest.
    pub async fn lookup(
        &self,
        keys: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, Resolved>, EnrichError> {
        let mut found = BTreeMap::new();
        let mut missing = Vec::new();
        for key in keys {
            match self.cache.get(key) {
                Some(Some(resolved)) => {
                    found.insert(key.clone(), (*resolved).clone());
                }
                Some(None) => {}
                None => missing.push(key.clone()),
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let fetched = match self.source.fetch(&missing).await {
            Ok(fetched) => fetched,
            Err(error)
                if error.is_transient()
                    && self.on_unavailable == OnUnavailable::StoreUnenriched =>
            {
                self.degraded_lookups
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Ok(found);
            }
            Err(error) => return Err(error),
        };
        for key in missing {
            let resolved = fetched.get(&key).cloned();
            self.cache.insert(key.clone(), resolved.clone());
            if let Some(resolved) = resolved {
                found.insert(key, resolved);
            }
        }
        Ok(found)
    }
}
