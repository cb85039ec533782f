//! What the assembled state of a batch costs in memory, estimated as it grows.
//!
//! A batch's log events are dropped once folded in, so what a batch holds is
//! its invocations. Their cost depends on the input (a megabyte of START
//! lines makes thousands of invocations, a megabyte of application lines
//! none), so the callers that bound a batch's memory — the Lambda handler's
//! slices, `lamlog ingest`'s batches — bound this figure, and commit when it
//! is reached. It is an estimate, on the high side: the struct, its strings,
//! the request map's key and slot, and the allocator's overhead per
//! allocation. Computing it costs a few additions per new invocation.

use super::invocation::Invocation;

/// The allocator's bookkeeping per heap allocation (glibc: 8 to 16 bytes,
/// rounded up to 16).
const ALLOCATION_OVERHEAD_BYTES: usize = 16;

/// A request table entry: the invocation, a control byte, and the table's
/// spare slots (hashbrown keeps at most 7/8 full, and grows by doubling, so a
/// slot costs up to twice its size).
const ENTRY_BYTES: usize = 2 * (std::mem::size_of::<Invocation>() + 1);

/// Bytes a new invocation of `request_id` costs: the entry and the four
/// strings it is created with.
pub(super) fn new_invocation_bytes(
    account: &str,
    function: &str,
    request_id: &str,
    log_group: &str,
) -> usize {
    let texts = request_id.len() + account.len() + function.len() + log_group.len();
    ENTRY_BYTES + texts + 4 * ALLOCATION_OVERHEAD_BYTES
}

/// Bytes a new (account, function) group costs: its map key and an empty map.
pub(super) fn new_group_bytes(account: &str, function: &str) -> usize {
    // A BTreeMap node slot, the key's two strings, and the request map header.
    64 + account.len() + function.len() + 2 * ALLOCATION_OVERHEAD_BYTES
}

/// Bytes an environment's entry costs: its three strings and a map node slot.
pub(super) fn environment_bytes(key: &super::EnvironmentKey) -> usize {
    64 + key.account.len()
        + key.log_group.len()
        + key.log_stream.len()
        + 3 * ALLOCATION_OVERHEAD_BYTES
}

/// Bytes held by the optional strings that later lines fill in.
pub(super) fn optional_text_bytes(invocation: &Invocation) -> usize {
    [
        &invocation.version,
        &invocation.log_stream,
        &invocation.xray_trace_id,
        &invocation.error_type,
    ]
    .into_iter()
    .flatten()
    .map(|text| text.len() + ALLOCATION_OVERHEAD_BYTES)
    .sum()
}

#[cfg(test)]
mod tests {
    use crate::assemble::Assembler;
    use crate::parse::parse;

    fn add(assembler: &mut Assembler, message: &str) {
        assembler.add_line("1", "/aws/lambda/f", Some(1), &parse(message));
    }

    #[test]
    fn only_new_invocations_and_their_texts_grow_the_estimate() {
        let mut assembler = Assembler::new();
        add(&mut assembler, "free text\n");
        let group_only = assembler.held_bytes();
        add(&mut assembler, "START RequestId: r1 Version: $LATEST\n");
        let one = assembler.held_bytes();
        assert!(one > group_only + std::mem::size_of::<super::Invocation>());
        add(&mut assembler, "END RequestId: r1\n");
        add(&mut assembler, "more free text\n");
        assert_eq!(assembler.held_bytes(), one, "known request, no new text");
        add(&mut assembler, "START RequestId: r2 Version: $LATEST\n");
        assert_eq!(
            assembler.held_bytes() - one,
            one - group_only,
            "a second invocation alike costs the same"
        );
    }
}
