#!/usr/bin/env python3
"""End to end: moto (DynamoDB, SNS, SQS) + `cargo lambda watch` + the store.

1. starts moto on a free loopback port, creates the metadata table (items from
   the generated metadata.toml), an alert topic and an SQS queue subscribed to it;
2. generates a Kinesis workload with `lamlog generate --format kinesis` and cuts
   it into events of 200 records (the template's BatchSize);
3. runs the function under `cargo lambda watch` (environment pointing at moto
   and the store) and invokes it with `cargo lambda invoke --data-file`;
4. the same batch twice -> BatchGetItem the first time only, all duplicates the
   second time (read from the EMF lines in the watch log);
5. faults, each followed by the retry Kinesis would make:
   - moto stopped, cold start (empty cache) -> reported from the first record;
   - PostgreSQL taken away (the function's connections terminated, new ones
     refused) -> reported from the first record; committed once it is back;
   - SNS unreachable (its endpoint a closed port) while DynamoDB and the store
     work -> every batch still commits; its alerts wait in the outbox;
   - a poison record (PostgreSQL): a forged record in the middle of a batch
     whose log group is too long for the primary key's index -> it is
     dead-lettered with PostgreSQL's message, the rest of the batch commits,
     and the next batches go through;
6. the rest, warm: p50/p99 of the handler's own time per 200-record batch;
7. the store equals a clean `lamlog ingest` of the same files (less the
   poison's dead letter), nothing is left unsent, and every alert stored
   after moto's restart is read back from SQS with its attributes at least
   once (the run prints how many arrived twice).

Store: DATABASE_URL; a PostgreSQL URL gets a fresh database `lamlog_e2e` on
the same server (default: a fresh SQLite file, with the `sqlite` feature).
LAMLOG_E2E_RELEASE=1 runs the function in release mode (latency figures);
LAMLOG_E2E_INVOCATIONS (16000) sets the workload's size.
LAMLOG_E2E_BIN_DIR=DIR takes `lamlog` and `bootstrap` from DIR as they are,
instead of building them: `.ci/run` passes the `target/debug` that
`cargo test --workspace --all-features` has just built, so that nothing is
compiled twice. The function runs as Lambda runs it: `cargo lambda watch
--only-lambda-apis` serves the runtime and invoke APIs, and the bootstrap is
started beside it with AWS_LAMBDA_RUNTIME_API pointing there.
Everything listens on 127.0.0.1 only. Fails (exit 1) when a service is missing.
"""
import base64, glob, gzip, json, os, random, socket, sqlite3, subprocess, sys, tempfile, time, tomllib

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
WORK = tempfile.mkdtemp(prefix="lamlog-e2e-")
# The function's outbox delay (LAMLOG_ALERT_RETRY_SECS), shorter than its
# default minute so that the run need not wait a minute for it.
ALERT_RETRY_SECS = 10
TABLE, REGION = "lamlog-functions", "us-east-1"
CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
         "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}
children = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, what, timeout=600):
    started = time.time()
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            if time.time() - started > timeout:
                sys.exit(f"e2e: {what} did not listen on {port}")
            time.sleep(0.2)


def start(args, **kwargs):
    child = subprocess.Popen(args, **kwargs)
    children.append(child)
    return child


def stop(child):
    child.terminate()
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()


def start_moto(port):
    child = start(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, "moto_server", 30)
    return child


def client(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def seed(endpoint, metadata):
    ddb = client("dynamodb", endpoint)
    ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    table = boto3.resource("dynamodb", endpoint_url=endpoint, region_name=REGION,
                           aws_access_key_id="testing", aws_secret_access_key="testing").Table(TABLE)
    from decimal import Decimal
    def ddb_value(value):
        if isinstance(value, float):
            return Decimal(str(value))
        if isinstance(value, dict):
            return {k: ddb_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [ddb_value(v) for v in value]
        return value
    for key, meta in metadata.items():
        table.put_item(Item={"pk": key, **ddb_value(meta)})
        if "log_group" in meta:
            account, function = key.split("#", 1)
            table.put_item(Item={"pk": f"{account}#{meta['log_group']}", "function": function, **ddb_value(meta)})
    sns, sqs = client("sns", endpoint), client("sqs", endpoint)
    topic = sns.create_topic(Name="lamlog-alerts")["TopicArn"]
    queue = sqs.create_queue(QueueName="lamlog-alerts")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
    return topic, queue


def drain(endpoint, queue):
    sqs, messages = client("sqs", endpoint), []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
        if not got:
            return messages
        for message in got:
            messages.append(message)
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


class Function:
    """The bootstrap, served by `cargo lambda watch --only-lambda-apis`, with an environment."""

    def __init__(self, env, bootstrap):
        self.port = free_port()
        self.log_path = os.path.join(WORK, f"watch-{self.port}.log")
        self.log = open(self.log_path, "w")
        self.child = start(["cargo", "lambda", "watch", "--only-lambda-apis", "-A", "127.0.0.1",
                            "-P", str(self.port), "--timeout", "60"],
                           cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port, "cargo lambda watch")
        # What `cargo lambda watch` would set for a function it starts itself.
        runtime = {"AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{self.port}/.rt/bootstrap",
                   "AWS_LAMBDA_FUNCTION_VERSION": "1", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "4096"}
        self.function = start([bootstrap], cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT,
                              env={**os.environ, **runtime, **env})

    def invoke(self, path):
        out = subprocess.run(["cargo", "lambda", "invoke", "bootstrap", "-A", "127.0.0.1", "-P", str(self.port),
                              "--data-file", path, "-o", "json"], cwd=ROOT, capture_output=True, text=True,
                             timeout=900)
        if out.returncode != 0:
            exited = self.function.poll()
            died = f" (bootstrap exited with {exited}; see {self.log_path})" if exited is not None else ""
            return {"error": out.stdout + out.stderr + died}
        return json.loads(out.stdout) if out.stdout.strip() else None

    def emf(self):
        lines = []
        with open(self.log_path, errors="replace") as f:
            for line in f:
                start_at = line.find("{")
                if start_at >= 0 and '"_aws":{"CloudWatchMetrics"' in line:
                    lines.append(json.loads(line[start_at:]))
        return lines

    def close(self):
        stop(self.function)
        stop(self.child)
        self.log.close()


def store_counts(url):
    queries = {
        "invocations": "SELECT count(*) FROM invocations",
        "enriched": "SELECT count(*) FROM invocations WHERE enriched",
        "rollup_invocations": "SELECT coalesce(sum(invocations), 0) FROM function_minute",
        "alerts": "SELECT count(*) FROM alerts",
        "dead_letters": "SELECT count(*) FROM dead_letters",
    }
    if url.startswith("sqlite://"):
        db = sqlite3.connect(url[len("sqlite://"):])
        return {name: db.execute(q).fetchone()[0] for name, q in queries.items()}
    return {name: int(subprocess.run(["psql", url, "-tAc", q], capture_output=True, text=True, check=True).stdout)
            for name, q in queries.items()}


def query(url, sql):
    """The rows of `sql` on the store `url`, as tuples of text."""
    if url.startswith("sqlite://"):
        db = sqlite3.connect(url[len("sqlite://"):])
        return [tuple(str(value) for value in row) for row in db.execute(sql).fetchall()]
    # Fields apart by the unit separator: dedup keys hold '|'.
    out = subprocess.run(["psql", url, "-tA", "-F", "\x1f", "-c", sql], capture_output=True, text=True,
                         check=True).stdout
    return [tuple(line.split("\x1f")) for line in out.splitlines() if line]


def poisoned(records):
    """`records` with a forged record in the middle: a CloudWatch payload whose
    log group names a function too long for PostgreSQL's primary key index
    (incompressible, so TOAST cannot shrink it). It parses and assembles; only
    the database can refuse it."""
    rng = random.Random(7)
    name = "poison-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-_") for _ in range(9000))
    payload = {"messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": f"/aws/lambda/{name}",
               "logStream": "2026/11/29/[$LATEST]e2e", "subscriptionFilters": ["lamlog"],
               "logEvents": [{"id": "1", "timestamp": 1_793_491_200_000,
                              "message": "START RequestId: poison-1 Version: $LATEST\n"},
                             {"id": "2", "timestamp": 1_793_491_200_000,
                              "message": "REPORT RequestId: poison-1\tDuration: 10.00 ms\tBilled Duration: 10 ms\t"
                                         "Memory Size: 128 MB\tMax Memory Used: 64 MB\t\n"}]}
    middle = len(records) // 2
    forged = json.loads(json.dumps(records[middle - 1]))
    forged["kinesis"]["data"] = base64.b64encode(gzip.compress(json.dumps(payload).encode())).decode()
    forged["kinesis"]["sequenceNumber"] = records[middle - 1]["kinesis"]["sequenceNumber"] + "5"
    forged["eventID"] = forged["eventID"] + "5"
    return records[:middle] + [forged] + records[middle:]


def dump(lamlog, url):
    """Every table as canonical text (`lamlog db dump`), whichever the store."""
    store = ["--db", url[len("sqlite://"):]] if url.startswith("sqlite://") else ["--database-url", url]
    return subprocess.run([lamlog, "db", "dump", *store], capture_output=True, check=True).stdout


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        raise SystemExit(1)


def fresh_database(url):
    """A new, empty database beside the one `url` names; returns its URL."""
    base, _, query = url.partition("?")
    server, _, _ = base.rpartition("/")
    for statement in ("DROP DATABASE IF EXISTS lamlog_e2e WITH (FORCE)", "CREATE DATABASE lamlog_e2e"):
        subprocess.run(["psql", admin_url(url), "-qtAc", statement], check=True, capture_output=True)
    return f"{server}/lamlog_e2e" + (f"?{query}" if query else "")


def split_events(files, size):
    """Cuts the generated Kinesis events into events of `size` records, in
    order: what an event source mapping with BatchSize `size` delivers."""
    events = []
    for path in files:
        with open(path) as f:
            records = json.load(f)["Records"]
        for start_at in range(0, len(records), size):
            events.append(records[start_at:start_at + size])
    paths = []
    for index, records in enumerate(events):
        path = os.path.join(WORK, f"batch-{index:04d}.json")
        write_event(path, records)
        paths.append(path)
    return paths


def write_event(path, records):
    with open(path, "w") as f:
        json.dump({"Records": records}, f, separators=(",", ":"))


def records_of(path):
    with open(path) as f:
        return json.load(f)["Records"]


def admin_url(url):
    """The `postgres` database of the server `url` names."""
    return url.partition("?")[0].rpartition("/")[0] + "/postgres"


def postgres_down(url, down):
    """Takes the database of `url` away (no new connections, every backend
    terminated) or gives it back. Returns how many backends were terminated."""
    database = url.partition("?")[0].rpartition("/")[2]
    statements = [f"ALTER DATABASE {database} WITH ALLOW_CONNECTIONS {'false' if down else 'true'}"]
    if down:
        statements.append("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                          f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")
    out = ""
    for statement in statements:
        out = subprocess.run(["psql", admin_url(url), "-qtAc", statement], check=True,
                             capture_output=True, text=True).stdout.strip()
    return int(out) if down else 0


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def binaries(postgres):
    """The paths of `lamlog` and `bootstrap`: from LAMLOG_E2E_BIN_DIR as they
    are, or built here (the function with the `sqlite` feature for a SQLite
    store, unless LAMLOG_E2E_FEATURES says otherwise)."""
    bin_dir = os.environ.get("LAMLOG_E2E_BIN_DIR")
    if bin_dir:
        paths = [os.path.join(os.path.abspath(bin_dir), name) for name in ("lamlog", "bootstrap")]
        for path in paths:
            if not os.access(path, os.X_OK):
                sys.exit(f"e2e: {path} is missing; LAMLOG_E2E_BIN_DIR must hold a build of both binaries "
                         "(`cargo test --workspace --all-features` makes them in target/debug)")
        return paths
    features = os.environ.get("LAMLOG_E2E_FEATURES", "" if postgres else "sqlite")
    # LAMLOG_E2E_RELEASE=1: the function in release mode, for latency figures.
    release = ["--release"] if os.environ.get("LAMLOG_E2E_RELEASE") == "1" else []
    env = {**os.environ, "CARGO_TARGET_DIR": TARGET}
    subprocess.run(["cargo", "build", "-p", "lamlog", "--bin", "lamlog"], cwd=ROOT, check=True, env=env)
    subprocess.run(["cargo", "build", *release, *(["--features", features] if features else []),
                    "--package", "lamlog-lambda", "--bin", "bootstrap"], cwd=ROOT, check=True, env=env)
    return [os.path.join(TARGET, "debug", "lamlog"),
            os.path.join(TARGET, "release" if release else "debug", "bootstrap")]


def main():
    database_url = os.environ.get("DATABASE_URL", f"sqlite://{WORK}/lamlog.db")
    postgres = not database_url.startswith("sqlite")
    if postgres:
        database_url = fresh_database(database_url)
    lamlog, bootstrap = binaries(postgres)
    # LAMLOG_E2E_INVOCATIONS: more invocations, more 200-record batches timed.
    invocations = os.environ.get("LAMLOG_E2E_INVOCATIONS", "16000")
    workload = os.path.join(WORK, "workload")
    subprocess.run([lamlog, "generate", "--format", "kinesis", "--functions", "12", "--invocations", invocations,
                    "--seed", "11", "--out", workload], check=True)
    files = sorted(glob.glob(os.path.join(workload, "kinesis-*.json")))
    batches = split_events(files, 200)
    check(len(batches) >= 20, f"{len(files)} generated Kinesis events cut into {len(batches)} batches of <= 200 records")
    with open(os.path.join(workload, "metadata.toml"), "rb") as f:
        metadata = tomllib.load(f)

    moto_port = free_port()
    endpoint = f"http://127.0.0.1:{moto_port}"
    moto = start_moto(moto_port)
    topic, queue = seed(endpoint, metadata)
    env = {**CREDS, "AWS_ENDPOINT_URL": endpoint, "DATABASE_URL": database_url,
           "LAMLOG_METADATA_TABLE": TABLE, "LAMLOG_ALERT_TOPIC_ARN": topic,
           "LAMLOG_ENRICH_DEADLINE_MS": "1500", "LAMLOG_SLICE_RETRIES": "1",
           "LAMLOG_DEADLINE_MARGIN_MS": "1000", "AWS_LAMBDA_FUNCTION_NAME": "lamlog-e2e",
           "LAMLOG_ALERT_RETRY_SECS": str(ALERT_RETRY_SECS)}

    # Phase 1: the first batch, then the same batch again.
    function = Function(env, bootstrap)
    first = function.invoke(batches[0])
    check(first == {"batchItemFailures": []}, f"batch 0 committed: {first}")
    again = function.invoke(batches[0])
    check(again == {"batchItemFailures": []}, "batch 0 again committed")
    emf = function.emf()
    check(len(emf) == 2, f"one EMF line per invocation ({len(emf)})")
    check(emf[0]["DynamoDbCalls"] >= 1, f"first time: {emf[0]['DynamoDbCalls']} BatchGetItem call(s)")
    check(emf[1]["DynamoDbCalls"] == 0 and emf[1]["CacheMisses"] == 0, "second time: no BatchGetItem, all cache hits")
    check(emf[1]["InvocationsStored"] == 0 and emf[1]["DuplicatesSkipped"] == emf[0]["InvocationsStored"],
          f"second time: nothing stored, {emf[1]['DuplicatesSkipped']} duplicates skipped")
    function.close()

    # Phase 2: a cold start with DynamoDB gone -> batch 1 reported for retry.
    stop(moto)
    function = Function(env, bootstrap)
    before = store_counts(database_url)
    failed = function.invoke(batches[1])
    first_sequence = records_of(batches[1])[0]["kinesis"]["sequenceNumber"]
    check(failed == {"batchItemFailures": [{"itemIdentifier": first_sequence}]},
          f"moto down: batch 1 reported for retry from its first record: {failed}")
    check(store_counts(database_url) == before, "moto down: nothing of batch 1 stored")

    # Phase 3: moto back (state lost: seed it again); the retry commits.
    # Alerts sent so far went to the old moto; every later one must arrive.
    keys_before_restart = {row[0] for row in query(database_url, "SELECT dedup_key FROM alerts")}
    moto = start_moto(moto_port)
    topic_again, queue = seed(endpoint, metadata)
    check(topic_again == topic, "same topic ARN after restart")
    response = function.invoke(batches[1])
    check(response == {"batchItemFailures": []}, f"batch 1 retried and committed: {response}")

    # Phase 4: PostgreSQL goes away: the function's pooled connection is
    # terminated and new ones are refused -> batch 2 is reported for retry
    # from its first record; once the database is back, the retry commits.
    if postgres:
        before = store_counts(database_url)
        killed = postgres_down(database_url, True)
        try:
            failed = function.invoke(batches[2])
        finally:
            postgres_down(database_url, False)
        first_sequence = records_of(batches[2])[0]["kinesis"]["sequenceNumber"]
        check(killed >= 1, f"PostgreSQL down: {killed} connection(s) of the function terminated")
        check(failed == {"batchItemFailures": [{"itemIdentifier": first_sequence}]},
              f"PostgreSQL down: batch 2 reported for retry from its first record: {failed}")
        check(store_counts(database_url) == before, "PostgreSQL down: nothing of batch 2 stored")
        response = function.invoke(batches[2])
        check(response == {"batchItemFailures": []}, f"PostgreSQL back: batch 2 retried and committed: {response}")

    # Phase 5: SNS unreachable while DynamoDB and the store work: every batch
    # commits, its alerts wait in the outbox (sent once due, further on).
    function.close()
    closed_port = free_port()
    function = Function({**env, "AWS_ENDPOINT_URL_SNS": f"http://127.0.0.1:{closed_port}"}, bootstrap)
    sns_down = batches[3:8]
    for path in sns_down:
        response = function.invoke(path)
        check(response == {"batchItemFailures": []}, f"SNS down: {os.path.basename(path)} committed anyway: {response}")
    sns_down_at = time.monotonic()
    emf = function.emf()
    failed_alerts = sum(line["AlertsFailed"] for line in emf)
    check(failed_alerts > 0 and emf[-1]["AlertsUnsent"] > 0,
          f"SNS down: {failed_alerts} alerts not delivered, {emf[-1]['AlertsUnsent']} waiting in the outbox")
    function.close()
    function = Function(env, bootstrap)

    # Phase 6 (PostgreSQL): a poison record in the middle of a 200-record batch.
    rest = batches[8:]
    if postgres:
        poison_path = os.path.join(WORK, "batch-poisoned.json")
        write_event(poison_path, poisoned(records_of(rest[0])))
        response = function.invoke(poison_path)
        check(response == {"batchItemFailures": []}, f"poison: the batch committed: {response}")
        refused = query(database_url, "SELECT count(*) FROM dead_letters WHERE reason LIKE "
                                      "'%database refused%' AND convert_from(raw, 'UTF8') LIKE '%poison-%'")
        check(refused == [("1",)], f"poison: dead-lettered with the database's message ({refused})")
        rest = rest[1:]

    # Phase 7: the rest, warm; the handler's latency per 200-record batch.
    seen = len(function.emf())
    for path in rest:
        response = function.invoke(path)
        check(response == {"batchItemFailures": []}, f"{os.path.basename(path)} committed")
    warm = [line["HandlerMilliseconds"] for line in function.emf()[seen:] if line["Records"] == 200]
    # What SNS missed is due ALERT_RETRY_SECS after it was raised (a minute
    # by default); a batch after that (a replay: it stores nothing) sends it.
    # It goes to a new instance: `cargo lambda watch` answers a wait for the
    # next event longer than its --timeout with 408, which lambda_runtime does
    # not survive (Lambda itself freezes an idle instance instead), and after
    # a quiet spell Lambda may well start a new one anyway.
    function.close()
    time.sleep(max(0.0, ALERT_RETRY_SECS + 2.0 - (time.monotonic() - sns_down_at)))
    function = Function(env, bootstrap)
    response = function.invoke(batches[0])
    check(response == {"batchItemFailures": []}, "a replayed batch after the outbox delay committed")
    function.close()
    check(len(warm) >= 10, f"{len(warm)} warm 200-record batches timed")
    print(f"latency: {len(warm)} warm 200-record batches, handler ms p50 {percentile(warm, 0.5):.1f} "
          f"p99 {percentile(warm, 0.99):.1f} min {min(warm):.1f} max {max(warm):.1f}", flush=True)

    # The store equals a clean, fault-free ingest of the same files.
    reference = os.path.join(WORK, "reference.db")
    subprocess.run([lamlog, "ingest", "--db", reference, "--metadata", os.path.join(workload, "metadata.toml"),
                    *files], check=True, capture_output=True)
    got, want = store_counts(database_url), store_counts(f"sqlite://{reference}")
    if postgres:
        got["dead_letters"] -= 1  # the poison, which the files do not hold
    check(got == want, f"store after faults and replays counts as a clean ingest: {got}")
    got_dump = b"\n".join(line for line in dump(lamlog, database_url).split(b"\n")
                          if not (line.startswith(b"dead_letters ") and b"database refused" in line))
    check(got_dump == dump(lamlog, f"sqlite://{reference}"),
          "store after faults and replays equals a clean ingest, row for row (`lamlog db dump`)")
    unsent = query(database_url, "SELECT count(*) FROM alerts WHERE sent_at_ms IS NULL")
    check(unsent == [("0",)], f"no alert left unsent in the outbox ({unsent})")
    alerts = drain(endpoint, queue)
    received = [message["MessageAttributes"]["dedup_key"]["StringValue"] for message in alerts]
    expected = {row[0] for row in query(database_url, "SELECT dedup_key FROM alerts")} - keys_before_restart
    missing = expected - set(received)
    check(expected and not missing,
          f"every alert stored after the restart arrived in SQS at least once ({len(expected)} alerts, "
          f"{len(missing)} missing)")
    print(f"alerts: {len(received)} messages for {len(set(received))} alerts, "
          f"{len(received) - len(set(received))} duplicates", flush=True)
    attributes = alerts[0]["MessageAttributes"]
    check({"severity", "kind", "function", "account", "dedup_key"} <= set(attributes),
          f"alert attributes {sorted(attributes)}")
    print("e2e: all checks passed; work dir", WORK, flush=True)


if __name__ == "__main__":
    try:
        main()
    finally:
        for child in children:
            if child.poll() is None:
                stop(child)
