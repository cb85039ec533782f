//! Charges: an invocation and its function's metadata → how AWS bills it
//! beyond memory × duration at the on-demand price ([`Charges`]).
//!
//! - **Provisioned concurrency.** In the JSON format, the environment's
//!   `platform.initStart` says how it started ([`InitializationType`]); it
//!   comes once per log stream, usually in an earlier batch than the
//!   invocations it prices, so the store keeps it per stream and the
//!   pipeline hands it in here. Without it, the metadata flag
//!   `provisioned_concurrency` decides, except for an invocation whose REPORT
//!   has an `Init Duration`: provisioned environments never report one
//!   (their init ran ahead of traffic), so that invocation started an
//!   on-demand environment (traffic beyond the provisioned concurrency spills
//!   over to on-demand).
//! - **Ephemeral storage** is the metadata's `ephemeral_storage_mb`.
//! - **SnapStart restores** are charged when the REPORT has a `Restore
//!   Duration` and the metadata's runtime is Python or .NET (Java's restores
//!   are free; an unknown runtime is taken as free).

use crate::assemble::Invocation;
use crate::meta::FunctionMeta;
use crate::parse::InitializationType;
use crate::price::Charges;

/// The charges of `invocation`, given its function's metadata and how its
/// environment `started`, when the logs said.
pub fn charges_of(
    invocation: &Invocation,
    meta: Option<&FunctionMeta>,
    started: Option<InitializationType>,
) -> Charges {
    let provisioned = match started {
        Some(started) => started == InitializationType::ProvisionedConcurrency,
        None => {
            meta.is_some_and(|meta| meta.provisioned_concurrency)
                && invocation.init_duration_ms.is_none()
        }
    };
    Charges {
        ephemeral_storage_mb: meta.and_then(|meta| meta.ephemeral_storage_mb),
        provisioned,
        charged_restore: invocation.restore_duration_ms.is_some()
            && meta.is_some_and(FunctionMeta::snapstart_restores_charged),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(provisioned_concurrency: bool, runtime: &str) -> FunctionMeta {
        FunctionMeta {
            provisioned_concurrency,
            runtime: Some(runtime.to_owned()),
            ephemeral_storage_mb: Some(2048),
            ..FunctionMeta::default()
        }
    }

    #[test]
    fn the_environment_the_logs_name_wins_over_the_metadata_flag() {
        let invocation = Invocation::default();
        let provisioned = Some(InitializationType::ProvisionedConcurrency);
        assert!(charges_of(&invocation, None, provisioned).provisioned);
        let on_demand = Some(InitializationType::OnDemand);
        let flagged = meta(true, "nodejs22.x");
        assert!(!charges_of(&invocation, Some(&flagged), on_demand).provisioned);
    }

    #[test]
    fn the_flag_prices_warm_invocations_but_not_an_on_demand_cold_start() {
        let flagged = meta(true, "nodejs22.x");
        let mut invocation = Invocation::default();
        assert!(charges_of(&invocation, Some(&flagged), None).provisioned);
        assert!(!charges_of(&invocation, Some(&meta(false, "nodejs22.x")), None).provisioned);
        assert!(!charges_of(&invocation, None, None).provisioned);
        invocation.init_duration_ms = Some(250.0);
        assert!(!charges_of(&invocation, Some(&flagged), None).provisioned);
    }

    #[test]
    fn restores_are_charged_for_python_and_dotnet_only() {
        let restored = Invocation {
            restore_duration_ms: Some(474.16),
            ..Invocation::default()
        };
        for (runtime, charged) in [
            ("python3.13", true),
            ("dotnet8", true),
            ("java21", false),
            ("nodejs22.x", false),
        ] {
            let charges = charges_of(&restored, Some(&meta(false, runtime)), None);
            assert_eq!(charges.charged_restore, charged, "{runtime}");
            assert_eq!(charges.ephemeral_storage_mb, Some(2048));
        }
        assert!(!charges_of(&restored, None, None).charged_restore);
        assert!(
            !charges_of(
                &Invocation::default(),
                Some(&meta(false, "python3.13")),
                None
            )
            .charged_restore
        );
    }
}
