//! One input of `lamlog ingest`, read in pieces that can be decoded on their
//! own, with where each piece starts in the input.
//!
//! What a piece is depends on the format, found once per input (from its
//! first bytes, unless `--format` says):
//!
//! - **`lines`, `events`**: one log line or event per line, so the input is
//!   read 1 MB at a time and cut after the last newline; a piece never
//!   holds more than that plus one line, whatever the input's size.
//! - **`kinesis`, `awslogs`, `cwl`**: one JSON document (or gzip members),
//!   which a cut would break (a pretty-printed Kinesis event has newlines
//!   too), so the input is one piece. Its records are then decoded one at a
//!   time ([`lamlog_core::decode::decode_lazily`]): the input's bytes are
//!   held, never all its decoded records.
//!
//! Positions in a piece start at 0; [`Piece::place`] moves a record's to
//! where it is in the input, so that a dead letter names its line and byte
//! in the file, not in the piece.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use lamlog_core::decode::{detect_format, DecodeError, Format, Record, SourcePosition};

/// Bytes read at a time from a line input.
pub const PIECE_BYTES: usize = 1024 * 1024;

/// Bytes read before the format is detected: as many as
/// [`detect_format`] looks at.
const DETECT_BYTES: usize = 64 * 1024;

/// A part of an input that decodes on its own.
#[derive(Debug)]
pub struct Piece {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// The input's format (never `Auto`).
    pub format: Format,
    /// Lines of the input before this piece (line formats; 0 otherwise).
    pub first_line: usize,
    /// Bytes of the input before this piece.
    pub first_byte: u64,
}

impl Piece {
    /// Moves `record`'s position from the piece's numbering to the input's.
    pub fn place(&self, record: &mut Result<Record, DecodeError>) {
        let position: &mut SourcePosition = match record {
            Ok(Record::Data(envelope)) => &mut envelope.position,
            Ok(Record::Control(position)) => position,
            Err(error) => &mut error.position,
        };
        position.record_index += self.first_line;
        if let Some(offset) = position.byte_offset.as_mut() {
            *offset += self.first_byte;
        }
    }
}

/// Reads an input piece by piece.
pub struct Pieces {
    reader: Box<dyn Read>,
    format: Format,
    piece_bytes: usize,
    /// Bytes read but not yet handed out (a line's start).
    carried: Vec<u8>,
    next_line: usize,
    next_byte: u64,
    done: bool,
}

impl Pieces {
    /// Opens `path` (`-` for stdin) and finds its format from its first
    /// bytes when `format` is `Auto`. Line inputs are cut every
    /// `piece_bytes` bytes or so.
    pub fn open(path: &Path, format: Format, piece_bytes: usize) -> anyhow::Result<Pieces> {
        let mut reader: Box<dyn Read> = if path == Path::new("-") {
            Box::new(std::io::stdin())
        } else {
            let file =
                std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
            Box::new(file)
        };
        // Enough of the input to recognise its format by, when that is asked.
        let first_bytes = match format {
            Format::Auto => piece_bytes.max(DETECT_BYTES),
            _ => piece_bytes.max(1),
        };
        let mut first = Vec::new();
        fill(&mut reader, &mut first, first_bytes)
            .with_context(|| format!("reading {}", path.display()))?;
        let format = match format {
            Format::Auto => detect_format(&first),
            explicit => explicit,
        };
        Ok(Pieces {
            reader,
            format,
            piece_bytes: piece_bytes.max(1),
            carried: first,
            next_line: 0,
            next_byte: 0,
            done: false,
        })
    }

    /// The next piece, `None` at the end of the input.
    pub fn next_piece(&mut self) -> std::io::Result<Option<Piece>> {
        if self.done {
            return Ok(None);
        }
        let mut bytes = std::mem::take(&mut self.carried);
        if !matches!(self.format, Format::Lines | Format::Events) {
            self.reader.read_to_end(&mut bytes)?;
            self.done = true;
            return Ok(self.piece(bytes));
        }
        let mut cut = None;
        let mut searched_from = 0;
        let mut wanted = bytes.len().max(self.piece_bytes);
        loop {
            let at_end = fill(&mut self.reader, &mut bytes, wanted)?;
            if let Some(newline) = memchr::memrchr(b'\n', &bytes[searched_from..]) {
                cut = Some(searched_from + newline + 1);
            }
            if at_end {
                self.done = true;
                break;
            }
            if cut.is_some() {
                break;
            }
            // No line end yet: one line longer than a piece, kept whole so
            // that it is refused (or read) as one line.
            searched_from = bytes.len();
            wanted = bytes.len() + self.piece_bytes;
        }
        if let (false, Some(cut)) = (self.done, cut) {
            self.carried = bytes.split_off(cut);
        }
        Ok(self.piece(bytes))
    }

    fn piece(&mut self, bytes: Vec<u8>) -> Option<Piece> {
        if bytes.is_empty() && self.first_piece_given() {
            return None;
        }
        let piece = Piece {
            format: self.format,
            first_line: self.next_line,
            first_byte: self.next_byte,
            bytes,
        };
        self.next_line += memchr::memchr_iter(b'\n', &piece.bytes).count();
        self.next_byte += piece.bytes.len() as u64;
        Some(piece)
    }

    fn first_piece_given(&self) -> bool {
        self.next_byte > 0
    }
}

/// Reads into `bytes` until it holds `wanted` bytes or the input ends;
/// answers whether it ended.
fn fill(reader: &mut dyn Read, bytes: &mut Vec<u8>, wanted: usize) -> std::io::Result<bool> {
    let missing = wanted.saturating_sub(bytes.len());
    let read = reader.take(missing as u64).read_to_end(bytes)?;
    Ok(read < missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces_of(input: &[u8], format: Format, piece_bytes: usize) -> Vec<Piece> {
        let path = std::env::temp_dir().join(format!(
            "lamlog-pieces-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::write(&path, input).unwrap();
        let mut pieces = Pieces::open(&path, format, piece_bytes).unwrap();
        let mut all = Vec::new();
        while let Some(piece) = pieces.next_piece().unwrap() {
            all.push(piece);
        }
        std::fs::remove_file(&path).unwrap();
        all
    }

    #[test]
    fn line_inputs_are_cut_after_a_newline_and_numbered_from_the_input() {
        let input = b"one\ntwo\nthree\nfour\n";
        let pieces = pieces_of(input, Format::Lines, 6);
        let joined: Vec<u8> = pieces
            .iter()
            .flat_map(|piece| piece.bytes.clone())
            .collect();
        assert_eq!(joined, input);
        for piece in &pieces {
            assert!(piece.bytes.ends_with(b"\n"), "{:?}", piece.bytes);
            let before = &input[..piece.first_byte as usize];
            assert_eq!(
                piece.first_line,
                before.iter().filter(|byte| **byte == b'\n').count()
            );
        }
        assert!(pieces.len() > 1);
    }

    #[test]
    fn a_line_longer_than_a_piece_stays_whole() {
        let input = b"short\nthis line is long\nend";
        let pieces = pieces_of(input, Format::Lines, 4);
        let texts: Vec<&[u8]> = pieces.iter().map(|piece| &piece.bytes[..]).collect();
        assert!(texts.contains(&&b"this line is long\n"[..]), "{texts:?}");
        assert_eq!(texts.last(), Some(&&b"end"[..]));
    }

    #[test]
    fn json_inputs_are_one_piece() {
        let input = b"{\n  \"Records\": [\n  ]\n}\n";
        let pieces = pieces_of(input, Format::Auto, 4);
        assert_eq!(pieces.len(), 1);
        assert_eq!(pieces[0].format, Format::Kinesis);
        assert_eq!(pieces[0].bytes, input);
    }

    #[test]
    fn an_empty_input_is_one_empty_piece() {
        let pieces = pieces_of(b"", Format::Lines, 4);
        assert_eq!(pieces.len(), 1);
        assert!(pieces[0].bytes.is_empty());
    }
}
