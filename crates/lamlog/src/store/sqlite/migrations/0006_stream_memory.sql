-- The last warm samples of Max Memory Used of each execution environment
-- (log stream), by which a leak is found (lamlog_core::growth): `trail` is
-- at most 20 `start_ms:used_mb` pairs, oldest first. `last_ms` is the last
-- sample's start time, by which `lamlog db prune` ages a stream out and the
-- report picks the streams of its period. `slope_mb` and
-- `invocations_to_limit` are the trail's latest verdict when it is growing,
-- NULL otherwise.
CREATE TABLE stream_memory (
    account              TEXT    NOT NULL,
    log_group            TEXT    NOT NULL,
    log_stream           TEXT    NOT NULL,
    function             TEXT    NOT NULL,
    memory_size_mb       INTEGER NOT NULL,
    trail                TEXT    NOT NULL,
    last_ms              INTEGER NOT NULL,
    slope_mb             REAL,
    invocations_to_limit INTEGER,
    PRIMARY KEY (account, log_group, log_stream)
);
CREATE INDEX stream_memory_last ON stream_memory (last_ms);
