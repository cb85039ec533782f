#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus into fuzz/seeds/<target>/.

Sources: the shared corpus of real messages (../shared/corpus/lines.jsonl
from the project root, when present) and the generated workload in
examples/ (`lamlog generate`). Output is deterministic (gzip without a
timestamp), so running it again only changes what its sources changed.
Files named regression-* are inputs a campaign found; they are kept.

  python3 fuzz/seeds/make.py
"""

import base64
import gzip
import hashlib
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"
CORPUS = ROOT.parent / "shared" / "corpus" / "lines.jsonl"
WORKLOAD = ROOT / "examples" / "kinesis-000001.json"

# The pipeline target's layout (see fuzz_targets/pipeline.rs).
SEPARATOR = b"\x1e"
LOG_GROUPS = ["/aws/lambda/alpha", "/aws/lambda/beta", "custom-group", "/aws/lambda/"]
MAX_PIPELINE_SEED_BYTES = 4096
MAX_DECODE_SEED_BYTES = 8192


def corpus_messages():
    if not CORPUS.exists():
        print(f"no shared corpus at {CORPUS}: seeding from the workload only")
        return []
    with CORPUS.open(encoding="utf-8") as lines:
        return [json.loads(line)["message"] for line in lines if line.strip()]


def workload_payloads():
    event = json.loads(WORKLOAD.read_text(encoding="utf-8"))
    for record in event["Records"]:
        data = base64.b64decode(record["kinesis"]["data"])
        yield record, json.loads(gzip.decompress(data))


def gzipped(data):
    return gzip.compress(data, compresslevel=6, mtime=0)


def kinesis_event(payloads):
    records = []
    for index, payload in enumerate(payloads):
        data = base64.b64encode(gzipped(json.dumps(payload).encode())).decode()
        records.append({
            "kinesis": {"data": data, "sequenceNumber": str(49000 + index), "partitionKey": "p"},
            "eventID": f"shardId-000000000000:{49000 + index}",
        })
    return json.dumps({"Records": records}).encode()


def cwl_payload(messages, log_group="/aws/lambda/seed"):
    events = [
        {"id": f"{index:056}", "timestamp": 1_700_000_000_000 + index, "message": message}
        for index, message in enumerate(messages)
    ]
    return {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": "2026/11/01/[$LATEST]seed",
        "subscriptionFilters": ["seed"],
        "logEvents": events,
    }


def write(target, name, data):
    directory = SEEDS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data)


def selector(account, log_group, step):
    """The pipeline target's selector byte: account bit, group bits, time step."""
    return bytes([account | (log_group << 1) | (step << 3)])


def pipeline_seed(config, lines):
    """lines: (account, log group index, time step 0-29, message)."""
    records = [config] + [selector(*line[:3]) + line[3].encode() for line in lines]
    return SEPARATOR.join(records)


def seed_parse(messages, generated):
    for message in messages + generated:
        data = message.encode()
        write("parse", hashlib.sha1(data).hexdigest()[:16], data)


def seed_pipeline(messages, by_group):
    configs = [
        b"",
        b"\x0f" + (100).to_bytes(8, "little") + bytes([3, 90]),
        b"\x0a" + (1).to_bytes(8, "little") + bytes([1, 0]),
    ]
    # The real messages, a few at a time, spread over groups and windows.
    chunk = 12
    for start in range(0, len(messages), chunk):
        lines = [(index % 2, index % 4, 1 + index % 29, message)
                 for index, message in enumerate(messages[start:start + chunk], start)]
        write("pipeline", f"corpus-{start:03}", pipeline_seed(configs[start // chunk % 3], lines))
    # Generated invocations, whole: START … REPORT of one group in time order.
    for number, (log_group, events) in enumerate(sorted(by_group.items())):
        base_ms = events[0]["timestamp"]
        lines = []
        size = 0
        for event in events:
            step = 1 + min(28, (event["timestamp"] - base_ms) // 61_000)
            size += len(event["message"]) + 2
            if size > MAX_PIPELINE_SEED_BYTES:
                break
            lines.append((number % 2, number % 4, step, event["message"]))
        write("pipeline", f"workload-{number:02}", pipeline_seed(configs[number % 3], lines))


def seed_decode(messages, records):
    small = [(record, payload) for record, payload in records
             if len(record["kinesis"]["data"]) < MAX_DECODE_SEED_BYTES // 2][:8]
    for number, (record, payload) in enumerate(small):
        write("decode", f"kinesis-workload-{number}", json.dumps({"Records": [record]}).encode())
        write("decode", f"awslogs-workload-{number}",
              json.dumps({"awslogs": {"data": record["kinesis"]["data"]}}).encode())
        write("decode", f"cwl-gzip-workload-{number}", gzipped(json.dumps(payload).encode()))
        write("decode", f"cwl-json-workload-{number}", json.dumps(payload).encode())
    for start in range(0, len(messages), 10):
        part = messages[start:start + 10]
        write("decode", f"kinesis-corpus-{start:03}", kinesis_event([cwl_payload(part)]))
        # The round trip's shape: messages separated by \x01.
        write("decode", f"messages-corpus-{start:03}", "\x01".join(part).encode())
        ndjson = "".join(json.dumps({"timestamp": 1_700_000_000_000 + index, "message": message}) + "\n"
                         for index, message in enumerate(part))
        write("decode", f"events-corpus-{start:03}", ndjson.encode())
        lines = "".join(message.replace("\n", "\r").rstrip("\r") + "\n" for message in part)
        write("decode", f"lines-corpus-{start:03}", lines.encode())
    # Two gzip members back to back, as Firehose writes them.
    two = gzipped(json.dumps(cwl_payload(messages[:3])).encode()) + \
        gzipped(json.dumps(cwl_payload(messages[3:6], "custom-group")).encode())
    write("decode", "cwl-two-members", two)


def main():
    # Inputs a campaign found (`regression-*`) stay; the rest is rewritten.
    for target in ("parse", "pipeline", "decode"):
        for seed in (SEEDS / target).glob("*"):
            if not seed.name.startswith("regression-"):
                seed.unlink()
    messages = corpus_messages()
    records = list(workload_payloads())
    by_group = {}
    generated_shapes = {}
    for _, payload in records:
        by_group.setdefault(payload["logGroup"], []).extend(payload["logEvents"])
        for event in payload["logEvents"]:
            # One message per leading shape is enough for parse.
            shape = event["message"][:12]
            generated_shapes.setdefault(shape, event["message"])
    for events in by_group.values():
        events.sort(key=lambda event: (event["timestamp"], event["id"]))
    seed_parse(messages, sorted(generated_shapes.values())[:200])
    seed_pipeline(messages, by_group)
    seed_decode(messages, records)


if __name__ == "__main__":
    main()
