use std::cell::RefCell;

use super::*;

#[test]
fn short_keys_are_their_own_fifo_id() {
    let key = "timeout|123456789012|orders-api|1793491200000";
    assert_eq!(fifo_id(key), key);
    let limit = "k".repeat(MAX_FIFO_ID_CHARS);
    assert_eq!(fifo_id(&limit), limit);
}

#[test]
fn long_or_odd_keys_are_hashed_to_a_stable_valid_id() {
    let long = format!("timeout|1|{}|0", "f".repeat(200));
    let id = fifo_id(&long);
    assert!(id.len() <= MAX_FIFO_ID_CHARS, "{}", id.len());
    assert!(id.chars().all(|c| c.is_ascii_graphic()));
    assert_eq!(id, fifo_id(&long), "stable");
    let other = format!("timeout|1|{}|1", "f".repeat(200));
    assert_ne!(
        fifo_id(&other),
        id,
        "the hash tells keys with one prefix apart"
    );
    let spaced = fifo_id("timeout|1|my function é|0");
    assert!(spaced.chars().all(|c| c.is_ascii_graphic()), "{spaced}");
    assert!(spaced.starts_with("timeout|1|myfunction|0~"), "{spaced}");
}

fn entry(id: usize, body_bytes: usize) -> (usize, PublishBatchRequestEntry) {
    let entry = PublishBatchRequestEntry::builder()
        .id(format!("alert-{id}"))
        .message("m".repeat(body_bytes))
        .build()
        .unwrap();
    (id, entry)
}

#[test]
fn chunks_hold_at_most_ten_entries_and_256_kib() {
    let small: Vec<_> = (0..23).map(|id| entry(id, 100)).collect();
    let sizes: Vec<usize> = chunks(small).iter().map(Vec::len).collect();
    assert_eq!(sizes, [10, 10, 3]);

    // Five bodies of 100 KiB: two fit in 256 KiB, a third does not.
    let large: Vec<_> = (0..5).map(|id| entry(id, 100 * 1024)).collect();
    let chunked = chunks(large);
    let sizes: Vec<usize> = chunked.iter().map(Vec::len).collect();
    assert_eq!(sizes, [2, 2, 1]);
    let order: Vec<usize> = chunked.iter().flatten().map(|(id, _)| *id).collect();
    assert_eq!(order, [0, 1, 2, 3, 4], "order is kept");
}

#[test]
fn a_long_message_is_cut_at_a_character_boundary() {
    let alert = Alert {
        kind: lamlog_core::judge::AlertKind::Timeout,
        severity: lamlog_core::judge::Severity::Critical,
        account: "1".to_owned(),
        function: "f".to_owned(),
        request_id: None,
        window_start_ms: 0,
        message: "é".repeat(300 * 1024),
        dedup_key: "k".to_owned(),
    };
    let body = message_body(&alert).unwrap();
    assert!(body.len() <= MAX_BODY_BYTES, "{}", body.len());
    let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(parsed["message"].as_str().unwrap().ends_with("é..."));
    assert_eq!(truncate_at_char("aé", 2), "a");
}

#[tokio::test(start_paused = true)]
async fn only_the_refused_entries_are_sent_again() {
    let calls: RefCell<Vec<Vec<String>>> = RefCell::new(Vec::new());
    let chunk: Vec<_> = (0..4).map(|id| entry(id, 10)).collect();
    let (undelivered, reason, unreachable) =
        send_chunk(chunk, 2, Duration::from_millis(10), |entries| {
            let ids: Vec<String> = entries.iter().map(|e| e.id().to_owned()).collect();
            calls.borrow_mut().push(ids.clone());
            let round = calls.borrow().len();
            async move {
                // Round 1 refuses alert-1 and alert-3; round 2 refuses alert-3
                // again; round 3 accepts it.
                let refused: &[&str] = match round {
                    1 => &["alert-1", "alert-3"],
                    2 => &["alert-3"],
                    _ => &[],
                };
                Ok(ids
                    .iter()
                    .filter(|id| refused.contains(&id.as_str()))
                    .map(|id| EntryFailure {
                        id: id.clone(),
                        reason: "Throttled".to_owned(),
                        sender_fault: false,
                    })
                    .collect())
            }
        })
        .await;
    assert_eq!(
        *calls.borrow(),
        [
            vec!["alert-0", "alert-1", "alert-2", "alert-3"],
            vec!["alert-1", "alert-3"],
            vec!["alert-3"],
        ]
    );
    assert!(undelivered.is_empty());
    assert!(reason.is_none());
    assert!(!unreachable);
}

#[tokio::test(start_paused = true)]
async fn refusals_that_outlast_the_retries_or_blame_the_sender_are_undelivered() {
    let always = |sender_fault: bool| {
        move |entries: Vec<PublishBatchRequestEntry>| async move {
            Ok(entries
                .iter()
                .filter(|entry| entry.id() == "alert-2")
                .map(|entry| EntryFailure {
                    id: entry.id().to_owned(),
                    reason: "Refused".to_owned(),
                    sender_fault,
                })
                .collect())
        }
    };
    let chunk: Vec<_> = (0..3).map(|id| entry(id, 10)).collect();
    let (undelivered, reason, _) =
        send_chunk(chunk.clone(), 2, Duration::from_millis(10), always(false)).await;
    assert_eq!(undelivered, [2]);
    assert!(reason.unwrap().contains("alert-2: Refused"));
    let (undelivered, reason, _) =
        send_chunk(chunk.clone(), 2, Duration::from_millis(10), always(true)).await;
    assert_eq!(undelivered, [2]);
    assert!(reason.unwrap().contains("sender fault"));

    let (undelivered, _, unreachable) =
        send_chunk(chunk, 2, Duration::from_millis(10), |_| async {
            Err(CallError::Unreachable("connection refused".to_owned()))
        })
        .await;
    assert_eq!(undelivered, [0, 1, 2]);
    assert!(unreachable);
}
