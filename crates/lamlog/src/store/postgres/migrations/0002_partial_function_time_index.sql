-- The index for `lamlog report` and `lamlog tune` covers reported rows only
-- (`duration_ms IS NOT NULL`, which every one of their queries asks for), so
-- that the writer's key lookups (store/postgres/write.rs), which do not, can
-- only use the primary key. A day partition is young and has no statistics
-- until autovacuum analyzes it; the planner then saw the two indexes as equal
-- for a lookup by (account, function, request_id), picked the smaller one and
-- read every row of the function for each key: a 10,000-invocation batch
-- took seconds instead of a tenth of one.
DROP INDEX invocations_function_start_time;
CREATE INDEX invocations_function_start_time ON invocations (account, function, start_time_ms)
    WHERE duration_ms IS NOT NULL;
