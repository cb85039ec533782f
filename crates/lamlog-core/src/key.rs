//! Keys made of several names joined by a separator, made unambiguous.
//!
//! Two keys are joined strings: the metadata key `account#function`
//! ([`crate::meta::meta_key`]) and the alert dedup key
//! `kind|account|function|window` ([`crate::judge::dedup_key`]). The names can
//! hold the separators: `#` is legal in log-group names, which name the
//! function of a custom log group, and the account is the envelope's `owner`,
//! which whoever writes to the stream controls. Joined as they are,
//! `("1#2", "f")` and `("1", "2#f")` would share a key: one function's
//! metadata or alert would be taken for another's.
//!
//! So every field but the last is escaped: `%` becomes `%25` and the
//! separator its own `%XX`. The first separators of a key then always end
//! fields, the last field is the rest, and two different tuples never share a
//! key. Names without `%` or a separator (every account id, Lambda function
//! name and standard log group) are unchanged, so keys written before this
//! rule still match.

/// Joins `fields` with `separator`, escaping each field but the last.
pub fn join(separator: char, fields: &[&str]) -> String {
    let mut key = String::with_capacity(fields.iter().map(|field| field.len() + 1).sum());
    for (index, field) in fields.iter().enumerate() {
        if index + 1 == fields.len() {
            key.push_str(field);
            break;
        }
        for character in field.chars() {
            match character {
                '%' => key.push_str("%25"),
                _ if character == separator => {
                    key.push_str(&format!("%{:02X}", u32::from(separator)));
                }
                _ => key.push(character),
            }
        }
        key.push(separator);
    }
    key
}

/// Splits a key made by [`join`] into its first `count` fields (`None` when
/// it has fewer, or when an escape is malformed).
pub fn split(separator: char, key: &str, count: usize) -> Option<Vec<String>> {
    if count == 0 {
        return None;
    }
    let parts: Vec<&str> = key.splitn(count, separator).collect();
    if parts.len() != count {
        return None;
    }
    let (last, escaped) = parts.split_last()?;
    let mut fields = escaped
        .iter()
        .map(|field| unescape(field))
        .collect::<Option<Vec<String>>>()?;
    fields.push((*last).to_owned());
    Some(fields)
}

fn unescape(field: &str) -> Option<String> {
    let mut text = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(at) = rest.find('%') {
        text.push_str(&rest[..at]);
        let code = rest.get(at + 1..at + 3)?;
        let byte = u8::from_str_radix(code, 16).ok()?;
        if !byte.is_ascii() {
            return None;
        }
        text.push(char::from(byte));
        rest = &rest[at + 3..];
    }
    text.push_str(rest);
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn separators_in_names_never_merge_two_keys() {
        assert_ne!(join('#', &["1#2", "f"]), join('#', &["1", "2#f"]));
        assert_ne!(
            join('|', &["timeout", "1|f", "g", "0"]),
            join('|', &["timeout", "1", "f|g", "0"])
        );
        assert_ne!(join('#', &["1%232", "f"]), join('#', &["1#2", "f"]));
    }

    #[test]
    fn plain_names_keep_the_keys_written_before() {
        assert_eq!(
            join('#', &["123456789012", "orders"]),
            "123456789012#orders"
        );
        assert_eq!(
            join('|', &["timeout", "123456789012", "orders", "1700000000000"]),
            "timeout|123456789012|orders|1700000000000"
        );
    }

    #[test]
    fn malformed_escapes_are_refused() {
        assert_eq!(split('#', "1%2#f", 2), None);
        assert_eq!(split('#', "1%zz#f", 2), None);
        assert_eq!(split('#', "no-separator", 2), None);
    }

    proptest! {
        #[test]
        fn a_key_gives_back_its_fields(
            fields in proptest::collection::vec("[a-z0-9#|%/é]{0,8}", 1..5),
            separator in prop_oneof![Just('#'), Just('|')],
        ) {
            let borrowed: Vec<&str> = fields.iter().map(String::as_str).collect();
            let key = join(separator, &borrowed);
            prop_assert_eq!(split(separator, &key, fields.len()), Some(fields));
        }
    }
}
