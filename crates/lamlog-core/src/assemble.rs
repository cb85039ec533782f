//! assemble (in progress)
