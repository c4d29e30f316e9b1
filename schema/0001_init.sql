-- 0001_init: what the foundation needs before any domain table.
--
-- Conventions for every migration in this directory:
--   * The runner (bffctl migrate) wraps each file in one transaction together
--     with its schema_migrations row, so a file never says BEGIN or COMMIT
--     and never uses statements that refuse a transaction block
--     (CREATE INDEX CONCURRENTLY, VACUUM).
--   * Files are applied once, in name order, and never edited after they have
--     shipped: a change is a new file.
--   * schema_migrations itself is created by the runner, not here: it has to
--     exist before the first migration can be recorded.
--   * Times are timestamptz; every session runs with TimeZone=UTC.

-- Cache invalidations that could not reach Redis (SPEC §5 "an invalidation
-- that could not reach Redis is recorded in PostgreSQL and replayed by the
-- worker when Redis is back"). A writer whose UNLINK fails after commit
-- inserts the key (or SCAN pattern) here; the replay_cache_invalidations job
-- deletes each row once the key is gone from Redis. Without this table a
-- Redis outage during a write would leave a stale entry for a whole TTL.
-- Rows are consumed in id order; the primary key is the only index needed.
CREATE TABLE cache_invalidations (
    id bigserial PRIMARY KEY,
    key text NOT NULL CHECK (key <> ''),
    is_pattern boolean NOT NULL DEFAULT false,  -- key is a SCAN MATCH pattern
    created_at timestamptz NOT NULL DEFAULT now()
);
