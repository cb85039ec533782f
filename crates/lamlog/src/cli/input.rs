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
