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
}

/// The enrich stage: a source behind the cache.
#[derive(Debug)]
pub struct Enricher<S> {
    source: S,
    cache: MetaCache,
}

impl<S: MetaSource> Enricher<S> {
    /// An enricher over `source` with `cache` in front.
    pub fn new(source: S, cache: MetaCache) -> Enricher<S> {
        Enricher { source, cache }
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
        let fetched = self.source.fetch(&missing).await?;
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
