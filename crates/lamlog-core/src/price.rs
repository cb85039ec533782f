//! price (in progress)
