//! Running the `lamlog` binary from a test.

use std::process::{Command, Output};

/// Runs `lamlog ARGS` with no `DATABASE_URL` in its environment (so a store
/// is only what the arguments name); returns what it printed, whatever its
/// exit status.
pub fn lamlog_output(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lamlog"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

/// [`lamlog_output`], asserting that it succeeded.
pub fn lamlog(args: &[&str]) -> Output {
    let output = lamlog_output(args);
    assert!(
        output.status.success(),
        "lamlog {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}
