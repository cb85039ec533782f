//! JSON string escaping, by hand, for the two hot spots of the generator.
//!
//! JSON-format log lines are built as text (a `{"time":…}` line is a template
//! with a few numbers in it), and the packer must know how many bytes each
//! event will take inside a CloudWatch payload *before* serializing it, to
//! keep payloads under 1 MB. Both need exactly serde_json's escaping: `"` and
//! `\` and the control characters are escaped, everything else (NO-BREAK SPACE
//! included) is written as UTF-8. A unit test holds the two to the same bytes.

/// Appends `text` as a quoted JSON string.
pub(crate) fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    for character in text.chars() {
        match character {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            control if u32::from(control) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(control)));
            }
            other => out.push(other),
        }
    }
    out.push('"');
}

/// The length in bytes of `text` as a quoted JSON string, as serde_json writes it.
pub(crate) fn json_str_len(text: &str) -> usize {
    let mut length = 2;
    for &byte in text.as_bytes() {
        length += match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0x00..=0x1f => 6,
            _ => 1,
        };
    }
    length
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_serde_json() {
        for text in [
            "",
            "plain",
            "REPORT RequestId: x\tDuration: 1.00 ms\t\n",
            "[ERROR] E: m\rTraceback\r\u{a0}\u{a0}File \"/var/task/app.py\"",
            "back\\slash \u{1} \u{1f} \u{7f} \u{08}\u{0c} é ✓",
        ] {
            let mut ours = String::new();
            push_json_str(&mut ours, text);
            let theirs = serde_json::to_string(text).unwrap();
            assert_eq!(ours, theirs);
            assert_eq!(json_str_len(text), theirs.len());
        }
    }
}
