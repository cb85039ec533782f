//! `lamlog tune`: stored invocations → a memory size (and architecture) for
//! each function, with a chart and a Lambda Power Tuning plan to check it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use lamlog_core::meta::Architecture;
use lamlog_core::price::{Billing, PriceTable};
use lamlog_core::tune::{
    function_arn, power_tuning_input, tune, ArchitectureChoice, Recommendation, Strategy,
    TuneOptions, Tuned,
};

use lamlog::store::Store;

use super::input::{parse_granularity, parse_since, Since};
use lamlog::tune_chart::render_svg;

/// Recommend a memory size for each function from its stored invocations.
///
/// For every function (and architecture) the warm successful durations at
/// each memory size seen are fitted with
///   t(m) = a + b / min(m, 1769) + c / min(m, 10240)
/// (a: I/O, b: single-threaded work, c: work that uses up to 6 vCPUs). Every
/// size from 128 to 10240 MB (or only the observed ones) is then priced with
/// the billing granularity, the request fee and the cold-start rate, and one is
/// picked by the strategy, never below max memory used × 1.2:
///   cost             the cheapest (ties: faster)
///   speed            the fastest (ties: cheaper)
///   balanced         least W·cost/max + (1−W)·duration/max
///   cheapest-within  the fastest within P % of the cheapest
/// A function seen at one or two sizes gets a reduced model and a warning:
/// --plan writes the AWS Lambda Power Tuning input that measures the answer.
///
/// Examples:
///   lamlog tune --db lamlog.db
///   lamlog tune --db lamlog.db --function orders-api --chart orders.svg --plan orders.json
///   lamlog tune --db lamlog.db --strategy balanced --weight 0.3 --arch both --arm64-speed-factor 0.9
///   lamlog tune --db lamlog.db --granularity-ms 100 --observed-only --since 7d --json
#[derive(Debug, Args)]
#[command(verbatim_doc_comment)]
pub struct TuneArgs {
    /// The database to read (SQLite file or PostgreSQL URL).
    #[command(flatten)]
    pub store: super::store::StoreArgs,
    /// Only this function (all functions when absent).
    #[arg(long)]
    pub function: Option<String>,
    /// How to pick a size.
    #[arg(long, value_enum, default_value_t = StrategyName::Cost)]
    pub strategy: StrategyName,
    /// Weight of cost for --strategy balanced, 0–1.
    #[arg(long, default_value_t = 0.5)]
    pub weight: f64,
    /// Extra cost allowed for speed with --strategy cheapest-within, in percent.
    #[arg(long, default_value_t = 10.0)]
    pub pct: f64,
    /// Billing granularity in ms: 1 (today) or 100 (before December 2020).
    #[arg(long, default_value_t = 1, value_parser = parse_granularity)]
    pub granularity_ms: u64,
    /// Consider only the memory sizes observed, without extrapolating.
    #[arg(long)]
    pub observed_only: bool,
    /// Architectures to consider: x86_64, arm64 or both (default: those observed).
    #[arg(long, value_parser = parse_architectures)]
    pub arch: Option<ArchitectureChoice>,
    /// arm64 duration / x86_64 duration, for an architecture not observed.
    #[arg(long, default_value_t = 1.0)]
    pub arm64_speed_factor: f64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Write the chart as SVG here (FILE-<function>.svg for several functions).
    #[arg(long)]
    pub chart: Option<PathBuf>,
    /// Write the Lambda Power Tuning input here (FILE-<function>.json for several).
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Region for the function ARN in the plan.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Only invocations since: epoch ms, an ISO 8601 time, or an age like 7d, 12h, 30m.
    #[arg(long, value_parser = parse_since)]
    pub since: Option<Since>,
    /// The most recent invocations read per function, architecture and size.
    #[arg(long, default_value_t = 5000)]
    pub limit_per_size: usize,
}

/// The strategies, as the command line spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StrategyName {
    /// The cheapest.
    Cost,
    /// The fastest.
    Speed,
    /// A weighted mix of cost and speed.
    Balanced,
    /// The fastest within a percentage of the cheapest.
    CheapestWithin,
}

fn parse_architectures(text: &str) -> Result<ArchitectureChoice, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "both" => Ok(ArchitectureChoice::Both),
        other => other
            .parse::<Architecture>()
            .map(ArchitectureChoice::Only)
            .map_err(|_| format!("{text:?} is not an architecture: use x86_64, arm64 or both")),
    }
}

impl TuneArgs {
    fn options(&self) -> anyhow::Result<TuneOptions> {
        let strategy = match self.strategy {
            StrategyName::Cost => Strategy::Cost,
            StrategyName::Speed => Strategy::Speed,
            StrategyName::Balanced => {
                if !(0.0..=1.0).contains(&self.weight) {
                    anyhow::bail!("--weight must be between 0 and 1, not {}", self.weight);
                }
                Strategy::Balanced {
                    weight: self.weight,
                }
            }
            StrategyName::CheapestWithin => {
                if !(self.pct.is_finite() && self.pct >= 0.0) {
                    anyhow::bail!("--pct must be a non-negative number, not {}", self.pct);
                }
                Strategy::CheapestWithin { pct: self.pct }
            }
        };
        if !(self.arm64_speed_factor.is_finite() && self.arm64_speed_factor > 0.0) {
            anyhow::bail!(
                "--arm64-speed-factor must be a positive number, not {}",
                self.arm64_speed_factor
            );
        }
        Ok(TuneOptions {
            strategy,
            billing: Billing {
                granularity_ms: self.granularity_ms,
                ..Billing::default()
            },
            prices: PriceTable::list().default,
            observed_only: self.observed_only,
            architectures: self.arch.unwrap_or_default(),
            arm64_speed_factor: self.arm64_speed_factor,
            ..TuneOptions::default()
        })
    }

    fn since_ms(&self) -> Option<i64> {
        Some(self.since?.resolve(super::now_ms()))
    }
}

/// Runs `lamlog tune` on the store named by `--db` or `--database-url`.
pub fn run(args: TuneArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let mut store = args.store.target().open(true).await?;
        run_with_store(args, &mut store).await
    })
}

/// Runs `lamlog tune` against an open store: reads the samples, tunes,
/// prints, and writes the chart and plan files asked for. Exit code 1 when
/// there was nothing to tune.
pub async fn run_with_store<S: Store>(args: TuneArgs, store: &mut S) -> anyhow::Result<ExitCode> {
    let options = args.options()?;
    let samples = store
        .tune_samples(
            args.function.as_deref(),
            args.since_ms(),
            args.limit_per_size,
        )
        .await
        .with_context(|| {
            format!(
                "cannot read invocations from {}",
                args.store.target().describe()
            )
        })?;
    let tuned = tune(&samples, &options);
    if tuned.recommendations.is_empty() {
        eprintln!(
            "lamlog tune: no reported successful invocations{}{} to tune",
            args.function
                .as_deref()
                .map(|name| format!(" of {name}"))
                .unwrap_or_default(),
            if args.since.is_some() {
                " in that time range"
            } else {
                ""
            }
        );
        for skipped in &tuned.skipped {
            eprintln!("  {}: {}", skipped.function, skipped.reason);
        }
        return Ok(ExitCode::from(1));
    }
    let several = tuned.recommendations.len() > 1;
    for recommendation in &tuned.recommendations {
        if let Some(chart) = &args.chart {
            let path = per_function_path(chart, &recommendation.function, several);
            std::fs::write(&path, render_svg(recommendation))
                .with_context(|| format!("cannot write chart {}", path.display()))?;
        }
        if let Some(plan) = &args.plan {
            let path = per_function_path(plan, &recommendation.function, several);
            let arn = function_arn(
                &args.region,
                &recommendation.account,
                &recommendation.function,
            );
            let input = power_tuning_input(recommendation, arn, 50);
            let json = serde_json::to_string_pretty(&input)?;
            std::fs::write(&path, json + "\n")
                .with_context(|| format!("cannot write plan {}", path.display()))?;
        }
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tuned)?);
    } else {
        print_table(&tuned);
    }
    Ok(ExitCode::SUCCESS)
}

/// `FILE` for one function; `FILE-<function>.<ext>` for several.
fn per_function_path(path: &Path, function: &str, several: bool) -> PathBuf {
    if !several {
        return path.to_path_buf();
    }
    let safe: String = function
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || "-_.".contains(character) {
                character
            } else {
                '_'
            }
        })
        .collect();
    let stem = path
        .file_stem()
        .map_or_else(String::new, |stem| stem.to_string_lossy().into_owned());
    let name = match path.extension() {
        Some(extension) => format!("{stem}-{safe}.{}", extension.to_string_lossy()),
        None => format!("{stem}-{safe}"),
    };
    path.with_file_name(name)
}

fn print_table(tuned: &Tuned) {
    println!(
        "{:<32} {:>12} {:>10}   {:>12} {:>24} {:>10} {:>12} {:>9}",
        "function",
        "current",
        "$/1M",
        "recommended",
        "duration ms (90 % CI)",
        "$/1M",
        "saving/mo",
        "fit MAPE"
    );
    for recommendation in &tuned.recommendations {
        print_row(recommendation);
    }
    for skipped in &tuned.skipped {
        println!("{:<32} skipped: {}", skipped.function, skipped.reason);
    }
}

fn print_row(recommendation: &Recommendation) {
    let current = &recommendation.current;
    let recommended = &recommendation.recommended;
    let size = |memory: u32, architecture: Architecture| {
        let short = match architecture {
            Architecture::X86_64 => "x86",
            Architecture::Arm64 => "arm",
        };
        format!("{memory} MB {short}")
    };
    let saving = recommendation
        .monthly_saving_usd
        .map_or_else(|| "-".to_owned(), |usd| format!("${usd:.2}"));
    let fit = recommendation
        .models
        .iter()
        .find(|model| model.architecture == recommended.architecture)
        .map_or_else(
            || "-".to_owned(),
            |model| format!("{:.1} %", model.fit.mape_pct),
        );
    println!(
        "{:<32} {:>12} {:>10.3}   {:>12} {:>24} {:>10.3} {:>12} {:>9}",
        recommendation.function,
        size(current.memory_size_mb, current.architecture),
        current.cost_per_million_usd,
        size(recommended.memory_size_mb, recommended.architecture),
        format!(
            "{:.1} ({:.1}–{:.1})",
            recommended.duration_ms, recommended.duration_low_ms, recommended.duration_high_ms
        ),
        recommended.cost_per_million_usd,
        saving,
        fit,
    );
    for warning in &recommendation.warnings {
        println!("    warning: {warning}");
    }
}

#[cfg(test)]
mod tests {
    use lamlog::store::{
        AlertOutbox, FunctionSummary, MinuteRow, StoreBatch, StoreError, WriteOutcome,
    };
    use lamlog_core::judge::Alert;
    use lamlog_core::tune::Sample;

    use super::*;

    /// A store that only answers `tune_samples`.
    struct Samples(Vec<Sample>);

    impl AlertOutbox for Samples {
        async fn claim_unsent_alerts(
            &mut self,
            _: i64,
            _: i64,
            _: usize,
        ) -> Result<Vec<Alert>, StoreError> {
            unimplemented!()
        }
        async fn mark_alerts_sent(&mut self, _: &[&str], _: i64) -> Result<(), StoreError> {
            unimplemented!()
        }
        async fn unsent_alert_count(&mut self) -> Result<u64, StoreError> {
            unimplemented!()
        }
    }

    impl Store for Samples {
        async fn record_environments(
            &mut self,
            _: &[lamlog_core::assemble::Environment],
            _: i64,
        ) -> Result<(), StoreError> {
            unimplemented!()
        }
        async fn environment_types(
            &mut self,
            _: &[lamlog_core::assemble::EnvironmentKey],
        ) -> Result<Vec<lamlog_core::assemble::Environment>, StoreError> {
            unimplemented!()
        }

        async fn write_batch(&mut self, _: &StoreBatch<'_>) -> Result<WriteOutcome, StoreError> {
            unimplemented!()
        }
        async fn function_summaries(
            &mut self,
            _: Option<i64>,
        ) -> Result<Vec<FunctionSummary>, StoreError> {
            unimplemented!()
        }
        async fn minute_rows(&mut self, _: Option<i64>) -> Result<Vec<MinuteRow>, StoreError> {
            unimplemented!()
        }
        async fn dump(&mut self) -> Result<String, StoreError> {
            unimplemented!()
        }

        async fn growing_streams(
            &mut self,
            _since_ms: Option<i64>,
        ) -> Result<Vec<lamlog::store::GrowingStream>, StoreError> {
            unimplemented!()
        }
        async fn tune_samples(
            &mut self,
            function: Option<&str>,
            since_ms: Option<i64>,
            _: usize,
        ) -> Result<Vec<Sample>, StoreError> {
            Ok(self
                .0
                .iter()
                .filter(|sample| function.is_none_or(|name| sample.function == name))
                .filter(|sample| since_ms.is_none_or(|since| sample.start_time_ms >= since))
                .cloned()
                .collect())
        }
    }

    fn samples() -> Vec<Sample> {
        let mut out = Vec::new();
        for (function, sizes) in [("a", &[512_u32, 1024, 3008][..]), ("b", &[256][..])] {
            for (index, &size) in sizes.iter().enumerate() {
                for step in 0..60_i64 {
                    let duration_ms = 20.0
                        + 90_000.0 / f64::from(size.min(1769))
                        + 200_000.0 / f64::from(size)
                        + (step % 7) as f64;
                    out.push(Sample {
                        account: "123456789012".to_owned(),
                        function: function.to_owned(),
                        architecture: Architecture::X86_64,
                        memory_size_mb: size,
                        duration_ms,
                        billed_duration_ms: Some(duration_ms.ceil() as u64),
                        max_memory_used_mb: Some(120),
                        init_duration_ms: (step == 0).then_some(250.0),
                        success: true,
                        start_time_ms: 1_000_000 * index as i64 + step * 1000,
                    });
                }
            }
        }
        out
    }

    #[tokio::test]
    async fn writes_chart_and_plan_per_function() {
        let dir = std::env::temp_dir().join(format!("lamlog-cli-tune-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        #[derive(clap::Parser)]
        struct Command {
            #[command(flatten)]
            args: TuneArgs,
        }
        let cli = <Command as clap::Parser>::parse_from([
            "tune",
            "--strategy",
            "balanced",
            "--weight",
            "0.4",
            "--arch",
            "both",
            "--chart",
            dir.join("chart.svg").to_str().unwrap(),
            "--plan",
            dir.join("plan.json").to_str().unwrap(),
            "--json",
        ])
        .args;
        let mut store = Samples(samples());
        let code = run_with_store(cli, &mut store).await.unwrap();
        assert_eq!(code, ExitCode::SUCCESS);
        let svg = std::fs::read_to_string(dir.join("chart-a.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("id=\"recommendation\""));
        let plan: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("plan-b.json")).unwrap()).unwrap();
        assert_eq!(plan["strategy"], "balanced");
        assert_eq!(
            plan["lambdaARN"],
            "arn:aws:lambda:us-east-1:123456789012:function:b"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn since_accepts_times_and_ages() {
        assert_eq!(
            parse_since("1700000000000"),
            Ok(Since::At(1_700_000_000_000))
        );
        assert_eq!(parse_since("7d"), Ok(Since::Ago(7 * 86_400_000)));
        assert_eq!(
            parse_since("2026-11-01T00:00:00Z"),
            Ok(Since::At(1_793_491_200_000))
        );
        assert!(parse_since("soon").is_err());
    }
}
