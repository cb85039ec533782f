//! Inflating a whole gzip member in one call, when it is safe to.
//!
//! A gzip member ends with its inflated size (ISIZE, mod 2^32) and CRC-32. When
//! the input is exactly one member, that size is known before inflating, and
//! libdeflate inflates the whole member into a buffer of that size in one call:
//! about twice as fast as zlib's streaming inflate, with no chunk copies and a
//! CRC-32 that uses the CPU's carry-less multiply.
//!
//! The trailer is only a hint, written by whoever made the input. So this path
//! answers only when its answer is the one the streaming decoder in
//! `inflate.rs` would give, and otherwise says "not me" and leaves `out` as it
//! was:
//!
//! - the header must be the plain 10 bytes (deflate, no optional fields), so
//!   that the two decoders cannot differ on optional fields such as a header
//!   CRC;
//! - no other member may start in the input (`1f 8b 08` occurs only at 0):
//!   several members go to the streaming decoder, which knows where each ends;
//! - the size the trailer claims must fit in the room left under the cap and
//!   be one that deflate can reach from this many bytes (at most 1032:1), so
//!   that a lying trailer can neither pass the cap nor make a large zeroed
//!   buffer out of a few bytes;
//! - libdeflate must succeed, which checks the member's own CRC-32 and ISIZE;
//! - and the member must end where the input ends. libdeflate's safe API does
//!   not say where the member ended, so this is proven from the trailer: the
//!   member's trailer (libdeflate checked it) equals the input's last 8 bytes,
//!   and those 8 bytes occur nowhere earlier in the input, so the member's
//!   trailer *is* the input's last 8 bytes. Bytes after a member (junk, or a
//!   member the header search missed) therefore always go to the streaming
//!   decoder, which refuses or decodes them.
//!
//! Anything else (a truncated or corrupt member, a wrong size, several
//! members) falls back to streaming, which gives the error with how far
//! inflation got. The work wasted on a failed attempt is bounded by the cap and
//! by the 1032:1 ratio of the input's own size.

// libdeflater's decompressor is forbidden everywhere by clippy.toml: this
// module is the one place that uses it, behind the checks above.
#![allow(clippy::disallowed_types)]

use std::cell::RefCell;

use libdeflater::Decompressor;

/// The gzip header this path takes: magic, deflate, no flags.
const PLAIN_HEADER: [u8; 4] = [0x1f, 0x8b, 0x08, 0x00];

/// Bytes of a plain gzip header.
const HEADER_BYTES: usize = 10;

/// Bytes of the gzip trailer: CRC-32 then ISIZE, both little-endian.
const TRAILER_BYTES: usize = 8;

/// The most a deflate stream can inflate per input byte (a 258-byte match
/// in under two bits, rounded up), so that a claimed size past this many
/// times the input is a lie.
const MAX_DEFLATE_RATIO: usize = 1032;

thread_local! {
    /// libdeflate's decompressor holds its decode tables (about 10 KB); one
    /// per thread, reused, so that a batch of small records does not allocate
    /// it for each.
    static DECOMPRESSOR: RefCell<Decompressor> = RefCell::new(Decompressor::new());
}

/// Appends the inflated bytes of `input` to `out` and answers `true` when
/// `input` is exactly one plain gzip member that inflates to at most
/// `room_bytes`. Answers `false`, with `out` unchanged in length and with a
/// capacity of at most `out.len() + room_bytes`, in every other case; the
/// caller then inflates by streaming.
pub(super) fn inflate_whole_member(input: &[u8], room_bytes: usize, out: &mut Vec<u8>) -> bool {
    let Some(claimed_bytes) = claimed_size(input, room_bytes) else {
        return false;
    };
    let start_len = out.len();
    out.reserve_exact(claimed_bytes);
    out.resize(start_len + claimed_bytes, 0);
    let whole = inflate_into(input, &mut out[start_len..]);
    if !whole {
        out.truncate(start_len);
    }
    whole
}

/// A buffer kept by the thread for [`with_whole_member`]: a `Vec` must be
/// initialised before libdeflate may write into it, and zeroing a fresh
/// buffer for each record cost about 5 % of decoding (BENCHMARKS §1). This
/// one keeps its length, so only its growth is ever zeroed.
const SPARE_KEEP_BYTES: usize = 4 << 20;

thread_local! {
    /// Inflated bytes of an earlier record, overwritten by the next one;
    /// kept only up to [`SPARE_KEEP_BYTES`], so that a record inflating
    /// near the cap does not stay in memory after it.
    static SPARE: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// When `input` is exactly one plain gzip member that inflates to at most
/// `room_bytes` (as [`inflate_whole_member`] checks), inflates it into the
/// thread's spare buffer and answers what `read` makes of the inflated
/// bytes; otherwise answers `read` back, not called, and the caller inflates
/// by streaming.
pub(super) fn with_whole_member<R, F: FnOnce(&[u8]) -> R>(
    input: &[u8],
    room_bytes: usize,
    read: F,
) -> Result<R, F> {
    let Some(claimed_bytes) = claimed_size(input, room_bytes) else {
        return Err(read);
    };
    // Taken out while in use, so that a `read` that inflates again finds no
    // spare rather than a borrowed one.
    let mut spare = SPARE.with(RefCell::take);
    if spare.len() < claimed_bytes {
        spare.reserve_exact(claimed_bytes - spare.len());
        spare.resize(claimed_bytes, 0);
    }
    let answer = if inflate_into(input, &mut spare[..claimed_bytes]) {
        Ok(read(&spare[..claimed_bytes]))
    } else {
        Err(read)
    };
    if spare.len() <= SPARE_KEEP_BYTES {
        SPARE.with(|kept| *kept.borrow_mut() = spare);
    }
    answer
}

/// Inflates `input` into `buffer`, which is as long as its trailer claims,
/// and answers whether the member filled it exactly and ends where the
/// input does.
fn inflate_into(input: &[u8], buffer: &mut [u8]) -> bool {
    let inflated =
        DECOMPRESSOR.with(|decompressor| decompressor.borrow_mut().gzip_decompress(input, buffer));
    match inflated {
        Ok(inflated_bytes) => {
            inflated_bytes == buffer.len() && ends_with_its_trailer(input, buffer)
        }
        Err(_) => false,
    }
}

/// The size the trailer claims, when `input` may be one plain member whose
/// claim fits `room_bytes` and is reachable from its length.
fn claimed_size(input: &[u8], room_bytes: usize) -> Option<usize> {
    if input.len() < HEADER_BYTES + TRAILER_BYTES || !input.starts_with(&PLAIN_HEADER) {
        return None;
    }
    let another_member = memchr::memmem::find(&input[1..], &PLAIN_HEADER[..3]).is_some();
    if another_member {
        return None;
    }
    let isize_bytes: [u8; 4] = input[input.len() - 4..].try_into().ok()?;
    let claimed_bytes = usize::try_from(u32::from_le_bytes(isize_bytes)).ok()?;
    let reachable = claimed_bytes <= input.len().saturating_mul(MAX_DEFLATE_RATIO);
    (reachable && claimed_bytes <= room_bytes).then_some(claimed_bytes)
}

/// Whether the input's last 8 bytes are the trailer of `inflated` and occur
/// nowhere earlier: then the member libdeflate read (whose trailer it found
/// equal to this one) ends exactly at the end of the input.
fn ends_with_its_trailer(input: &[u8], inflated: &[u8]) -> bool {
    let trailer = &input[input.len() - TRAILER_BYTES..];
    let mut expected = [0u8; TRAILER_BYTES];
    expected[..4].copy_from_slice(&libdeflater::crc32(inflated).to_le_bytes());
    // ISIZE is the size mod 2^32; the truncation is the format's.
    expected[4..].copy_from_slice(&(inflated.len() as u32).to_le_bytes());
    // The haystack stops one byte short, so that only earlier occurrences
    // are found, overlapping ones included.
    let earlier = memchr::memmem::find(&input[..input.len() - 1], trailer);
    trailer == expected && earlier.is_none()
}

#[cfg(test)]
mod tests {
    use super::super::inflate::tests::gzip;
    use super::*;

    fn text() -> Vec<u8> {
        (0..20_000u32)
            .flat_map(|n| n.to_string().into_bytes())
            .collect()
    }

    #[test]
    fn takes_one_plain_member_and_appends_it() {
        let mut out = b"before ".to_vec();
        assert!(inflate_whole_member(&gzip(&text()), 1 << 20, &mut out));
        assert_eq!(out, [&b"before "[..], &text()].concat());
    }

    #[test]
    fn the_spare_buffer_reads_each_member_exactly_whatever_came_before() {
        let long = text();
        let short = b"{\"short\": true}".to_vec();
        // Longer, shorter, longer again: a stale tail of an earlier member
        // must never be read.
        for inflated in [&long, &short, &long, &short] {
            let read = with_whole_member(&gzip(inflated), 1 << 20, <[u8]>::to_vec);
            assert_eq!(read.ok().as_ref(), Some(inflated));
        }
        // What it declines it hands back uncalled, spare or no spare.
        let mut corrupt = gzip(&long);
        let middle = corrupt.len() / 2;
        corrupt[middle] ^= 0x55;
        let declined = [corrupt, gzip(&long).repeat(2), gzip(&long)];
        for (input, room) in declined.iter().zip([1 << 20, 1 << 20, long.len() - 1]) {
            let read = with_whole_member(input, room, |_| panic!("read a declined member"));
            assert!(read.is_err());
        }
    }

    #[test]
    fn declines_junk_after_the_member_even_with_a_repeated_trailer() {
        let member = gzip(&text());
        let trailer = &member[member.len() - TRAILER_BYTES..];
        let mut out = Vec::new();
        let repeated = [&member[..], trailer].concat();
        assert!(!inflate_whole_member(&repeated, 1 << 20, &mut out));
        let junk_then_trailer = [&member[..], b"junk", trailer].concat();
        assert!(!inflate_whole_member(&junk_then_trailer, 1 << 20, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn declines_several_members_without_trying() {
        let member = gzip(b"same");
        let mut out = Vec::new();
        assert!(!inflate_whole_member(&member.repeat(2), 100, &mut out));
        assert!(out.is_empty());
        // Had it tried, it would have reserved what the last member claims.
        let small_then_large = [gzip(b"small"), gzip(&text())].concat();
        assert!(!inflate_whole_member(&small_then_large, 1 << 20, &mut out));
        assert_eq!(out.capacity(), 0);
    }

    #[test]
    fn declines_a_size_past_the_room_without_reserving_it() {
        let member = gzip(&text());
        let mut out = Vec::new();
        assert!(!inflate_whole_member(&member, text().len() - 1, &mut out));
        assert!(out.is_empty());
        assert!(out.capacity() < text().len(), "capacity {}", out.capacity());
    }

    #[test]
    fn declines_a_size_deflate_cannot_reach_without_reserving_it() {
        let mut member = gzip(b"tiny");
        let isize_at = member.len() - 4;
        member[isize_at..].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut out = Vec::new();
        assert!(!inflate_whole_member(&member, usize::MAX, &mut out));
        assert_eq!(out.capacity(), 0);
    }

    #[test]
    fn declines_a_corrupt_or_cut_member_and_leaves_out_as_it_was() {
        let member = gzip(&text());
        let mut corrupt = member.clone();
        corrupt[member.len() / 2] ^= 0x55;
        let mut cut = member.clone();
        cut.remove(member.len() - 20);
        let mut wrong_crc = member.clone();
        wrong_crc[member.len() - TRAILER_BYTES] ^= 1;
        for input in [corrupt, cut, wrong_crc] {
            let mut out = b"kept".to_vec();
            assert!(!inflate_whole_member(&input, 1 << 20, &mut out));
            assert_eq!(out, b"kept");
        }
    }
}
