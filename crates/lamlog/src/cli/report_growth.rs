//! The report's log streams whose memory is growing, as text and as HTML:
//! each execution environment whose max memory used keeps rising over its
//! last warm invocations, with the projected number of invocations until it
//! reaches its memory size (see `lamlog_core::growth`).

use std::io::Write;

use lamlog::store::GrowingStream;

/// What the section says of itself.
pub const GROWTH_NOTE: &str = "execution environments (log streams) whose max memory used \
rises over their last 20 warm invocations (Theil–Sen slope, 75 % of pairs rising), nearest \
their memory size first (\"reached\": killed or about to be); a memory_growth alert names each";

/// The text section; nothing when no stream grows.
pub fn print_growing(
    out: &mut impl Write,
    streams: &[GrowingStream],
    top: usize,
) -> std::io::Result<()> {
    if streams.is_empty() {
        return Ok(());
    }
    writeln!(out)?;
    writeln!(out, "memory growing in {} log stream(s):", streams.len())?;
    writeln!(
        out,
        "{:<28} {:<54} {:>9} {:>11} {:>9}",
        "function", "log stream", "MB/invoke", "used/size", "to limit"
    )?;
    for stream in streams.iter().take(top) {
        let [function, log_stream, slope, memory, to_limit] = cells_of(stream);
        let function: String = function.chars().take(28).collect();
        writeln!(
            out,
            "{function:<28} {log_stream:<54} {slope:>9} {memory:>11} {to_limit:>9}"
        )?;
    }
    if streams.len() > top {
        writeln!(out, "… and {} more (--top, --json)", streams.len() - top)?;
    }
    writeln!(out, "({GROWTH_NOTE})")
}

/// The columns of a growing stream, as text; the HTML page escapes them.
pub const HEADINGS: [&str; 5] = [
    "function",
    "log stream",
    "MB per invocation",
    "used / size MB",
    "invocations to limit",
];

/// One stream's cells, under [`HEADINGS`].
pub fn cells_of(stream: &GrowingStream) -> [String; 5] {
    [
        stream.function.clone(),
        stream.log_stream.clone(),
        format!("{:.2}", stream.slope_mb),
        format!("{}/{}", stream.last_used_mb, stream.memory_size_mb),
        if stream.invocations_to_limit > 0 {
            stream.invocations_to_limit.to_string()
        } else {
            "reached".to_owned()
        },
    ]
}
