//! `lamlog report --by`: a generated workload ingested, then grouped by
//! account, tenant and tag. Each grouping's groups hold exactly the
//! functions the metadata file puts in them (read here with `toml`, not with
//! lamlog's enricher), and sum to the ungrouped totals exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::cli;

use cli::{lamlog, lamlog_output};

/// A generated workload ingested into a new database; removed on drop.
struct Ingested {
    directory: PathBuf,
}

impl Drop for Ingested {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

impl Ingested {
    fn new(name: &str) -> Ingested {
        let directory =
            std::env::temp_dir().join(format!("lamlog-report-by-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&directory);
        let work = directory.join("work");
        let ingested = Ingested { directory };
        let work_arg = work.to_str().unwrap();
        lamlog(&[
            "generate",
            "--functions",
            "24",
            "--accounts",
            "3",
            "--invocations",
            "3000",
            "--seed",
            "11",
            "--out",
            work_arg,
        ]);
        lamlog(&[
            "ingest",
            work_arg,
            "--metadata",
            ingested.metadata().to_str().unwrap(),
            "--db",
            ingested.db().to_str().unwrap(),
            "--json",
        ]);
        ingested
    }

    fn metadata(&self) -> PathBuf {
        self.directory.join("work").join("metadata.toml")
    }

    fn db(&self) -> PathBuf {
        self.directory.join("lamlog.db")
    }

    fn report(&self, extra: &[&str]) -> Value {
        let db = self.db();
        let mut args = vec!["report", "--db", db.to_str().unwrap(), "--json"];
        args.extend_from_slice(extra);
        serde_json::from_slice(&lamlog(&args).stdout).unwrap()
    }
}

/// `account#function` → its metadata table, as the file has it.
fn metadata_of(path: &Path) -> BTreeMap<String, toml::Table> {
    let text = std::fs::read_to_string(path).unwrap();
    let table: toml::Table = text.parse().unwrap();
    table
        .into_iter()
        .map(|(key, value)| (key, value.as_table().unwrap().clone()))
        .collect()
}

fn integer(value: &Value, field: &str) -> i64 {
    value[field]
        .as_i64()
        .unwrap_or_else(|| panic!("{field} in {value}"))
}

/// Checks one grouping against the functions of the ungrouped report and
/// the label each function should get.
fn check_grouping(report: &Value, functions: &Value, label_of: impl Fn(&Value) -> String) {
    let mut expected: BTreeMap<String, (usize, i64, i64)> = BTreeMap::new();
    for function in functions.as_array().unwrap() {
        let slot = expected.entry(label_of(function)).or_default();
        slot.0 += 1;
        slot.1 += integer(function, "invocations");
        slot.2 += integer(function, "cost_pico_usd");
    }
    let groups = report["grouping"]["groups"].as_array().unwrap();
    let found: BTreeMap<String, (usize, i64, i64)> = groups
        .iter()
        .map(|group| {
            let label = group["group"].as_str().unwrap().to_owned();
            let functions = group["functions"].as_u64().unwrap() as usize;
            let sums = (
                functions,
                integer(group, "invocations"),
                integer(group, "cost_pico_usd"),
            );
            (label, sums)
        })
        .collect();
    assert_eq!(found, expected, "groups of {}", report["grouping"]["by"]);
    let sum = |field: &str| {
        groups
            .iter()
            .map(|group| integer(group, field))
            .sum::<i64>()
    };
    assert_eq!(sum("invocations"), integer(report, "total_invocations"));
    assert_eq!(sum("cost_pico_usd"), integer(report, "total_cost_pico_usd"));
    assert_eq!(
        sum("projected_monthly_pico_usd"),
        integer(report, "total_projected_monthly_pico_usd")
    );
    let costs: Vec<i64> = groups
        .iter()
        .map(|group| integer(group, "cost_pico_usd"))
        .collect();
    assert!(
        costs.windows(2).all(|pair| pair[0] >= pair[1]),
        "costliest first"
    );
}

#[test]
fn every_grouping_sums_to_the_totals_and_follows_the_metadata() {
    let ingested = Ingested::new("sums");
    let metadata = metadata_of(&ingested.metadata());
    let metadata_arg = ingested.metadata();
    let metadata_arg = metadata_arg.to_str().unwrap();
    let whole = ingested.report(&[]);
    let functions = &whole["functions"];
    assert!(whole.get("grouping").is_none(), "no grouping unless asked");
    let total: i64 = functions
        .as_array()
        .unwrap()
        .iter()
        .map(|function| integer(function, "cost_pico_usd"))
        .sum();
    assert_eq!(total, integer(&whole, "total_cost_pico_usd"));

    let meta = |function: &Value| {
        let key = format!(
            "{}#{}",
            function["account"].as_str().unwrap(),
            function["function"].as_str().unwrap()
        );
        metadata.get(&key).cloned()
    };
    assert!(
        functions
            .as_array()
            .unwrap()
            .iter()
            .any(|function| meta(function).is_none()),
        "the workload has a function without metadata"
    );

    let by_account = ingested.report(&["--by", "account"]);
    check_grouping(&by_account, functions, |function| {
        function["account"].as_str().unwrap().to_owned()
    });

    let by_tenant = ingested.report(&["--by", "tenant", "--metadata", metadata_arg]);
    check_grouping(&by_tenant, functions, |function| match meta(function) {
        None => "(no metadata)".to_owned(),
        Some(table) => table
            .get("tenant")
            .map_or("(no tenant)".to_owned(), |tenant| {
                tenant.as_str().unwrap().to_owned()
            }),
    });

    let by_team = ingested.report(&["--by", "tag:team", "--metadata", metadata_arg]);
    check_grouping(&by_team, functions, |function| match meta(function) {
        None => "(no metadata)".to_owned(),
        Some(table) => table
            .get("tags")
            .and_then(|tags| tags.get("team"))
            .map_or("(no team tag)".to_owned(), |team| {
                team.as_str().unwrap().to_owned()
            }),
    });
    assert!(by_team["grouping"]["groups"].as_array().unwrap().len() >= 3);
}

#[test]
fn the_table_and_the_page_show_the_groups_and_a_missing_file_is_explained() {
    let ingested = Ingested::new("outputs");
    let db = ingested.db();
    let db = db.to_str().unwrap();
    let metadata = ingested.metadata();
    let metadata = metadata.to_str().unwrap();
    let page = ingested.directory.join("report.html");
    let table = lamlog(&[
        "report",
        "--db",
        db,
        "--by",
        "tenant",
        "--metadata",
        metadata,
        "--html",
        page.to_str().unwrap(),
    ]);
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.lines().any(|line| line.starts_with("tenant ")),
        "{text}"
    );
    assert!(text.contains("(no metadata)"), "{text}");
    assert!(text.contains("total: "), "{text}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<h2>Cost by tenant</h2>"));

    let refused = lamlog_output(&["report", "--db", db, "--by", "tenant"]);
    assert!(!refused.status.success());
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("--metadata FILE"), "{message}");

    let unknown = lamlog_output(&["report", "--db", db, "--by", "region"]);
    assert!(!unknown.status.success());
    let message = String::from_utf8_lossy(&unknown.stderr);
    assert!(message.contains("tag:KEY"), "{message}");
}
