-- A dead letter keeps at most a few MB of its record (`raw`), so that a
-- corrupt record in a huge input never becomes a row of a gigabyte; these say
-- how long the whole record was and what its SHA-256 is. Nullable: writers of
-- an older build still running during a deploy do not name them. Rows from
-- before were kept whole, so their length and hash are those of `raw`.
ALTER TABLE dead_letters ADD COLUMN raw_len BIGINT, ADD COLUMN raw_sha256 BYTEA;
UPDATE dead_letters SET raw_len = length(raw), raw_sha256 = sha256(raw);
