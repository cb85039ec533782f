#!/usr/bin/env python3
"""Writes the decode fixtures next to this script. Deterministic: gzip mtime 0.

Run from anywhere: python3 make_fixtures.py. The tests in tests/decode.rs
state what each fixture holds, so change both together.
"""
import base64
import gzip
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ID_A = "31953106606966983378809025079804211143289615424298221568"
ID_B = "31953106606966983378809025079804211143289615424298221569"
SEQ = "4956816737333333333333333333333333333333333333333333333{}"


def payload(stream, events):
    return {
        "owner": "123456789012",
        "logGroup": "/aws/lambda/checkout",
        "logStream": stream,
        "subscriptionFilters": ["lamlog"],
        "messageType": "DATA_MESSAGE",
        "logEvents": [
            {"id": event_id, "timestamp": ts, "message": message}
            for event_id, ts, message in events
        ],
    }


CONTROL = {
    "messageType": "CONTROL_MESSAGE",
    "owner": "CloudwatchLogs",
    "logGroup": "",
    "logStream": "",
    "subscriptionFilters": [],
    "logEvents": [
        {
            "id": "",
            "timestamp": 1600110003794,
            "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose.",
        }
    ],
}

START = "START RequestId: 8f5b7e1c-1111-2222-3333-444455556666 Version: $LATEST\n"
REPORT = (
    "REPORT RequestId: 8f5b7e1c-1111-2222-3333-444455556666\tDuration: 102.25 ms\t"
    "Billed Duration: 103 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\t\n"
)
STREAM = "2024/05/20/[$LATEST]0123456789abcdef0123456789abcdef"


def gz(obj):
    return gzip.compress(json.dumps(obj, separators=(",", ":")).encode(), mtime=0)


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as out:
        out.write(data)


def kinesis_record(index, data):
    seq = SEQ.format(index)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": "p",
            "sequenceNumber": seq,
            "data": data,
            "approximateArrivalTimestamp": 1716199872.345,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": "shardId-000000000000:" + seq,
        "eventName": "aws:kinesis:record",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/logs",
    }


def b64(data):
    return base64.b64encode(data).decode()


first = payload(STREAM, [(ID_A, 1716199872345, START), (ID_B, 1716199872447, REPORT)])
second = payload(STREAM + "x", [(ID_B, 1716199873000, "hello\tworld\r\n")])

# Three records; the middle one's data is not base64.
write(
    "kinesis_event.json",
    json.dumps(
        {
            "Records": [
                kinesis_record(0, b64(gz(first))),
                kinesis_record(1, "H4sI!!not*base64"),
                kinesis_record(2, b64(gz(second))),
            ]
        },
        indent=2,
    ).encode(),
)

write("awslogs_event.json", json.dumps({"awslogs": {"data": b64(gz(first))}}).encode())

# Firehose-style object: three gzip members; the second holds a control
# message and a data message back to back with no separator.
member_two = gzip.compress(
    (
        json.dumps(CONTROL, separators=(",", ":")) + json.dumps(second, separators=(",", ":"))
    ).encode(),
    mtime=0,
)
write("firehose.gz", gz(first) + member_two + gz(first))

write(
    "events.ndjson",
    b"\n".join(
        [
            b'{"timestamp":1716199872345,"message":"START RequestId: 1 Version: $LATEST\\n","logGroup":"/aws/lambda/a"}',
            b'{"timestamp":"2024-05-20T10:11:12.447Z","message":"END RequestId: 1\\n","logGroup":"/aws/lambda/a"}',
            b'{"timestamp":"not a time","message":"x"}',
            b"",
            b'{"timestamp":1716199873000,"message":"REPORT RequestId: 1","logGroup":"/aws/lambda/a"}',
            b'{"timestamp":1716199874000,"message":"other group","logGroup":"/aws/lambda/b","id":"' + ID_A.encode() + b'"}',
            b"",
        ]
    ),
)

write(
    "lines.txt",
    b"START RequestId: 1 Version: $LATEST\r\n"
    b"\n"
    b"END RequestId: 1\r\n"
    b"bad \xff\xfe utf-8\n"
    b"with\0nul\n"
    b"last line without newline",
)
