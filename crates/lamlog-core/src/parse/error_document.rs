//! The error document of an unhandled error, read even when it was cut short.
//!
//! Every runtime reports an unhandled error as a JSON object,
//! `{"errorType","errorMessage","stackTrace"|"stack",…}`: Node prints it after
//! `Invoke Error \t`, and in the JSON log format it is the whole message
//! (with `requestId` and `level` or `log_level`). A stack trace can be long,
//! and CloudWatch keeps at most 256 KB of an event, so the document often
//! stops in the middle of its stack. Its `errorType` comes first and is what
//! the pipeline needs, so it must not be lost with the tail.
//!
//! [`read`] walks the top-level keys of the object in order and keeps each
//! field it wants as soon as that field's value is complete; where the text
//! stops, or stops making sense, it keeps what it has. A value cut in its
//! middle is never kept: `{"errorType":"TypeErr` yields no error type.
//! Strings borrow from the document unless they hold escapes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserializer;

use super::json_value::Scalar;

/// The fields of an error document that were complete before any cut.
#[derive(Debug, Default, PartialEq)]
pub(super) struct ErrorFields<'a> {
    /// `errorType`.
    pub(super) error_type: Option<Cow<'a, str>>,
    /// `requestId` (the JSON log format).
    pub(super) request_id: Option<Cow<'a, str>>,
    /// `level`, or the Python runtime's `log_level`.
    pub(super) level: Option<Cow<'a, str>>,
}

/// Reads the fields of `document`, a JSON object that may stop anywhere.
/// Whatever is not an object, or not a string where a string is wanted,
/// is left out.
pub(super) fn read(document: &str) -> ErrorFields<'_> {
    let mut fields = ErrorFields::default();
    let mut deserializer = serde_json::Deserializer::from_str(document);
    // The error, if any, says where the document stopped; every field that
    // was complete before it is already in `fields`.
    let _ = FieldsSeed {
        fields: &mut fields,
    }
    .deserialize(&mut deserializer);
    fields
}

/// Fills `fields` entry by entry, so that entries before an error stay.
struct FieldsSeed<'f, 'a> {
    fields: &'f mut ErrorFields<'a>,
}

impl<'de: 'a, 'a> DeserializeSeed<'de> for FieldsSeed<'_, 'a> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de: 'a, 'a> Visitor<'de> for FieldsSeed<'_, 'a> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an error document")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Scalar<'de>>()? {
            let slot = match key.as_str() {
                Some("errorType") => &mut self.fields.error_type,
                Some("requestId") => &mut self.fields.request_id,
                Some("level") | Some("log_level") => &mut self.fields.level,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            // A key seen twice keeps its first value, as a reader of the
            // cut document would.
            let value = map.next_value::<Scalar<'de>>()?.into_cow();
            if slot.is_none() {
                *slot = value;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCUMENT: &str = r#"{"errorType":"TypeError","requestId":"r-1","level":"ERROR","errorMessage":"x","stack":["TypeError: x","    at handler (/var/task/index.js:3:5)"]}"#;

    #[test]
    fn a_whole_document_yields_its_fields() {
        let fields = read(DOCUMENT);
        assert_eq!(fields.error_type.as_deref(), Some("TypeError"));
        assert_eq!(fields.request_id.as_deref(), Some("r-1"));
        assert_eq!(fields.level.as_deref(), Some("ERROR"));
        assert!(matches!(fields.error_type, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn every_cut_keeps_exactly_the_fields_completed_before_it() {
        let type_end = DOCUMENT.find(r#","requestId""#).expect("the key");
        for cut in 0..=DOCUMENT.len() {
            let fields = read(&DOCUMENT[..cut]);
            let expected = (cut >= type_end).then_some("TypeError");
            assert_eq!(fields.error_type.as_deref(), expected, "cut at {cut}");
        }
    }

    #[test]
    fn other_shapes_yield_nothing() {
        for text in [
            "",
            "[",
            "[\"errorType\"]",
            "\"errorType\"",
            "{\"errorType\":7}",
        ] {
            assert_eq!(read(text), ErrorFields::default(), "{text:?}");
        }
    }

    #[test]
    fn escaped_values_are_owned() {
        let fields = read(r#"{"errorType":"Type\u0045rror""#);
        assert_eq!(fields.error_type.as_deref(), Some("TypeError"));
    }
}
