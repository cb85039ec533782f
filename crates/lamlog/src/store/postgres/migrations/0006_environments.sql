-- The log stream of each invocation: one execution environment. Added to
-- the partitioned table (and so to every partition) and to
-- `pending_invocations`, which keep every field of an invocation.
ALTER TABLE invocations ADD COLUMN log_stream TEXT COLLATE "C";
ALTER TABLE pending_invocations ADD COLUMN log_stream TEXT COLLATE "C";

-- How each execution environment started, where the JSON format's
-- `platform.initStart` said so (`on-demand`, `provisioned-concurrency`,
-- `snap-start`): it decides the duration price of the invocations it runs,
-- which usually arrive in later batches. `seen_ms` is when a batch last saw
-- it (epoch ms), by which `lamlog db prune` ages it out; bookkeeping, which
-- `lamlog db dump` leaves out.
CREATE TABLE environments (
    account             TEXT COLLATE "C" NOT NULL,
    log_group           TEXT COLLATE "C" NOT NULL,
    log_stream          TEXT COLLATE "C" NOT NULL,
    initialization_type TEXT COLLATE "C" NOT NULL,
    seen_ms             BIGINT           NOT NULL,
    PRIMARY KEY (account, log_group, log_stream)
);
CREATE INDEX environments_seen ON environments (seen_ms);
