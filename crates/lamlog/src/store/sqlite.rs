//! The SQLite store (in progress).
