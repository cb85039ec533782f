//! The metadata cache: bounded, with a TTL, remembering misses.
//!
//! Built on `moka` for bounded size and eviction. The TTL is checked here
//! against `tokio::time::Instant` rather than left to moka's own clock, so
//! that tests can move time with `tokio::time::pause()` and `advance()`
//! instead of sleeping; moka's `time_to_live` still evicts expired entries so
//! they do not hold memory.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Resolved;

/// The default time to live of an entry, hit or miss.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// The default bound on the number of entries.
pub const DEFAULT_CAPACITY: u64 = 100_000;

/// Counters of the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CacheStats {
    /// Lookups answered from the cache (a remembered miss counts as a hit).
    pub hits: u64,
    /// Lookups that had to go to the source.
    pub misses: u64,
}

impl CacheStats {
    /// Hits over lookups, 0 when there were none.
    pub fn hit_rate(&self) -> f64 {
        let lookups = self.hits + self.misses;
        if lookups == 0 {
            0.0
        } else {
            self.hits as f64 / lookups as f64
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    resolved: Option<Arc<Resolved>>,
    expires_at: Instant,
}

/// A bounded TTL cache of metadata by `account#name`; `None` values are
/// remembered misses.
#[derive(Debug)]
pub struct MetaCache {
    entries: moka::sync::Cache<String, Entry>,
    ttl: Duration,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl MetaCache {
    /// A cache holding at most `capacity` entries for `ttl` each.
    pub fn new(ttl: Duration, capacity: u64) -> MetaCache {
        MetaCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl.max(Duration::from_millis(1)))
                .build(),
            ttl,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// `Some(Some(_))` for a cached hit, `Some(None)` for a cached miss,
    /// `None` when the key must be fetched.
    pub fn get(&self, key: &str) -> Option<Option<Arc<Resolved>>> {
        let fresh = self
            .entries
            .get(key)
            .filter(|entry| entry.expires_at > Instant::now());
        match fresh {
            Some(entry) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(entry.resolved)
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Remembers what the source said about `key` (`None`: nothing).
    pub fn insert(&self, key: String, resolved: Option<Resolved>) {
        let entry = Entry {
            resolved: resolved.map(Arc::new),
            expires_at: Instant::now() + self.ttl,
        };
        self.entries.insert(key, entry);
    }

    /// The counters so far.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }
}

impl Default for MetaCache {
    fn default() -> Self {
        MetaCache::new(DEFAULT_TTL, DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::sync::atomic::AtomicUsize;

    use lamlog_core::meta::FunctionMeta;

    use super::*;
    use crate::enrich::{EnrichError, Enricher, MetaSource};

    /// A source that counts its fetches and knows one function.
    #[derive(Default)]
    struct CountingSource {
        fetches: AtomicUsize,
        keys_fetched: AtomicUsize,
    }

    impl MetaSource for CountingSource {
        async fn fetch(&self, keys: &[String]) -> Result<BTreeMap<String, Resolved>, EnrichError> {
            self.fetches.fetch_add(1, Ordering::Relaxed);
            self.keys_fetched.fetch_add(keys.len(), Ordering::Relaxed);
            Ok(keys
                .iter()
                .filter(|key| key.as_str() == "1#known")
                .map(|key| {
                    let resolved = Resolved {
                        function: "known".to_owned(),
                        meta: FunctionMeta::default(),
                    };
                    (key.clone(), resolved)
                })
                .collect())
        }
    }

    fn keys(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn hits_misses_and_negative_entries_expire_with_the_ttl() {
        let enricher = Enricher::new(
            CountingSource::default(),
            MetaCache::new(Duration::from_secs(3600), 100),
        );
        let wanted = keys(&["1#known", "1#absent"]);

        let first = enricher.lookup(&wanted).await.unwrap();
        assert_eq!(first.len(), 1);
        assert_eq!(enricher.source.fetches.load(Ordering::Relaxed), 1);
        assert_eq!(enricher.stats(), CacheStats { hits: 0, misses: 2 });

        // Within the TTL both the hit and the remembered miss come from the cache.
        tokio::time::advance(Duration::from_secs(3599)).await;
        let second = enricher.lookup(&wanted).await.unwrap();
        assert_eq!(second, first);
        assert_eq!(enricher.source.fetches.load(Ordering::Relaxed), 1);
        assert_eq!(enricher.stats(), CacheStats { hits: 2, misses: 2 });

        // Past the TTL both are fetched again, in one call.
        tokio::time::advance(Duration::from_secs(2)).await;
        enricher.lookup(&wanted).await.unwrap();
        assert_eq!(enricher.source.fetches.load(Ordering::Relaxed), 2);
        assert_eq!(enricher.source.keys_fetched.load(Ordering::Relaxed), 4);
        assert_eq!(enricher.stats(), CacheStats { hits: 2, misses: 4 });
        assert!((enricher.stats().hit_rate() - 1.0 / 3.0).abs() < 1e-12);
    }

    #[tokio::test(start_paused = true)]
    async fn the_cache_is_bounded() {
        let cache = MetaCache::new(Duration::from_secs(60), 10);
        for index in 0..1000 {
            cache.insert(format!("1#f{index}"), None);
        }
        cache.entries.run_pending_tasks();
        assert!(
            cache.entries.entry_count() <= 10,
            "{}",
            cache.entries.entry_count()
        );
    }
}
