//! The conformance tests of rows, rollups and dead letters, written once over
//! any `S: Store` (alerts are in `alert_suite.rs`, the split-and-replay
//! property in `stream.rs`).
//!
//! Each test takes a fresh store from its caller (the `store_conformance!`
//! macro) and checks the contract of `lamlog::store` through the trait alone:
//! write outcomes, summaries, minute rows and the canonical dump.

use std::collections::BTreeSet;

use lamlog::store::{Store, WriteOutcome};
use lamlog_core::decode::MAX_RAW_BYTES;
use lamlog_core::parse::ReportStatus;
use lamlog_core::rollup::{bucket_upper_ms, duration_bucket, percentile_ms};
use sha2::Digest;

use super::evidence::{
    app_error, dead_letter, dump, only_line, report, start, table_lines, text_field, timeout,
    Evidence, Figures, Setup, ACCOUNT, BASE_MS,
};

pub async fn replay_changes_nothing<S: Store>(mut store: S) {
    let setup = Setup::plain().with_meta(ACCOUNT, "checkout", Setup::arm_function_meta(None));
    let on = |time_ms, line| Evidence::new(ACCOUNT, "checkout", time_ms, line);
    let evidence = [
        on(BASE_MS, start("r-1")),
        on(
            BASE_MS + 120,
            report("r-1", Figures::new(120.5, 128, 60), None, None),
        ),
        on(BASE_MS + 3_000, timeout("r-2", 3.0)),
        on(
            BASE_MS + 3_001,
            report(
                "r-2",
                Figures::new(3_000.0, 128, 127),
                Some(ReportStatus::Timeout),
                None,
            ),
        ),
    ];
    let invocations = setup.invocations(&evidence);
    let dead_letters = [dead_letter(
        7,
        b"not base64 at all".to_vec(),
        "invalid base64",
    )];
    let first = setup.write(&mut store, &invocations, &dead_letters).await;
    assert_eq!(
        (
            first.inserted,
            first.updated,
            first.unchanged,
            first.dead_letters
        ),
        (2, 0, 0, 1)
    );
    let kinds: Vec<&str> = first
        .new_alerts
        .iter()
        .map(|alert| alert.kind.as_str())
        .collect();
    assert_eq!(kinds, ["timeout", "memory_pressure"]);
    let after_first = dump(&mut store).await;
    let second = setup.write(&mut store, &invocations, &dead_letters).await;
    assert_eq!(
        second,
        WriteOutcome {
            unchanged: 2,
            ..WriteOutcome::default()
        }
    );
    assert_eq!(dump(&mut store).await, after_first);
}

pub async fn status_only_rises<S: Store>(mut store: S) {
    let setup = Setup::plain();
    let on = |time_ms, line| Evidence::new(ACCOUNT, "worker", time_ms, line);
    let timed_out = [
        on(BASE_MS, timeout("r-1", 3.0)),
        on(
            BASE_MS + 1,
            report(
                "r-1",
                Figures::new(3_000.0, 128, 64),
                Some(ReportStatus::Timeout),
                None,
            ),
        ),
    ];
    setup.write_evidence(&mut store, &timed_out).await;
    let later_error = setup
        .write_evidence(
            &mut store,
            &[on(BASE_MS + 2, app_error("r-1", "ValueError"))],
        )
        .await;
    assert_eq!(
        (later_error.inserted, later_error.updated),
        (0, 1),
        "the error is new evidence"
    );
    assert!(later_error.new_alerts.is_empty());
    let row = only_line(&dump(&mut store).await, "invocations").to_owned();
    assert!(row.contains(&text_field("status", "timeout")), "{row}");
    assert!(
        row.contains(&text_field("error_type", "Sandbox.Timedout")),
        "{row}"
    );
    let summaries = store.function_summaries(None).await.unwrap_or_default();
    assert_eq!(summaries.len(), 1);
    assert_eq!(
        (
            summaries[0].invocations,
            summaries[0].timeouts,
            summaries[0].errors
        ),
        (1, 1, 0)
    );
}

pub async fn rollups_follow_a_late_timeout<S: Store>(mut store: S) {
    let setup = Setup::plain();
    let on = |time_ms, line| Evidence::new(ACCOUNT, "worker", time_ms, line);
    let reported = setup
        .write_evidence(
            &mut store,
            &[on(
                BASE_MS,
                report("r-1", Figures::new(250.0, 128, 64), None, None),
            )],
        )
        .await;
    assert!(reported.new_alerts.is_empty());
    let before = store.function_summaries(None).await.unwrap_or_default();
    assert_eq!((before[0].invocations, before[0].timeouts), (1, 0));
    let late = setup
        .write_evidence(&mut store, &[on(BASE_MS - 5, timeout("r-1", 3.0))])
        .await;
    assert_eq!((late.inserted, late.updated), (0, 1));
    assert_eq!(
        late.new_alerts.len(),
        1,
        "the timeout alert is raised once the row times out"
    );
    assert_eq!(late.new_alerts[0].kind.as_str(), "timeout");
    let after = store.function_summaries(None).await.unwrap_or_default();
    assert_eq!(
        (after[0].invocations, after[0].timeouts, after[0].errors),
        (1, 1, 0)
    );
    assert_eq!(after[0].duration_sum_us, before[0].duration_sum_us);
    assert_eq!(after[0].cost_pico_usd, before[0].cost_pico_usd);
    assert_eq!(
        after[0].histogram,
        vec![(duration_bucket(250.0), 1)],
        "the histogram counts the invocation once"
    );
}

pub async fn dead_letters_are_kept_byte_exact<S: Store>(mut store: S) {
    let setup = Setup::plain();
    let megabyte: Vec<u8> = (0..1_048_576_u32)
        .map(|index| (index.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let payloads: Vec<Vec<u8>> = vec![
        b"\0\0\0".to_vec(),
        vec![0xff, 0xfe, 0x00, 0xc3, 0x28, 0xa0, 0xa1],
        b"it's \"quoted\" \\ back\\slash".to_vec(),
        b"'); DROP TABLE invocations; --".to_vec(),
        megabyte.clone(),
        Vec::new(),
        megabyte.repeat(5),
    ];
    let reasons = [
        "gzip: bad header",
        "it's \"bad\"",
        "'); DROP TABLE dead_letters; --",
        "x",
        "too big",
        "",
        "five megabytes: kept up to the cap",
    ];
    let dead_letters: Vec<_> = payloads
        .iter()
        .zip(reasons)
        .enumerate()
        .map(|(index, (raw, reason))| dead_letter(index, raw.clone(), reason))
        .collect();
    let first = setup.write(&mut store, &[], &dead_letters).await;
    assert_eq!(first.dead_letters, dead_letters.len() as u64);
    let text = dump(&mut store).await;
    let lines = table_lines(&text, "dead_letters");
    assert_eq!(lines.len(), dead_letters.len());
    let hex = |bytes: &[u8]| -> String { bytes.iter().map(|byte| format!("{byte:02x}")).collect() };
    for ((dead_letter, reason), payload) in dead_letters.iter().zip(reasons).zip(&payloads) {
        let kept = &payload[..payload.len().min(MAX_RAW_BYTES)];
        let sha256: [u8; 32] = sha2::Sha256::digest(payload).into();
        let line = lines
            .iter()
            .find(|line| line.contains(&text_field("dedup_key", &dead_letter.dedup_key())));
        let line = line.unwrap_or_else(|| panic!("no row for {}", dead_letter.dedup_key()));
        assert!(
            line.contains(&format!(" raw=x'{}'", hex(kept))),
            "raw bytes of record {}",
            dead_letter.position.record_index
        );
        assert!(
            line.contains(&format!(" raw_len={} ", payload.len())),
            "full length of record {}",
            dead_letter.position.record_index
        );
        assert!(
            line.contains(&format!(" raw_sha256=x'{}'", hex(&sha256))),
            "hash of record {}",
            dead_letter.position.record_index
        );
        assert!(line.contains(&text_field("reason", reason)));
    }
    let replay = setup.write(&mut store, &[], &dead_letters).await;
    assert_eq!(replay.dead_letters, 0);
    assert_eq!(dump(&mut store).await, text);
    let on = |line| Evidence::new(ACCOUNT, "after", BASE_MS, line);
    let still_works = setup
        .write_evidence(
            &mut store,
            &[on(report("r-1", Figures::new(1.0, 128, 10), None, None))],
        )
        .await;
    assert_eq!(still_works.inserted, 1, "every table is still there");
}

pub async fn sql_metacharacters_are_data<S: Store>(mut store: S) {
    let setup = Setup::plain();
    let functions = [
        "fn'; DROP TABLE invocations; --",
        "a\"b\\c%_*?",
        "ünïcødé-λ-🚀",
    ];
    let request_ids = ["r'1", "r\"2\\", "r%_3 OR 1=1"];
    let error_type = "Err'or\"; DELETE FROM alerts; --";
    let mut evidence = Vec::new();
    for (index, (function, request_id)) in functions.iter().zip(request_ids).enumerate() {
        let time_ms = BASE_MS + index as i64 * 1_000;
        evidence.push(Evidence::new(
            ACCOUNT,
            function,
            time_ms,
            report(request_id, Figures::new(5.0, 128, 10), None, None),
        ));
        evidence.push(Evidence::new(
            ACCOUNT,
            function,
            time_ms,
            app_error(request_id, error_type),
        ));
    }
    let first = setup.write_evidence(&mut store, &evidence).await;
    assert_eq!(first.inserted, 3);
    let text = dump(&mut store).await;
    for (function, request_id) in functions.iter().zip(request_ids) {
        let rows = table_lines(&text, "invocations");
        let row = rows
            .iter()
            .find(|row| row.contains(&text_field("request_id", request_id)));
        let row = row.unwrap_or_else(|| panic!("no row for {request_id:?} in {text}"));
        assert!(row.contains(&text_field("function", function)), "{row}");
        assert!(row.contains(&text_field("error_type", error_type)), "{row}");
    }
    let replay = setup.write_evidence(&mut store, &evidence).await;
    assert_eq!(
        (replay.inserted, replay.updated, replay.unchanged),
        (0, 0, 3)
    );
    let summaries = store.function_summaries(None).await.unwrap_or_default();
    let names: BTreeSet<&str> = summaries
        .iter()
        .map(|summary| summary.function.as_str())
        .collect();
    assert_eq!(names, functions.into_iter().collect());
    assert!(summaries.iter().all(|summary| summary.errors == 1));
}

pub async fn summaries_match_hand_computed_figures<S: Store>(mut store: S) {
    let setup = Setup::plain();
    let on = |function, time_ms, line| Evidence::new(ACCOUNT, function, time_ms, line);
    let cold = Figures {
        init_duration_ms: Some(250.0),
        ..Figures::new(1_000.0, 256, 100)
    };
    let evidence = [
        on(
            "alpha",
            BASE_MS + 5_000,
            report("a-1", Figures::new(100.0, 128, 50), None, None),
        ),
        on(
            "alpha",
            BASE_MS + 30_000,
            report(
                "a-2",
                Figures::new(200.5, 128, 70),
                Some(ReportStatus::Error),
                None,
            ),
        ),
        on("alpha", BASE_MS + 30_000, app_error("a-2", "KeyError")),
        on(
            "alpha",
            BASE_MS + 65_000,
            report("a-3", cold, Some(ReportStatus::Timeout), None),
        ),
        on(
            "beta",
            BASE_MS + 10_000,
            report("b-1", Figures::new(10.0, 512, 30), None, None),
        ),
        on("gamma", BASE_MS + 10_000, timeout("g-1", 3.0)),
    ];
    let costs = [
        ("a-1", 0.000_001),
        ("a-2", 0.000_002),
        ("a-3", 0.000_004),
        ("b-1", 0.000_01),
    ];
    let mut invocations = setup.invocations(&evidence);
    for invocation in &mut invocations {
        let cost = costs
            .iter()
            .find(|(request_id, _)| *request_id == invocation.invocation.request_id);
        invocation.cost_usd = cost.map(|(_, cost_usd)| *cost_usd);
    }
    setup.write(&mut store, &invocations, &[]).await;
    let summaries = store.function_summaries(None).await.unwrap_or_default();
    let order: Vec<&str> = summaries
        .iter()
        .map(|summary| summary.function.as_str())
        .collect();
    assert_eq!(
        order,
        ["beta", "alpha"],
        "by cost, highest first; gamma has no REPORT"
    );
    let alpha = &summaries[1];
    assert_eq!(
        (
            alpha.invocations,
            alpha.errors,
            alpha.timeouts,
            alpha.crashes,
            alpha.ooms
        ),
        (3, 1, 1, 0, 0)
    );
    assert_eq!(alpha.cold_starts, 1);
    assert_eq!(alpha.duration_sum_us, 100_000 + 200_500 + 1_000_000);
    assert_eq!(alpha.duration_max_us, 1_000_000);
    assert_eq!(alpha.billed_mb_ms, 128 * 100 + 128 * 201 + 256 * 1_000);
    assert_eq!(alpha.cost_pico_usd, 7_000_000);
    assert_eq!(
        (alpha.first_minute_ms, alpha.last_minute_ms),
        (BASE_MS, BASE_MS + 60_000)
    );
    assert_eq!(
        (alpha.memory_size_mb, alpha.max_memory_used_mb),
        (Some(256), Some(100))
    );
    assert_eq!(
        alpha.histogram.iter().map(|(_, count)| count).sum::<i64>(),
        3
    );
    let p50 = percentile_ms(&alpha.histogram, 0.5);
    assert_eq!(p50, Some(bucket_upper_ms(duration_bucket(200.5))));
    assert!(
        p50.is_some_and(|p50| (200.5..=200.5 * 1.045).contains(&p50)),
        "{p50:?}"
    );
    assert_eq!(summaries[0].cost_pico_usd, 10_000_000);
    for since_ms in [BASE_MS + 60_000, BASE_MS + 1] {
        let recent = store
            .function_summaries(Some(since_ms))
            .await
            .unwrap_or_default();
        assert_eq!(
            recent.len(),
            1,
            "since {since_ms}: only alpha's second minute"
        );
        assert_eq!(
            (recent[0].invocations, recent[0].cost_pico_usd),
            (1, 4_000_000)
        );
        assert_eq!(
            (
                recent[0].first_minute_ms,
                recent[0].memory_size_mb,
                recent[0].max_memory_used_mb
            ),
            (BASE_MS + 60_000, Some(256), Some(100))
        );
    }
    let minutes = store.minute_rows(None).await.unwrap_or_default();
    let shape: Vec<(&str, i64, i64, i64)> = minutes
        .iter()
        .map(|row| {
            (
                row.function.as_str(),
                row.minute_ms,
                row.invocations,
                row.histogram.iter().map(|(_, count)| count).sum(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("alpha", BASE_MS, 2, 2),
            ("alpha", BASE_MS + 60_000, 1, 1),
            ("beta", BASE_MS, 1, 1)
        ]
    );
    assert_eq!(
        store
            .minute_rows(Some(BASE_MS + 60_000))
            .await
            .unwrap_or_default()
            .len(),
        1
    );
}

pub async fn a_failed_batch_leaves_nothing<S: Store>(mut store: S) {
    let setup = Setup::plain();
    let on = |time_ms, line| Evidence::new(ACCOUNT, "worker", time_ms, line);
    setup
        .write_evidence(
            &mut store,
            &[on(
                BASE_MS,
                report("r-0", Figures::new(5.0, 128, 10), None, None),
            )],
        )
        .await;
    let before = dump(&mut store).await;
    let mut invocations = setup.invocations(&[
        on(
            BASE_MS + 1,
            report(
                "r-1",
                Figures::new(5.0, 128, 127),
                Some(ReportStatus::Timeout),
                None,
            ),
        ),
        on(
            BASE_MS + 2,
            report("r-2", Figures::new(5.0, 128, 10), None, None),
        ),
    ]);
    // A billed duration no database integer holds: the second row fails
    // after the first was written.
    invocations[1].invocation.billed_duration_ms = Some(u64::MAX);
    let dead_letters = [dead_letter(1, b"x".to_vec(), "bad")];
    let metadata = setup.metadata.clone();
    let batch = lamlog::store::StoreBatch {
        invocations: &invocations,
        dead_letters: &dead_letters,
        metadata: &metadata,
        rules: &setup.rules,
        received_at_ms: setup.received_at_ms,
        unsent_alert_delay_ms: lamlog::store::UNSENT_ALERT_DELAY_MS,
    };
    assert!(store.write_batch(&batch).await.is_err());
    assert_eq!(dump(&mut store).await, before);
}
