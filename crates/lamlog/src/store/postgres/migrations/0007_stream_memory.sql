-- The last warm samples of Max Memory Used of each execution environment
-- (log stream), by which a leak is found (lamlog_core::growth): `trail` is
-- at most 20 `start_ms:used_mb` pairs, oldest first. `last_ms` is the last
-- sample's start time, by which `lamlog db prune` ages a stream out and the
-- report picks the streams of its period. `slope_mb` and
-- `invocations_to_limit` are the trail's latest verdict when it is growing,
-- NULL otherwise.
CREATE TABLE stream_memory (
    account              TEXT COLLATE "C" NOT NULL,
    log_group            TEXT COLLATE "C" NOT NULL,
    log_stream           TEXT COLLATE "C" NOT NULL,
    function             TEXT COLLATE "C" NOT NULL,
    memory_size_mb       BIGINT  NOT NULL,
    trail                TEXT COLLATE "C" NOT NULL,
    last_ms              BIGINT  NOT NULL,
    slope_mb             DOUBLE PRECISION,
    invocations_to_limit BIGINT,
    PRIMARY KEY (account, log_group, log_stream)
);
CREATE INDEX stream_memory_last ON stream_memory (last_ms);
