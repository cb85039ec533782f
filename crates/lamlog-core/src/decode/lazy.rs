//! Decoding record by record: an iterator that decodes each record only when
//! it is asked for, so that a caller that folds each record in and drops it
//! holds one record's decoded bytes at a time, never the whole input's.
//!
//! A Kinesis event is read lazily: its outer JSON is parsed once, borrowing
//! each record's text, and each record is decoded (base64, capped gunzip,
//! payload JSON) when its turn comes. The other formats are decoded as
//! [`super::decode`] decodes them and handed out one by one: an `awslogs`
//! event is one record, and `lamlog ingest` cuts line inputs into bounded
//! chunks before decoding them.

use serde_json::value::RawValue;

use super::kinesis::{decode_kinesis_record, kinesis_records};
use super::{decode, detect_format, DecodeError, DecodeLimits, Format, Record};

/// The records of one input, decoded one at a time, in input order.
pub struct LazyRecords<'a> {
    format: Format,
    inner: Inner<'a>,
}

enum Inner<'a> {
    Kinesis {
        records: Vec<&'a RawValue>,
        next_index: usize,
        limits: DecodeLimits,
    },
    Decoded(std::vec::IntoIter<Result<Record, DecodeError>>),
}

impl LazyRecords<'_> {
    /// The format that is used (never `Auto`).
    pub fn format(&self) -> Format {
        self.format
    }
}

/// Decodes `input` record by record. Gives the same records, in the same
/// order and with the same positions, as [`super::decode`].
pub fn decode_lazily<'a>(
    input: &'a [u8],
    format: Format,
    limits: &DecodeLimits,
) -> LazyRecords<'a> {
    let format = match format {
        Format::Auto => detect_format(input),
        explicit => explicit,
    };
    let inner = match format {
        Format::Kinesis => match kinesis_records(input) {
            Ok(records) => Inner::Kinesis {
                records,
                next_index: 0,
                limits: *limits,
            },
            Err(error) => Inner::Decoded(vec![Err(error)].into_iter()),
        },
        other => Inner::Decoded(decode(input, other, limits).records.into_iter()),
    };
    LazyRecords { format, inner }
}

impl Iterator for LazyRecords<'_> {
    type Item = Result<Record, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.inner {
            Inner::Kinesis {
                records,
                next_index,
                limits,
            } => {
                let record = records.get(*next_index)?;
                let decoded = decode_kinesis_record(*next_index, record, limits);
                *next_index += 1;
                Some(decoded)
            }
            Inner::Decoded(records) => records.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lazy_records_are_the_decoded_records() {
        let payload = r#"{"owner":"1","logGroup":"/aws/lambda/f","logStream":"s","logEvents":[{"id":"1","timestamp":5,"message":"hi\n"}]}"#;
        let encoded = {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(payload)
        };
        let kinesis = format!(
            r#"{{"Records":[{{"kinesis":{{"data":"{encoded}","sequenceNumber":"1"}}}},7,{{"kinesis":{{"data":"{encoded}","sequenceNumber":"2"}}}}]}}"#
        );
        let limits = DecodeLimits::default();
        for input in [
            kinesis.as_bytes(),
            payload.as_bytes(),
            b"not json",
            b"a\nb\n",
        ] {
            let lazy: Vec<_> = decode_lazily(input, Format::Auto, &limits).collect();
            assert_eq!(lazy, decode(input, Format::Auto, &limits).records);
        }
        assert_eq!(
            decode_lazily(kinesis.as_bytes(), Format::Auto, &limits).count(),
            3
        );
    }
}
