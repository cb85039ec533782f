//! Price: an invocation's figures → what AWS charges for it.
//!
//! Cost of one invocation = request fee + GB-seconds × the price per GB-second
//! for the architecture and the volume tier, where GB-seconds = memory in MB /
//! 1024 × billed seconds. Billed time comes from the REPORT's `Billed
//! Duration`, which already follows the rounding in force (1 ms since December
//! 2020, 100 ms before) and whether init was billed; when there is no billed
//! value, or for a what-if, the duration is rounded up to the granularity.
//!
//! Beyond on-demand, an invocation's [`Charges`] say what else it pays or
//! pays differently ([`price_with`]):
//! - **ephemeral storage** configured above the free 512 MB, per GB-second
//!   of the same billed duration;
//! - **provisioned concurrency**: its invocations pay the provisioned
//!   duration price instead of the on-demand one. The hourly charge for
//!   keeping the environments ready is billed whether or not anything runs,
//!   and no log line carries it, so it is in no invocation's cost;
//! - **SnapStart restores** of Python and .NET functions pay per GB of memory
//!   restored; Java's restores are free. The restore's runtime hooks
//!   (`Billed Restore Duration`) are already inside `Billed Duration`, and the
//!   snapshot cache is a charge per published version, in no log line.
//!
//! Prices live in one dated table, [`PriceTable::LIST`], with its source. A
//! region can override it in configuration. Arithmetic is in `f64`: the figures
//! here are far inside its 15–16 significant digits, and the tests pin the
//! published numbers to 1e-15 USD.

use serde::{Deserialize, Serialize};

use crate::meta::Architecture;

/// One volume tier: the price applies to the monthly GB-seconds up to `up_to_gb_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tier {
    /// Upper bound of the tier in GB-seconds per month; `None` for the last tier.
    pub up_to_gb_s: Option<f64>,
    /// USD per GB-second inside the tier.
    pub usd_per_gb_s: f64,
}

/// The prices of one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// USD per request.
    pub request_usd: f64,
    /// x86_64 duration tiers, cheapest last.
    pub x86_64: Vec<Tier>,
    /// arm64 duration tiers, cheapest last.
    pub arm64: Vec<Tier>,
    /// What on-demand invocations do not pay (the list prices when absent).
    #[serde(default)]
    pub extras: ExtraPrices,
}

/// The prices of what a plain on-demand invocation does not pay.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraPrices {
    /// USD per GB-second of ephemeral storage above the free 512 MB.
    pub ephemeral_usd_per_gb_s: f64,
    /// Duration price of an invocation on provisioned concurrency, x86_64.
    pub provisioned_x86_64_usd_per_gb_s: f64,
    /// Duration price of an invocation on provisioned concurrency, arm64.
    pub provisioned_arm64_usd_per_gb_s: f64,
    /// USD per GB of memory restored from a SnapStart snapshot (Python, .NET).
    pub snapstart_restore_usd_per_gb: f64,
}

impl Default for ExtraPrices {
    /// US East (N. Virginia) list prices.
    fn default() -> Self {
        ExtraPrices {
            ephemeral_usd_per_gb_s: 0.000_000_030_9,
            provisioned_x86_64_usd_per_gb_s: 0.000_009_722_2,
            provisioned_arm64_usd_per_gb_s: 0.000_007_777_8,
            snapstart_restore_usd_per_gb: 0.000_139_799_8,
        }
    }
}

/// Ephemeral storage every function has at no charge, MB.
pub const FREE_EPHEMERAL_STORAGE_MB: u32 = 512;

/// How one invocation is billed beyond memory × duration at the on-demand
/// price. The default is a plain on-demand invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Charges {
    /// Configured ephemeral storage, MB (`None`: the free 512 MB).
    pub ephemeral_storage_mb: Option<u32>,
    /// It ran on provisioned concurrency: the provisioned duration price.
    pub provisioned: bool,
    /// It was a SnapStart restore of a runtime whose restores are charged.
    pub charged_restore: bool,
}

impl Prices {
    /// The tiers of an architecture.
    pub fn tiers(&self, architecture: Architecture) -> &[Tier] {
        match architecture {
            Architecture::X86_64 => &self.x86_64,
            Architecture::Arm64 => &self.arm64,
        }
    }

    /// The first-tier (list) price per GB-second of an architecture.
    pub fn list_usd_per_gb_s(&self, architecture: Architecture) -> f64 {
        self.tiers(architecture)
            .first()
            .map_or(0.0, |tier| tier.usd_per_gb_s)
    }

    /// The duration price per GB-second of an invocation: the first-tier
    /// on-demand price, or the provisioned one when it ran on provisioned
    /// concurrency.
    pub fn duration_usd_per_gb_s(&self, architecture: Architecture, provisioned: bool) -> f64 {
        match (provisioned, architecture) {
            (false, _) => self.list_usd_per_gb_s(architecture),
            (true, Architecture::X86_64) => self.extras.provisioned_x86_64_usd_per_gb_s,
            (true, Architecture::Arm64) => self.extras.provisioned_arm64_usd_per_gb_s,
        }
    }

    /// The duration charge for a month's GB-seconds, each tier at its price.
    pub fn monthly_compute_usd(&self, architecture: Architecture, gb_s: f64) -> f64 {
        let mut remaining = gb_s;
        let mut floor = 0.0;
        let mut total = 0.0;
        for tier in self.tiers(architecture) {
            let width = tier
                .up_to_gb_s
                .map_or(f64::INFINITY, |ceiling| ceiling - floor);
            let in_tier = remaining.min(width);
            total += in_tier * tier.usd_per_gb_s;
            remaining -= in_tier;
            floor = tier.up_to_gb_s.unwrap_or(floor);
            if remaining <= 0.0 {
                break;
            }
        }
        total
    }
}

/// A dated table of prices, with its source, and per-region overrides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceTable {
    /// The date the prices were taken (ISO 8601).
    pub as_of: String,
    /// Where they come from.
    pub source: String,
    /// Prices used for any region without an override.
    pub default: Prices,
    /// Per-region overrides, keyed by region name.
    #[serde(default)]
    pub regions: std::collections::BTreeMap<String, Prices>,
}

impl PriceTable {
    /// AWS Lambda list prices, US East (N. Virginia), which most regions share.
    pub fn list() -> PriceTable {
        PriceTable {
            as_of: "2025-08-01".to_owned(),
            source: "aws.amazon.com/lambda/pricing; AWS Compute Blog \"Introducing tiered pricing for AWS Lambda\" (2022-08)"
                .to_owned(),
            default: Prices {
                request_usd: 0.000_000_2,
                x86_64: vec![
                    Tier { up_to_gb_s: Some(6.0e9), usd_per_gb_s: 0.000_016_666_7 },
                    Tier { up_to_gb_s: Some(15.0e9), usd_per_gb_s: 0.000_015 },
                    Tier { up_to_gb_s: None, usd_per_gb_s: 0.000_013_333_4 },
                ],
                arm64: vec![
                    Tier { up_to_gb_s: Some(7.5e9), usd_per_gb_s: 0.000_013_333_4 },
                    Tier { up_to_gb_s: Some(18.75e9), usd_per_gb_s: 0.000_012_000_1 },
                    Tier { up_to_gb_s: None, usd_per_gb_s: 0.000_010_666_7 },
                ],
                extras: ExtraPrices::default(),
            },
            regions: Default::default(),
        }
    }

    /// The prices of a region (the default when it has no override).
    pub fn for_region(&self, region: Option<&str>) -> &Prices {
        region
            .and_then(|region| self.regions.get(region))
            .unwrap_or(&self.default)
    }
}

/// How to bill when the REPORT does not say, and what-if settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Billing {
    /// Rounding of billed duration: 1 ms today, 100 ms before December 2020.
    pub granularity_ms: u64,
    /// Whether the per-request fee is charged.
    pub request_fee: bool,
    /// A flat price per GB-second that replaces the table's tiers.
    pub usd_per_gb_s: Option<f64>,
}

impl Default for Billing {
    fn default() -> Self {
        Billing {
            granularity_ms: 1,
            request_fee: true,
            usd_per_gb_s: None,
        }
    }
}

/// What one invocation costs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Cost {
    /// The billed duration used.
    pub billed_duration_ms: u64,
    /// Memory in GB × billed seconds.
    pub gb_s: f64,
    /// Duration charge.
    pub compute_usd: f64,
    /// Request fee.
    pub request_usd: f64,
    /// Ephemeral storage above the free 512 MB.
    pub ephemeral_usd: f64,
    /// SnapStart restore.
    pub restore_usd: f64,
    /// The sum.
    pub total_usd: f64,
}

/// Duration rounded up to the granularity (a zero granularity counts as 1 ms).
///
/// NaN, infinite and negative durations bill 0. The integer steps saturate
/// at `u64::MAX` instead of overflowing: a what-if granularity or a stored
/// duration can be anything, and a saturated figure is a wrong answer for an
/// absurd input, where a panic would be a failed batch.
pub fn billed_duration_ms(duration_ms: f64, granularity_ms: u64) -> u64 {
    let granularity_ms = granularity_ms.max(1);
    if !(duration_ms.is_finite() && duration_ms > 0.0) {
        return 0;
    }
    // Lambda prints durations with two decimals; rounding to microseconds
    // first keeps 250.00 at 250 and not 250.0000000001. The `as` cast
    // saturates at u64::MAX for durations past it.
    let duration_us = (duration_ms * 1000.0).round() as u64;
    let granularity_us = granularity_ms.saturating_mul(1000);
    duration_us
        .div_ceil(granularity_us)
        .saturating_mul(granularity_ms)
}

/// Prices one plain on-demand invocation on the first (list) tier.
///
/// `billed_ms` is the REPORT's billed duration; when absent the duration is
/// rounded up to `billing.granularity_ms`.
pub fn price(
    memory_size_mb: u32,
    duration_ms: f64,
    billed_ms: Option<u64>,
    architecture: Architecture,
    prices: &Prices,
    billing: &Billing,
) -> Cost {
    price_with(
        memory_size_mb,
        duration_ms,
        billed_ms,
        architecture,
        &Charges::default(),
        prices,
        billing,
    )
}

/// Prices one invocation with its [`Charges`]: the duration at the
/// provisioned price when it ran on provisioned concurrency (a flat
/// `billing.usd_per_gb_s` still replaces either), plus ephemeral storage
/// above 512 MB for the same billed time, plus a charged SnapStart restore.
pub fn price_with(
    memory_size_mb: u32,
    duration_ms: f64,
    billed_ms: Option<u64>,
    architecture: Architecture,
    charges: &Charges,
    prices: &Prices,
    billing: &Billing,
) -> Cost {
    let billed_duration_ms =
        billed_ms.unwrap_or_else(|| billed_duration_ms(duration_ms, billing.granularity_ms));
    let billed_s = billed_duration_ms as f64 / 1000.0;
    let memory_gb = f64::from(memory_size_mb) / 1024.0;
    let gb_s = memory_gb * billed_s;
    let extras = &prices.extras;
    let usd_per_gb_s = billing
        .usd_per_gb_s
        .unwrap_or_else(|| prices.duration_usd_per_gb_s(architecture, charges.provisioned));
    let compute_usd = gb_s * usd_per_gb_s;
    let request_usd = if billing.request_fee {
        prices.request_usd
    } else {
        0.0
    };
    let extra_storage_gb = f64::from(
        charges
            .ephemeral_storage_mb
            .unwrap_or(FREE_EPHEMERAL_STORAGE_MB)
            .saturating_sub(FREE_EPHEMERAL_STORAGE_MB),
    ) / 1024.0;
    let ephemeral_usd = extra_storage_gb * billed_s * extras.ephemeral_usd_per_gb_s;
    let restore_usd = if charges.charged_restore {
        memory_gb * extras.snapstart_restore_usd_per_gb
    } else {
        0.0
    };
    Cost {
        billed_duration_ms,
        gb_s,
        compute_usd,
        request_usd,
        ephemeral_usd,
        restore_usd,
        total_usd: compute_usd + request_usd + ephemeral_usd + restore_usd,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epsagon() -> Billing {
        Billing {
            granularity_ms: 100,
            request_fee: false,
            usd_per_gb_s: Some(0.000_016_66),
        }
    }

    #[test]
    fn epsagon_case_study_figures() {
        let prices = PriceTable::list().default;
        let cost = price(128, 1600.0, None, Architecture::X86_64, &prices, &epsagon());
        assert_eq!(cost.billed_duration_ms, 1600);
        assert!((cost.gb_s - 0.2).abs() < 1e-15);
        assert!(
            (cost.total_usd - 0.000_003_332).abs() < 1e-15,
            "{}",
            cost.total_usd
        );
        let monthly_1m = cost.total_usd * 1_000_000.0 * 30.0;
        assert!((monthly_1m - 99.96).abs() < 1e-6, "{monthly_1m}");
        let monthly_20m = cost.total_usd * 20_000_000.0 * 30.0;
        assert!((monthly_20m - 1999.2).abs() < 1e-6, "{monthly_20m}");
        let small = price(512, 250.0, None, Architecture::X86_64, &prices, &epsagon());
        assert_eq!(small.billed_duration_ms, 300);
    }

    #[test]
    fn current_list_price_with_request_fee() {
        let prices = PriceTable::list().default;
        let cost = price(
            128,
            1600.0,
            None,
            Architecture::X86_64,
            &prices,
            &Billing::default(),
        );
        assert!(
            (cost.total_usd - 0.000_003_533_34).abs() < 1e-15,
            "{}",
            cost.total_usd
        );
        let arm = price(
            128,
            1600.0,
            None,
            Architecture::Arm64,
            &prices,
            &Billing {
                request_fee: false,
                ..Billing::default()
            },
        );
        assert!(
            (arm.total_usd - 0.000_002_666_68).abs() < 1e-15,
            "{}",
            arm.total_usd
        );
    }

    #[test]
    fn billed_duration_rounds_up_to_granularity() {
        assert_eq!(billed_duration_ms(250.0, 1), 250);
        assert_eq!(billed_duration_ms(250.01, 1), 251);
        assert_eq!(billed_duration_ms(0.62, 100), 100);
        assert_eq!(billed_duration_ms(300.0, 100), 300);
        assert_eq!(billed_duration_ms(300.01, 100), 400);
        assert_eq!(billed_duration_ms(f64::NAN, 1), 0);
        assert_eq!(billed_duration_ms(5.0, 0), 5);
    }

    #[test]
    fn billed_duration_saturates_on_absurd_inputs() {
        assert_eq!(billed_duration_ms(f64::INFINITY, 1), 0);
        assert_eq!(billed_duration_ms(-5.0, 1), 0);
        // One granularity step of u64::MAX ms holds any duration.
        assert_eq!(billed_duration_ms(5.0, u64::MAX), u64::MAX);
        assert_eq!(billed_duration_ms(f64::MAX, 1), u64::MAX / 1000 + 1);
    }

    #[test]
    fn report_billed_duration_wins_over_granularity() {
        let prices = PriceTable::list().default;
        let cost = price(
            128,
            4.42,
            Some(338),
            Architecture::X86_64,
            &prices,
            &epsagon(),
        );
        assert_eq!(cost.billed_duration_ms, 338);
    }

    #[test]
    fn tiers_apply_progressively() {
        let prices = PriceTable::list().default;
        let first = prices.monthly_compute_usd(Architecture::X86_64, 6.0e9);
        assert!((first - 6.0e9 * 0.000_016_666_7).abs() < 1e-3);
        let beyond = prices.monthly_compute_usd(Architecture::X86_64, 16.0e9);
        let expected = 6.0e9 * 0.000_016_666_7 + 9.0e9 * 0.000_015 + 1.0e9 * 0.000_013_333_4;
        assert!((beyond - expected).abs() < 1e-3, "{beyond} vs {expected}");
    }
}
