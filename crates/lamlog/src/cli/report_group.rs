//! `lamlog report --by`: the functions' totals grouped by account, tenant or
//! a tag. A group's counts, costs and histogram are the sums of its
//! functions', so its percentiles are those of all its invocations, and the
//! groups of any grouping sum to the report's totals exactly (costs are
//! summed in pico-dollars).

use std::collections::BTreeMap;

use lamlog::store::FunctionSummary;
use lamlog_core::meta::FunctionMeta;
use serde::Serialize;

use super::report_figures::{Figures, Totals};

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
    #[serde(flatten)]
    pub figures: Figures,
}

/// The functions grouped by one dimension, costliest group first.
#[derive(Debug, Clone, Serialize)]
pub struct Grouping {
    /// `account`, `tenant` or `tag:KEY`.
    pub by: String,
    pub groups: Vec<GroupRow>,
}

/// Groups `summaries` under their `labels`; `totals` are the summaries'
/// totals as the report computes them.
pub fn group(
    dimension: &Dimension,
    summaries: &[FunctionSummary],
    labels: &[String],
    totals: &[Totals],
) -> Grouping {
    let mut sums: BTreeMap<&str, (usize, Totals, BTreeMap<i32, i64>)> = BTreeMap::new();
    for ((summary, label), totals) in summaries.iter().zip(labels).zip(totals) {
        let (functions, group_totals, histogram) = sums.entry(label.as_str()).or_default();
        *functions += 1;
        group_totals.add(totals);
        for &(bucket, count) in &summary.histogram {
            let slot = histogram.entry(bucket).or_default();
            *slot = slot.saturating_add(count);
        }
    }
    let mut groups: Vec<GroupRow> = sums
        .into_iter()
        .map(|(label, (functions, totals, histogram))| {
            let histogram: Vec<(i32, i64)> = histogram.into_iter().collect();
            GroupRow {
                group: label.to_owned(),
                functions,
                figures: Figures::of(&totals, &histogram),
            }
        })
        .collect();
    groups.sort_by(|a, b| {
        b.figures
            .cost_pico_usd
            .cmp(&a.figures.cost_pico_usd)
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
