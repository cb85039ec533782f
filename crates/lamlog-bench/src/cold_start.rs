//! Cold start: from process start to the first handled event, against a
//! mock of the Lambda runtime API on loopback, and the size of the binary.
//!
//! The Lambda runtime API is plain HTTP/1.1: a function process asks
//! `GET /2018-06-01/runtime/invocation/next` for an event and posts its
//! answer to `…/invocation/{id}/response`. The mock, a few lines over
//! `std::net`, hands out one Kinesis event and records three instants after
//! spawning the process:
//!
//! - **init**: the first `/next` request (clients built, ready for work);
//! - **first event handled**: the response posted;
//!
//! then stops the process. What it leaves out: the time Lambda itself needs
//! to fetch and unpack the code and start the sandbox, which no local
//! measurement can see.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde::Serialize;

/// One cold start.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ColdStart {
    /// Process start → first `/next`, ms.
    pub init_ms: f64,
    /// Process start → first response posted, ms.
    pub first_event_ms: f64,
}

/// One HTTP request: method, path and body.
struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> anyhow::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut content_length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.trim().eq_ignore_ascii_case("content-length") {
                content_length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; content_length];
    reader.read_exact(&mut body)?;
    Ok(Some(Request { method, path, body }))
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> anyhow::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\ncontent-length: {}\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    Ok(())
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `binary` with `env` against a mock runtime API that serves
/// `event` once, and times its cold start. Gives up after 60 s.
pub fn measure_once(
    binary: &Path,
    env: &[(String, String)],
    event: &[u8],
) -> anyhow::Result<ColdStart> {
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the mock runtime API")?;
    let address = listener.local_addr()?;
    let started = Instant::now();
    let child = Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
        .envs(env.iter().map(|(name, value)| (name, value)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let _guard = KillOnDrop(child);
    listener.set_nonblocking(false)?;
    let mut init_ms = None;
    let mut served = false;
    loop {
        if started.elapsed() > Duration::from_secs(60) {
            bail!("no response from {} within 60 s", binary.display());
        }
        let (stream, _) = listener.accept()?;
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut writer = stream.try_clone()?;
        let mut reader = BufReader::new(stream);
        while let Some(request) = read_request(&mut reader)? {
            let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
            if request.method == "GET" && request.path.ends_with("/invocation/next") {
                if served {
                    bail!("the function asked for a second event before answering the first");
                }
                init_ms.get_or_insert(elapsed_ms);
                served = true;
                let deadline_ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)?
                    .as_millis()
                    + 60_000;
                respond(
                    &mut writer,
                    "200 OK",
                    &[
                        ("content-type", "application/json".to_owned()),
                        (
                            "lambda-runtime-aws-request-id",
                            "bench-request-1".to_owned(),
                        ),
                        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
                        (
                            "lambda-runtime-invoked-function-arn",
                            "arn:aws:lambda:us-east-1:123456789012:function:lamlog".to_owned(),
                        ),
                        (
                            "lambda-runtime-trace-id",
                            "Root=1-00000000-000000000000000000000000".to_owned(),
                        ),
                    ],
                    event,
                )?;
            } else if request.method == "POST" && request.path.contains("/invocation/") {
                respond(&mut writer, "202 Accepted", &[], b"{}")?;
                if request.path.ends_with("/error") {
                    bail!(
                        "the function reported an error: {}",
                        String::from_utf8_lossy(&request.body)
                    );
                }
                return Ok(ColdStart {
                    init_ms: init_ms.unwrap_or(elapsed_ms),
                    first_event_ms: elapsed_ms,
                });
            } else if request.path.ends_with("/init/error") {
                bail!(
                    "the function failed to initialise: {}",
                    String::from_utf8_lossy(&request.body)
                );
            } else {
                respond(&mut writer, "404 Not Found", &[], b"{}")?;
            }
        }
    }
}
