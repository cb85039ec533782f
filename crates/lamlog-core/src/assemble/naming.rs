//! Which function a line belongs to, from its log group and log stream.
//!
//! A function's own log group is `/aws/lambda/NAME`. Since 2023 a function
//! can log to a custom log group instead, and several functions can share
//! one; Lambda then names each log stream
//! `YYYY/MM/DD/<function name>[<version>]<execution environment id>`, so the
//! stream says whose lines they are. A custom group whose streams are not of
//! that shape is taken as one function named after the group, which the
//! metadata can map to a function (`log_group = …`).

/// The function (and, from a custom group's stream, the version) that lines
/// of `log_group` and `log_stream` belong to: `NAME` for `/aws/lambda/NAME`,
/// the function a shared custom group's stream names, the group itself
/// otherwise (also when the input names no stream).
pub fn function_of<'a>(
    log_group: &'a str,
    log_stream: Option<&'a str>,
) -> (&'a str, Option<&'a str>) {
    match log_group.strip_prefix("/aws/lambda/") {
        Some(name) if !name.is_empty() => (name, None),
        _ => match log_stream.and_then(function_in_stream) {
            Some((function, version)) => (function, Some(version)),
            None => (log_group, None),
        },
    }
}

/// `(function, version)` of a stream named
/// `YYYY/MM/DD/<function>[<version>]<environment id>`, when the function is
/// a valid Lambda function name (1–64 of `A-Z a-z 0-9 - _`) and the version
/// `$LATEST` or a number.
fn function_in_stream(stream: &str) -> Option<(&str, &str)> {
    let date = stream.get(..11)?;
    let date_shape = date.bytes().enumerate().all(|(index, byte)| match index {
        4 | 7 | 10 => byte == b'/',
        _ => byte.is_ascii_digit(),
    });
    if !date_shape {
        return None;
    }
    let rest = &stream[11..];
    let (function, rest) = rest.split_once('[')?;
    let (version, environment) = rest.split_once(']')?;
    let function_ok = (1..=64).contains(&function.len())
        && function
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_');
    let version_ok = version == "$LATEST"
        || (!version.is_empty() && version.bytes().all(|byte| byte.is_ascii_digit()));
    (function_ok && version_ok && !environment.is_empty()).then_some((function, version))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_functions_own_group_names_it() {
        assert_eq!(
            function_of("/aws/lambda/orders", Some("2026/11/01/[$LATEST]abc")),
            ("orders", None)
        );
        assert_eq!(
            function_of("/aws/lambda/orders", Some("2026/11/01/billing[3]abc")),
            ("orders", None),
            "the function's own group wins over any stream name"
        );
    }

    #[test]
    fn a_shared_custom_group_is_split_by_stream() {
        let group = "/shared/app";
        assert_eq!(
            function_of(group, Some("2026/11/01/orders[$LATEST]0a1b2c")),
            ("orders", Some("$LATEST"))
        );
        assert_eq!(
            function_of(group, Some("2026/11/01/billing_v2[17]ffee")),
            ("billing_v2", Some("17"))
        );
    }

    #[test]
    fn other_streams_leave_the_group_as_the_function() {
        let group = "/shared/app";
        for stream in [
            None,
            Some("2026/11/01/[$LATEST]abc"),
            Some("2026/11/01/orders[$LATEST]"),
            Some("2026/11/01/orders[beta]abc"),
            Some("2026/11/01/or ders[1]abc"),
            Some("2026-11-01/orders[1]abc"),
            Some("orders[1]abc"),
            Some("2026/11/01/orders"),
        ] {
            assert_eq!(function_of(group, stream), (group, None), "{stream:?}");
        }
        let long = format!("2026/11/01/{}[1]abc", "f".repeat(65));
        assert_eq!(function_of(group, Some(&long)), (group, None));
    }
}
