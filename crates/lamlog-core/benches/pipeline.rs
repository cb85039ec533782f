//! Throughput of the pure path on a realistic gzip CloudWatch Logs payload.
//!
//! - `floor`: gunzip plus the envelope JSON (`decode` alone). Nothing can be
//!   faster than reading the input, so this is the bar.
//! - `full`: decode + parse + assemble, the whole pure path.
//!
//! Both report log events per second (`events/`) and uncompressed MB per
//! second (`bytes/`), single-threaded. Run: `cargo bench -p lamlog-core --bench pipeline`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;

#[path = "common/workload.rs"]
mod workload;
use lamlog_core::decode::{decode, DecodeLimits, Format, Record};
use workload::{full, gzip, payload};

fn floor(gz: &[u8], limits: &DecodeLimits) -> usize {
    decode(gz, Format::Cwl, limits).records.len()
}

fn bench(criterion: &mut Criterion) {
    let json = payload(2_000);
    let gz = gzip(&json);
    let limits = DecodeLimits::default();
    let events = match decode(&gz, Format::Cwl, &limits).records.first() {
        Some(Ok(Record::Data(envelope))) => envelope.events.len() as u64,
        other => panic!("the bench payload must decode: {other:?}"),
    };
    assert_eq!(full(&gz, &limits), 2_000, "every invocation assembles");

    let mut group = criterion.benchmark_group("events");
    group.throughput(Throughput::Elements(events));
    group.bench_function("floor_gunzip_json", |bencher| {
        bencher.iter(|| floor(black_box(&gz), &limits))
    });
    group.bench_function("full_decode_parse_assemble", |bencher| {
        bencher.iter(|| full(black_box(&gz), &limits))
    });
    group.finish();

    let mut group = criterion.benchmark_group("bytes");
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("floor_gunzip_json", |bencher| {
        bencher.iter(|| floor(black_box(&gz), &limits))
    });
    group.bench_function("full_decode_parse_assemble", |bencher| {
        bencher.iter(|| full(black_box(&gz), &limits))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
