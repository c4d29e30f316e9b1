-- 0007_jobs: the task queue that replaces Celery's broker and result
-- backend (SPEC §6), the monthly reports, and the job-facing variants of
-- the expiry functions of 0005 (they also say which products changed, so
-- the worker can invalidate their stock cache).

/*
 * One row per job. Life of a row:
 *
 *   queued --claim--> running --complete--> done
 *     ^                  |
 *     |   fail, attempts < max_attempts: run_at = now() + backoff
 *     +------------------+
 *     |                  | fail at max_attempts
 *     |  lease expired   v
 *     +--(reclaim)--- running ----------------------------> dead
 *
 * A claim sets locked_by (the worker process, "host:pid") and a lease,
 * locked_until. A worker that dies leaves its job `running`; once the lease
 * has run out any worker may reclaim it (as queued, or dead when it has
 * used its attempts). Every claim counts as an attempt, so a job that
 * crashes its worker every time ends dead instead of looping.
 *
 * unique_key: a second enqueue with the same key is a no-op (ON CONFLICT
 * DO NOTHING), whatever the first job's status — finished rows keep their
 * key until pruned. bff-beat enqueues each periodic job with the key
 * 'kind:slot' ("expire_lots:2026-11-28T05:00:00Z"), so two beats enqueue
 * each (kind, slot) once between them, enforced by this index rather than
 * by timing.
 */
CREATE TABLE jobs (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,63}$'),
    queue        text NOT NULL DEFAULT 'default' CHECK (queue ~ '^[A-Za-z0-9._-]{1,64}$'),
    payload      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(payload) = 'object'),
    priority     integer NOT NULL DEFAULT 100 CHECK (priority BETWEEN 0 AND 1000), -- lower first
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'done', 'dead')),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts integer NOT NULL DEFAULT 5 CHECK (max_attempts BETWEEN 1 AND 100),
    run_at       timestamptz NOT NULL DEFAULT now(),
    locked_by    text,
    locked_until timestamptz,
    unique_key   text UNIQUE CHECK (char_length(unique_key) BETWEEN 1 AND 200),
    last_error   text,
    result       jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz,
    CHECK ((status = 'running') = (locked_by IS NOT NULL AND locked_until IS NOT NULL)),
    CHECK ((status IN ('done', 'dead')) = (finished_at IS NOT NULL))
);
-- The claim: due jobs of a queue in (priority, run_at, id) order.
CREATE INDEX jobs_claim ON jobs (queue, priority, run_at, id) WHERE status = 'queued';
-- Reclaiming expired leases, `bffctl queue active`.
CREATE INDEX jobs_lease ON jobs (locked_until) WHERE status = 'running';
-- `bffctl queue stats`, queue_length.
CREATE INDEX jobs_status_kind ON jobs (status, kind);
-- Pruning finished jobs.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- Wake sleeping workers: NOTIFY bff_jobs with the queue's name whenever a
-- job becomes claimable (enqueued, retried by hand, reclaimed). NOTIFY is
-- delivered at commit, so a job enqueued inside a caller's transaction
-- wakes nobody before it exists; a rolled-back enqueue wakes nobody at all.
CREATE FUNCTION bff_jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('bff_jobs', NEW.queue);
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION bff_jobs_notify();
CREATE TRIGGER jobs_notify_requeue AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status = 'queued' AND OLD.status <> 'queued')
    EXECUTE FUNCTION bff_jobs_notify();

/*
 * Monthly reports (the monthly_report job, `bffctl report monthly`): one
 * row per month, recomputed in place; emailed_at is set once the e-mail
 * went out, so a second run of the job sends nothing.
 */
CREATE TABLE reports (
    month       date PRIMARY KEY CHECK (extract(day FROM month) = 1),
    data        jsonb NOT NULL,
    computed_at timestamptz NOT NULL DEFAULT now(),
    emailed_at  timestamptz
);

/*
 * The monthly report of the month starting at p_month (SPEC §6): orders
 * created / shipped / cancelled / expired in that month (each by the time
 * of that event), units shipped, FEFO efficiency of the orders shipped,
 * lots and units written off as expired, and the top products by units
 * shipped. A month that is over gives the same answer every time.
 */
CREATE FUNCTION bff_report_monthly_json(p_month date) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH b AS (SELECT p_month::timestamp AT TIME ZONE 'UTC' AS lo,
                      (p_month + interval '1 month')::timestamp AT TIME ZONE 'UTC' AS hi),
    shipped AS (SELECT o.id, o.fefo_compliant FROM orders o, b
                 WHERE o.shipped_at >= b.lo AND o.shipped_at < b.hi),
    units AS (SELECT s.lot_id, l.product_id, s.quantity FROM shipments s
                JOIN shipped o ON o.id = s.order_id JOIN lots l ON l.id = s.lot_id),
    written_off AS (SELECT m.lot_id FROM movements m, b
                     WHERE m.kind = 'expire' AND m.created_at >= b.lo AND m.created_at < b.hi)
    SELECT jsonb_build_object(
        'month', to_char(p_month, 'YYYY-MM'),
        'orders_created', (SELECT count(*) FROM orders o, b
                            WHERE o.created_at >= b.lo AND o.created_at < b.hi),
        'orders_shipped', (SELECT count(*) FROM shipped),
        'orders_cancelled', (SELECT count(*) FROM orders o, b
                              WHERE o.cancelled_at >= b.lo AND o.cancelled_at < b.hi),
        -- expired is terminal: updated_at is when the hold job expired it
        'orders_expired', (SELECT count(*) FROM orders o, b WHERE o.status = 'expired'
                              AND o.updated_at >= b.lo AND o.updated_at < b.hi),
        'units_shipped', (SELECT coalesce(sum(quantity), 0) FROM units),
        'fefo_compliant_orders', (SELECT count(*) FROM shipped WHERE fefo_compliant),
        'fefo_efficiency_pct', (SELECT CASE WHEN count(*) = 0 THEN NULL
                                   ELSE round(100.0 * count(*) FILTER (WHERE fefo_compliant)
                                              / count(*), 2) END FROM shipped),
        'lots_expired', (SELECT count(DISTINCT lot_id) FROM written_off),
        'top_products', (SELECT coalesce(jsonb_agg(jsonb_build_object(
                                    'product_id', t.product_id, 'sku', p.sku, 'name', p.name,
                                    'units_shipped', t.q) ORDER BY t.q DESC, t.product_id), '[]')
                           FROM (SELECT product_id, sum(quantity) AS q FROM units
                                  GROUP BY product_id ORDER BY q DESC, product_id LIMIT 10) t
                           JOIN products p ON p.id = t.product_id))
      FROM b
$$;

/*
 * The hold job (worker kind expire_reservations): bff_expire_reservations
 * of 0005, also returning the products whose stock it released. Orders
 * are taken one at a time with SKIP LOCKED, so a concurrent cancel or
 * confirm is never waited on nor raced. Idempotent.
 */
CREATE FUNCTION bff_job_expire_reservations(p_limit integer, OUT expired integer,
                                            OUT products bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    oid bigint;
BEGIN
    expired := 0;
    products := '{}';
    LOOP
        EXIT WHEN expired >= p_limit;
        SELECT id INTO oid FROM orders
         WHERE status = 'reserved' AND reserved_until <= now()
         ORDER BY reserved_until, id LIMIT 1 FOR UPDATE SKIP LOCKED;
        EXIT WHEN NOT FOUND;
        PERFORM bff_order_release(oid, NULL);
        UPDATE orders SET status = 'expired', updated_at = now() WHERE id = oid;
        products := products || ARRAY(SELECT DISTINCT product_id FROM order_lines
                                       WHERE order_id = oid AND product_id <> ALL (products));
        expired := expired + 1;
    END LOOP;
END $$;

/*
 * The expiry job (worker kind expire_lots): bff_expire_lots of 0005 (mark
 * lots past their date expired with an 'expire' ledger row, move their
 * open allocations FEFO where stock allows), also returning the affected
 * products. Idempotent: an expired lot is not touched again.
 */
CREATE FUNCTION bff_job_expire_lots(OUT expired integer, OUT products bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    mark bigint := (SELECT coalesce(max(id), 0) FROM movements);
BEGIN
    expired := bff_expire_lots();
    -- the 'expire' ledger rows written just now name the lots
    products := ARRAY(SELECT DISTINCT l.product_id FROM movements m JOIN lots l ON l.id = m.lot_id
                       WHERE m.id > mark AND m.kind = 'expire' ORDER BY 1);
END $$;
