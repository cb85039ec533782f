-- When the store first saw each pending invocation (epoch ms): the earliest
-- receive time of the batches that wrote its row. A row still waiting for
-- its REPORT has no time of its own, and this is what `lamlog db prune` ages
-- it by. Bookkeeping of this store, not a fact of the log stream: `lamlog db
-- dump` leaves it out, so that runs made at different times still dump alike.
--
-- The writer sets it from the batch's receive time. The default (the time of
-- the inserting transaction) serves rows that existed before this migration
-- (`now()` is stable, so they all get the time of the migration without a
-- rewrite of the table) and writers of an older build still running during
-- a deploy. For those writers too the column stays nullable: their batch
-- table is made `LIKE pending_invocations`, which copies NOT NULL, and their
-- COPY into it does not name this column.
ALTER TABLE pending_invocations
    ADD COLUMN first_seen_ms BIGINT DEFAULT (extract(epoch FROM now()) * 1000)::BIGINT;

-- Prune finds the old pending rows without reading the others.
CREATE INDEX pending_invocations_first_seen ON pending_invocations (first_seen_ms);
