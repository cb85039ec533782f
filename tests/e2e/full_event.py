#!/usr/bin/env python3
"""Writes a full Kinesis event: 10,000 records, about 6 MB, each record one
gzip'd CloudWatch Logs payload with one invocation's REPORT line.

The generator (`lamlog generate --format kinesis`) packs real-sized payloads,
which fill 6 MB at about 3,000 records; this event is the other extreme of
the limits (the record count), for the memory measurement.

usage: full_event.py OUT.json [records]
"""
import base64, gzip, json, sys, uuid

out = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 10_000
arn = "arn:aws:kinesis:us-east-1:123456789012:stream/lamlog-logs"
records = []
for index in range(count):
    function = f"fn-{index % 200:03d}"
    request_id = str(uuid.UUID(int=index + 1))
    ts = 1_793_491_200_000 + index * 10
    payload = {
        "messageType": "DATA_MESSAGE", "owner": "123456789012",
        "logGroup": f"/aws/lambda/{function}", "logStream": "2026/11/01/[$LATEST]0f1e2d3c",
        "subscriptionFilters": ["lamlog"],
        "logEvents": [
            {"id": f"{index:056d}", "timestamp": ts + 5, "message":
             f"REPORT RequestId: {request_id}\tDuration: {3 + index % 97}.25 ms\tBilled Duration: {4 + index % 97} ms\t"
             f"Memory Size: 128 MB\tMax Memory Used: {40 + index % 80} MB\t\n"},
        ],
    }
    data = base64.b64encode(gzip.compress(json.dumps(payload, separators=(",", ":")).encode(), 6)).decode()
    sequence = f"4956816737{index:046d}"
    records.append({
        "kinesis": {"partitionKey": function, "sequenceNumber": sequence,
                    "data": data, "approximateArrivalTimestamp": ts / 1000},
        "eventSource": "aws:kinesis", "eventID": f"shardId-000000000000:{sequence}",
        "eventSourceARN": arn,
    })
with open(out, "w") as f:
    json.dump({"Records": records}, f, separators=(",", ":"))
