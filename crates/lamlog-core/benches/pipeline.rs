//! Throughput of the pure path on a realistic gzip CloudWatch Logs payload.
//!
//! - `floor`: gunzip plus the envelope JSON (`decode` alone). Nothing can be
//!   faster than reading the input, so this is the bar.
//! - `full`: decode + parse + assemble, the whole pure path.
//!
//! Both report log events per second (`events/`) and uncompressed MB per
//! second (`bytes/`), single-threaded. Run: `cargo bench -p lamlog-core --bench pipeline`.

use std::hint::black_box;
use std::io::Write;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use lamlog_core::assemble::Assembler;
use lamlog_core::decode::{decode, DecodeLimits, Format, Record};

/// A CloudWatch payload as a busy Python or Node function produces it: START,
/// two or three application lines, END and REPORT per invocation, some cold
/// starts with X-Ray, some errors, a fifth of functions in the JSON format.
fn payload(invocations: usize) -> Vec<u8> {
    let mut events = Vec::new();
    let mut push = |time: i64, message: String| {
        events.push(serde_json::json!({"id": format!("{:056}", events.len()), "timestamp": time, "message": message}));
    };
    for index in 0..invocations {
        let request_id = format!("{:08x}-5e2b-4c1f-9a3d-{:012x}", index * 7919, index);
        let time = 1_764_000_000_000 + index as i64 * 37;
        let json = index % 5 == 0;
        if json {
            push(time, format!("{{\"time\":\"2025-11-24T16:00:00.000Z\",\"type\":\"platform.start\",\"record\":{{\"requestId\":\"{request_id}\",\"version\":\"$LATEST\"}}}}\n"));
            push(time + 1, format!("{{\"timestamp\":\"2025-11-24T16:00:00.001Z\",\"level\":\"INFO\",\"requestId\":\"{request_id}\",\"message\":\"processing order {index}\"}}\n"));
            push(time + 9, format!("{{\"time\":\"2025-11-24T16:00:00.009Z\",\"type\":\"platform.report\",\"record\":{{\"requestId\":\"{request_id}\",\"status\":\"success\",\"metrics\":{{\"durationMs\":{}.642,\"billedDurationMs\":{},\"memorySizeMB\":512,\"maxMemoryUsedMB\":91}}}}}}\n", 8 + index % 50, 9 + index % 50));
            continue;
        }
        push(
            time,
            format!("START RequestId: {request_id} Version: $LATEST\n"),
        );
        push(time + 1, format!("[INFO]\t2025-11-24T16:00:00.001Z\t{request_id}\tprocessing order {index} for customer {}\n", index * 31));
        push(time + 2, format!("[INFO]\t2025-11-24T16:00:00.002Z\t{request_id}\tfetched 12 items from dynamodb in 4.2 ms\n"));
        if index % 50 == 7 {
            push(
                time + 3,
                format!("[ERROR]\t2025-11-24T16:00:00.003Z\t{request_id}\tKeyError: 'sku'\n"),
            );
        }
        push(time + 9, format!("END RequestId: {request_id}\n"));
        let cold = if index % 40 == 0 {
            "\tInit Duration: 312.44 ms\tXRAY TraceId: 1-5e61292c-cc1229a4dfbeae1043928548\tSegmentId: 3d752f0a1bbe37e0\tSampled: true"
        } else {
            ""
        };
        push(time + 9, format!("REPORT RequestId: {request_id}\tDuration: {}.{:02} ms\tBilled Duration: {} ms\tMemory Size: 256 MB\tMax Memory Used: 87 MB{cold}\t\n", 10 + index % 90, index % 100, 11 + index % 90));
    }
    let payload = serde_json::json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/lambda/orders-api",
        "logStream": "2025/11/24/[$LATEST]0123456789abcdef0123456789abcdef", "subscriptionFilters": ["lamlog"], "logEvents": events,
    });
    payload.to_string().into_bytes()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip to memory");
    encoder.finish().expect("gzip to memory")
}

fn floor(gz: &[u8], limits: &DecodeLimits) -> usize {
    decode(gz, Format::Cwl, limits).records.len()
}

fn full(gz: &[u8], limits: &DecodeLimits) -> usize {
    let mut assembler = Assembler::new();
    for record in decode(gz, Format::Cwl, limits).records {
        if let Ok(Record::Data(envelope)) = record {
            assembler.add_envelope(&envelope);
        }
    }
    assembler.finish().0.len()
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
