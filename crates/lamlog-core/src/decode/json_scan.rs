//! Byte-level steps through the strings of JSON not yet checked, for the
//! payload scanner (`payload_scan.rs`): where a run of plain text stops, and
//! where a string ends. A control character stops a run too, because JSON
//! does not allow one unescaped.

/// The offset of the closing quote of a string, in `bytes` that start inside
/// it: escapes are stepped over (their first two bytes; the rest of a `\u`
/// escape cannot stop a run), a control character declines.
pub(super) fn string_end(bytes: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        at += first_stop(bytes.get(at..)?)?;
        match bytes[at] {
            b'"' => return Some(at),
            b'\\' => at += 2,
            _ => return None,
        }
    }
}

/// Where a string's run of plain text stops in `bytes`: its closing quote, a
/// backslash, or a control character, which JSON does not allow unescaped.
///
/// Eight bytes are tested at a time, as one word: a byte is flagged when it
/// is below 0x20 or, after an exclusive or with `"` or `\\`, zero. The
/// tests borrow across bytes, so a byte above a flagged one may be flagged
/// wrongly, but the lowest flag is always right, and only it is used.
pub(super) fn first_stop(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const QUOTES: u64 = u64::from_ne_bytes([b'"'; 8]);
    const BACKSLASHES: u64 = u64::from_ne_bytes([b'\\'; 8]);
    let below = |word: u64, bound: u64| word.wrapping_sub(ONES * bound) & !word & HIGHS;
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut words {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let word = u64::from_le_bytes(word);
        let flags = below(word, 0x20) | below(word ^ QUOTES, 1) | below(word ^ BACKSLASHES, 1);
        if flags != 0 {
            return Some(offset + flags.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    let tail = words.remainder();
    let stop = tail
        .iter()
        .position(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\')?;
    Some(offset + stop)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_run_stops_where_the_first_stop_byte_is(
            bytes in proptest::collection::vec(
                proptest::sample::select(vec![b'a', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff]),
                0..40,
            ),
        ) {
            let expected = bytes.iter().position(|&byte| byte < 0x20 || byte == b'"' || byte == b'\\');
            prop_assert_eq!(first_stop(&bytes), expected);
        }
    }

    #[test]
    fn a_string_ends_at_its_unescaped_quote() {
        assert_eq!(string_end(br#"ab\"c\\"d"#), Some(7));
        assert_eq!(string_end(br#"\u0022""#), Some(6));
        assert_eq!(string_end(b"a\tb\""), None);
        assert_eq!(string_end(br#"ab\"#), None);
        assert_eq!(string_end(b"ab"), None);
    }
}
