//! Input handling shared by the subcommands: `--format`, reading files or stdin.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::ValueEnum;
use lamlog_core::decode::Format;

/// The `--format` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Detect from the first bytes (gzip magic, JSON keys, or plain lines).
    Auto,
    /// One log message per line.
    Lines,
    /// NDJSON: one {"timestamp": …, "message": …} per line.
    Events,
    /// CloudWatch Logs subscription payloads, gzip or JSON, possibly concatenated.
    Cwl,
    /// A Lambda Kinesis event ({"Records":[{"kinesis":{"data":…}}]}).
    Kinesis,
    /// A direct subscription event ({"awslogs":{"data":…}}).
    Awslogs,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Format {
        match format {
            FormatArg::Auto => Format::Auto,
            FormatArg::Lines => Format::Lines,
            FormatArg::Events => Format::Events,
            FormatArg::Cwl => Format::Cwl,
            FormatArg::Kinesis => Format::Kinesis,
            FormatArg::Awslogs => Format::Awslogs,
        }
    }
}

/// Reads a whole input: a file, or stdin for `-`.
pub fn read_input(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .context("reading stdin")?;
        return Ok(bytes);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The inputs to read: the given paths, or stdin when there are none.
pub fn paths_or_stdin(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        paths
    }
}

/// Expands the inputs of `lamlog ingest`: `-` stays, a directory becomes its
/// files (recursively, in name order, hidden files skipped), a path that does
/// not exist but holds `*`, `?` or `[` is a glob. A missing input is an error
/// before anything is read, so a typo never half-ingests.
pub fn expand_inputs(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut expanded = Vec::new();
    for input in inputs {
        if input == Path::new("-") {
            expanded.push(input.clone());
        } else if input.is_dir() {
            walk_dir(input, &mut expanded)?;
        } else if input.exists() {
            expanded.push(input.clone());
        } else {
            let pattern = input.to_string_lossy();
            if !pattern.contains(['*', '?', '[']) {
                anyhow::bail!("input {} does not exist", input.display());
            }
            let matches: Vec<PathBuf> = glob::glob(&pattern)
                .with_context(|| format!("invalid glob {pattern:?}"))?
                .filter_map(Result::ok)
                .filter(|path| path.is_file())
                .collect();
            if matches.is_empty() {
                anyhow::bail!("glob {pattern:?} matches no file");
            }
            expanded.extend(matches);
        }
    }
    Ok(expanded)
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            !path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk_dir(&path, out)?;
        } else if is_log_input(&path) {
            out.push(path);
        }
    }
    Ok(())
}

/// Files in a directory that are not logs (metadata, ground truth, notes) are
/// skipped; name them explicitly to ingest them anyway.
fn is_log_input(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    !(name.ends_with(".toml")
        || name.ends_with(".md")
        || name == "truth.json"
        || name == "truth-invocations.ndjson"
        || name == "metadata.json")
}

/// A `--since` value: a fixed time, or an age resolved against the clock
/// when the command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// Epoch milliseconds.
    At(i64),
    /// This many milliseconds before now.
    Ago(i64),
}

impl Since {
    /// The time in epoch milliseconds, ages counted back from `now_ms`.
    pub fn resolve(self, now_ms: i64) -> i64 {
        match self {
            Since::At(epoch_ms) => epoch_ms,
            Since::Ago(age_ms) => now_ms.saturating_sub(age_ms),
        }
    }
}

/// Reads `--since`: an age (`90m`, `24h`, `7d`), a date (`2026-11-01`,
/// midnight UTC), an RFC 3339 time, or epoch milliseconds.
pub fn parse_since(text: &str) -> Result<Since, String> {
    let text = text.trim();
    if let Ok(epoch_ms) = text.parse::<i64>() {
        return Ok(Since::At(epoch_ms));
    }
    let time = if text.len() == 10 {
        format!("{text}T00:00:00Z")
    } else {
        text.to_owned()
    };
    if let Some(epoch_ms) = lamlog_core::decode::parse_iso8601_ms(&time) {
        return Ok(Since::At(epoch_ms));
    }
    let unit_ms = match text.chars().last() {
        Some('m') => 60_000,
        Some('h') => 3_600_000,
        Some('d') => 86_400_000,
        _ => 0,
    };
    match text[..text.len().saturating_sub(1)].parse::<i64>() {
        Ok(count) if unit_ms > 0 && count >= 0 => Ok(Since::Ago(count.saturating_mul(unit_ms))),
        _ => Err(format!(
            "{text:?} is not an age (90m, 24h, 7d), a date (2026-11-01), a UTC time (2026-11-01T12:00:00Z) or epoch ms"
        )),
    }
}

/// Reads `--granularity-ms`: Lambda has billed in 1 ms steps since December
/// 2020 and in 100 ms steps before.
pub fn parse_granularity(text: &str) -> Result<u64, String> {
    match text.parse::<u64>() {
        Ok(granularity @ (1 | 100)) => Ok(granularity),
        _ => Err(format!(
            "{text:?} is not a billing granularity: use 1 or 100"
        )),
    }
}
