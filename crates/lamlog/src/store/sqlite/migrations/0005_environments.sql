-- The log stream of each invocation: one execution environment.
ALTER TABLE invocations ADD COLUMN log_stream TEXT;

-- How each execution environment started, where the JSON format's
-- `platform.initStart` said so (`on-demand`, `provisioned-concurrency`,
-- `snap-start`): it decides the duration price of the invocations it runs,
-- which usually arrive in later batches. `seen_ms` is when a batch last saw
-- it (epoch ms), by which `lamlog db prune` ages it out; bookkeeping, which
-- `lamlog db dump` leaves out.
CREATE TABLE environments (
    account             TEXT    NOT NULL,
    log_group           TEXT    NOT NULL,
    log_stream          TEXT    NOT NULL,
    initialization_type TEXT    NOT NULL,
    seen_ms             INTEGER NOT NULL,
    PRIMARY KEY (account, log_group, log_stream)
);
CREATE INDEX environments_seen ON environments (seen_ms);
