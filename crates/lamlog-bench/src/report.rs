//! Runs the chosen sections, prints their tables and gathers every figure
//! into one JSON document (`bench/results.json`).

use anyhow::Context;

use crate::ablation::{self, Ablation};
use crate::cost_section;
use crate::lambda::{self, LambdaEnv, Schema};
use crate::memory_section;
use crate::results::{machine, ColdStart, Results};
use crate::stats::{group, Spread};
use crate::throughput::{self, Throughput};
use crate::workload::{self, Workload};
use crate::write_paths;

/// Which sections to run.
#[derive(Debug, Clone)]
pub struct Sections(Vec<&'static str>);

impl Sections {
    /// Every section.
    pub fn all() -> Sections {
        Sections(vec![
            "throughput",
            "memory",
            "cold-start",
            "ablation",
            "cost",
            "write-paths",
        ])
    }

    /// One section.
    pub fn only(name: &'static str) -> Sections {
        Sections(vec![name])
    }

    fn has(&self, name: &str) -> bool {
        self.0.contains(&name)
    }
}

/// Today's UTC date, `YYYY-MM-DD` (civil-from-days, proleptic Gregorian).
pub fn utc_date(epoch_seconds: i64) -> String {
    let days = epoch_seconds.div_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Runs `sections` and returns every figure.
pub async fn run(
    sections: &Sections,
    quick: bool,
    database_url: &str,
    binaries: &lambda::Binaries,
) -> anyhow::Result<Results> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64);
    let machine = machine();
    let (functions, invocations) = if quick { (50, 25_000) } else { (50, 60_000) };
    // Quick mode runs each memory case once: its verdict judges the peak of
    // every run, and one run of each case is most of what CI spends here.
    let (rounds, memory_runs, ablation_rounds) = if quick { (8, 1, 3) } else { (60, 5, 15) };
    let cold_runs = if quick { 5 } else { 15 };
    println!(
        "lamlog-bench{}: {} cores ({}), {}",
        if quick { " --quick" } else { "" },
        machine.cores,
        machine.cpu_model,
        utc_date(now)
    );
    let scratch = std::env::temp_dir().join("lamlog-bench");
    let work = Workload::generate(&scratch.join("workload"), functions, invocations)?;
    println!(
        "workload: seed {}, {functions} functions, {invocations} invocations → {} Kinesis files, {} records, {} log events\n",
        workload::SEED,
        work.files.len(),
        group(work.summary.records as f64, 0),
        group(work.summary.log_events as f64, 0)
    );
    let mut results = Results {
        date: utc_date(now),
        machine,
        quick,
        workload: serde_json::json!({
            "seed": workload::SEED, "functions": functions, "invocations": invocations,
            "files": work.files.len(), "records": work.summary.records,
            "log_events": work.summary.log_events, "bytes": work.summary.bytes,
        }),
        throughput: None,
        memory: Vec::new(),
        ingest_at_scale: None,
        ingest_over_pure: None,
        cold_start: None,
        ablation: None,
        cost: None,
        write_paths: Vec::new(),
        missing: Vec::new(),
    };
    let batches = work.batches(200, 20)?;
    let first_batch = batches
        .first()
        .context("the workload has no 200-record batch")?;
    let metadata = work.dir.join("metadata.toml");

    if sections.has("throughput") {
        let (fullest, _) = work.fullest_file()?;
        let payload = workload::read(&fullest)?;
        let measured = throughput::measure(&payload, &batches, rounds);
        print_throughput(&measured);
        results.throughput = Some(measured);
    }
    if sections.has("memory") || sections.has("cold-start") {
        lambda_sections(
            sections,
            &work,
            (first_batch, &metadata),
            database_url,
            binaries,
            (invocations, memory_runs, cold_runs),
            &mut results,
        )
        .await?;
    }
    if let (Some(pure), Some(ingest)) = (&results.throughput, &results.ingest_at_scale) {
        let ratio = ingest.sqlite_events_per_s.median / pure.full_events_per_s.median;
        println!(
            "## lamlog ingest → SQLite over the pure path (log events/s, one core): {:.1} %\n",
            ratio * 100.0
        );
        results.ingest_over_pure = Some(ratio);
    }
    if sections.has("ablation") || sections.has("cost") {
        let measured = ablation::run(first_batch, &metadata, database_url, ablation_rounds).await?;
        print_ablation(&measured);
        if sections.has("cost") {
            let cost =
                cost_section::run(&measured, &work, &metadata, database_url, ablation_rounds)
                    .await?;
            cost_section::print(&cost);
            results.cost = Some(cost);
        }
        results.ablation = Some(measured);
    }
    if sections.has("write-paths") {
        let rounds = if quick { (3, 1) } else { (40, 9) };
        let measured = write_paths::run(database_url, rounds).await?;
        write_paths::print(&measured);
        results.write_paths = measured;
    }
    for missing in &results.missing {
        println!("missing: {missing}");
    }
    Ok(results)
}

/// The sections that run the binaries (release ones unless `--binaries`
/// names others): memory and cold start. A binary that cannot be built or
/// found is an error; a path that fails to run is
/// reported as missing, with why, and the other sections go on.
async fn lambda_sections(
    sections: &Sections,
    work: &Workload,
    (first_batch, metadata): (&[u8], &std::path::Path),
    database_url: &str,
    binaries: &lambda::Binaries,
    (invocations, memory_runs, cold_runs): (u64, usize, usize),
    results: &mut Results,
) -> anyhow::Result<()> {
    let scratch = work.dir.with_file_name("lambda");
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let bootstrap = binaries.get("lamlog-lambda", "bootstrap")?;
    let lamlog_cli = binaries.get("lamlog", "lamlog")?;
    println!("binaries: {}\n", binaries.describe());
    let mut keys = std::collections::BTreeSet::new();
    for file in &work.files {
        keys.extend(ablation::keys_of(&workload::read(file)?));
    }
    let key_list: Vec<String> = keys.iter().cloned().collect();
    let env = LambdaEnv::start(
        metadata,
        &keys,
        Schema::new(database_url, "lamlog_bench_lambda"),
        &scratch,
    )
    .await?;

    if sections.has("cold-start") {
        let mut runs = Vec::new();
        let mut failed_runs = Vec::new();
        for _ in 0..cold_runs {
            match env.run(&bootstrap, first_batch).await {
                Ok(run) => runs.push(run),
                Err(error) => failed_runs.push(format!("{error:#}")),
            }
        }
        let spread = |pick: &dyn Fn(&crate::cold_start::Run) -> f64| {
            Spread::of(&runs.iter().map(pick).collect::<Vec<f64>>()).unwrap_or(Spread::NONE)
        };
        let bootstrap_bytes = std::fs::metadata(&bootstrap)
            .with_context(|| format!("reading {}", bootstrap.display()))?
            .len();
        let measured = ColdStart {
            event: workload::shape_of(first_batch),
            init_ms: spread(&|run| run.init_ms),
            first_event_ms: spread(&|run| run.first_event_ms),
            peak_rss_mb: spread(&|run| run.peak_rss_kb as f64 / 1024.0),
            failed_runs,
            bootstrap_bytes,
            bootstrap_stripped_bytes: stripped_size(&bootstrap, &scratch),
        };
        print_cold_start(&measured);
        if runs.is_empty() {
            results.missing.push(format!(
                "cold start: every run failed; the first: {}",
                measured.failed_runs.first().map_or("", String::as_str)
            ));
        }
        results.cold_start = Some(measured);
    }

    if sections.has("memory") {
        let setup = memory_section::Setup {
            work,
            invocations,
            keys: &key_list,
            env: &env,
            bootstrap: &bootstrap,
            lamlog_cli: &lamlog_cli,
            metadata,
            scratch: &scratch,
            database_url,
            runs: memory_runs,
        };
        memory_section::run(&setup, results).await?;
    }
    Ok(())
}

/// The size of `binary` after `strip`, through a copy in `scratch`.
fn stripped_size(binary: &std::path::Path, scratch: &std::path::Path) -> Option<u64> {
    let copy = scratch.join("bootstrap.stripped");
    let status = std::process::Command::new("strip")
        .arg("-o")
        .arg(&copy)
        .arg(binary)
        .status()
        .ok()?;
    let size = status
        .success()
        .then(|| std::fs::metadata(&copy).ok().map(|meta| meta.len()))
        .flatten();
    let _ = std::fs::remove_file(&copy);
    size
}

fn print_throughput(measured: &Throughput) {
    println!("## throughput (one core, interleaved floor/full rounds)");
    println!(
        "payload: {} records, {} log events, {:.2} MB Kinesis event",
        measured.payload.records,
        group(measured.payload.log_events as f64, 0),
        measured.payload.bytes as f64 / 1e6
    );
    println!("| figure | median (min–max) |\n|---|---|");
    println!(
        "| floor: decode alone, events/s | {} |",
        measured.floor_events_per_s.display(0)
    );
    println!(
        "| full: decode + parse + assemble, events/s | {} |",
        measured.full_events_per_s.display(0)
    );
    println!(
        "| full, MB/s of Kinesis event | {} |",
        measured.full_mb_per_s.display(1)
    );
    println!(
        "| full / floor, per round | {} |",
        measured.full_over_floor.scaled(100.0).display(1) + " %"
    );
    println!(
        "| pure path, one 200-record batch ({:.0} lines), ms | {} |\n",
        measured.lines_per_batch,
        measured.batch_ms.display(2)
    );
}

fn print_cold_start(measured: &ColdStart) {
    println!(
        "## cold start: release bootstrap, mock runtime API, first event {} records ({} log events)",
        measured.event.records,
        group(measured.event.log_events as f64, 0)
    );
    println!("| figure | median (min–max) |\n|---|---|");
    println!(
        "| process start → first /next (init), ms | {} |",
        measured.init_ms.display(1)
    );
    println!(
        "| process start → first response posted, ms | {} |",
        measured.first_event_ms.display(1)
    );
    println!(
        "| peak RSS after the first event, MB | {} |",
        measured.peak_rss_mb.display(1)
    );
    let mb = |bytes: u64| bytes as f64 / 1e6;
    println!(
        "bootstrap: {:.2} MB as built, {} after strip; {} failed run(s)",
        mb(measured.bootstrap_bytes),
        measured
            .bootstrap_stripped_bytes
            .map_or_else(|| "n/a".to_owned(), |bytes| format!("{:.2} MB", mb(bytes))),
        measured.failed_runs.len()
    );
    for failure in &measured.failed_runs {
        println!("failed run: {failure}");
    }
    println!();
}

fn print_ablation(measured: &Ablation) {
    println!(
        "## ablation: one {}-record batch ({} log lines, {} functions), steady state",
        measured.records, measured.log_events, measured.functions
    );
    println!("| row | latency ms | latency ms, PG answers held 0.5 ms | CPU ms | DynamoDB requests | PG round trips | PG requests | PG statements | PG connections | invocations |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for row in &measured.rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            row.technique,
            row.latency_ms.display(1),
            row.latency_delayed_ms.display(1),
            row.cpu_ms.display(1),
            row.dynamodb_requests,
            row.postgres.round_trips,
            row.postgres.requests,
            row.postgres.statements,
            row.postgres.connections,
            row.invocations
        );
    }
    println!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01");
        assert_eq!(utc_date(1_795_737_600), "2026-11-27");
        assert_eq!(utc_date(951_782_400), "2000-02-29");
    }

    #[test]
    fn spread_none_has_no_runs() {
        use crate::stats::Spread;
        assert_eq!(Spread::NONE.runs, 0);
    }
}
