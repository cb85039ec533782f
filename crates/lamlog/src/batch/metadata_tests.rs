//! `metadata.rs` against the plain way of doing the same: one lookup and one
//! map entry per invocation, whatever the order the invocations come in.

use std::collections::{BTreeMap, BTreeSet};

use lamlog_core::assemble::{Invocation, InvocationKey};
use lamlog_core::meta::{meta_key, FunctionMeta};
use proptest::prelude::*;

use super::{apply_metadata, meta_keys, meta_of};
use crate::enrich::Resolved;

/// Every invocation looked up on its own, and merged through a map by key.
fn reference(
    invocations: Vec<Invocation>,
    resolved: &BTreeMap<String, Resolved>,
) -> (Vec<Invocation>, BTreeMap<String, FunctionMeta>) {
    let mut by_key: BTreeMap<(String, String, String), Invocation> = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    for mut invocation in invocations {
        if let Some(entry) = resolved.get(&meta_key(&invocation.account, &invocation.function)) {
            invocation.function.clone_from(&entry.function);
            metadata.insert(
                meta_key(&invocation.account, &entry.function),
                entry.meta.clone(),
            );
        }
        let key = (
            invocation.account.clone(),
            invocation.function.clone(),
            invocation.request_id.clone(),
        );
        match by_key.get_mut(&key) {
            Some(existing) => {
                existing.merge(&invocation);
            }
            None => {
                by_key.insert(key, invocation);
            }
        }
    }
    (by_key.into_values().collect(), metadata)
}

fn invocation(account: &str, function: &str, request_id: &str, evidence: u8) -> Invocation {
    let key = InvocationKey {
        account: account.to_owned(),
        function: function.to_owned(),
        request_id: request_id.to_owned(),
    };
    let mut invocation = Invocation::new(key, &format!("/aws/lambda/{function}"));
    // Evidence that differs between pieces of one request, so that a merge
    // in another order or a lost piece shows.
    if evidence & 1 != 0 {
        invocation.start_time_ms = Some(1_700_000_000_000 + i64::from(evidence));
    }
    if evidence & 2 != 0 {
        invocation.duration_ms = Some(f64::from(evidence) * 1.5);
        invocation.memory_size_mb = Some(128 * u32::from(evidence % 4 + 1));
    }
    if evidence & 4 != 0 {
        invocation.max_memory_used_mb = Some(u32::from(evidence));
    }
    if evidence & 8 != 0 {
        invocation.version = Some(format!("{}", evidence % 3));
    }
    invocation
}

fn resolved_entry(function: &str, tenant: &str) -> Resolved {
    Resolved {
        function: function.to_owned(),
        meta: FunctionMeta {
            tenant: Some(tenant.to_owned()),
            ..FunctionMeta::default()
        },
    }
}

/// Two accounts; `orders` and `billing` with metadata of their own, `other`
/// without any, and two custom log groups mapped onto `orders` and one onto
/// `billing`, so that renamed evidence meets evidence of the real name.
fn resolved() -> BTreeMap<String, Resolved> {
    let mut resolved = BTreeMap::new();
    for account in ["111111111111", "222222222222"] {
        resolved.insert(
            meta_key(account, "orders"),
            resolved_entry("orders", "orders' own"),
        );
        resolved.insert(
            meta_key(account, "billing"),
            resolved_entry("billing", "billing's own"),
        );
        resolved.insert(
            meta_key(account, "shared-group"),
            resolved_entry("orders", "from the shared group"),
        );
        resolved.insert(
            meta_key(account, "legacy-group"),
            resolved_entry("orders", "from the legacy group"),
        );
        resolved.insert(
            meta_key(account, "billing-group"),
            resolved_entry("billing", "from the billing group"),
        );
    }
    resolved
}

fn pieces() -> impl Strategy<Value = Vec<Invocation>> {
    let piece = (
        prop::sample::select(vec!["111111111111", "222222222222"]),
        prop::sample::select(vec![
            "orders",
            "billing",
            "other",
            "shared-group",
            "legacy-group",
            "billing-group",
        ]),
        prop::sample::select(vec!["r1", "r2", "r3", "r4"]),
        any::<u8>(),
    )
        .prop_map(|(account, function, request_id, evidence)| {
            invocation(account, function, request_id, evidence)
        });
    prop::collection::vec(piece, 0..60)
}

proptest! {
    #[test]
    fn gives_what_one_lookup_per_invocation_gives(mut invocations in pieces(), sorted in any::<bool>()) {
        if sorted {
            // As the assembler hands them over: the common case, by key.
            invocations.sort_by(|left, right| {
                (&left.account, &left.function, &left.request_id)
                    .cmp(&(&right.account, &right.function, &right.request_id))
            });
        }
        let resolved = resolved();
        let (want, want_metadata) = reference(invocations.clone(), &resolved);
        let keys: BTreeSet<String> = invocations
            .iter()
            .map(|invocation| meta_key(&invocation.account, &invocation.function))
            .collect();
        prop_assert_eq!(meta_keys(&invocations), keys);
        let (got, got_metadata) = apply_metadata(invocations, &resolved);
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(&got_metadata, &want_metadata);
        let each: Vec<Option<&FunctionMeta>> = got
            .iter()
            .map(|invocation| got_metadata.get(&meta_key(&invocation.account, &invocation.function)))
            .collect();
        prop_assert_eq!(meta_of(&got, &got_metadata), each);
    }
}

#[test]
fn a_custom_group_s_evidence_joins_the_function_s_own() {
    let account = "111111111111";
    let mut start = invocation(account, "shared-group", "r1", 1);
    start.start_time_ms = Some(1_700_000_000_000);
    let mut report = invocation(account, "orders", "r1", 2);
    report.start_time_ms = None;
    let (got, metadata) = apply_metadata(
        vec![invocation(account, "orders", "r0", 0), report, start],
        &resolved(),
    );
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(
        (got[1].function.as_str(), got[1].request_id.as_str()),
        ("orders", "r1")
    );
    assert_eq!(got[1].start_time_ms, Some(1_700_000_000_000));
    assert!(got[1].duration_ms.is_some());
    // The shared group came last, so its entry is the one kept for orders.
    assert_eq!(
        metadata[&meta_key(account, "orders")].tenant.as_deref(),
        Some("from the shared group")
    );
}
