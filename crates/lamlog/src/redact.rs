//! Redaction: the one place where a connection string is made safe to
//! print.
//!
//! Every message, log line and `Debug` output that names a database goes
//! through [`redact_url`], so that a password never reaches a log, whatever
//! form the connection string has: a URL with user info, a `password=` query
//! parameter, or a libpq `key=value` string.

/// Whether `text` is a connection URL (`scheme://…`) rather than a libpq
/// `key=value` string, which may itself hold `://` in a value.
pub fn is_url(text: &str) -> bool {
    text.split_once("://").is_some_and(|(scheme, _)| {
        !scheme.is_empty()
            && scheme.chars().all(|character| {
                character.is_ascii_alphanumeric() || matches!(character, '+' | '-' | '.')
            })
    })
}

/// `url` with the password (of the user-info part, a `password=` query
/// parameter, or a `password=` of a `key=value` connection string) replaced
/// by `***`; what every error message shows.
pub fn redact_url(url: &str) -> String {
    if !is_url(url) {
        return redact_key_values(url);
    }
    let mut redacted = url.to_owned();
    if let Some(scheme_end) = redacted.find("://") {
        let authority_start = scheme_end + 3;
        let after_scheme = &redacted[authority_start..];
        // tokio-postgres ends the user info at the first `@`, wherever it is;
        // RFC 3986 at the last `@` before the path. Whatever either reads as
        // a password is hidden.
        let authority_end = after_scheme.find(['/', '?']).unwrap_or(after_scheme.len());
        let user_info_end = [
            after_scheme.find('@'),
            after_scheme[..authority_end].rfind('@'),
        ]
        .into_iter()
        .flatten()
        .max();
        if let Some(user_info_end) = user_info_end {
            if let Some(colon) = after_scheme[..user_info_end].find(':') {
                redacted.replace_range(
                    authority_start + colon + 1..authority_start + user_info_end,
                    "***",
                );
            }
        }
    }
    if let Some(query_start) = redacted.find('?') {
        let (base, query) = redacted.split_at(query_start + 1);
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if is_password_key(name) => format!("{name}=***"),
                _ => parameter.to_owned(),
            })
            .collect();
        redacted = format!("{base}{}", parameters.join("&"));
    }
    redacted
}

/// Whether a query parameter's name, percent-decoded as tokio-postgres
/// decodes it (`pass%77ord`), is `password`, in any case.
fn is_password_key(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = (bytes[index] == b'%')
            .then(|| name.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    decoded.eq_ignore_ascii_case(b"password")
}

/// `host=db password='a b' user=u` → `host=db password=*** user=u`. The
/// keyword is found in any case, and a value ends where tokio-postgres ends
/// it: at the closing quote, or at whitespace not escaped by `\`.
fn redact_key_values(text: &str) -> String {
    const KEYWORD: &str = "password";
    let lowercase = text.to_ascii_lowercase();
    let mut redacted = String::with_capacity(text.len());
    let mut position = 0;
    while let Some(found) = lowercase[position..].find(KEYWORD) {
        let name_start = position + found;
        let name_end = name_start + KEYWORD.len();
        redacted.push_str(&text[position..name_end]);
        position = name_end;
        let after_name = text[name_end..].trim_start();
        let Some(value) = after_name.strip_prefix('=') else {
            continue;
        };
        let value = value.trim_start();
        let value_end = match value.strip_prefix('\'') {
            // A quoted value ends at the next quote that is not escaped.
            Some(quoted) => {
                let mut escaped = false;
                let close = quoted.char_indices().find(|(_, character)| {
                    let closes = *character == '\'' && !escaped;
                    escaped = *character == '\\' && !escaped;
                    closes
                });
                close.map_or(value.len(), |(index, _)| index + 2)
            }
            None => {
                let mut escaped = false;
                let end = value.char_indices().find(|(_, character)| {
                    let ends = character.is_whitespace() && !escaped;
                    escaped = *character == '\\' && !escaped;
                    ends
                });
                end.map_or(value.len(), |(index, _)| index)
            }
        };
        redacted.push_str("=***");
        position = text.len() - value.len() + value_end;
    }
    redacted.push_str(&text[position..]);
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://postgres:hunter2@127.0.0.1:1/test"),
            "postgres://postgres:***@127.0.0.1:1/test"
        );
        assert_eq!(
            redact_url("postgres://u:p%40ss@db/x?sslmode=require&password=hunter2"),
            "postgres://u:***@db/x?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/test"),
            "postgres://postgres@127.0.0.1:5432/test"
        );
        assert_eq!(redact_url("host=db user=u"), "host=db user=u");
        assert_eq!(
            redact_url("host=db password=hunter2 user=u"),
            "host=db password=*** user=u"
        );
        assert_eq!(
            redact_url("host=db password = 'hun \\' ter2' user=u"),
            "host=db password=*** user=u"
        );
    }

    /// Each form tokio-postgres reads a password from, with the password
    /// `hunter2` spelt so that each piece of it is recognisable.
    #[test]
    fn every_form_tokio_postgres_reads_a_password_from_is_redacted() {
        for (url, expected) in [
            // User info ended by the first `@`, even past a `/`.
            ("postgres://u:hun/ter2@db/x", "postgres://u:***@db/x"),
            // An `@` in the password.
            ("postgres://u:hun@ter2@db/x", "postgres://u:***@db/x"),
            // A percent-encoded parameter name, in any case.
            (
                "postgres://u@db/x?pass%77ord=hunter2&sslmode=require",
                "postgres://u@db/x?pass%77ord=***&sslmode=require",
            ),
            (
                "postgresql://u@db/x?PASSWORD=hunter2",
                "postgresql://u@db/x?PASSWORD=***",
            ),
            // key=value: a keyword in capitals, an escaped space, a quote
            // that never closes, a URL inside a value.
            ("host=db PASSWORD=hunter2", "host=db PASSWORD=***"),
            (
                "host=db password=hun\\ ter2 user=u",
                "host=db password=*** user=u",
            ),
            ("host=db password='hun ter2", "host=db password=***"),
            (
                "application_name=http://x password=hunter2",
                "application_name=http://x password=***",
            ),
            // The keyword as another option's value is kept.
            (
                "user=password password=hunter2",
                "user=password password=***",
            ),
        ] {
            let redacted = redact_url(url);
            assert_eq!(redacted, expected, "{url}");
            for piece in ["hun", "ter2"] {
                assert!(!redacted.contains(piece), "{url} → {redacted}");
            }
        }
    }

    #[test]
    fn urls_are_told_from_key_value_strings_by_their_scheme() {
        for (text, url) in [
            ("postgres://db/x", true),
            ("postgresql://db/x", true),
            ("host=db application_name=http://x", false),
            ("://db", false),
        ] {
            assert_eq!(is_url(text), url, "{text}");
        }
    }
}
