//! Giving a batch's invocations their function's metadata.
//!
//! A batch holds thousands of invocations of a few dozen functions, and the
//! assembler hands them over in key order, so the invocations of one
//! function come in one run. Everything here is done once per run, not once
//! per invocation: the metadata key is built, looked up and its metadata
//! copied when the function changes from the invocation before. Nothing
//! depends on that order for its result, only for its cost.

use std::collections::{BTreeMap, BTreeSet};

use lamlog_core::assemble::Invocation;
use lamlog_core::meta::{meta_key, FunctionMeta};

use crate::enrich::Resolved;

/// The `account#function` key of every function `invocations` name.
pub(super) fn meta_keys(invocations: &[Invocation]) -> BTreeSet<String> {
    let mut functions: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut last = None;
    for invocation in invocations {
        let function = (invocation.account.as_str(), invocation.function.as_str());
        if last != Some(function) {
            functions.insert(function);
            last = Some(function);
        }
    }
    functions
        .into_iter()
        .map(|(account, function)| meta_key(account, function))
        .collect()
}

/// Gives each invocation its function's metadata, keyed by
/// `account#function`. Invocations from a custom log group take the function
/// name its metadata maps it to; evidence that then shares a key is merged
/// into the first of it. Returns the invocations in key order, one per key,
/// and the metadata of each function they name that has some.
pub(super) fn apply_metadata(
    mut invocations: Vec<Invocation>,
    resolved: &BTreeMap<String, Resolved>,
) -> (Vec<Invocation>, BTreeMap<String, FunctionMeta>) {
    let mut metadata = BTreeMap::new();
    // The (account, function) the invocation before named, before any
    // renaming, and what its key resolved to.
    let mut last: Option<(String, String, Option<&Resolved>)> = None;
    for invocation in &mut invocations {
        let same = last.as_ref().is_some_and(|(account, function, _)| {
            *account == invocation.account && *function == invocation.function
        });
        if !same {
            let entry = resolved.get(&meta_key(&invocation.account, &invocation.function));
            if let Some(entry) = entry {
                // The last invocation's entry wins a key two entries map to.
                metadata.insert(
                    meta_key(&invocation.account, &entry.function),
                    entry.meta.clone(),
                );
            }
            last = Some((
                invocation.account.clone(),
                invocation.function.clone(),
                entry,
            ));
        }
        if let Some((_, _, Some(entry))) = &last {
            invocation.function.clone_from(&entry.function);
        }
    }
    // Stable, so that evidence sharing a key stays in the order it came in;
    // on the assembler's order it only checks that the input is sorted.
    invocations.sort_by(|left, right| key(left).cmp(&key(right)));
    invocations.dedup_by(|later, first| {
        let same = key(later) == key(first);
        if same {
            first.merge(later);
        }
        same
    });
    (invocations, metadata)
}

/// An invocation's key: (account, function, request id).
fn key(invocation: &Invocation) -> (&str, &str, &str) {
    (
        &invocation.account,
        &invocation.function,
        &invocation.request_id,
    )
}

/// The metadata of each invocation's function, in `invocations`' order:
/// one lookup per run of invocations of one function.
pub(super) fn meta_of<'a>(
    invocations: &[Invocation],
    metadata: &'a BTreeMap<String, FunctionMeta>,
) -> Vec<Option<&'a FunctionMeta>> {
    let mut found = Vec::with_capacity(invocations.len());
    let mut last: Option<(&str, &str, Option<&'a FunctionMeta>)> = None;
    for invocation in invocations {
        let meta = match last {
            Some((account, function, meta))
                if account == invocation.account && function == invocation.function =>
            {
                meta
            }
            _ => {
                let meta = metadata.get(&meta_key(&invocation.account, &invocation.function));
                last = Some((&invocation.account, &invocation.function, meta));
                meta
            }
        };
        found.push(meta);
    }
    found
}

#[cfg(test)]
#[path = "metadata_tests.rs"]
mod tests;
