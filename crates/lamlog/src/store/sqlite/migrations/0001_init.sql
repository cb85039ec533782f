-- lamlog schema, version 1. Column names carry their units and are shared
-- with the PostgreSQL store: keep them in step.

-- One row per invocation, keyed by (account, function, request id). Every
-- field of `Invocation` is stored, so that the row can be rebuilt and merged
-- with new evidence; `status` is derived from `status_flags` for queries.
CREATE TABLE invocations (
    account                    TEXT    NOT NULL,
    function                   TEXT    NOT NULL,
    request_id                 TEXT    NOT NULL,
    log_group                  TEXT    NOT NULL,
    version                    TEXT,
    start_time_ms              INTEGER,
    duration_ms                REAL,
    billed_duration_ms         INTEGER,
    memory_size_mb             INTEGER,
    max_memory_used_mb         INTEGER,
    init_duration_ms           REAL,
    restore_duration_ms        REAL,
    billed_restore_duration_ms INTEGER,
    xray_trace_id              TEXT,
    timeout_seconds            REAL,
    cold_start                 INTEGER NOT NULL CHECK (cold_start IN (0, 1)),
    status                     TEXT    NOT NULL,
    status_flags               INTEGER NOT NULL,
    error_type                 TEXT,
    enriched                   INTEGER NOT NULL CHECK (enriched IN (0, 1)),
    tenant                     TEXT,
    architecture               TEXT    NOT NULL,
    region                     TEXT,
    cost_usd                   REAL,
    PRIMARY KEY (account, function, request_id)
);
CREATE INDEX invocations_start_time ON invocations (start_time_ms);
CREATE INDEX invocations_function_start_time ON invocations (function, start_time_ms);

-- Per-function, per-minute totals of reported invocations. Integers only, so
-- that sums are exact whatever the order they are added in.
CREATE TABLE function_minute (
    account         TEXT    NOT NULL,
    function        TEXT    NOT NULL,
    minute_ms       INTEGER NOT NULL,
    invocations     INTEGER NOT NULL,
    successes       INTEGER NOT NULL,
    errors          INTEGER NOT NULL,
    crashes         INTEGER NOT NULL,
    ooms            INTEGER NOT NULL,
    timeouts        INTEGER NOT NULL,
    cold_starts     INTEGER NOT NULL,
    duration_sum_us INTEGER NOT NULL,
    duration_max_us INTEGER NOT NULL,
    billed_mb_ms    INTEGER NOT NULL,
    cost_pico_usd   INTEGER NOT NULL,
    PRIMARY KEY (account, function, minute_ms)
);

-- The duration histogram of each function minute (see lamlog_core::rollup).
CREATE TABLE function_minute_histogram (
    account   TEXT    NOT NULL,
    function  TEXT    NOT NULL,
    minute_ms INTEGER NOT NULL,
    bucket    INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (account, function, minute_ms, bucket)
);

-- The latest start time of a reported invocation of each function: windows
-- whose end plus grace it passes are closed and judged.
CREATE TABLE function_watermark (
    account      TEXT    NOT NULL,
    function     TEXT    NOT NULL,
    watermark_ms INTEGER NOT NULL,
    PRIMARY KEY (account, function)
);

-- One row per dedup key; `request_id` is the least request id that raised it.
CREATE TABLE alerts (
    dedup_key       TEXT    NOT NULL PRIMARY KEY,
    kind            TEXT    NOT NULL,
    severity        TEXT    NOT NULL,
    account         TEXT    NOT NULL,
    function        TEXT    NOT NULL,
    request_id      TEXT,
    window_start_ms INTEGER NOT NULL,
    message         TEXT    NOT NULL,
    occurrences     INTEGER NOT NULL
);

-- Records that could not be decoded, byte for byte.
CREATE TABLE dead_letters (
    dedup_key       TEXT    NOT NULL PRIMARY KEY,
    source          TEXT    NOT NULL,
    position        TEXT    NOT NULL,
    record_index    INTEGER NOT NULL,
    sequence_number TEXT,
    byte_offset     INTEGER,
    reason          TEXT    NOT NULL,
    raw             BLOB    NOT NULL,
    received_at_ms  INTEGER NOT NULL
);
