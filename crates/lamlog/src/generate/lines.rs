//! Rendering: the facts of one invocation → the CloudWatch events of its log stream.
//!
//! An invocation is laid out on a millisecond timeline that starts at its
//! arrival:
//!
//! ```text
//! arrival ── init or restore ──► START ── app lines … ──► (error/timeout/crash) END REPORT
//! INIT_START, EXTENSION                                                  busy until here
//! ```
//!
//! so the events of one stream are in time order. Text-format functions get
//! the classic tab-separated platform lines; JSON-format functions get
//! `{"time","type","record"}` platform events (no END: `platform.runtimeDone`
//! takes its place) and JSON application lines from the built-in loggers.
//!
//! Figures are rounded the way Lambda prints them before anything is derived
//! from them: text durations to 2 decimals, JSON to 3, and `Billed Duration` is
//! the ceiling of the printed duration (plus the printed init time for a
//! custom runtime's cold start), so every REPORT is self-consistent.

use super::app::{draw_error, error_line, info_line, out_of_memory_line};
use super::functions::{FunctionSpec, LogFormat};
use super::report::{
    failure_of, json_report_record, platform_json, push_tracing, runtime_done_record, text_report,
    Figures, Precision,
};
use super::time::iso;
use super::workload::{ColdStart, Invocation, Status};

/// One CloudWatch Logs event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) timestamp_ms: i64,
    pub(crate) message: String,
}

/// Renders invocations with its own random stream (message contents, app line
/// counts and times), so that rendering never shifts the workload's draws.
pub(crate) struct Renderer {
    rng: fastrand::Rng,
}

impl Renderer {
    /// A renderer seeded from the run's seed.
    pub(crate) fn new(seed: u64) -> Renderer {
        Renderer {
            rng: fastrand::Rng::with_seed(seed ^ 0x6c69_6e65_7300_0000),
        }
    }

    /// Appends the events of `invocation`, in time order, to `events`, and
    /// returns the time of its REPORT event: the time lamlog gives the
    /// invocation, which `truth.json` needs to place its alerts in windows.
    pub(crate) fn render(
        &mut self,
        function: &FunctionSpec,
        invocation: &Invocation,
        events: &mut Vec<Event>,
    ) -> i64 {
        let request_id = invocation.request_id.as_str();
        let json = function.log_format == LogFormat::Json;
        let arrival = invocation.arrival_ms;
        let cold_wall_ms = invocation
            .cold_start
            .map_or(0, |cold| cold.wall_ms().ceil() as i64);
        let start = arrival + cold_wall_ms;
        let duration_ms = invocation.duration_ms.ceil() as i64;
        let end = start + duration_ms;

        if let Some(cold_start) = invocation.cold_start {
            self.render_cold_start(function, cold_start, arrival, start, events);
        }
        let start_line = if json {
            let mut record = format!(
                "{{\"requestId\":\"{request_id}\",\"version\":\"{}\"",
                function.version
            );
            if let Some(trace) = &invocation.trace {
                push_tracing(&mut record, trace);
            }
            record.push('}');
            platform_json(start, "platform.start", &record)
        } else {
            format!(
                "START RequestId: {request_id} Version: {}\n",
                function.version
            )
        };
        events.push(Event {
            timestamp_ms: start,
            message: start_line,
        });

        let app_lines = match self.rng.u32(0..10) {
            0 => 0,
            1..=4 => 1,
            5..=7 => 2,
            _ => 3,
        };
        let mut app_times: Vec<i64> = (0..app_lines)
            .map(|_| start + self.rng.i64(0..=duration_ms))
            .collect();
        app_times.sort_unstable();
        for at in app_times {
            let message = info_line(&mut self.rng, function, request_id, at);
            events.push(Event {
                timestamp_ms: at,
                message,
            });
        }

        let app_error = (invocation.status == Status::Error)
            .then(|| draw_error(&mut self.rng, function.runtime));
        // Lambda prints the timeout and runtime-exit lines before or after the
        // REPORT; either way lamlog must merge them into the same invocation.
        let mut after_report: Vec<String> = Vec::new();
        match invocation.status {
            Status::Success => {}
            Status::Error => {
                if let Some(error) = &app_error {
                    events.push(Event {
                        timestamp_ms: end,
                        message: error_line(function, request_id, end, error),
                    });
                }
            }
            Status::Timeout if !json => {
                let message = format!(
                    "{} {request_id} Task timed out after {}.00 seconds\n",
                    iso(end),
                    function.timeout_seconds
                );
                if self.rng.bool() {
                    after_report.push(message);
                } else {
                    events.push(Event {
                        timestamp_ms: end,
                        message,
                    });
                }
            }
            Status::Timeout => {}
            Status::Oom | Status::Crash => {
                if invocation.status == Status::Oom && self.rng.bool() {
                    if let Some(message) = out_of_memory_line(function, request_id, end) {
                        events.push(Event {
                            timestamp_ms: end,
                            message,
                        });
                    }
                }
                if !json {
                    let reason = if invocation.status == Status::Oom {
                        "signal: killed"
                    } else {
                        "exit status 1"
                    };
                    let message = format!("RequestId: {request_id} Error: Runtime exited with error: {reason}\nRuntime.ExitError\n");
                    if self.rng.bool() {
                        after_report.push(message);
                    } else {
                        events.push(Event {
                            timestamp_ms: end,
                            message,
                        });
                    }
                }
            }
        }

        let figures = Figures::of(function, invocation);
        let failure = failure_of(invocation.status, app_error.as_ref());
        let report_at = end + self.rng.i64(0..=1);
        if json {
            let done = runtime_done_record(
                request_id,
                invocation.status,
                failure,
                figures,
                self.rng.u32(40..4000),
            );
            events.push(Event {
                timestamp_ms: end,
                message: platform_json(end, "platform.runtimeDone", &done),
            });
            let report = json_report_record(function, invocation, failure, figures);
            events.push(Event {
                timestamp_ms: report_at,
                message: platform_json(report_at, "platform.report", &report),
            });
        } else {
            events.push(Event {
                timestamp_ms: end,
                message: format!("END RequestId: {request_id}\n"),
            });
            let report = text_report(function, invocation, failure, figures);
            events.push(Event {
                timestamp_ms: report_at,
                message: report,
            });
        }
        events.extend(after_report.into_iter().map(|message| Event {
            timestamp_ms: report_at,
            message,
        }));
        report_at
    }

    fn render_cold_start(
        &mut self,
        function: &FunctionSpec,
        cold_start: ColdStart,
        arrival: i64,
        start: i64,
        events: &mut Vec<Event>,
    ) {
        let json = function.log_format == LogFormat::Json;
        let precision = Precision::of(function.log_format);
        let runtime_version = function.runtime.version_name();
        let arn = &function.runtime_version_arn;
        let extensions_at = arrival + (start - arrival) * 3 / 4;
        match cold_start {
            ColdStart::Init { init_ms } => {
                let message = if json {
                    let record = format!(
                        "{{\"initializationType\":\"on-demand\",\"phase\":\"init\",\"runtimeVersion\":\"{runtime_version}\",\"runtimeVersionArn\":\"{arn}\",\"functionName\":\"{}\",\"functionVersion\":\"{}\"}}",
                        function.name, function.version
                    );
                    platform_json(arrival, "platform.initStart", &record)
                } else {
                    format!("INIT_START Runtime Version: {runtime_version}\tRuntime Version ARN: {arn}\n")
                };
                events.push(Event {
                    timestamp_ms: arrival,
                    message,
                });
                self.render_extensions(function, extensions_at, events);
                if json {
                    let done = "{\"initializationType\":\"on-demand\",\"phase\":\"init\",\"status\":\"success\"}";
                    events.push(Event {
                        timestamp_ms: start,
                        message: platform_json(start, "platform.initRuntimeDone", done),
                    });
                    let mut report = String::from("{\"initializationType\":\"on-demand\",\"phase\":\"init\",\"status\":\"success\",\"metrics\":{\"durationMs\":");
                    precision.push(&mut report, precision.units(init_ms));
                    report.push_str("}}");
                    events.push(Event {
                        timestamp_ms: start,
                        message: platform_json(start, "platform.initReport", &report),
                    });
                }
            }
            ColdStart::Restore { restore_ms, .. } => {
                let message = if json {
                    let record = format!(
                        "{{\"runtimeVersion\":\"{runtime_version}\",\"runtimeVersionArn\":\"{arn}\",\"functionName\":\"{}\",\"functionVersion\":\"{}\"}}",
                        function.name, function.version
                    );
                    platform_json(arrival, "platform.restoreStart", &record)
                } else {
                    format!("RESTORE_START Runtime Version: {runtime_version}\tRuntime Version ARN: {arn}\n")
                };
                events.push(Event {
                    timestamp_ms: arrival,
                    message,
                });
                self.render_extensions(function, extensions_at, events);
                let mut restore = String::new();
                precision.push(&mut restore, precision.units(restore_ms));
                let message = if json {
                    events.push(Event {
                        timestamp_ms: start,
                        message: platform_json(
                            start,
                            "platform.restoreRuntimeDone",
                            "{\"status\":\"success\"}",
                        ),
                    });
                    platform_json(
                        start,
                        "platform.restoreReport",
                        &format!(
                            "{{\"status\":\"success\",\"metrics\":{{\"durationMs\":{restore}}}}}"
                        ),
                    )
                } else {
                    format!("RESTORE_REPORT Restore Duration: {restore} ms\n")
                };
                events.push(Event {
                    timestamp_ms: start,
                    message,
                });
            }
        }
    }

    fn render_extensions(&mut self, function: &FunctionSpec, at: i64, events: &mut Vec<Event>) {
        let json = function.log_format == LogFormat::Json;
        for &name in function.extensions {
            let telemetry = name == "datadog-agent";
            if telemetry {
                let message = if json {
                    platform_json(at, "platform.telemetrySubscription", &format!("{{\"name\":\"{name}\",\"state\":\"Subscribed\",\"types\":[\"platform\",\"function\",\"extension\"]}}"))
                } else {
                    format!("TELEMETRY\tName: {name}\tState: Subscribed\tTypes: [Platform, Function, Extension]\n")
                };
                events.push(Event {
                    timestamp_ms: at,
                    message,
                });
            }
            let invoke_first = self.rng.bool();
            let message = if json {
                let events_list = if invoke_first {
                    "[\"INVOKE\",\"SHUTDOWN\"]"
                } else {
                    "[\"SHUTDOWN\",\"INVOKE\"]"
                };
                platform_json(
                    at,
                    "platform.extension",
                    &format!(
                        "{{\"name\":\"{name}\",\"state\":\"Ready\",\"events\":{events_list}}}"
                    ),
                )
            } else {
                let events_list = if invoke_first {
                    "[INVOKE, SHUTDOWN]"
                } else {
                    "[SHUTDOWN, INVOKE]"
                };
                format!("EXTENSION\tName: {name}\tState: Ready\tEvents: {events_list}\n")
            };
            events.push(Event {
                timestamp_ms: at,
                message,
            });
        }
    }
}
