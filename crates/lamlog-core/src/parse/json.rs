//! JSON-format platform records and application logs.
