//! Decodes (and with `full`, parses and assembles) one Kinesis event file once,
//! for an instruction profiler.
//!
//! `kinesis_once FILE floor|full`
use lamlog_core::assemble::Assembler;
use lamlog_core::decode::{decode, DecodeLimits, Format, Record};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("a Kinesis event file");
    let mode = args.next().unwrap_or_else(|| "full".into());
    let bytes = std::fs::read(path).expect("readable");
    let limits = DecodeLimits::default();
    let decoded = decode(&bytes, Format::Kinesis, &limits);
    if mode == "floor" {
        println!("{}", decoded.records.len());
        return;
    }
    let mut assembler = Assembler::new();
    for record in decoded.records {
        if let Ok(Record::Data(envelope)) = record {
            assembler.add_envelope(&envelope);
        }
    }
    println!("{}", assembler.finish().0.len());
}
