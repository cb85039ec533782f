//! Out-of-memory signatures of the runtimes.
//!
//! In: a whole message. Out: whether it carries one of the signatures
//! ARCHITECTURE.md lists:
//!
//! - Node's `JavaScript heap out of memory`;
//! - Go's `runtime: out of memory`;
//! - Java's `java.lang.OutOfMemoryError`;
//! - Python's `MemoryError`;
//! - Ruby's `NoMemoryError`.
//!
//! Every application line is scanned, so the scan must cost about one pass of
//! SIMD search and nothing more. All five signatures share the rare bytes
//! `emory`, so one `memmem` finder, built once, looks for those, and only
//! where they occur are the few bytes around them compared. The three
//! `…MemoryError` names all end in `MemoryError`, which is what is checked;
//! a user's own `SomeMemoryError` therefore counts too, which we accept over
//! a second pass.

use std::sync::LazyLock;

use memchr::memmem::Finder;

static EMORY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("emory"));

/// True when `message` carries a runtime's out-of-memory signature.
pub(super) fn has_signature(message: &str) -> bool {
    let bytes = message.as_bytes();
    EMORY.find_iter(bytes).any(|at| {
        let before = &bytes[..at];
        let after = &bytes[at + "emory".len()..];
        (before.ends_with(b"M") && after.starts_with(b"Error"))
            || before.ends_with(b"JavaScript heap out of m")
            || before.ends_with(b"runtime: out of m")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_signature() {
        for message in [
            "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory",
            "fatal error: runtime: out of memory",
            "Exception in thread \"main\" java.lang.OutOfMemoryError: Java heap space",
            "[ERROR] MemoryError\rTraceback (most recent call last):",
            "failed to allocate memory (NoMemoryError)",
        ] {
            assert!(has_signature(message), "{message:?}");
        }
    }

    #[test]
    fn ignores_near_misses() {
        for message in [
            "memory is fine",
            "Memory Size: 128 MB",
            "we are out of memory budget",
            "Runtime.OutOfMemory",
            "emory",
            "MemoryErro",
        ] {
            assert!(!has_signature(message), "{message:?}");
        }
    }
}
