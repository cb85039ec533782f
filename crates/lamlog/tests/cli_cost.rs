//! `lamlog cost` reproduces the published Epsagon case-study figures and
//! today's list price, through the real binary.

use crate::support::cli;

use cli::{lamlog, lamlog_output};

fn cost_json(args: &[&str]) -> serde_json::Value {
    let args: Vec<&str> = ["cost"]
        .into_iter()
        .chain(args.iter().copied())
        .chain(["--json"])
        .collect();
    serde_json::from_slice(&lamlog(&args).stdout).expect("lamlog cost --json prints JSON")
}

const EPSAGON: [&str; 5] = [
    "--price-per-gb-s",
    "0.00001666",
    "--no-request-fee",
    "--granularity-ms",
    "100",
];

fn number(value: &serde_json::Value, field: &str) -> f64 {
    value[field]
        .as_f64()
        .unwrap_or_else(|| panic!("{field} missing in {value}"))
}

#[test]
fn epsagon_128_mb_for_1600_ms() {
    let mut args = vec![
        "--memory-mb",
        "128",
        "--duration-ms",
        "1600",
        "--invocations-per-day",
        "1000000",
    ];
    args.extend(EPSAGON);
    let report = cost_json(&args);
    assert!(
        (number(&report, "total_usd") - 0.000_003_332).abs() < 1e-15,
        "{report}"
    );
    let monthly = number(&report, "monthly_usd");
    assert!(
        (monthly - 99.96).abs() < 1e-6 && monthly.round() == 100.0,
        "about $99: {monthly}"
    );
}

#[test]
fn epsagon_20_million_a_day() {
    let mut args = vec![
        "--memory-mb",
        "128",
        "--duration-ms",
        "1600",
        "--invocations-per-day",
        "20000000",
    ];
    args.extend(EPSAGON);
    let monthly = number(&cost_json(&args), "monthly_usd");
    assert!((monthly - 1999.2).abs() < 1e-6, "about $1,999: {monthly}");
}

#[test]
fn epsagon_512_mb_at_250_ms_is_billed_300_ms() {
    let mut args = vec!["--memory-mb", "512", "--duration-ms", "250"];
    args.extend(EPSAGON);
    assert_eq!(cost_json(&args)["billed_duration_ms"], 300);
}

#[test]
fn current_list_price_includes_the_request_fee() {
    let report = cost_json(&["--memory-mb", "128", "--duration-ms", "1600"]);
    assert!(
        (number(&report, "total_usd") - 0.000_003_533_34).abs() < 1e-15,
        "{report}"
    );
    assert_eq!(report["billed_duration_ms"], 1600);
}

#[test]
fn a_bad_granularity_is_refused_with_a_reason() {
    let output = lamlog_output(&[
        "cost",
        "--memory-mb",
        "128",
        "--duration-ms",
        "5",
        "--granularity-ms",
        "10",
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("use 1 or 100"), "{stderr}");
}

/// The pricing page's provisioned-concurrency example, one invocation of it
/// (1,024 MB, 1 s): 1 GB-s × $0.000 009 722 2; 10,240 MB of storage adds
/// 9.5 GB-s × $0.000 000 030 9; a Python restore 1 GB × $0.000 139 799 8.
#[test]
fn beyond_on_demand_the_provisioned_price_storage_and_a_restore() {
    let report = cost_json(&[
        "--memory-mb",
        "1024",
        "--duration-ms",
        "1000",
        "--provisioned",
        "--ephemeral-storage-mb",
        "10240",
        "--snapstart-restore",
        "--no-request-fee",
    ]);
    let close = |field: &str, expected: f64| {
        let actual = number(&report, field);
        assert!(
            (actual - expected).abs() < 1e-15,
            "{field}: {actual} vs {expected}"
        );
    };
    close("usd_per_gb_s", 0.000_009_722_2);
    close("compute_usd", 0.000_009_722_2);
    close("ephemeral_usd", 9.5 * 0.000_000_030_9);
    close("restore_usd", 0.000_139_799_8);
    close(
        "total_usd",
        0.000_009_722_2 + 9.5 * 0.000_000_030_9 + 0.000_139_799_8,
    );
}
