//! A counting proxy for the PostgreSQL wire protocol, on loopback.
//!
//! How many round trips a store makes per batch is a property of its code,
//! not of its timing, so it is counted where nothing can hide it: on the
//! wire. The proxy forwards bytes both ways unchanged and reads the frames
//! the client sends (after the untyped startup packet, every frontend message
//! is one type byte and a 4-byte big-endian length that counts itself):
//!
//! - a round trip is a turn of the conversation: client data that arrives
//!   after the proxy forwarded server data (or the connection's first
//!   client data) starts one. Requests the client pipelines (sends before
//!   any answer came back) share their round trip; a client that waits for
//!   an answer before sending more (a ReadyForQuery, a CopyInResponse, the
//!   rows of a read) makes one more;
//! - `Q` (simple query) and `S` (Sync, which ends an extended-protocol
//!   exchange) are requests;
//! - `E` (Execute) and `Q` are statements run;
//! - each accepted TCP connection is a connection opened.
//!
//! Counting turns, not answers, needs no model of the server: a count of
//! requests not yet answered (one `Z` per `Q` or `S`) goes wrong as soon as
//! the server ignores a Sync, which it does for the one tokio-postgres sends
//! right after a `COPY … FROM STDIN` (in copy-in mode), so that the count
//! never came back to zero and no wait was seen again.
//!
//! With a delay ([`CountingProxy::start_delayed`]), everything the server
//! sends is held that long before it is forwarded: each round trip then
//! costs the delay once more, as a network farther away would. A delay also
//! makes the count independent of the server's speed: with none, an answer
//! may come back between two writes of one pipeline and split its round
//! trip in two.
//!
//! Plain TCP only (`sslmode=disable`): it cannot read inside TLS, and the
//! benchmark's server is local.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;

/// What the proxy has seen so far.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    round_trips: AtomicU64,
    requests: AtomicU64,
    statements: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WireCounts {
    /// TCP connections opened through the proxy.
    pub connections: u64,
    /// Turns of the conversation: client data sent after the server's data
    /// was forwarded.
    pub round_trips: u64,
    /// Query + Sync messages (pipelined ones included).
    pub requests: u64,
    /// Query + Execute messages: statements run.
    pub statements: u64,
}

impl WireCounts {
    /// `self − earlier`.
    pub fn since(&self, earlier: &WireCounts) -> WireCounts {
        WireCounts {
            connections: self.connections - earlier.connections,
            round_trips: self.round_trips - earlier.round_trips,
            requests: self.requests - earlier.requests,
            statements: self.statements - earlier.statements,
        }
    }
}

/// The proxy: listening on a free loopback port, forwarding to `upstream`.
/// Its threads live as long as the process (the harness is short-lived).
#[derive(Debug, Clone)]
pub struct CountingProxy {
    counters: Arc<Counters>,
    /// The port clients should connect to.
    pub port: u16,
}

impl CountingProxy {
    /// Starts forwarding from a free loopback port to `upstream`
    /// (`host:port`), holding the server's data `delay` before forwarding it
    /// (`Duration::ZERO`: as soon as it comes).
    pub fn start_delayed(upstream: String, delay: Duration) -> anyhow::Result<CountingProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").context("binding the counting proxy")?;
        let port = listener.local_addr()?.port();
        let counters = Arc::new(Counters::default());
        let shared = counters.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                shared.connections.fetch_add(1, Ordering::Relaxed);
                let counters = shared.clone();
                std::thread::spawn(move || relay(client, server, &counters, delay));
            }
        });
        Ok(CountingProxy { counters, port })
    }

    /// The counters now.
    pub fn counts(&self) -> WireCounts {
        WireCounts {
            connections: self.counters.connections.load(Ordering::Relaxed),
            round_trips: self.counters.round_trips.load(Ordering::Relaxed),
            requests: self.counters.requests.load(Ordering::Relaxed),
            statements: self.counters.statements.load(Ordering::Relaxed),
        }
    }
}

/// Copies server→client on a thread, and client→server here, counting frames.
///
/// Both sockets get `TCP_NODELAY`, as tokio-postgres sets on its own: the
/// proxy writes what it reads as soon as it has it, and with Nagle's
/// algorithm on, a small write that follows another one before its ACK
/// waits for the peer's delayed ACK (40 ms on Linux). Every round trip of
/// the counting pass then took 40 ms or more, and the naive row's 3,431
/// round trips made minutes of idle wall time.
fn relay(mut client: TcpStream, mut server: TcpStream, counters: &Counters, delay: Duration) {
    if client.set_nodelay(true).is_err() || server.set_nodelay(true).is_err() {
        return;
    }
    let (Ok(client_back), Ok(server_back)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    // Whether server data went to the client since the client last sent:
    // the connection's first client data starts a round trip too.
    let answered = Arc::new(AtomicBool::new(true));
    let turned = answered.clone();
    let downstream =
        std::thread::spawn(move || forward_answers(server_back, client_back, &turned, delay));
    let _ = forward_counting(&mut client, &mut server, counters, &answered);
    let _ = server.shutdown(Shutdown::Write);
    let _ = downstream.join();
}

/// Server→client: forwards everything, `delay` after it came. `answered`
/// is set before each write, so that the client, which can only react once
/// it has the data, never sends before the proxy knows it was answered.
fn forward_answers(
    mut server: TcpStream,
    mut client: TcpStream,
    answered: &AtomicBool,
    delay: Duration,
) {
    let (sender, receiver) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            for (due, bytes) in receiver {
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
                answered.store(true, Ordering::SeqCst);
                if client.write_all(&bytes).is_err() {
                    break;
                }
            }
            let _ = client.shutdown(Shutdown::Write);
        });
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            let read = match server.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let due = Instant::now() + delay;
            if sender.send((due, buffer[..read].to_vec())).is_err() {
                break;
            }
        }
        drop(sender);
    });
}

/// SSLRequest and GSSENCRequest codes: untyped packets after which the
/// client sends another untyped startup packet.
const ENCRYPTION_REQUESTS: [u32; 2] = [80_877_103, 80_877_104];

/// Counts a round trip when the server's data was forwarded since the
/// client last sent.
fn count_turn(counters: &Counters, answered: &AtomicBool) {
    if answered.swap(false, Ordering::SeqCst) {
        counters.round_trips.fetch_add(1, Ordering::Relaxed);
    }
}

fn forward_counting(
    client: &mut TcpStream,
    server: &mut TcpStream,
    counters: &Counters,
    answered: &AtomicBool,
) -> std::io::Result<()> {
    // Untyped startup packets: length (4) + code (4) + rest.
    loop {
        let mut header = [0u8; 8];
        client.read_exact(&mut header)?;
        count_turn(counters, answered);
        let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let code = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        let mut rest = vec![0u8; length.saturating_sub(8)];
        client.read_exact(&mut rest)?;
        let mut packet = header.to_vec();
        packet.extend_from_slice(&rest);
        server.write_all(&packet)?;
        if !ENCRYPTION_REQUESTS.contains(&code) {
            break;
        }
    }
    // Typed frames: one type byte and a length that counts itself. Each
    // read is forwarded whole, once its requests are counted.
    let mut buffer = vec![0u8; 64 * 1024];
    let mut header: Vec<u8> = Vec::with_capacity(5);
    let mut body_left = 0usize;
    loop {
        let read = client.read(&mut buffer)?;
        if read == 0 {
            return Ok(());
        }
        count_turn(counters, answered);
        let mut bytes = &buffer[..read];
        while !bytes.is_empty() {
            if body_left > 0 {
                let skipped = body_left.min(bytes.len());
                body_left -= skipped;
                bytes = &bytes[skipped..];
                continue;
            }
            let wanted = (5 - header.len()).min(bytes.len());
            header.extend_from_slice(&bytes[..wanted]);
            bytes = &bytes[wanted..];
            if header.len() < 5 {
                continue;
            }
            match header[0] {
                b'Q' => {
                    counters.requests.fetch_add(1, Ordering::Relaxed);
                    counters.statements.fetch_add(1, Ordering::Relaxed);
                }
                b'S' => {
                    counters.requests.fetch_add(1, Ordering::Relaxed);
                }
                b'E' => {
                    counters.statements.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
            body_left = length.saturating_sub(4);
            header.clear();
        }
        server.write_all(&buffer[..read])?;
    }
}
