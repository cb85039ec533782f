-- lamlog schema, version 1, for PostgreSQL. Table and column names are those
-- of the SQLite store (crates/lamlog/src/store/sqlite/migrations/): keep them
-- in step. Text columns compare bytewise (COLLATE "C"), as SQLite does, so
-- that both stores sort, compare and dump alike.

-- Reported invocations (their REPORT, hence their time, is known), one row per
-- (account, function, request id), range-partitioned by UTC day of
-- `start_time_ms`. A primary key on a partitioned table must contain the
-- partition column; uniqueness of (account, function, request_id) across
-- partitions and `pending_invocations` is kept by the writer, which locks each
-- key and reads before it writes (see store/postgres/write.rs). Day partitions
-- are created ahead of the rows by the store (store/postgres/partitions.rs);
-- the DEFAULT partition only catches what would otherwise fail.
CREATE TABLE invocations (
    account                    TEXT COLLATE "C" NOT NULL,
    function                   TEXT COLLATE "C" NOT NULL,
    request_id                 TEXT COLLATE "C" NOT NULL,
    log_group                  TEXT COLLATE "C" NOT NULL,
    version                    TEXT COLLATE "C",
    start_time_ms              BIGINT           NOT NULL,
    duration_ms                DOUBLE PRECISION,
    billed_duration_ms         BIGINT,
    memory_size_mb             BIGINT,
    max_memory_used_mb         BIGINT,
    init_duration_ms           DOUBLE PRECISION,
    restore_duration_ms        DOUBLE PRECISION,
    billed_restore_duration_ms BIGINT,
    xray_trace_id              TEXT COLLATE "C",
    timeout_seconds            DOUBLE PRECISION,
    cold_start                 BOOLEAN          NOT NULL,
    status                     TEXT COLLATE "C" NOT NULL,
    status_flags               SMALLINT         NOT NULL,
    error_type                 TEXT COLLATE "C",
    enriched                   BOOLEAN          NOT NULL,
    tenant                     TEXT COLLATE "C",
    architecture               TEXT COLLATE "C" NOT NULL,
    region                     TEXT COLLATE "C",
    cost_usd                   DOUBLE PRECISION,
    PRIMARY KEY (account, function, request_id, start_time_ms)
) PARTITION BY RANGE (start_time_ms);

CREATE TABLE invocations_default PARTITION OF invocations DEFAULT;

-- For `lamlog report` (memory figures since a time) and `lamlog tune`.
CREATE INDEX invocations_function_start_time ON invocations (account, function, start_time_ms);

-- Invocations whose REPORT has not arrived yet (only START, timeout, crash or
-- error lines so far): they have no time, hence no partition. A row moves to
-- `invocations` in the batch that brings its REPORT.
CREATE TABLE pending_invocations (
    account                    TEXT COLLATE "C" NOT NULL,
    function                   TEXT COLLATE "C" NOT NULL,
    request_id                 TEXT COLLATE "C" NOT NULL,
    log_group                  TEXT COLLATE "C" NOT NULL,
    version                    TEXT COLLATE "C",
    start_time_ms              BIGINT CHECK (start_time_ms IS NULL),
    duration_ms                DOUBLE PRECISION,
    billed_duration_ms         BIGINT,
    memory_size_mb             BIGINT,
    max_memory_used_mb         BIGINT,
    init_duration_ms           DOUBLE PRECISION,
    restore_duration_ms        DOUBLE PRECISION,
    billed_restore_duration_ms BIGINT,
    xray_trace_id              TEXT COLLATE "C",
    timeout_seconds            DOUBLE PRECISION,
    cold_start                 BOOLEAN          NOT NULL,
    status                     TEXT COLLATE "C" NOT NULL,
    status_flags               SMALLINT         NOT NULL,
    error_type                 TEXT COLLATE "C",
    enriched                   BOOLEAN          NOT NULL,
    tenant                     TEXT COLLATE "C",
    architecture               TEXT COLLATE "C" NOT NULL,
    region                     TEXT COLLATE "C",
    cost_usd                   DOUBLE PRECISION,
    PRIMARY KEY (account, function, request_id)
);

-- Per-function, per-minute totals of reported invocations. Integers only, so
-- that sums are exact whatever the order they are added in.
CREATE TABLE function_minute (
    account         TEXT COLLATE "C" NOT NULL,
    function        TEXT COLLATE "C" NOT NULL,
    minute_ms       BIGINT NOT NULL,
    invocations     BIGINT NOT NULL,
    successes       BIGINT NOT NULL,
    errors          BIGINT NOT NULL,
    crashes         BIGINT NOT NULL,
    ooms            BIGINT NOT NULL,
    timeouts        BIGINT NOT NULL,
    cold_starts     BIGINT NOT NULL,
    duration_sum_us BIGINT NOT NULL,
    duration_max_us BIGINT NOT NULL,
    billed_mb_ms    BIGINT NOT NULL,
    cost_pico_usd   BIGINT NOT NULL,
    PRIMARY KEY (account, function, minute_ms)
);

-- Reports over a time range read every function's minutes since a time.
CREATE INDEX function_minute_minute ON function_minute (minute_ms);

-- The duration histogram of each function minute (see lamlog_core::rollup).
CREATE TABLE function_minute_histogram (
    account   TEXT COLLATE "C" NOT NULL,
    function  TEXT COLLATE "C" NOT NULL,
    minute_ms BIGINT  NOT NULL,
    bucket    INTEGER NOT NULL,
    count     BIGINT  NOT NULL,
    PRIMARY KEY (account, function, minute_ms, bucket)
);

CREATE INDEX function_minute_histogram_minute ON function_minute_histogram (minute_ms);

-- The latest start time of a reported invocation of each function: windows
-- whose end plus grace it passes are closed and judged.
CREATE TABLE function_watermark (
    account      TEXT COLLATE "C" NOT NULL,
    function     TEXT COLLATE "C" NOT NULL,
    watermark_ms BIGINT NOT NULL,
    PRIMARY KEY (account, function)
);

-- One row per dedup key; `request_id` is the least request id that raised it.
CREATE TABLE alerts (
    dedup_key       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    kind            TEXT COLLATE "C" NOT NULL,
    severity        TEXT COLLATE "C" NOT NULL,
    account         TEXT COLLATE "C" NOT NULL,
    function        TEXT COLLATE "C" NOT NULL,
    request_id      TEXT COLLATE "C",
    window_start_ms BIGINT NOT NULL,
    message         TEXT COLLATE "C" NOT NULL,
    occurrences     BIGINT NOT NULL
);

-- Records that could not be decoded, byte for byte.
CREATE TABLE dead_letters (
    dedup_key       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    source          TEXT COLLATE "C" NOT NULL,
    position        TEXT COLLATE "C" NOT NULL,
    record_index    BIGINT NOT NULL,
    sequence_number TEXT COLLATE "C",
    byte_offset     BIGINT,
    reason          TEXT COLLATE "C" NOT NULL,
    raw             BYTEA  NOT NULL,
    received_at_ms  BIGINT NOT NULL
);
