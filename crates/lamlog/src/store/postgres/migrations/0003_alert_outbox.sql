-- The alerts table becomes an outbox: an alert is marked sent only after a
-- notifier delivered it (store/postgres/outbox.rs).
--   raised_at_ms    when the batch that stored it was received;
--   next_attempt_ms when an outbox pass may send it (raised + a delay, moved
--                   on by each claim);
--   sent_at_ms      when it was delivered; NULL while it waits.
-- Alerts stored before this version were handed to the notifier when they
-- were raised, so they count as sent.
ALTER TABLE alerts
    ADD COLUMN raised_at_ms    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN next_attempt_ms BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN sent_at_ms      BIGINT;
UPDATE alerts SET sent_at_ms = 0;
-- The outbox pass reads only unsent rows, by when they are due.
CREATE INDEX alerts_unsent ON alerts (next_attempt_ms) WHERE sent_at_ms IS NULL;
