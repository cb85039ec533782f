//! Cost beyond plain on-demand, each against an example worked by hand from
//! AWS's Lambda pricing page (US East, N. Virginia): the provisioned
//! duration price, ephemeral storage above 512 MB, SnapStart restores.

use lamlog_core::meta::Architecture;
use lamlog_core::price::{price, price_with, Billing, Charges, PriceTable};

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= 1e-9 * expected.abs().max(1e-12)
}

/// The pricing page's provisioned-concurrency example: 1,024 MB, 1,000
/// environments provisioned for two hours, 1.2 million invocations of one
/// second each. By hand:
/// - duration: 1.2 M × 1 s × 1 GB = 1.2 M GB-s × $0.000 009 722 2 = $11.666 64,
///   which the page shows as $11.67;
/// - requests: 1.2 M × $0.20 / M = $0.24;
/// - provisioned concurrency: 1,000 GB × 7,200 s = 7.2 M GB-s × $0.000 004 166 7
///   = $30.00, which no log line carries and no invocation's cost includes.
#[test]
fn provisioned_concurrency_invocations_pay_the_provisioned_duration_price() {
    let prices = PriceTable::list().default;
    let billing = Billing::default();
    let provisioned = Charges {
        provisioned: true,
        ..Charges::default()
    };
    let one = price_with(
        1024,
        1000.0,
        Some(1000),
        Architecture::X86_64,
        &provisioned,
        &prices,
        &billing,
    );
    let invocations = 1.2e6;
    assert!(
        close(one.compute_usd * invocations, 11.666_64),
        "{}",
        one.compute_usd * invocations
    );
    assert_eq!(format!("{:.2}", one.compute_usd * invocations), "11.67");
    assert!(close(one.request_usd * invocations, 0.24));
    assert!(close(one.total_usd * invocations, 11.906_64));
    assert_eq!(one.ephemeral_usd + one.restore_usd, 0.0);

    // The same invocations on demand: 1.2 M GB-s × $0.000 016 666 7 = $20.000 04.
    let on_demand = price(
        1024,
        1000.0,
        Some(1000),
        Architecture::X86_64,
        &prices,
        &billing,
    );
    assert!(close(on_demand.compute_usd * invocations, 20.000_04));

    // arm64: 1.2 M GB-s × $0.000 007 777 8 = $9.333 36.
    let arm = price_with(
        1024,
        1000.0,
        Some(1000),
        Architecture::Arm64,
        &provisioned,
        &prices,
        &billing,
    );
    assert!(close(arm.compute_usd * invocations, 9.333_36));
}

/// Ephemeral storage, at the page's $0.000 000 030 9 per GB-second above the
/// free 512 MB: 3 million invocations of one second with 10,240 MB of
/// storage pay for (10,240 − 512) / 1,024 = 9.5 GB × 3 M s = 28.5 M GB-s,
/// $0.880 65. Memory does not enter it.
#[test]
fn ephemeral_storage_above_512_mb_is_charged_per_gb_second() {
    let prices = PriceTable::list().default;
    let billing = Billing {
        request_fee: false,
        ..Billing::default()
    };
    let storage = |mb: Option<u32>| Charges {
        ephemeral_storage_mb: mb,
        ..Charges::default()
    };
    for memory_size_mb in [128, 512, 3008] {
        let cost = price_with(
            memory_size_mb,
            999.01,
            None,
            Architecture::X86_64,
            &storage(Some(10_240)),
            &prices,
            &billing,
        );
        assert_eq!(cost.billed_duration_ms, 1000);
        assert!(
            close(cost.ephemeral_usd * 3.0e6, 0.880_65),
            "{}",
            cost.ephemeral_usd * 3.0e6
        );
        assert!(close(cost.total_usd, cost.compute_usd + cost.ephemeral_usd));
    }
    for free in [None, Some(512), Some(128)] {
        let cost = price_with(
            512,
            1000.0,
            None,
            Architecture::Arm64,
            &storage(free),
            &prices,
            &billing,
        );
        assert_eq!(cost.ephemeral_usd, 0.0, "{free:?}");
    }
    // One MB above the free 512 for a second: 1/1024 GB-s.
    let cost = price_with(
        512,
        1000.0,
        None,
        Architecture::Arm64,
        &storage(Some(513)),
        &prices,
        &billing,
    );
    assert!(close(cost.ephemeral_usd, 0.000_000_030_9 / 1024.0));
}

/// SnapStart restores of Python and .NET functions, at the page's
/// $0.000 139 799 8 per GB restored: a 2,048 MB function restored 10,000
/// times pays 2 GB × 10,000 × $0.000 139 799 8 = $2.795 996, on top of its
/// duration (whose `Billed Duration` already holds the billed restore time).
#[test]
fn a_charged_snapstart_restore_pays_per_gb_of_memory() {
    let prices = PriceTable::list().default;
    let billing = Billing::default();
    let restored = Charges {
        charged_restore: true,
        ..Charges::default()
    };
    let cost = price_with(
        2048,
        147.156,
        Some(201),
        Architecture::X86_64,
        &restored,
        &prices,
        &billing,
    );
    assert!(
        close(cost.restore_usd * 1.0e4, 2.795_996),
        "{}",
        cost.restore_usd * 1.0e4
    );
    let plain = price(
        2048,
        147.156,
        Some(201),
        Architecture::X86_64,
        &prices,
        &billing,
    );
    assert!(close(cost.total_usd - plain.total_usd, cost.restore_usd));
    assert_eq!(plain.restore_usd, 0.0);
}

/// A flat what-if price replaces the provisioned price too, and the extras'
/// prices can be overridden like the others.
#[test]
fn overrides_apply_to_the_extras() {
    let mut prices = PriceTable::list().default;
    prices.extras.ephemeral_usd_per_gb_s = 1.0;
    let flat = Billing {
        request_fee: false,
        usd_per_gb_s: Some(2.0),
        ..Billing::default()
    };
    let charges = Charges {
        provisioned: true,
        ephemeral_storage_mb: Some(1536),
        charged_restore: false,
    };
    let cost = price_with(
        1024,
        500.0,
        None,
        Architecture::X86_64,
        &charges,
        &prices,
        &flat,
    );
    assert!(close(cost.compute_usd, 1.0));
    assert!(close(cost.ephemeral_usd, 0.5));
    let parsed: lamlog_core::price::Prices = serde_json::from_str(
        r#"{"request_usd": 0.0000002, "x86_64": [], "arm64": [],
            "extras": {"ephemeral_usd_per_gb_s": 1e-8, "provisioned_x86_64_usd_per_gb_s": 1e-5,
                       "provisioned_arm64_usd_per_gb_s": 1e-5, "snapstart_restore_usd_per_gb": 1e-4}}"#,
    )
    .unwrap();
    assert_eq!(parsed.extras.ephemeral_usd_per_gb_s, 1e-8);
    let defaulted: lamlog_core::price::Prices =
        serde_json::from_str(r#"{"request_usd": 0.0000002, "x86_64": [], "arm64": []}"#).unwrap();
    assert_eq!(defaulted.extras, lamlog_core::price::ExtraPrices::default());
}
