//! Decodes (and with `full`, parses and assembles) one Kinesis event file,
//! once for an instruction profiler, or ROUNDS times for the median and
//! fastest wall time of a round.
//!
//! `kinesis_once FILE floor|full [ROUNDS]`
use std::time::Instant;

use lamlog_core::assemble::Assembler;
use lamlog_core::decode::{decode, DecodeLimits, Format, Record};

fn round(bytes: &[u8], full: bool) -> usize {
    let limits = DecodeLimits::default();
    let decoded = decode(bytes, Format::Kinesis, &limits);
    if !full {
        return decoded.records.len();
    }
    let mut assembler = Assembler::new();
    for record in decoded.records {
        if let Ok(Record::Data(envelope)) = record {
            assembler.add_envelope(&envelope);
        }
    }
    assembler.finish().0.len()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("a Kinesis event file");
    let full = args.next().as_deref() != Some("floor");
    let rounds: usize = args.next().and_then(|text| text.parse().ok()).unwrap_or(1);
    let bytes = std::fs::read(path).expect("readable");
    let mut times = Vec::with_capacity(rounds);
    let mut answer = 0;
    for _ in 0..rounds {
        let started = Instant::now();
        answer = std::hint::black_box(round(std::hint::black_box(&bytes), full));
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    if rounds == 1 {
        println!("{answer}");
    } else {
        println!(
            "{answer} answers; round ms: median {:.2}, fastest {:.2}",
            times[rounds / 2],
            times[0]
        );
    }
}
