//! The one capped gzip decoder.
//!
//! Every byte lamlog decompresses comes through here. In goes gzip, one member
//! or several back to back (Firehose writes concatenated members); out comes the
//! inflated bytes, or an error that says how far inflation got.
//!
//! The cap is the point of this module. CloudWatch never sends a record that
//! inflates past about 1 MB, but a hostile or broken producer can send a few
//! kilobytes that inflate to gigabytes. So inflation runs in fixed chunks and
//! checks the running total *before* it grows the output: a gzip bomb stops at
//! the cap as [`DecodeErrorKind::TooLarge`], and the output buffer's capacity
//! never exceeds the cap either (growth is clamped to it, instead of the usual
//! doubling that could reserve twice the cap).
//!
//! `clippy.toml` forbids flate2's gzip decoders everywhere else, so nothing can
//! inflate around this cap by accident.

use std::io::Read;

use super::one_shot::{inflate_whole_member, with_whole_member};
use super::DecodeErrorKind;

/// The first two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How much is inflated per read. Small enough for the stack, large enough
/// that the per-read overhead vanishes next to the inflating itself.
const CHUNK_BYTES: usize = 16 * 1024;

/// Whether `bytes` starts with the gzip magic `1f 8b`.
pub(super) fn is_gzip(bytes: &[u8]) -> bool {
    bytes.starts_with(&GZIP_MAGIC)
}

/// Where the next gzip member header (`1f 8b 08`: the magic and deflate)
/// after the first byte of `bytes` starts, if any: where decoding can go on
/// after a broken member.
pub(super) fn next_gzip_header(bytes: &[u8]) -> Option<usize> {
    let header = [GZIP_MAGIC[0], GZIP_MAGIC[1], 0x08];
    memchr::memmem::find(bytes.get(1..)?, &header).map(|at| at + 1)
}

/// Inflates one or more concatenated gzip members into one buffer, refusing to
/// hold more than `limit_bytes` of output in total.
///
/// Errors are [`DecodeErrorKind::TooLarge`] when the output would pass the
/// limit, and [`DecodeErrorKind::Gzip`] when the input is empty, truncated,
/// corrupt, or followed by bytes that are not another gzip member.
///
/// Cost: one pass over the input; the output buffer is the only allocation
/// that grows, and it never grows past `limit_bytes`.
pub fn inflate(gz: &[u8], limit_bytes: usize) -> Result<Vec<u8>, DecodeErrorKind> {
    inflate_members(gz, limit_bytes, inflate_member_into)
}

/// Appends one member to `out` within the cap; answers the input it took.
type MemberInflater = fn(&[u8], usize, &mut Vec<u8>) -> Result<usize, DecodeErrorKind>;

/// Inflates every member of `gz` in turn with `member`; an empty input is
/// an error.
fn inflate_members(
    gz: &[u8],
    limit_bytes: usize,
    member: MemberInflater,
) -> Result<Vec<u8>, DecodeErrorKind> {
    if gz.is_empty() {
        return Err(DecodeErrorKind::Gzip {
            inflated_bytes: 0,
            detail: "empty input holds no gzip member".to_string(),
        });
    }
    let mut inflated = Vec::new();
    let mut rest = gz;
    while !rest.is_empty() {
        if !is_gzip(rest) {
            return Err(DecodeErrorKind::Gzip {
                inflated_bytes: inflated.len(),
                detail: format!(
                    "{} bytes after the last gzip member are not gzip",
                    rest.len()
                ),
            });
        }
        let consumed = member(rest, limit_bytes, &mut inflated)?;
        rest = &rest[consumed..];
    }
    Ok(inflated)
}

/// [`inflate`], handing the inflated bytes to `read` instead of returning
/// them. A whole one-member input, the usual record, is inflated into a
/// buffer the thread keeps (`one_shot.rs`), which is not zeroed again for
/// each record.
pub(super) fn with_inflated<R>(
    gz: &[u8],
    limit_bytes: usize,
    read: impl FnOnce(&[u8]) -> R,
) -> Result<R, DecodeErrorKind> {
    match with_whole_member(gz, limit_bytes, read) {
        Ok(answer) => Ok(answer),
        // Declined or refused by the one-shot path, which is not tried again:
        // streaming reads several members, and says how far a broken one got.
        Err(read) => {
            inflate_members(gz, limit_bytes, stream_member_into).map(|inflated| read(&inflated))
        }
    }
}

/// Inflates the first gzip member of `input` on its own, capped at
/// `limit_bytes`, and hands the inflated bytes to `read`, with the number of
/// input bytes the member took; through the thread's buffer as
/// [`with_inflated`] is. Used where each member is its own record.
pub(super) fn with_inflated_member<R>(
    input: &[u8],
    limit_bytes: usize,
    read: impl FnOnce(&[u8]) -> R,
) -> Result<(R, usize), DecodeErrorKind> {
    match with_whole_member(input, limit_bytes, read) {
        Ok(answer) => Ok((answer, input.len())),
        Err(read) => {
            inflate_member(input, limit_bytes).map(|(inflated, taken)| (read(&inflated), taken))
        }
    }
}

/// Inflates the first gzip member of `input` on its own, by streaming,
/// capped at `limit_bytes`, and answers the inflated bytes with the number of
/// input bytes the member took: what [`with_inflated_member`] falls back to
/// once the one-shot path has declined.
fn inflate_member(input: &[u8], limit_bytes: usize) -> Result<(Vec<u8>, usize), DecodeErrorKind> {
    let mut inflated = Vec::new();
    let consumed = stream_member_into(input, limit_bytes, &mut inflated)?;
    Ok((inflated, consumed))
}

/// Appends the first gzip member of `input` to `out` while `out` stays within
/// `limit_bytes`, and answers how many bytes of `input` the member took.
///
/// An input that is one whole member is inflated in one call
/// (`one_shot.rs`); everything else, and whatever that path declines, is
/// inflated by streaming.
fn inflate_member_into(
    input: &[u8],
    limit_bytes: usize,
    out: &mut Vec<u8>,
) -> Result<usize, DecodeErrorKind> {
    let room_bytes = limit_bytes.saturating_sub(out.len());
    if inflate_whole_member(input, room_bytes, out) {
        return Ok(input.len());
    }
    stream_member_into(input, limit_bytes, out)
}

/// [`inflate_member_into`] by streaming: fixed chunks, the cap checked
/// before every append.
// flate2's decoder is forbidden everywhere by clippy.toml because it inflates
// without a cap; this is the one function allowed to use it, and it reads in
// fixed chunks and checks the cap before every append.
#[allow(clippy::disallowed_types)]
fn stream_member_into(
    input: &[u8],
    limit_bytes: usize,
    out: &mut Vec<u8>,
) -> Result<usize, DecodeErrorKind> {
    // The bufread decoder consumes exactly the member's bytes from the slice,
    // so what is left afterwards is where the next member starts.
    let mut decoder = flate2::bufread::GzDecoder::new(input);
    let mut chunk = [0u8; CHUNK_BYTES];
    loop {
        let read_bytes = match decoder.read(&mut chunk) {
            Ok(0) => break,
            Ok(read_bytes) => read_bytes,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(DecodeErrorKind::Gzip {
                    inflated_bytes: out.len(),
                    detail: error.to_string(),
                })
            }
        };
        let wanted_len = out.len().saturating_add(read_bytes);
        if wanted_len > limit_bytes {
            return Err(DecodeErrorKind::TooLarge { limit_bytes });
        }
        reserve_within(out, wanted_len, limit_bytes);
        out.extend_from_slice(&chunk[..read_bytes]);
    }
    let unread_len = decoder.into_inner().len();
    Ok(input.len() - unread_len)
}

/// Makes room for `wanted_len` bytes, doubling as a `Vec` would, but never
/// reserving past `limit_bytes` (`wanted_len <= limit_bytes` holds).
fn reserve_within(out: &mut Vec<u8>, wanted_len: usize, limit_bytes: usize) {
    debug_assert!(wanted_len <= limit_bytes);
    if out.capacity() >= wanted_len {
        return;
    }
    let target_capacity = out
        .capacity()
        .saturating_mul(2)
        .max(wanted_len)
        .min(limit_bytes);
    out.reserve_exact(target_capacity - out.len());
}

#[cfg(test)]
pub(super) mod tests {
    use std::io::Write;

    use flate2::write::GzEncoder;
    use flate2::Compression;
    use proptest::prelude::*;

    use super::*;

    /// One gzip member of `bytes`, for the decode stage's unit tests.
    pub(in crate::decode) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn inflates_one_member() {
        assert_eq!(inflate(&gzip(b"hello"), 100).unwrap(), b"hello");
    }

    #[test]
    fn inflates_concatenated_members() {
        let mut members = gzip(b"hello ");
        members.extend(gzip(b""));
        members.extend(gzip(b"world"));
        assert_eq!(inflate(&members, 100).unwrap(), b"hello world");
    }

    #[test]
    fn member_reports_its_length() {
        let first = gzip(b"one");
        let mut members = first.clone();
        members.extend(gzip(b"two"));
        let (inflated, consumed) = inflate_member(&members, 100).unwrap();
        assert_eq!(inflated, b"one");
        assert_eq!(consumed, first.len());
    }

    #[test]
    fn output_exactly_at_the_limit_is_fine_and_one_more_byte_is_not() {
        let member = gzip(&[7u8; 1000]);
        assert_eq!(inflate(&member, 1000).unwrap().len(), 1000);
        assert_eq!(
            inflate(&member, 999),
            Err(DecodeErrorKind::TooLarge { limit_bytes: 999 })
        );
    }

    #[test]
    fn limit_applies_to_all_members_together() {
        let mut members = gzip(&[1u8; 600]);
        members.extend(gzip(&[2u8; 600]));
        assert_eq!(
            inflate(&members, 1000),
            Err(DecodeErrorKind::TooLarge { limit_bytes: 1000 })
        );
    }

    #[test]
    fn capacity_never_passes_the_limit() {
        let mut out = Vec::new();
        let member = gzip(&[3u8; 100_000]);
        inflate_member_into(&member, 100_001, &mut out).unwrap();
        assert!(out.capacity() <= 100_001, "capacity {}", out.capacity());
    }

    #[test]
    fn truncated_member_is_a_gzip_error() {
        let member = gzip(&[5u8; 50_000]);
        let truncated = &member[..member.len() - 5];
        assert!(matches!(
            inflate(truncated, 1 << 20),
            Err(DecodeErrorKind::Gzip { .. })
        ));
    }

    #[test]
    fn junk_after_a_member_is_an_error_even_when_it_repeats_the_trailer() {
        let member = gzip(b"ok");
        let mut with_junk = member.clone();
        with_junk.extend_from_slice(b"junk");
        with_junk.extend_from_slice(&member[member.len() - 8..]);
        assert!(matches!(
            inflate(&with_junk, 1 << 20),
            Err(DecodeErrorKind::Gzip {
                inflated_bytes: 2,
                ..
            })
        ));
    }

    #[test]
    fn identical_members_are_all_inflated() {
        let member = gzip(b"same");
        let twice = [member.clone(), member].concat();
        assert_eq!(inflate(&twice, 100).unwrap(), b"samesame");
    }

    /// `inflate` by streaming alone, as it was before the one-shot path:
    /// the reference the one-shot path must agree with.
    fn streamed(gz: &[u8], limit_bytes: usize) -> Result<Vec<u8>, DecodeErrorKind> {
        inflate_members(gz, limit_bytes, stream_member_into)
    }

    proptest! {
        #[test]
        fn one_shot_and_streaming_agree_on_damaged_members(
            text in proptest::collection::vec(0u8..4, 0..3000),
            members in 1usize..3,
            damage_at in 0usize..4000,
            damage in prop_oneof![Just(None), (1u8..=255).prop_map(Some)],
            cut in 0usize..12,
            limit_bytes in 0usize..7000,
        ) {
            let mut gz: Vec<u8> = std::iter::repeat_n(gzip(&text), members).flatten().collect();
            if let Some(flip) = damage {
                let at = damage_at % gz.len();
                gz[at] ^= flip;
            }
            gz.truncate(gz.len().saturating_sub(cut));
            prop_assert_eq!(inflate(&gz, limit_bytes), streamed(&gz, limit_bytes));
            // Through the thread's spare buffer, which the cases before this
            // one left holding their own bytes.
            prop_assert_eq!(
                with_inflated(&gz, limit_bytes, <[u8]>::to_vec),
                streamed(&gz, limit_bytes)
            );
            prop_assert_eq!(
                with_inflated_member(&gz, limit_bytes, <[u8]>::to_vec),
                inflate_member(&gz, limit_bytes)
            );
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for input in [
            &b""[..],
            b"\x1f",
            b"\x1f\x8b",
            b"\x1f\x8b\x08\0\0\0\0\0\0\xff\xff",
        ] {
            assert!(matches!(
                inflate(input, 1 << 20),
                Err(DecodeErrorKind::Gzip { .. })
            ));
        }
        let mut trailing = gzip(b"ok");
        trailing.extend_from_slice(b"junk");
        assert!(matches!(
            inflate(&trailing, 1 << 20),
            Err(DecodeErrorKind::Gzip {
                inflated_bytes: 2,
                ..
            })
        ));
    }
}
