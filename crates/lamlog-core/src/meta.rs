//! meta (in progress)
