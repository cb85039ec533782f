//! How a PostgreSQL error is classified into a [`StoreError`]: by asking
//! the error (`is_closed()`, its SQLSTATE), never by matching its text. The
//! class decides what the caller does: retry (transient), isolate the
//! refused data (rejected), or fail.

use tokio_postgres::error::SqlState;

use crate::store::StoreError;

/// Classifies a PostgreSQL error by asking it, never by its text:
/// - a closed connection, an I/O failure, SQLSTATE class 08 (connection
///   exception) or 57P01–57P03 (the server shut the session down) are
///   [`StoreError::Connection`];
/// - 40001 (serialization failure), 40P01 (deadlock detected), 55P03
///   (lock not available: `lock_timeout`) and 57014 (query cancelled:
///   `statement_timeout`) are [`StoreError::Busy`];
/// - classes 22 (data exception), 23 (integrity constraint violation) and
///   54 (program limit exceeded, such as a key too large for its index) are
///   [`StoreError::Rejected`]: the data is to blame;
/// - anything else is [`StoreError::Statement`].
///
/// Both of the first two are transient: the batch is retried whole.
pub(super) fn classify(context: &str, error: tokio_postgres::Error) -> StoreError {
    let message = format!("{context}: {}", describe(&error));
    if error.is_closed() {
        return StoreError::Connection(message);
    }
    match error.code() {
        Some(code)
            if code == &SqlState::T_R_SERIALIZATION_FAILURE
                || code == &SqlState::T_R_DEADLOCK_DETECTED
                || code == &SqlState::LOCK_NOT_AVAILABLE
                // `statement_timeout` (set from the deadline) cancelled it.
                || code == &SqlState::QUERY_CANCELED =>
        {
            StoreError::Busy(message)
        }
        Some(code)
            if code.code().starts_with("08")
                || code == &SqlState::ADMIN_SHUTDOWN
                || code == &SqlState::CRASH_SHUTDOWN
                || code == &SqlState::CANNOT_CONNECT_NOW =>
        {
            StoreError::Connection(message)
        }
        // Data exception, integrity constraint violation, program limit
        // exceeded (a key too large for its index): the data is refused.
        Some(code)
            if code.code().starts_with("22")
                || code.code().starts_with("23")
                || code.code().starts_with("54") =>
        {
            StoreError::Rejected(message)
        }
        Some(_) => StoreError::Statement(message),
        // No SQLSTATE: the failure is below SQL (I/O, TLS, protocol), so
        // the connection is what broke.
        None => StoreError::Connection(message),
    }
}

/// The error with its database detail (tokio-postgres' `Display` shows only
/// "db error" for server errors).
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db_error) => format!("{db_error}"),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

/// [`classify`] as a closure for `map_err`.
pub(super) fn failed(context: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |error| classify(context, error)
}
