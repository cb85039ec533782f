-- A dead letter keeps at most a few MB of its record (`raw`), so that a
-- corrupt record in a huge input never becomes a row of a gigabyte; these say
-- how long the whole record was and what its SHA-256 is. Rows from before
-- were kept whole, so their length is that of `raw` (SQLite has no SHA-256
-- of its own: their hash stays unknown).
ALTER TABLE dead_letters ADD COLUMN raw_len INTEGER;
ALTER TABLE dead_letters ADD COLUMN raw_sha256 BLOB;
UPDATE dead_letters SET raw_len = length(raw);
