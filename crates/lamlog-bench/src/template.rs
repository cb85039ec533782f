//! The shipped deployment, read from `deploy/template.yaml`, so that the
//! cost the harness projects is the cost of what the template deploys and
//! the two cannot drift apart.
//!
//! The template is YAML with CloudFormation tags (`!Ref`, `!If`), which no
//! YAML crate reads without a schema of its own; the few settings needed
//! here are plain `Key: value` lines, each written once in the template, so
//! they are read as such: a key that is missing, written twice, or whose
//! value does not read is an error naming it, never a default.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Serialize;

/// Lambda's invocation payload limit (synchronous and event source mapping
/// invocations alike): 6 MB, counted in bytes of the event JSON.
pub const PAYLOAD_LIMIT_BYTES: u64 = 6 * 1024 * 1024;

/// The settings of the shipped template that the cost depends on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Deployment {
    /// `MemorySize` of the function, MB.
    pub memory_mb: u32,
    /// `Timeout` of the function, seconds.
    pub timeout_s: u32,
    /// `Architectures`: `arm64` or `x86_64`.
    pub architecture: String,
    /// The Kinesis event source mapping's `BatchSize`, records.
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds`.
    pub batching_window_s: u32,
    /// `ParallelizationFactor`: concurrent batches per shard.
    pub parallelization_factor: u32,
    /// `LAMLOG_SLICE_RECORDS`: Kinesis records per transaction.
    pub slice_records: u32,
}

impl Deployment {
    /// `deploy/template.yaml` of this repository.
    pub fn path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../deploy/template.yaml")
    }

    /// Reads the template at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Deployment> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Deployment::parse(&text).with_context(|| format!("reading {}", path.display()))
    }

    /// Reads the settings out of the template's text.
    pub fn parse(template: &str) -> anyhow::Result<Deployment> {
        let architecture = value_of(template, "Architectures")?
            .trim_matches(|c| c == '[' || c == ']')
            .trim()
            .to_owned();
        if !matches!(architecture.as_str(), "arm64" | "x86_64") {
            bail!("Architectures: {architecture:?} is neither [arm64] nor [x86_64]");
        }
        Ok(Deployment {
            memory_mb: number(template, "MemorySize")?,
            timeout_s: number(template, "Timeout")?,
            architecture,
            batch_size: number(template, "BatchSize")?,
            batching_window_s: number(template, "MaximumBatchingWindowInSeconds")?,
            parallelization_factor: number(template, "ParallelizationFactor")?,
            slice_records: number(template, "LAMLOG_SLICE_RECORDS")?,
        })
    }
}

/// The value of the one line `key: value` of `template` (comments and
/// quotes taken off).
pub fn value_of<'a>(template: &'a str, key: &str) -> anyhow::Result<&'a str> {
    let prefix = format!("{key}:");
    let mut found = template.lines().filter_map(|line| {
        let line = line.trim_start();
        line.strip_prefix(prefix.as_str())
            .filter(|rest| rest.is_empty() || rest.starts_with(' '))
    });
    let Some(rest) = found.next() else {
        bail!("no `{key}:` line");
    };
    if found.next().is_some() {
        bail!("`{key}:` is written more than once");
    }
    let value = rest.split(" #").next().unwrap_or(rest).trim();
    let value = value
        .strip_prefix('"')
        .and_then(|unquoted| unquoted.strip_suffix('"'))
        .unwrap_or(value);
    if value.is_empty() {
        bail!("`{key}:` has no value on its line");
    }
    Ok(value)
}

fn number(template: &str, key: &str) -> anyhow::Result<u32> {
    let value = value_of(template, key)?;
    value
        .parse()
        .with_context(|| format!("`{key}: {value}` is not a whole number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHIPPED: &str = include_str!("../../../deploy/template.yaml");

    #[test]
    fn reads_the_shipped_template() {
        let shipped = Deployment::parse(SHIPPED).expect("the shipped template reads");
        // Within Lambda's and Kinesis's ranges, and what the 64 MB bound
        // of the handler was measured at.
        assert!((1..=10_000).contains(&shipped.batch_size));
        assert!(shipped.batching_window_s <= 300);
        assert!((1..=10).contains(&shipped.parallelization_factor));
        assert!((128..=10_240).contains(&shipped.memory_mb));
        assert!(shipped.slice_records >= 1);
        // A whole batching window plus a batch must fit in the alert
        // latency budget of one minute at steady load.
        assert!(shipped.batching_window_s < 60);
        assert_eq!(Deployment::load(&Deployment::path()).unwrap(), shipped);
    }

    #[test]
    fn reads_each_setting_from_its_own_line() {
        let template = "      MemorySize: 256\n      Timeout: 30\n      Architectures: [x86_64]\n\
            \x20         LAMLOG_SLICE_RECORDS: \"700\"\n            BatchSize: 1000 # records\n\
            \x20           MaximumBatchingWindowInSeconds: 7\n            ParallelizationFactor: 3\n";
        assert_eq!(
            Deployment::parse(template).unwrap(),
            Deployment {
                memory_mb: 256,
                timeout_s: 30,
                architecture: "x86_64".to_owned(),
                batch_size: 1000,
                batching_window_s: 7,
                parallelization_factor: 3,
                slice_records: 700,
            }
        );
    }

    #[test]
    fn a_missing_doubled_or_unreadable_setting_is_an_error() {
        let whole = "MemorySize: 128\nTimeout: 60\nArchitectures: [arm64]\nBatchSize: 200\n\
            MaximumBatchingWindowInSeconds: 5\nParallelizationFactor: 2\nLAMLOG_SLICE_RECORDS: \"500\"\n";
        assert!(Deployment::parse(whole).is_ok());
        let missing = whole.replace("BatchSize: 200\n", "");
        assert!(Deployment::parse(&missing).is_err());
        let doubled = format!("{whole}BatchSize: 300\n");
        assert!(Deployment::parse(&doubled).is_err());
        let unreadable = whole.replace("BatchSize: 200", "BatchSize: !Ref Size");
        assert!(Deployment::parse(&unreadable).is_err());
        let arch = whole.replace("[arm64]", "[sparc]");
        assert!(Deployment::parse(&arch).is_err());
    }
}
