//! The release `bootstrap` run as Lambda runs it, against a mock of the
//! Lambda runtime API on loopback: its cold start, and the peak memory of the
//! event it handles.
//!
//! The Lambda runtime API is plain HTTP/1.1: a function process asks
//! `GET /2018-06-01/runtime/invocation/next` for an event and posts its
//! answer to `…/invocation/{id}/response` (or `…/{id}/error`, or
//! `…/init/error` when it cannot start). The mock, a few lines over
//! `std::net` with one thread per connection (the runtime client may open
//! more than one), hands out one event and records two instants after
//! spawning the process:
//!
//! - **init**: the first `/next` request (configuration read, store opened,
//!   AWS clients built: ready for work);
//! - **first event handled**: the response posted.
//!
//! It then reads the process's `VmHWM` (peak RSS) from `/proc/PID/status`
//! and kills it. A run whose answer is not a success (`/error`, `/init/error`,
//! a response listing batch item failures, an exit) is an error, never a
//! figure. What a local run leaves out: the time Lambda itself needs to fetch
//! and unpack the code and start the sandbox.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use serde::Serialize;

/// The request id the mock gives its one event.
const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

/// Lambda's longest timeout: the deadline the mock gives the event.
const DEADLINE: Duration = Duration::from_secs(900);

/// One run of the function on one event.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Process start → first `/next`, ms.
    pub init_ms: f64,
    /// Process start → response posted, ms.
    pub first_event_ms: f64,
    /// Peak RSS of the process (`VmHWM`) once the response was posted, KB.
    pub peak_rss_kb: u64,
    /// The response body.
    pub response: serde_json::Value,
}

/// What the mock saw, in order.
enum Seen {
    /// A `/next` request, at this instant.
    Next(Instant),
    /// The response to the event, at this instant.
    Response(Instant, Vec<u8>),
    /// An error report (`/invocation/{id}/error` or `/init/error`).
    Error(String, Vec<u8>),
    /// A connection failed to parse or write.
    Broken(String),
}

/// One HTTP request: method, path and body.
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

/// Reads one request; `None` at the end of the connection. Bodies are
/// bounded (the runtime's responses are at most 6 MB).
fn read_request(reader: &mut BufReader<TcpStream>) -> anyhow::Result<Option<Request>> {
    const MAX_BODY: usize = 16 << 20;
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut content_length = 0usize;
    let mut chunked = false;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let name = name.trim();
            if name.eq_ignore_ascii_case("content-length") {
                content_length = value
                    .trim()
                    .parse()
                    .with_context(|| format!("bad content-length {:?}", value.trim()))?;
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.trim().eq_ignore_ascii_case("chunked")
            {
                chunked = true;
            }
        }
    }
    let body = if chunked {
        read_chunked(reader, MAX_BODY)?
    } else {
        if content_length > MAX_BODY {
            bail!("a request body of {content_length} bytes");
        }
        let mut body = vec![0u8; content_length];
        reader.read_exact(&mut body)?;
        body
    };
    Ok(Some(Request { method, path, body }))
}

/// A `Transfer-Encoding: chunked` body.
fn read_chunked(reader: &mut BufReader<TcpStream>, limit: usize) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line)?;
        let size_text = size_line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16)
            .with_context(|| format!("bad chunk size {size_text:?}"))?;
        if body.len() + size > limit {
            bail!("a chunked request body over {limit} bytes");
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = String::new();
        reader.read_line(&mut crlf)?;
        if size == 0 {
            return Ok(body);
        }
    }
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut message = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        message.push_str(&format!("{name}: {value}\r\n"));
    }
    message.push_str("\r\n");
    let mut bytes = message.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes)
}

/// The headers `lambda_runtime` reads from a `/next` answer.
fn event_headers() -> anyhow::Result<Vec<(&'static str, String)>> {
    let deadline_ms = (SystemTime::now().duration_since(UNIX_EPOCH)? + DEADLINE).as_millis();
    Ok(vec![
        ("content-type", "application/json".to_owned()),
        ("lambda-runtime-aws-request-id", REQUEST_ID.to_owned()),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:lamlog-bench".to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=0".to_owned(),
        ),
    ])
}

/// Serves one connection: the first `/next` of the process gets the event,
/// any later one is left unanswered (the function waits for work, as it
/// would in Lambda, until it is killed).
fn serve_connection(
    stream: TcpStream,
    event: &[u8],
    served: &AtomicBool,
    seen: &Sender<Seen>,
) -> anyhow::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader)? {
        let now = Instant::now();
        let path = request.path.as_str();
        if request.method == "GET" && path.ends_with("/runtime/invocation/next") {
            let _ = seen.send(Seen::Next(now));
            if served.swap(true, Ordering::SeqCst) {
                // No second event: the request stays unanswered until the
                // process is killed and the connection ends.
                continue;
            }
            respond(&mut writer, "200 OK", &event_headers()?, event)?;
        } else if request.method == "POST" && path.ends_with("/response") {
            respond(&mut writer, "202 Accepted", &[], b"{\"status\":\"OK\"}")?;
            let _ = seen.send(Seen::Response(now, request.body));
        } else if request.method == "POST" && path.ends_with("/error") {
            respond(&mut writer, "202 Accepted", &[], b"{\"status\":\"OK\"}")?;
            let _ = seen.send(Seen::Error(path.to_owned(), request.body));
        } else {
            respond(&mut writer, "404 Not Found", &[], b"{}")?;
        }
    }
    Ok(())
}

/// Accepts connections, one thread each, until `stop` is set (and one more
/// connection wakes it).
fn serve(listener: TcpListener, event: Arc<Vec<u8>>, seen: Sender<Seen>, stop: Arc<AtomicBool>) {
    let served = Arc::new(AtomicBool::new(false));
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else { continue };
        let (event, served, seen) = (event.clone(), served.clone(), seen.clone());
        std::thread::spawn(move || {
            if let Err(error) = serve_connection(stream, &event, &served, &seen) {
                let _ = seen.send(Seen::Broken(format!("{error:#}")));
            }
        });
    }
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `VmHWM` of a live process, KB.
fn peak_rss_kb(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no VmHWM in /proc/{pid}/status"))
}

/// The last lines of a log file, for an error message.
fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Whether a response is a Kinesis batch response with no failed item.
pub fn is_success(response: &serde_json::Value) -> bool {
    response
        .get("batchItemFailures")
        .and_then(|failures| failures.as_array())
        .is_some_and(|failures| failures.is_empty())
}

/// Spawns `binary` with exactly `env` (nothing inherited) against a mock
/// runtime API that serves `event` once; waits for the response (at most
/// `timeout`), then kills the process. The process's output goes to
/// `log_dir/bootstrap.{stdout,stderr}`.
pub fn run_once(
    binary: &Path,
    env: &[(String, String)],
    event: Vec<u8>,
    log_dir: &Path,
    timeout: Duration,
) -> anyhow::Result<Run> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the mock runtime API")?;
    let address = listener.local_addr()?;
    let (sender, seen) = mpsc::channel();
    let event = Arc::new(event);
    let stop = Arc::new(AtomicBool::new(false));
    let server_stop = stop.clone();
    std::thread::spawn(move || serve(listener, event, sender, server_stop));
    let stdout_path: PathBuf = log_dir.join("bootstrap.stdout");
    let stderr_path: PathBuf = log_dir.join("bootstrap.stderr");
    let stdout = File::create(&stdout_path)
        .with_context(|| format!("creating {}", stdout_path.display()))?;
    let stderr = File::create(&stderr_path)
        .with_context(|| format!("creating {}", stderr_path.display()))?;
    let started = Instant::now();
    let child = Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(name, value)| (name, value)))
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut child = KillOnDrop(child);
    let outcome = wait_for_response(&mut child.0, &seen, started, timeout);
    let peak = outcome
        .as_ref()
        .ok()
        .map(|_| peak_rss_kb(child.0.id()))
        .transpose();
    drop(child);
    stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect(address);
    let explain = |error: anyhow::Error| {
        error.context(format!(
            "{} (its last output: {})",
            binary.display(),
            tail(&stderr_path, 5) + &tail(&stdout_path, 5)
        ))
    };
    let (init_at, response_at, body) = outcome.map_err(explain)?;
    let peak_rss_kb = peak?.unwrap_or(0);
    let response: serde_json::Value = serde_json::from_slice(&body).with_context(|| {
        format!(
            "the function's response is not JSON: {}",
            String::from_utf8_lossy(&body)
        )
    })?;
    if !is_success(&response) {
        bail!("the function did not commit the event: it answered {response}");
    }
    let ms = |at: Instant| at.duration_since(started).as_secs_f64() * 1000.0;
    Ok(Run {
        init_ms: ms(init_at),
        first_event_ms: ms(response_at),
        peak_rss_kb,
        response,
    })
}

/// Waits for the first `/next` and the response; fails on an error report,
/// an exit of the process, a broken connection or the timeout.
fn wait_for_response(
    child: &mut Child,
    seen: &Receiver<Seen>,
    started: Instant,
    timeout: Duration,
) -> anyhow::Result<(Instant, Instant, Vec<u8>)> {
    let mut init_at = None;
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            bail!("no response within {} s", timeout.as_secs());
        }
        match seen.recv_timeout(left.min(Duration::from_millis(50))) {
            Ok(Seen::Next(at)) => {
                init_at.get_or_insert(at);
            }
            Ok(Seen::Response(at, body)) => {
                let init_at = init_at.context("a response came before any /next")?;
                return Ok((init_at, at, body));
            }
            Ok(Seen::Error(path, body)) => bail!(
                "the function reported an error to {path}: {}",
                String::from_utf8_lossy(&body)
            ),
            Ok(Seen::Broken(error)) => bail!("a runtime API connection failed: {error}"),
            Err(RecvTimeoutError::Timeout) => {
                if let Some(status) = child.try_wait()? {
                    bail!("the function exited ({status}) before answering");
                }
            }
            Err(RecvTimeoutError::Disconnected) => bail!("the mock runtime API stopped"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_empty_failure_list_is_a_success() {
        assert!(is_success(&serde_json::json!({ "batchItemFailures": [] })));
        assert!(!is_success(&serde_json::json!({
            "batchItemFailures": [{ "itemIdentifier": "1" }]
        })));
        assert!(!is_success(&serde_json::json!(null)));
        assert!(!is_success(&serde_json::json!({ "errorType": "x" })));
    }
}
