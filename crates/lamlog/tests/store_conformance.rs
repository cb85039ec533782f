//! One conformance suite for every `Store` backend.
//!
//! The tests are written once, as generic functions over `S: Store` in
//! `store_conformance/` (`suite.rs`, `alert_suite.rs`, `window_suite.rs`,
//! `cost_spike_suite.rs`, `outbox_suite.rs`, and the
//! split-and-replay property in `stream.rs`); the `store_conformance!`
//! macro instantiates them for one backend from a factory expression (an
//! `async` closure that returns a fresh, empty store). Adding a backend is one more line at the
//! bottom of this file, so the backends cannot drift apart.
//!
//! The PostgreSQL instance needs a server (`DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`) and fails without one; each
//! store works in a schema of its own, dropped with it.

#[path = "store_conformance/alert_suite.rs"]
mod alert_suite;
#[path = "store_conformance/cost_spike_suite.rs"]
mod cost_spike_suite;
use crate::support::evidence;
#[path = "store_conformance/outbox_suite.rs"]
mod outbox_suite;
#[cfg(feature = "postgres")]
use crate::support::postgres_schema;
#[path = "store_conformance/stream.rs"]
mod stream;
#[path = "store_conformance/suite.rs"]
mod suite;
#[path = "store_conformance/window_suite.rs"]
mod window_suite;

use lamlog::store::Store;

/// `store_conformance!(module, || async { fresh_empty_store })` generates a
/// `module` with one test per contract clause, each on fresh stores.
macro_rules! store_conformance {
    ($module:ident, $factory:expr) => {
        mod $module {
            use super::*;

            async fn fresh() -> impl Store {
                ($factory)().await
            }

            #[tokio::test]
            async fn replay_changes_nothing() {
                suite::replay_changes_nothing(fresh().await).await;
            }

            #[tokio::test]
            async fn status_only_rises() {
                suite::status_only_rises(fresh().await).await;
            }

            #[tokio::test]
            async fn rollups_follow_a_late_timeout() {
                suite::rollups_follow_a_late_timeout(fresh().await).await;
            }

            #[tokio::test]
            async fn alerts_dedup_by_key() {
                alert_suite::alerts_dedup_by_key(fresh().await).await;
            }

            #[tokio::test]
            async fn alert_example_follows_its_invocation() {
                alert_suite::alert_example_follows_its_invocation(fresh().await).await;
            }

            #[tokio::test]
            async fn window_alert_fires_once_after_grace() {
                alert_suite::window_alert_fires_once_after_grace(fresh().await).await;
            }

            #[tokio::test]
            async fn a_moved_report_moves_its_rollups() {
                window_suite::a_moved_report_moves_its_rollups(fresh().await, fresh().await).await;
            }

            #[tokio::test]
            async fn a_line_from_the_far_future_closes_no_window() {
                window_suite::a_line_from_the_far_future_closes_no_window(fresh().await).await;
            }

            #[tokio::test]
            async fn late_errors_raise_a_closed_window_late() {
                window_suite::late_errors_raise_a_closed_window_late(fresh().await).await;
            }

            #[tokio::test]
            async fn alerts_wait_in_the_outbox_until_delivered() {
                outbox_suite::alerts_wait_in_the_outbox_until_delivered(
                    fresh().await,
                    lamlog::store::UNSENT_ALERT_DELAY_MS,
                )
                .await;
            }

            #[tokio::test]
            async fn alerts_wait_for_the_pipeline_s_own_outbox_delay() {
                outbox_suite::alerts_wait_in_the_outbox_until_delivered(
                    fresh().await,
                    outbox_suite::SHORT_DELAY_MS,
                )
                .await;
            }

            #[tokio::test]
            async fn new_alerts_are_sent_by_their_batch_and_marked() {
                outbox_suite::new_alerts_are_sent_by_their_batch_and_marked(fresh().await).await;
            }

            #[tokio::test]
            async fn a_claim_is_oldest_first_and_holds_for_a_while() {
                outbox_suite::a_claim_is_oldest_first_and_holds_for_a_while(fresh().await).await;
            }

            #[tokio::test]
            async fn dead_letters_are_kept_byte_exact() {
                suite::dead_letters_are_kept_byte_exact(fresh().await).await;
            }

            #[tokio::test]
            async fn sql_metacharacters_are_data() {
                suite::sql_metacharacters_are_data(fresh().await).await;
            }

            #[tokio::test]
            async fn summaries_match_hand_computed_figures() {
                suite::summaries_match_hand_computed_figures(fresh().await).await;
            }

            #[tokio::test]
            async fn a_failed_batch_leaves_nothing() {
                suite::a_failed_batch_leaves_nothing(fresh().await).await;
            }

            #[tokio::test]
            async fn a_cost_spike_is_raised_once_when_its_hour_closes() {
                cost_spike_suite::a_cost_spike_is_raised_once_when_its_hour_closes(fresh().await)
                    .await;
            }

            #[test]
            fn split_and_replay_gives_the_same_state() {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                let config = proptest::test_runner::Config {
                    cases: 32,
                    failure_persistence: None,
                    ..proptest::test_runner::Config::default()
                };
                let mut runner = proptest::test_runner::TestRunner::new(config);
                let result = runner.run(&stream::case(), |case| {
                    runtime.block_on(async {
                        stream::split_and_replay(fresh().await, fresh().await, &case).await
                    })
                });
                if let Err(error) = result {
                    panic!("{error}");
                }
            }
        }
    };
}

#[cfg(feature = "sqlite")]
store_conformance!(sqlite, || async {
    lamlog::store::sqlite::SqliteStore::open_in_memory().expect("opening an in-memory sqlite store")
});

#[cfg(feature = "postgres")]
store_conformance!(postgres, || async {
    postgres_schema::TestStore::fresh().await
});
