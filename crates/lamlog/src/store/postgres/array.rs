//! A one-dimensional array argument whose elements are any [`ToSql`]
//! values of one type: a column of rows (`rows::SqlRow::values`) sent as one
//! array, to be spread back into rows by `unnest` on the server.

use std::error::Error;

use bytes::{BufMut, BytesMut};
use tokio_postgres::types::{to_sql_checked, IsNull, Kind, ToSql, Type};

/// The elements of an array of `element`s.
#[derive(Debug)]
pub(super) struct Column<'a> {
    element: Type,
    values: Vec<&'a (dyn ToSql + Sync)>,
}

impl<'a> Column<'a> {
    /// An empty column of `element`s, with room for `capacity` values.
    pub fn new(element: Type, capacity: usize) -> Column<'a> {
        Column {
            element,
            values: Vec::with_capacity(capacity),
        }
    }

    /// Adds a value.
    pub fn push(&mut self, value: &'a (dyn ToSql + Sync)) {
        self.values.push(value);
    }
}

type BoxError = Box<dyn Error + Sync + Send>;

impl ToSql for Column<'_> {
    /// The binary array format: dimensions (1), a has-nulls flag, the
    /// element type, the length and lower bound (1), then each element as
    /// its length (−1 for NULL) and bytes.
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match ty.kind() {
            Kind::Array(member) if *member == self.element => {}
            _ => return Err(format!("a {} column sent as {ty}", self.element).into()),
        }
        let length = i32::try_from(self.values.len())?;
        out.put_i32(1);
        let has_nulls_at = out.len();
        out.put_i32(0);
        out.put_u32(self.element.oid());
        out.put_i32(length);
        out.put_i32(1);
        let mut has_nulls = false;
        for value in &self.values {
            let length_at = out.len();
            out.put_i32(0);
            match value.to_sql_checked(&self.element, out)? {
                IsNull::Yes => {
                    has_nulls = true;
                    out[length_at..length_at + 4].copy_from_slice(&(-1_i32).to_be_bytes());
                }
                IsNull::No => {
                    let written = i32::try_from(out.len() - length_at - 4)?;
                    out[length_at..length_at + 4].copy_from_slice(&written.to_be_bytes());
                }
            }
        }
        if has_nulls {
            out[has_nulls_at..has_nulls_at + 4].copy_from_slice(&1_i32.to_be_bytes());
        }
        Ok(IsNull::No)
    }

    /// Checked in `to_sql`, which knows the element type.
    fn accepts(ty: &Type) -> bool {
        matches!(ty.kind(), Kind::Array(_))
    }

    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_binary_array_format() {
        let (one, none): (Option<i64>, Option<i64>) = (Some(7), None);
        let mut column = Column::new(Type::INT8, 2);
        column.push(&one);
        column.push(&none);
        let mut out = BytesMut::new();
        assert!(matches!(
            column.to_sql(&Type::INT8_ARRAY, &mut out),
            Ok(IsNull::No)
        ));
        let mut expected: Vec<u8> = Vec::new();
        for word in [1_i32, 1, 20, 2, 1, 8] {
            expected.extend_from_slice(&word.to_be_bytes());
        }
        expected.extend_from_slice(&7_i64.to_be_bytes());
        expected.extend_from_slice(&(-1_i32).to_be_bytes());
        assert_eq!(&out[..], &expected[..]);
        assert!(column.to_sql(&Type::TEXT_ARRAY, &mut out).is_err());
    }
}
