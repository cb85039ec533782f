//! Rows for the stores' unit tests.

use lamlog_core::assemble::{Invocation, InvocationKey};
use lamlog_core::meta::Architecture;

use crate::store::StoredInvocation;

/// A reported invocation of `function` at `start_time_ms`, in account
/// `123456789012`: 12.5 ms at 128 MB, billed 13 ms.
pub(crate) fn reported(function: &str, request_id: &str, start_time_ms: i64) -> StoredInvocation {
    let key = InvocationKey {
        account: "123456789012".to_owned(),
        function: function.to_owned(),
        request_id: request_id.to_owned(),
    };
    let mut invocation = Invocation::new(key, &format!("/aws/lambda/{function}"));
    invocation.start_time_ms = Some(start_time_ms);
    invocation.duration_ms = Some(12.5);
    invocation.billed_duration_ms = Some(13);
    invocation.memory_size_mb = Some(128);
    invocation.max_memory_used_mb = Some(64);
    StoredInvocation {
        invocation,
        enriched: false,
        tenant: None,
        architecture: Architecture::X86_64,
        region: None,
        cost_usd: Some(0.000_000_2),
    }
}
