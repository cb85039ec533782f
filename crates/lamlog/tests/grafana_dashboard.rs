//! The Grafana dashboard (`deploy/grafana/lamlog.json`) against a real
//! PostgreSQL store holding a generated workload.
//!
//! Every panel's SQL is taken from the dashboard file as shipped, its
//! Grafana macros (`$__unixEpochFrom()`, `$__unixEpochTo()`,
//! `$__interval_ms`) replaced by what Grafana would send, and run; its rows
//! are compared with figures computed here from the generator's truth, not
//! from lamlog's own read path: costs by AWS's formula, percentiles from the
//! truth's durations, rates from the truth's statuses, alerts from the
//! truth's alert list, tenants from `metadata.toml`. It runs over the whole
//! workload and over a slice of it, so that the time filters are checked too.
//!
//! Needs PostgreSQL at `DATABASE_URL`; without it the test fails.
#![cfg(feature = "postgres")]

#[allow(dead_code)] // the store comparisons are the oracle test's
use crate::support::oracle;
use crate::support::oracle_workload;
#[allow(dead_code)]
use crate::support::postgres_schema as schema;

use std::collections::BTreeMap;

use lamlog::enrich::MetaSource;
use lamlog_core::meta::meta_key;
use lamlog_core::rollup::{duration_bucket, minute_of, percentile_ms};
use oracle::InvocationTruth;
use oracle_workload::Workload;
use schema::TestStore;
use serde_json::Value;

/// A panel's title and its SQL, as shipped.
fn panels() -> BTreeMap<String, String> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana/lamlog.json"
    );
    let dashboard: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut panels = BTreeMap::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap().to_owned();
        let targets = panel["targets"].as_array().unwrap();
        assert_eq!(targets.len(), 1, "{title}: one query per panel");
        let sql = targets[0]["rawSql"].as_str().unwrap().to_owned();
        panels.insert(title, sql);
    }
    panels
}

/// What Grafana sends for a time range and interval.
#[derive(Debug, Clone, Copy)]
struct Range {
    from_s: i64,
    to_s: i64,
    interval_ms: i64,
}

impl Range {
    fn expand(&self, sql: &str) -> String {
        let expanded = sql
            .replace("$__unixEpochFrom()", &self.from_s.to_string())
            .replace("$__unixEpochTo()", &self.to_s.to_string())
            .replace("$__interval_ms", &self.interval_ms.to_string());
        assert!(
            !expanded.contains('$'),
            "a macro this test does not know: {sql}"
        );
        expanded
    }

    fn holds(&self, time_ms: i64) -> bool {
        time_ms >= self.from_s * 1000 && time_ms < self.to_s * 1000
    }

    /// The interval a minute falls in, as the panels group it.
    fn bucket(&self, start_time_ms: i64) -> i64 {
        minute_of(start_time_ms) / self.interval_ms * self.interval_ms
    }
}

/// Runs a panel's SQL; each row as JSON, with `time` also as `time_ms`.
async fn rows(client: &tokio_postgres::Client, sql: &str) -> Vec<Value> {
    let sql = sql.trim_end_matches(';');
    let has_time = sql.contains(" AS time,");
    let time = if has_time {
        "(extract(epoch FROM panel.time) * 1000)::int8"
    } else {
        "NULL::int8"
    };
    let wrapped = format!("SELECT row_to_json(panel)::text, {time} FROM ({sql}) AS panel");
    let found = client
        .query(&wrapped, &[])
        .await
        .unwrap_or_else(|error| panic!("{error:?}: {sql}"));
    let time_ms: Vec<Option<i64>> = found.iter().map(|row| row.get(1)).collect();
    found
        .iter()
        .zip(time_ms)
        .map(|(row, time_ms)| {
            let mut value: Value = serde_json::from_str(row.get(0)).unwrap();
            if let Some(time_ms) = time_ms {
                value["time_ms"] = time_ms.into();
            }
            value
        })
        .collect()
}

fn number(row: &Value, column: &str) -> f64 {
    row[column]
        .as_f64()
        .unwrap_or_else(|| panic!("{column} is not a number in {row}"))
}

fn assert_close(found: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (found - expected).abs() <= tolerance,
        "{what}: {found} where {expected} was expected"
    );
}

/// Costs sum pico-dollar rollups: each invocation rounds by at most half a
/// pico-dollar.
fn cost_tolerance(invocations: usize) -> f64 {
    1e-12 * (invocations as f64 + 1.0) + 1e-15
}

struct Expected<'a> {
    workload: &'a Workload,
    range: Range,
    tenants: BTreeMap<(String, String), Option<String>>,
}

impl Expected<'_> {
    fn invocations(&self) -> impl Iterator<Item = &InvocationTruth> {
        self.workload
            .truth
            .invocations
            .values()
            .filter(|truth| self.range.holds(truth.start_time_ms))
    }

    fn cost(&self, truth: &InvocationTruth) -> f64 {
        self.workload.truth.expected_pricing(truth).1
    }

    fn check_cost_by_function(&self, found: &[Value]) {
        let mut expected: BTreeMap<(i64, String), (f64, usize)> = BTreeMap::new();
        for truth in self.invocations() {
            let metric = format!("{} ({})", truth.function, truth.account);
            let slot = expected
                .entry((self.range.bucket(truth.start_time_ms), metric))
                .or_default();
            slot.0 += self.cost(truth);
            slot.1 += 1;
        }
        assert_eq!(
            found.len(),
            expected.len(),
            "cost by function: series points"
        );
        for row in found {
            let key = (
                row["time_ms"].as_i64().unwrap(),
                row["metric"].as_str().unwrap().to_owned(),
            );
            let (cost, count) = expected
                .get(&key)
                .unwrap_or_else(|| panic!("cost by function: unexpected {row}"));
            assert_close(
                number(row, "cost_usd"),
                *cost,
                cost_tolerance(*count),
                "cost",
            );
        }
    }

    fn check_top_functions(&self, found: &[Value]) {
        let mut by_function: BTreeMap<(String, String), (f64, u64)> = BTreeMap::new();
        for truth in self.invocations() {
            let slot = by_function
                .entry((truth.account.clone(), truth.function.clone()))
                .or_default();
            slot.0 += self.cost(truth);
            slot.1 += 1;
        }
        let mut ranked: Vec<_> = by_function.into_iter().collect();
        ranked.sort_by(|a, b| b.1 .0.total_cmp(&a.1 .0).then(a.0.cmp(&b.0)));
        ranked.truncate(10);
        assert_eq!(found.len(), ranked.len(), "top functions: rows");
        for (row, ((account, function), (cost, count))) in found.iter().zip(&ranked) {
            assert_eq!(row["account"], account.as_str(), "top functions: order");
            assert_eq!(row["function"], function.as_str(), "top functions: order");
            assert_eq!(row["invocations"].as_u64(), Some(*count), "{row}");
            assert_close(
                number(row, "cost_usd"),
                *cost,
                cost_tolerance(*count as usize),
                "top functions: cost",
            );
        }
    }

    fn check_percentiles(&self, found: &[Value]) {
        let mut histograms: BTreeMap<i64, BTreeMap<i32, i64>> = BTreeMap::new();
        for truth in self.invocations() {
            *histograms
                .entry(self.range.bucket(truth.start_time_ms))
                .or_default()
                .entry(duration_bucket(truth.duration_ms))
                .or_default() += 1;
        }
        assert_eq!(found.len(), histograms.len(), "percentiles: points");
        for row in found {
            let histogram: Vec<(i32, i64)> = histograms
                .get(&row["time_ms"].as_i64().unwrap())
                .unwrap_or_else(|| panic!("percentiles: unexpected {row}"))
                .iter()
                .map(|(bucket, count)| (*bucket, *count))
                .collect();
            for (column, quantile) in [("p50_ms", 0.50), ("p95_ms", 0.95), ("p99_ms", 0.99)] {
                let expected = percentile_ms(&histogram, quantile).unwrap();
                assert_close(number(row, column), expected, expected * 1e-9, column);
            }
        }
    }

    fn check_rates(&self, found: &[Value]) {
        // (invocations, errors and crashes, timeouts, OOMs, cold starts)
        let mut expected: BTreeMap<i64, [f64; 5]> = BTreeMap::new();
        for truth in self.invocations() {
            let counts = expected
                .entry(self.range.bucket(truth.start_time_ms))
                .or_default();
            let status = truth.logged_status.as_str();
            counts[0] += 1.0;
            counts[1] += f64::from(u8::from(matches!(status, "error" | "crash")));
            counts[2] += f64::from(u8::from(status == "timeout"));
            counts[3] += f64::from(u8::from(status == "oom"));
            counts[4] += f64::from(u8::from(truth.cold_start));
        }
        assert_eq!(found.len(), expected.len(), "rates: points");
        for row in found {
            let counts = *expected
                .get(&row["time_ms"].as_i64().unwrap())
                .unwrap_or_else(|| panic!("rates: unexpected {row}"));
            let columns = ["error_rate", "timeout_rate", "oom_rate", "cold_start_rate"];
            for (column, count) in columns.iter().zip(&counts[1..]) {
                assert_close(number(row, column), count / counts[0], 1e-12, column);
            }
        }
    }

    fn check_alerts(&self, found: &[Value]) {
        let expected: Vec<_> = self
            .workload
            .truth
            .alerts
            .iter()
            .filter(|alert| self.range.holds(alert.window_start_ms))
            .map(|alert| {
                let key = (alert.account.clone(), alert.function.clone());
                (alert.kind.clone(), key, alert.window_start_ms)
            })
            .collect();
        let mut seen: Vec<_> = found
            .iter()
            .map(|row| {
                let key = (
                    row["account"].as_str().unwrap().to_owned(),
                    row["function"].as_str().unwrap().to_owned(),
                );
                (
                    row["kind"].as_str().unwrap().to_owned(),
                    key,
                    row["time_ms"].as_i64().unwrap(),
                )
            })
            .collect();
        assert!(
            seen.windows(2).all(|pair| pair[0].2 >= pair[1].2),
            "recent alerts: newest first"
        );
        seen.sort();
        let mut expected = expected;
        expected.sort();
        expected.truncate(100);
        assert_eq!(seen, expected, "recent alerts");
    }

    fn check_tenants(&self, found: &[Value]) {
        let mut expected: BTreeMap<String, (f64, u64)> = BTreeMap::new();
        for truth in self.invocations() {
            let key = (truth.account.clone(), truth.function.clone());
            let tenant = match self.tenants.get(&key) {
                None => "(no metadata)".to_owned(),
                Some(tenant) => tenant.clone().unwrap_or_else(|| "(no tenant)".to_owned()),
            };
            let slot = expected.entry(tenant).or_default();
            slot.0 += self.cost(truth);
            slot.1 += 1;
        }
        assert_eq!(found.len(), expected.len(), "cost by tenant: rows");
        for row in found {
            let (cost, count) = *expected
                .get(row["tenant"].as_str().unwrap())
                .unwrap_or_else(|| panic!("cost by tenant: unexpected {row}"));
            assert_eq!(row["invocations"].as_u64(), Some(count), "{row}");
            assert_close(number(row, "cost_usd"), cost, cost * 1e-12, "tenant cost");
        }
    }
}

/// The tenant of each function with metadata, from `metadata.toml`.
async fn tenants(workload: &Workload) -> BTreeMap<(String, String), Option<String>> {
    let functions: Vec<_> = workload.truth.functions.keys().cloned().collect();
    let keys: Vec<String> = functions
        .iter()
        .map(|(account, function)| meta_key(account, function))
        .collect();
    let found = workload.metadata.fetch(&keys).await.unwrap();
    functions
        .into_iter()
        .zip(&keys)
        .filter_map(|(function, key)| Some((function, found.get(key)?.meta.tenant.clone())))
        .collect()
}

#[tokio::test]
async fn every_panel_shows_what_the_workload_holds() {
    let workload = Workload::generate(5, 6, 500, 3);
    let (store, _) = workload.ingest_into(TestStore::fresh().await).await;
    let client = schema::raw_client(&store.schema).await;
    let tenants = tenants(&workload).await;
    assert!(
        tenants.values().any(Option::is_some) && tenants.len() < workload.truth.functions.len(),
        "the workload has tenants and a function without metadata"
    );
    let statuses: std::collections::BTreeSet<&str> = workload
        .truth
        .invocations
        .values()
        .map(|truth| truth.logged_status.as_str())
        .collect();
    assert!(
        statuses.len() >= 4 && !workload.truth.alerts.is_empty(),
        "the workload has failures of several kinds and alerts: {statuses:?}"
    );
    let times = workload
        .truth
        .invocations
        .values()
        .map(|truth| truth.start_time_ms);
    let (first_ms, last_ms) = (times.clone().min().unwrap(), times.max().unwrap());
    let whole = Range {
        from_s: minute_of(first_ms) / 1000,
        to_s: minute_of(last_ms) / 1000 + 60,
        interval_ms: 60_000,
    };
    let third_s = ((whole.to_s - whole.from_s) / 3 / 60).max(1) * 60;
    let slice = Range {
        from_s: whole.from_s + third_s,
        to_s: whole.from_s + 2 * third_s,
        interval_ms: 120_000,
    };
    let panels = panels();
    assert_eq!(panels.len(), 6, "{:?}", panels.keys());
    for range in [whole, slice] {
        let expected = Expected {
            workload: &workload,
            range,
            tenants: tenants.clone(),
        };
        assert!(
            expected.invocations().next().is_some(),
            "{range:?} holds invocations"
        );
        for (title, sql) in &panels {
            let found = rows(&client, &range.expand(sql)).await;
            match title.as_str() {
                "Cost by function" => expected.check_cost_by_function(&found),
                "Top functions by cost" => expected.check_top_functions(&found),
                "Duration p50 / p95 / p99" => expected.check_percentiles(&found),
                "Error, timeout, OOM and cold-start rates" => expected.check_rates(&found),
                "Recent alerts" => expected.check_alerts(&found),
                "Cost by tenant" => expected.check_tenants(&found),
                other => panic!("a panel this test does not check: {other}"),
            }
        }
    }
}
