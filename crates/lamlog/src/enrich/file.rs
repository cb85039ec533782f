//! Metadata from a local TOML or JSON file: the embedded default.
//!
//! The file is one table per function, keyed `account#function`:
//!
//! ```toml
//! ["123456789012#orders-api"]
//! architecture = "arm64"
//! region = "eu-west-1"
//! runtime = "python3.13"
//! timeout_seconds = 30
//! tenant = "acme"
//! tags = { team = "checkout" }
//! alerts = { memory_used_ratio = 0.95, disabled = ["slow_cold_start"] }
//! log_group = "/custom/orders"   # a custom log group that belongs to this function
//! ```
//!
//! The same shape in JSON is accepted (`{"123456789012#orders-api": {…}}`).
//! The file is read and checked once, up front: unknown fields are an error
//! with their line, so a typo never silently disables a threshold.

use std::collections::BTreeMap;
use std::path::Path;

use lamlog_core::meta::{meta_key, split_meta_key, FunctionMeta};

use super::{EnrichError, MetaSource, Resolved};

/// Metadata held in memory after reading a file.
#[derive(Debug, Clone, Default)]
pub struct FileSource {
    by_key: BTreeMap<String, Resolved>,
}

impl FileSource {
    /// Reads and validates a TOML (`.toml`) or JSON (anything else starting
    /// with `{`) metadata file.
    pub fn load(path: &Path) -> Result<FileSource, EnrichError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| EnrichError::Io {
            path: shown.clone(),
            source,
        })?;
        FileSource::from_text(&text, &shown)
    }

    /// Parses metadata text; `origin` names it in errors.
    pub fn from_text(text: &str, origin: &str) -> Result<FileSource, EnrichError> {
        let invalid = |detail: String| EnrichError::Invalid {
            path: origin.to_owned(),
            detail,
        };
        let entries: BTreeMap<String, FunctionMeta> = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|error| invalid(error.to_string()))?
        } else {
            toml::from_str(text)
                .map_err(|error| invalid(error.to_string().trim_end().to_owned()))?
        };
        let mut by_key = BTreeMap::new();
        for (key, meta) in entries {
            let Some((account, function)) = split_meta_key(&key) else {
                return Err(invalid(format!(
                    "key {key:?} is not of the form \"account#function\" \
                     (a % or # in the account is written %25 or %23)"
                )));
            };
            if let Some(log_group) = &meta.log_group {
                let resolved = Resolved {
                    function: function.clone(),
                    meta: meta.clone(),
                };
                by_key.insert(meta_key(&account, log_group), resolved);
            }
            let key = meta_key(&account, &function);
            let resolved = Resolved { function, meta };
            by_key.insert(key, resolved);
        }
        Ok(FileSource { by_key })
    }

    /// How many keys the file defines (custom log groups count as keys).
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Whether the file defines nothing.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

impl MetaSource for FileSource {
    async fn fetch(&self, keys: &[String]) -> Result<BTreeMap<String, Resolved>, EnrichError> {
        Ok(keys
            .iter()
            .filter_map(|key| Some((key.clone(), self.by_key.get(key)?.clone())))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_toml_with_custom_log_group() {
        let text = r#"
["123456789012#orders-api"]
architecture = "arm64"
timeout_seconds = 30
log_group = "/custom/orders"
tags = { team = "checkout" }
"#;
        let source = FileSource::from_text(text, "meta.toml").unwrap();
        assert_eq!(source.len(), 2);
        let mapped = &source.by_key["123456789012#/custom/orders"];
        assert_eq!(mapped.function, "orders-api");
        assert_eq!(mapped.meta.timeout_seconds, Some(30.0));
    }

    #[test]
    fn unknown_field_is_an_error_with_its_place() {
        let text = "[\"1#f\"]\ntimeout_secs = 3\n";
        let error = FileSource::from_text(text, "meta.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("meta.toml"), "{error}");
        assert!(error.contains("timeout_secs"), "{error}");
        assert!(error.contains("line 2"), "{error}");
    }

    #[test]
    fn reads_json_and_rejects_bad_keys() {
        let source =
            FileSource::from_text(r#"{"1#f": {"architecture": "x86_64"}}"#, "m.json").unwrap();
        assert_eq!(source.len(), 1);
        assert!(FileSource::from_text(r#"{"nohash": {}}"#, "m.json").is_err());
    }

    #[tokio::test]
    async fn a_hash_in_a_name_never_lends_one_function_anothers_metadata() {
        // Account 1 with the custom log group "2#logs" belongs to "api";
        // account "1#2" with function "logs" is someone else, whose naive key
        // "1#2#logs" would be the same.
        let text = r#"
["1#api"]
timeout_seconds = 9
log_group = "2#logs"
"#;
        let source = FileSource::from_text(text, "meta.toml").unwrap();
        let owner = meta_key("1", "2#logs");
        let other = meta_key("1#2", "logs");
        assert_ne!(owner, other);
        let found = source.fetch(&[owner.clone(), other]).await.unwrap();
        assert_eq!(found.keys().collect::<Vec<_>>(), [&owner]);
        assert_eq!(found[&owner].function, "api");

        let escaped =
            FileSource::from_text("[\"1%232#logs\"]\ntimeout_seconds = 5\n", "m.toml").unwrap();
        let found = escaped.fetch(&[meta_key("1#2", "logs")]).await.unwrap();
        assert_eq!(found.len(), 1, "an escaped account names account \"1#2\"");
    }
}
