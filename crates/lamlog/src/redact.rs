//! Redaction: the one place where a connection string is made safe to
//! print.
//!
//! Every message, log line and `Debug` output that names a database goes
//! through [`redact_url`], so that a password never reaches a log, whatever
//! form the connection string has: a URL with user info, a `password=` query
//! parameter, or a libpq `key=value` string.

/// `url` with the password (of the user-info part, a `password=` query
/// parameter, or a `password=` of a `key=value` connection string) replaced
/// by `***`; what every error message shows.
pub fn redact_url(url: &str) -> String {
    if !url.contains("://") {
        return redact_key_values(url);
    }
    let mut redacted = url.to_owned();
    if let Some(scheme_end) = redacted.find("://") {
        let authority_start = scheme_end + 3;
        let authority_end = redacted[authority_start..]
            .find(['/', '?'])
            .map_or(redacted.len(), |offset| authority_start + offset);
        if let Some(at) = redacted[authority_start..authority_end].rfind('@') {
            let user_info_end = authority_start + at;
            if let Some(colon) = redacted[authority_start..user_info_end].find(':') {
                redacted.replace_range(authority_start + colon + 1..user_info_end, "***");
            }
        }
    }
    if let Some(query_start) = redacted.find('?') {
        let (base, query) = redacted.split_at(query_start + 1);
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("password") => format!("{name}=***"),
                _ => parameter.to_owned(),
            })
            .collect();
        redacted = format!("{base}{}", parameters.join("&"));
    }
    redacted
}

/// `host=db password='a b' user=u` → `host=db password=*** user=u`.
fn redact_key_values(text: &str) -> String {
    let mut redacted = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(found) = rest.find("password") {
        let (before, from) = rest.split_at(found);
        redacted.push_str(before);
        let after_name = from["password".len()..].trim_start();
        let Some(value) = after_name.strip_prefix('=') else {
            redacted.push_str("password");
            rest = &from["password".len()..];
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
            None => value.find(char::is_whitespace).unwrap_or(value.len()),
        };
        redacted.push_str("password=***");
        rest = &value[value_end..];
    }
    redacted.push_str(rest);
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
}
