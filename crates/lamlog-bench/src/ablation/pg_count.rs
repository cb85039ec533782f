//! A counting proxy for the PostgreSQL wire protocol, on loopback.
//!
//! How many round trips a store makes per batch is a property of its code,
//! not of its timing, so it is counted where nothing can hide it: on the
//! wire. The proxy forwards bytes both ways unchanged and reads the frames
//! the client sends (after the untyped startup packet, every frontend message
//! is one type byte and a 4-byte big-endian length that counts itself):
//!
//! - `Q` (simple query) and `S` (Sync, which ends an extended-protocol
//!   exchange) each cost one round trip;
//! - `E` (Execute) and `Q` are statements run;
//! - each accepted TCP connection is a connection opened.
//!
//! Plain TCP only (`sslmode=disable`): it cannot read inside TLS, and the
//! benchmark's server is local.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use anyhow::Context;
use serde::Serialize;

/// What the proxy has seen so far.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    round_trips: AtomicU64,
    statements: AtomicU64,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WireCounts {
    /// TCP connections opened through the proxy.
    pub connections: u64,
    /// Query + Sync messages: client→server→client exchanges.
    pub round_trips: u64,
    /// Query + Execute messages: statements run.
    pub statements: u64,
}

impl WireCounts {
    /// `self − earlier`.
    pub fn since(&self, earlier: &WireCounts) -> WireCounts {
        WireCounts {
            connections: self.connections - earlier.connections,
            round_trips: self.round_trips - earlier.round_trips,
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
    /// Starts forwarding from a free loopback port to `upstream` (`host:port`).
    pub fn start(upstream: String) -> anyhow::Result<CountingProxy> {
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
                std::thread::spawn(move || relay(client, server, &counters));
            }
        });
        Ok(CountingProxy { counters, port })
    }

    /// The counters now.
    pub fn counts(&self) -> WireCounts {
        WireCounts {
            connections: self.counters.connections.load(Ordering::Relaxed),
            round_trips: self.counters.round_trips.load(Ordering::Relaxed),
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
fn relay(mut client: TcpStream, mut server: TcpStream, counters: &Counters) {
    if client.set_nodelay(true).is_err() || server.set_nodelay(true).is_err() {
        return;
    }
    let (Ok(mut client_back), Ok(mut server_back)) = (client.try_clone(), server.try_clone())
    else {
        return;
    };
    let downstream = std::thread::spawn(move || {
        let _ = std::io::copy(&mut server_back, &mut client_back);
        let _ = client_back.shutdown(Shutdown::Write);
    });
    let _ = forward_counting(&mut client, &mut server, counters);
    let _ = server.shutdown(Shutdown::Write);
    let _ = downstream.join();
}

/// SSLRequest and GSSENCRequest codes: untyped packets after which the
/// client sends another untyped startup packet.
const ENCRYPTION_REQUESTS: [u32; 2] = [80_877_103, 80_877_104];

fn forward_counting(
    client: &mut TcpStream,
    server: &mut TcpStream,
    counters: &Counters,
) -> std::io::Result<()> {
    // Untyped startup packets: length (4) + code (4) + rest.
    loop {
        let mut header = [0u8; 8];
        client.read_exact(&mut header)?;
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
    // Typed frames, each forwarded in one write (header and body together).
    let mut frame = Vec::new();
    loop {
        let mut header = [0u8; 5];
        client.read_exact(&mut header)?;
        let length = u32::from_be_bytes([header[1], header[2], header[3], header[4]]) as usize;
        match header[0] {
            b'Q' => {
                counters.round_trips.fetch_add(1, Ordering::Relaxed);
                counters.statements.fetch_add(1, Ordering::Relaxed);
            }
            b'S' => {
                counters.round_trips.fetch_add(1, Ordering::Relaxed);
            }
            b'E' => {
                counters.statements.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        }
        frame.clear();
        frame.extend_from_slice(&header);
        frame.resize(header.len() + length.saturating_sub(4), 0);
        client.read_exact(&mut frame[header.len()..])?;
        server.write_all(&frame)?;
    }
}
