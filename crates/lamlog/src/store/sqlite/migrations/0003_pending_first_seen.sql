-- When the store first saw each invocation (epoch ms): the earliest receive
-- time of the batches that wrote its row. A row still waiting for its REPORT
-- (`start_time_ms IS NULL`) has no time of its own, and this is what
-- `lamlog db prune` ages it by. Bookkeeping of this store, not a fact of the
-- log stream: `lamlog db dump` leaves it out, so that runs made at different
-- times still dump alike.
ALTER TABLE invocations ADD COLUMN first_seen_ms INTEGER;

-- Rows written before this column existed were first seen no later than now.
UPDATE invocations
   SET first_seen_ms = CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)
 WHERE start_time_ms IS NULL;

-- Prune finds the old pending rows without reading the reported ones.
CREATE INDEX invocations_pending_first_seen ON invocations (first_seen_ms)
    WHERE start_time_ms IS NULL;
