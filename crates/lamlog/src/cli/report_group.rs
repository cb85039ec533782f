//! `lamlog report --by`: the functions' totals grouped by account, tenant or
//! a tag. A group's counts, costs and histogram are the sums of its
//! functions', so its percentiles are those of all its invocations, and the
//! groups of any grouping sum to the report's totals exactly (costs are
//! summed in pico-dollars).

use std::collections::BTreeMap;

use lamlog::store::FunctionSummary;
use lamlog_core::meta::FunctionMeta;
use lamlog_core::rollup::percentile_ms;
use serde::Serialize;

/// What `--by` groups the functions by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dimension {
    /// One row per function (the default).
    Function,
    /// The AWS account.
    Account,
    /// The tenant named in the function's metadata.
    Tenant,
    /// The value of one tag of the function's metadata.
    Tag(String),
}

/// The label of the functions lamlog has no metadata for.
pub const NO_METADATA: &str = "(no metadata)";

impl Dimension {
    /// Whether the labels come from function metadata.
    pub fn needs_metadata(&self) -> bool {
        matches!(self, Dimension::Tenant | Dimension::Tag(_))
    }

    /// The column heading, and the name `--json` gives the grouping.
    pub fn name(&self) -> String {
        match self {
            Dimension::Function => "function".to_owned(),
            Dimension::Account => "account".to_owned(),
            Dimension::Tenant => "tenant".to_owned(),
            Dimension::Tag(key) => format!("tag:{key}"),
        }
    }

    /// The group of a function in `account` with metadata `meta` (`None`:
    /// none was found).
    pub fn label(&self, account: &str, function: &str, meta: Option<&FunctionMeta>) -> String {
        match self {
            Dimension::Function => function.to_owned(),
            Dimension::Account => account.to_owned(),
            Dimension::Tenant => meta.map_or_else(
                || NO_METADATA.to_owned(),
                |meta| {
                    meta.tenant
                        .clone()
                        .unwrap_or_else(|| "(no tenant)".to_owned())
                },
            ),
            Dimension::Tag(key) => meta.map_or_else(
                || NO_METADATA.to_owned(),
                |meta| {
                    meta.tags
                        .get(key)
                        .cloned()
                        .unwrap_or_else(|| format!("(no {key} tag)"))
                },
            ),
        }
    }
}

/// Parses `--by`: `function`, `account`, `tenant` or `tag:KEY`.
pub fn parse_dimension(text: &str) -> Result<Dimension, String> {
    match text {
        "function" => Ok(Dimension::Function),
        "account" => Ok(Dimension::Account),
        "tenant" => Ok(Dimension::Tenant),
        _ => match text.strip_prefix("tag:") {
            Some(key) if !key.trim().is_empty() => Ok(Dimension::Tag(key.to_owned())),
            Some(_) => Err("`tag:` needs a key, for example tag:team".to_owned()),
            None => Err(format!(
                "unknown grouping `{text}`: expected function, account, tenant or tag:KEY"
            )),
        },
    }
}

/// One group of the report.
#[derive(Debug, Clone, Serialize)]
pub struct GroupRow {
    /// The group's label.
    pub group: String,
    /// How many functions it has.
    pub functions: usize,
    pub invocations: i64,
    pub error_rate: f64,
    pub timeout_rate: f64,
    pub oom_rate: f64,
    pub crash_rate: f64,
    pub cold_start_rate: f64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub billed_gb_s: f64,
    pub cost_pico_usd: i64,
    pub cost_usd: f64,
    pub projected_monthly_pico_usd: i64,
    pub projected_monthly_usd: f64,
}

/// The functions grouped by one dimension, costliest group first.
#[derive(Debug, Clone, Serialize)]
pub struct Grouping {
    /// `account`, `tenant` or `tag:KEY`.
    pub by: String,
    pub groups: Vec<GroupRow>,
}

/// A group's running sums.
#[derive(Default)]
struct Sums {
    functions: usize,
    counts: [i64; 7],
    billed_mb_ms: i64,
    cost_pico_usd: i64,
    projected_monthly_pico_usd: i64,
    histogram: BTreeMap<i32, i64>,
}

/// Groups `summaries` under their labels; `projected_pico` is each
/// summary's projected monthly cost in pico-dollars, as the report rounds it.
pub fn group(
    dimension: &Dimension,
    summaries: &[FunctionSummary],
    labels: &[String],
    projected_pico: &[i64],
) -> Grouping {
    let mut sums: BTreeMap<&str, Sums> = BTreeMap::new();
    for ((summary, label), projected) in summaries.iter().zip(labels).zip(projected_pico) {
        let group = sums.entry(label.as_str()).or_default();
        group.functions += 1;
        let counts = [
            summary.invocations.max(0),
            summary.errors,
            summary.timeouts,
            summary.ooms,
            summary.crashes,
            summary.cold_starts,
            summary.duration_sum_us,
        ];
        for (sum, count) in group.counts.iter_mut().zip(counts) {
            *sum = sum.saturating_add(count);
        }
        group.billed_mb_ms = group.billed_mb_ms.saturating_add(summary.billed_mb_ms);
        group.cost_pico_usd = group.cost_pico_usd.saturating_add(summary.cost_pico_usd);
        group.projected_monthly_pico_usd =
            group.projected_monthly_pico_usd.saturating_add(*projected);
        for &(bucket, count) in &summary.histogram {
            let slot = group.histogram.entry(bucket).or_default();
            *slot = slot.saturating_add(count);
        }
    }
    let mut groups: Vec<GroupRow> = sums
        .into_iter()
        .map(|(label, sums)| {
            let [invocations, errors, timeouts, ooms, crashes, cold_starts, _] = sums.counts;
            let rate = |count: i64| {
                if invocations == 0 {
                    0.0
                } else {
                    count as f64 / invocations as f64
                }
            };
            let histogram: Vec<(i32, i64)> = sums.histogram.into_iter().collect();
            GroupRow {
                group: label.to_owned(),
                functions: sums.functions,
                invocations,
                error_rate: rate(errors),
                timeout_rate: rate(timeouts),
                oom_rate: rate(ooms),
                crash_rate: rate(crashes),
                cold_start_rate: rate(cold_starts),
                p50_ms: percentile_ms(&histogram, 0.50),
                p95_ms: percentile_ms(&histogram, 0.95),
                p99_ms: percentile_ms(&histogram, 0.99),
                billed_gb_s: sums.billed_mb_ms as f64 / 1024.0 / 1000.0,
                cost_pico_usd: sums.cost_pico_usd,
                cost_usd: sums.cost_pico_usd as f64 / 1e12,
                projected_monthly_pico_usd: sums.projected_monthly_pico_usd,
                projected_monthly_usd: sums.projected_monthly_pico_usd as f64 / 1e12,
            }
        })
        .collect();
    groups.sort_by(|a, b| {
        b.cost_pico_usd
            .cmp(&a.cost_pico_usd)
            .then_with(|| a.group.cmp(&b.group))
    });
    Grouping {
        by: dimension.name(),
        groups,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groupings_parse_and_bad_ones_say_what_is_expected() {
        assert_eq!(parse_dimension("tenant"), Ok(Dimension::Tenant));
        assert_eq!(
            parse_dimension("tag:team"),
            Ok(Dimension::Tag("team".to_owned()))
        );
        assert!(parse_dimension("tag:").unwrap_err().contains("tag:team"));
        let error = parse_dimension("region").unwrap_err();
        assert!(
            error.contains("function, account, tenant or tag:KEY"),
            "{error}"
        );
    }

    #[test]
    fn functions_without_metadata_or_without_the_field_are_labelled_so() {
        let meta = FunctionMeta::default();
        let tag = Dimension::Tag("team".to_owned());
        assert_eq!(Dimension::Tenant.label("1", "f", None), NO_METADATA);
        assert_eq!(
            Dimension::Tenant.label("1", "f", Some(&meta)),
            "(no tenant)"
        );
        assert_eq!(tag.label("1", "f", Some(&meta)), "(no team tag)");
        assert_eq!(Dimension::Account.label("1", "f", None), "1");
    }
}
