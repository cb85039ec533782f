//! A log event's id, held without an allocation of its own.
//!
//! CloudWatch's event ids are 56-digit decimal strings, one per event. Held
//! as a `String`, each cost an allocation and its free: about 6 % of the
//! decode floor (BENCHMARKS §1). An id of up to [`INLINE_BYTES`] bytes, which
//! every CloudWatch id is, is kept inline; a longer one (NDJSON input may
//! carry any string) on the heap. Each text has one form, so the derived
//! equality and hash are those of the text.

use std::fmt;
use std::ops::Deref;

/// The longest id held inline: CloudWatch's are 56 digits.
pub const INLINE_BYTES: usize = 56;

/// A log event's id, compared, hashed and shown as its text.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EventId(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    /// The text's bytes, then zeros.
    Inline {
        len: u8,
        bytes: [u8; INLINE_BYTES],
    },
    Heap(Box<str>),
}

impl EventId {
    /// The id whose text is `text`.
    pub fn new(text: &str) -> EventId {
        if text.len() > INLINE_BYTES {
            return EventId(Repr::Heap(text.into()));
        }
        let mut bytes = [0; INLINE_BYTES];
        bytes[..text.len()].copy_from_slice(text.as_bytes());
        EventId(Repr::Inline {
            len: text.len() as u8,
            bytes,
        })
    }

    /// The id's text.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // The bytes were copied whole from a `str`: always UTF-8.
            Repr::Inline { len, bytes } => {
                std::str::from_utf8(&bytes[..usize::from(*len)]).unwrap_or_default()
            }
            Repr::Heap(text) => text,
        }
    }
}

impl Deref for EventId {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for EventId {
    fn from(text: &str) -> EventId {
        EventId::new(text)
    }
}

impl From<String> for EventId {
    fn from(text: String) -> EventId {
        if text.len() > INLINE_BYTES {
            EventId(Repr::Heap(text.into_boxed_str()))
        } else {
            EventId::new(&text)
        }
    }
}

impl PartialEq<&str> for EventId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), formatter)
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl serde::Serialize for EventId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for EventId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<EventId, D::Error> {
        deserializer.deserialize_str(TextVisitor)
    }
}

/// Builds the id from the text as the reader hands it, borrowed or not.
struct TextVisitor;

impl serde::de::Visitor<'_> for TextVisitor {
    type Value = EventId;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<EventId, E> {
        Ok(EventId::new(text))
    }

    fn visit_string<E: serde::de::Error>(self, text: String) -> Result<EventId, E> {
        Ok(EventId::from(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_length_reads_back_as_its_text_and_compares_as_it() {
        let texts = [
            String::new(),
            "7".to_owned(),
            "3".repeat(INLINE_BYTES - 1),
            "31953106606966983378809025079804211143289615424298221568".to_owned(),
            "4".repeat(INLINE_BYTES + 1),
            "é".repeat(INLINE_BYTES / 2),
            "ü".repeat(INLINE_BYTES),
        ];
        for text in &texts {
            let id = EventId::new(text);
            assert_eq!(id.as_str(), text);
            assert_eq!(id, EventId::from(text.clone()), "{text}: one form per text");
            assert_eq!(format!("{id:?}"), format!("{text:?}"));
            assert_eq!(
                serde_json::to_string(&id).unwrap(),
                serde_json::to_string(text).unwrap()
            );
            let read: EventId =
                serde_json::from_str(&serde_json::to_string(text).unwrap()).unwrap();
            assert_eq!(read, id);
        }
        for (left, right) in texts.iter().zip(texts.iter().skip(1)) {
            assert_ne!(EventId::new(left), EventId::new(right), "{left} / {right}");
        }
        assert_ne!(EventId::new("1"), EventId::new("10"));
        assert_ne!(EventId::new("1"), EventId::new("1\0"));
    }
}
