//! The fast reader of subscription payload documents: sonic-rs (SIMD JSON),
//! through visitors that can neither overflow the stack nor accept what
//! serde_json would refuse.
//!
//! sonic-rs skips a value it is not asked to read (an unknown field, or a
//! container where a string was expected) by recursion without a depth limit,
//! so a few hundred kilobytes of `[` would overflow the stack. Here every
//! value is read with `deserialize_any`, which sonic-rs does count against its
//! depth limit: unknown fields are walked by [`Ignored`], which keeps a
//! smaller limit of its own, and a value of the wrong type is refused by its
//! visitor without being skipped. Past the limit the document is simply not
//! read here, and serde_json reads it.
//!
//! The reader accepts a subset of what serde_json with the derived `Payload`
//! of `payload.rs` accepts, and reads it the same way: an object (not the
//! array form serde's derive also takes), no duplicate keys, strings or
//! `null` where the derive takes `Option<String>`, integers in `i64` range for
//! timestamps. Whatever it declines, serde_json reads.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};

use super::EventId;
use super::LogEvent;

/// The fields of a payload document, as both readers give them.
pub(super) struct PayloadFields {
    pub(super) owner: Option<String>,
    pub(super) log_group: Option<String>,
    pub(super) log_stream: Option<String>,
    pub(super) message_type: Option<String>,
    pub(super) log_events: Option<Vec<LogEvent>>,
}

/// The payload, when sonic-rs reads `json` as exactly one payload object
/// (whitespace around it allowed); `None` says only "read it with
/// serde_json", never that it is bad.
pub(super) fn read_fast(json: &[u8]) -> Option<PayloadFields> {
    sonic_rs::from_slice::<FastPayload>(json)
        .ok()
        .map(|payload| payload.0)
}

/// Sets a field once: a second value for it is refused, as the derive does.
fn set_once<T, E: Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

struct FastPayload(PayloadFields);

impl<'de> Deserialize<'de> for FastPayload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PayloadVisitor)
    }
}

struct PayloadVisitor;

impl<'de> Visitor<'de> for PayloadVisitor {
    type Value = FastPayload;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a subscription payload object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastPayload, A::Error> {
        // Each slot is `Some` once its key was seen, holding the field's value.
        let (mut owner, mut log_group, mut log_stream, mut message_type, mut log_events) =
            (None, None, None, None, None);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Owner => set_once(&mut owner, map.next_value::<Text>()?.0, "owner")?,
                Key::LogGroup => set_once(&mut log_group, map.next_value::<Text>()?.0, "logGroup")?,
                Key::LogStream => {
                    set_once(&mut log_stream, map.next_value::<Text>()?.0, "logStream")?
                }
                Key::MessageType => set_once(
                    &mut message_type,
                    map.next_value::<Text>()?.0,
                    "messageType",
                )?,
                Key::LogEvents => set_once(
                    &mut log_events,
                    map.next_value::<OptEvents>()?.0,
                    "logEvents",
                )?,
                _ => {
                    map.next_value_seed(Ignored::TOP)?;
                }
            }
        }
        Ok(FastPayload(PayloadFields {
            owner: owner.flatten(),
            log_group: log_group.flatten(),
            log_stream: log_stream.flatten(),
            message_type: message_type.flatten(),
            log_events: log_events.flatten(),
        }))
    }
}

/// A key of an object, as far as the two objects here care; read without
/// allocating.
enum Key {
    Owner,
    LogGroup,
    LogStream,
    MessageType,
    LogEvents,
    Id,
    Timestamp,
    Message,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an object key")
    }

    fn visit_str<E: Error>(self, key: &str) -> Result<Key, E> {
        Ok(match key {
            "owner" => Key::Owner,
            "logGroup" => Key::LogGroup,
            "logStream" => Key::LogStream,
            "messageType" => Key::MessageType,
            "logEvents" => Key::LogEvents,
            "id" => Key::Id,
            "timestamp" => Key::Timestamp,
            "message" => Key::Message,
            _ => Key::Other,
        })
    }
}

/// A string, taken as it comes.
struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = String;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<String, E> {
        Ok(text.to_owned())
    }

    fn visit_string<E: Error>(self, text: String) -> Result<String, E> {
        Ok(text)
    }
}

/// A string or `null`, as a `T` made from its text: a `String`, or an
/// [`EventId`] (held inline, without an allocation).
struct OptText<T>(Option<T>);

/// A string field of the payload, or `null`.
type Text = OptText<String>;

impl<'de, T: From<String> + for<'a> From<&'a str>> Deserialize<'de> for OptText<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(OptTextVisitor(PhantomData))
    }
}

struct OptTextVisitor<T>(PhantomData<T>);

impl<'de, T: From<String> + for<'a> From<&'a str>> Visitor<'de> for OptTextVisitor<T> {
    type Value = OptText<T>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a string or null")
    }

    fn visit_unit<E: Error>(self) -> Result<OptText<T>, E> {
        Ok(OptText(None))
    }

    fn visit_str<E: Error>(self, text: &str) -> Result<OptText<T>, E> {
        Ok(OptText(Some(T::from(text))))
    }

    fn visit_string<E: Error>(self, text: String) -> Result<OptText<T>, E> {
        Ok(OptText(Some(T::from(text))))
    }
}

/// `logEvents`: an array of events, or `null`.
struct OptEvents(Option<Vec<LogEvent>>);

impl<'de> Deserialize<'de> for OptEvents {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EventsVisitor)
    }
}

struct EventsVisitor;

impl<'de> Visitor<'de> for EventsVisitor {
    type Value = OptEvents;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of log events or null")
    }

    fn visit_unit<E: Error>(self) -> Result<OptEvents, E> {
        Ok(OptEvents(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<OptEvents, A::Error> {
        let mut events = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(FastEvent(event)) = seq.next_element()? {
            events.push(event);
        }
        Ok(OptEvents(Some(events)))
    }
}

/// One entry of `logEvents`.
struct FastEvent(LogEvent);

impl<'de> Deserialize<'de> for FastEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EventVisitor)
    }
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = FastEvent;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a log event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FastEvent, A::Error> {
        let (mut id, mut timestamp, mut message) = (None, None, None);
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Id => set_once(&mut id, map.next_value::<OptText<EventId>>()?.0, "id")?,
                Key::Timestamp => set_once(
                    &mut timestamp,
                    map.next_value::<Timestamp>()?.0,
                    "timestamp",
                )?,
                Key::Message => set_once(&mut message, map.next_value::<Message>()?.0, "message")?,
                _ => {
                    map.next_value_seed(Ignored::TOP)?;
                }
            }
        }
        Ok(FastEvent(LogEvent {
            id: id.flatten(),
            timestamp_ms: Some(timestamp.ok_or_else(|| A::Error::missing_field("timestamp"))?),
            message: message.ok_or_else(|| A::Error::missing_field("message"))?,
        }))
    }
}

/// A timestamp: an integer in `i64` range.
struct Timestamp(i64);

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an integer timestamp")
    }

    fn visit_i64<E: Error>(self, value: i64) -> Result<Timestamp, E> {
        Ok(Timestamp(value))
    }

    fn visit_u64<E: Error>(self, value: u64) -> Result<Timestamp, E> {
        i64::try_from(value)
            .map(Timestamp)
            .map_err(|_| E::custom("timestamp out of range"))
    }
}

/// A message: a string (never `null`).
struct Message(String);

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor).map(Message)
    }
}

/// How deep an unknown field may nest before the document is left to
/// serde_json. CloudWatch's own unknown fields (`subscriptionFilters`) nest
/// one level; the bound keeps this reader's recursion, and its stack, small.
const MAX_IGNORED_DEPTH: usize = 32;

/// Any value, walked and dropped, `depth` containers deep. sonic-rs's own
/// skipping recurses without a limit, and its depth limit (255 levels) is
/// more stack than a debug build's frames fit in 2 MB, so this one counts.
struct Ignored {
    depth: usize,
}

impl Ignored {
    const TOP: Ignored = Ignored { depth: 0 };

    fn inner(&self) -> Ignored {
        Ignored {
            depth: self.depth + 1,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Ignored {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Ignored {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any value")
    }

    fn visit_bool<E: Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E: Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E: Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E: Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E: Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E: Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if self.depth >= MAX_IGNORED_DEPTH {
            return Err(A::Error::custom("nested too deep for the fast reader"));
        }
        while seq.next_element_seed(self.inner())?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        if self.depth >= MAX_IGNORED_DEPTH {
            return Err(A::Error::custom("nested too deep for the fast reader"));
        }
        while map.next_key::<Key>()?.is_some() {
            map.next_value_seed(self.inner())?;
        }
        Ok(())
    }
}
