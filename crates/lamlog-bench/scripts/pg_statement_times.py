#!/usr/bin/env python3
"""Server time per batch, by step of the store, from a PostgreSQL log.

Turn on statement logging, run the harness's ablation, turn it off, and read
what the server logged meanwhile:

    LOG=/var/log/postgresql/postgresql-15-main.log
    psql -h 127.0.0.1 -U postgres -d test \
        -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()"
    start=$(wc -l < "$LOG")
    cargo run --release -p lamlog-bench -- ablation
    psql -h 127.0.0.1 -U postgres -d test \
        -c "ALTER SYSTEM RESET log_min_duration_statement" -c "SELECT pg_reload_conf()"
    tail -n +"$((start + 1))" "$LOG" | python3 crates/lamlog-bench/scripts/pg_statement_times.py

The log's lines must start with the default prefix (`%m [%p] `). Each
connection (process id) that committed at least `--min-batches` batches (a
batch: a transaction that ran a step of the store) gets a table: the
milliseconds per batch of each step, split into
planning (parse and bind, which plans every statement under the store's
`force_custom_plan`) and execution. In the ablation those connections are
rows 4 and 5, once on loopback and once with every answer held 0.5 ms.
Logging every statement slows the server, so the times are for comparing
steps and rows, not for latency.
"""

import argparse
import collections
import re
import sys

ENTRY = re.compile(
    r"^\S+ \S+ \S+ \[(\d+)\] .*?LOG:  duration: ([\d.]+) ms  "
    r"(parse|bind|execute|statement)(?: [^:]*)?: ?(.*)$"
)

# Each step of the store (and of the ablation's row 4), by how its
# statements begin once their whitespace is collapsed; the first match wins.
STEPS = [
    ("COMMIT", "commit"),
    ("BEGIN", "begin and settings"),
    ("START TRANSACTION", "begin and settings"),
    ("COPY lamlog_batch", "copy into the batch table"),
    ("SELECT found.*", "read of the stored rows"),
    ("SELECT pg_advisory_xact_lock(h) FROM unnest", "key and function locks"),
    ("INSERT INTO function_minute", "rollups (minutes, histograms) and their reads"),
    ("SELECT k.position", "rollups (minutes, histograms) and their reads"),
    ("SELECT DISTINCT ON (k.position)", "rollups (minutes, histograms) and their reads"),
    ("DELETE FROM function_minute", "rollups (minutes, histograms) and their reads"),
    ("INSERT INTO environments", "environments and memory trails"),
    ("SELECT e.account", "environments and memory trails"),
    ("INSERT INTO stream_memory", "environments and memory trails"),
    ("SELECT s.account", "environments and memory trails"),
    ("INSERT INTO function_watermark", "watermarks"),
    ("SELECT w.account", "watermarks"),
    ("INSERT INTO alerts", "alerts and outbox"),
    ("SELECT dedup_key", "alerts and outbox"),
    ("UPDATE alerts", "alerts and outbox"),
    ("SELECT EXISTS", "alerts and outbox"),
    ("INSERT INTO dead_letters", "dead letters"),
    ("INSERT INTO lamlog_bench_naive.function_minute", "rollups (minutes, histograms) and their reads"),
    ("INSERT INTO lamlog_bench_naive.invocations", "invocation rows: insert, update, move"),
    ("INSERT INTO invocations", "invocation rows: insert, update, move"),
    ("INSERT INTO pending_invocations", "invocation rows: insert, update, move"),
    ("UPDATE invocations", "invocation rows: insert, update, move"),
    ("UPDATE pending_invocations", "invocation rows: insert, update, move"),
    ("DELETE FROM pending_invocations", "invocation rows: insert, update, move"),
]


def entries(lines):
    """(pid, ms, phase, statement) of each logged duration; a statement's
    continuation lines (tab-indented) are joined to it."""
    current = None
    for line in lines:
        line = line.rstrip("\n")
        if current is not None and line.startswith("\t"):
            current[3] += " " + line.strip()
            continue
        if current is not None:
            yield current
            current = None
        match = ENTRY.match(line)
        if match:
            pid, ms, phase, text = match.groups()
            current = [int(pid), float(ms), phase, text]
    if current is not None:
        yield current


def step_of(statement):
    for prefix, step in STEPS:
        if statement.startswith(prefix):
            return step
    return "other"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("log", nargs="?", help="the log's new lines (default: stdin)")
    parser.add_argument("--min-batches", type=int, default=10)
    args = parser.parse_args()
    # A log may hold anything; the statements themselves are ASCII.
    source = open(args.log, errors="replace") if args.log else sys.stdin
    # Each connection's statements since its last commit, by step: they are
    # counted when that commit ends a batch (a transaction that ran a step
    # of the store), and dropped when it ends anything else, such as the
    # migrations. A statement outside a transaction (the outbox's mark after
    # a batch) is counted with the batch that follows it.
    open_steps = collections.defaultdict(lambda: collections.defaultdict(lambda: [0.0, 0.0]))
    by_pid = collections.defaultdict(lambda: collections.defaultdict(lambda: [0.0, 0.0]))
    commits = collections.Counter()
    unknown = collections.defaultdict(collections.Counter)
    for pid, ms, phase, text in entries(source):
        statement = " ".join(text.split())
        step = step_of(statement)
        open_steps[pid][step][0 if phase in ("parse", "bind") else 1] += ms
        if step == "other":
            unknown[pid][statement[:60]] += ms
        if step != "commit":
            continue
        ran = open_steps.pop(pid)
        if set(ran) <= {"commit", "begin and settings", "other"}:
            continue
        commits[pid] += 1
        for name, (plan, run) in ran.items():
            by_pid[pid][name][0] += plan
            by_pid[pid][name][1] += run
    shown = [pid for pid in sorted(by_pid) if commits[pid] >= args.min_batches]
    if not shown:
        sys.exit(f"no connection committed {args.min_batches} batches in this log")
    for pid in shown:
        batches = commits[pid]
        steps = by_pid[pid]
        total = sum(plan + run for plan, run in steps.values())
        print(f"\nconnection {pid}: {batches} batches, {total / batches:.2f} ms of server time a batch")
        print("| step | ms a batch | planning | execution |")
        print("|---|---:|---:|---:|")
        for step, (plan, run) in sorted(steps.items(), key=lambda kv: -sum(kv[1])):
            print(f"| {step} | {(plan + run) / batches:.2f} | {plan / batches:.2f} | {run / batches:.2f} |")
        planning = sum(plan for plan, _ in steps.values())
        print(f"| all | {total / batches:.2f} | {planning / batches:.2f} | {(total - planning) / batches:.2f} |")
        if unknown[pid]:
            top = ", ".join(f"{text!r} {ms:.2f} ms" for text, ms in unknown[pid].most_common(3))
            print(f"other statements, in all: {top}")


if __name__ == "__main__":
    main()
