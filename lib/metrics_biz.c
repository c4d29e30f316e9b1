/*
 * metrics_biz.c — business and database figures (see metrics_biz.h).
 */
#include "metrics_biz.h"

#include <stdio.h>

/*
 * One pass over lots for the totals, one GROUP BY for the warehouses. A lot
 * counts in one bucket: expired when past its date (expires_on <=
 * current_date, whether or not the expiry job ran), else quarantined or
 * available by status — the same rules as bff_stock_json.
 */
static struct bff_stmt stock_stmt = {
    "metrics_stock",
    "WITH l AS ("
    "  SELECT warehouse_id, on_hand, reserved, status, expires_on,"
    "         expires_on <= current_date AS past,"
    "         CASE WHEN status = 'available' AND expires_on > current_date"
    "              THEN on_hand - reserved ELSE 0 END AS free"
    "    FROM lots),"
    " w AS ("
    "  SELECT w.id, w.code, w.name,"
    "         coalesce(sum(l.on_hand), 0) AS on_hand, coalesce(sum(l.free), 0) AS free,"
    "         coalesce(sum(l.reserved), 0) AS reserved,"
    "         coalesce(sum(l.on_hand) FILTER (WHERE l.past), 0) AS expired,"
    "         coalesce(sum(l.on_hand) FILTER (WHERE l.status = 'quarantined' AND NOT l.past), 0)"
    "           AS quarantined"
    "    FROM warehouses w LEFT JOIN l ON l.warehouse_id = w.id GROUP BY w.id)"
    " SELECT json_build_object("
    "  'total_products', (SELECT count(*) FROM products),"
    "  'total_lots', count(*) FILTER (WHERE l.on_hand > 0),"
    "  'on_hand', coalesce(sum(l.on_hand), 0),"
    "  'available_stock', coalesce(sum(l.free), 0),"
    "  'reserved_stock', coalesce(sum(l.reserved), 0),"
    "  'expired_stock', coalesce(sum(l.on_hand) FILTER (WHERE l.past), 0),"
    "  'quarantined_stock',"
    "    coalesce(sum(l.on_hand) FILTER (WHERE l.status = 'quarantined' AND NOT l.past), 0),"
    "  'expiring_within_7_days',"
    "    coalesce(sum(l.on_hand) FILTER (WHERE l.status = 'available' AND NOT l.past"
    "                                   AND l.expires_on <= current_date + 7), 0),"
    "  'by_warehouse', (SELECT coalesce(json_agg(json_build_object("
    "       'warehouse_id', w.id, 'code', w.code, 'name', w.name, 'on_hand', w.on_hand,"
    "       'available', w.free, 'reserved', w.reserved, 'expired', w.expired,"
    "       'quarantined', w.quarantined) ORDER BY w.id), '[]') FROM w),"
    "  'generated_at', bff_ts(now()))"
    " FROM l",
    0, 0};

/* 24 hourly buckets ending with the current hour, zero-filled. */
static struct bff_stmt orders_stmt = {
    "metrics_orders",
    "WITH h AS ("
    "  SELECT generate_series(date_trunc('hour', now()) - interval '23 hours',"
    "                         date_trunc('hour', now()), interval '1 hour') AS hour),"
    " c AS (SELECT date_trunc('hour', created_at) AS hour, count(*) AS n FROM orders"
    "        WHERE created_at >= date_trunc('hour', now()) - interval '23 hours' GROUP BY 1),"
    " s AS (SELECT date_trunc('hour', shipped_at) AS hour, count(*) AS n FROM orders"
    "        WHERE shipped_at >= date_trunc('hour', now()) - interval '23 hours' GROUP BY 1),"
    " x AS (SELECT date_trunc('hour', cancelled_at) AS hour, count(*) AS n FROM orders"
    "        WHERE cancelled_at >= date_trunc('hour', now()) - interval '23 hours' GROUP BY 1)"
    " SELECT json_build_object("
    "  'orders_last_hour',"
    "    (SELECT count(*) FROM orders WHERE created_at > now() - interval '1 hour'),"
    "  'shipped_last_hour',"
    "    (SELECT count(*) FROM orders WHERE shipped_at > now() - interval '1 hour'),"
    "  'per_hour', (SELECT json_agg(json_build_object('hour', bff_ts(h.hour),"
    "       'created', coalesce(c.n, 0), 'shipped', coalesce(s.n, 0),"
    "       'cancelled', coalesce(x.n, 0)) ORDER BY h.hour)"
    "     FROM h LEFT JOIN c USING (hour) LEFT JOIN s USING (hour) LEFT JOIN x USING (hour)))",
    0, 0};

static struct bff_stmt fefo_stmt = {
    "metrics_fefo",
    "SELECT json_build_object('window_days', $1::integer, 'shipped_orders', count(*),"
    "  'fefo_compliant_orders', count(*) FILTER (WHERE fefo_compliant),"
    "  'fefo_efficiency_pct', CASE WHEN count(*) = 0 THEN NULL ELSE"
    "    round(100.0 * count(*) FILTER (WHERE fefo_compliant) / count(*), 2) END)"
    "  FROM orders WHERE shipped_at >= now() - make_interval(days => $1::integer)",
    1, 0};

/* Client connections only: background workers do not use max_connections
 * slots the way sessions do. */
static struct bff_stmt load_stmt = {
    "metrics_db_load",
    "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),"
    "       current_setting('max_connections')::integer,"
    "       (SELECT count(*) FROM jobs WHERE status = 'queued')",
    0, 0};

/* Run a statement whose single value is a JSON document. */
static int one_json(struct bff_db *db, struct bff_arena *a, struct bff_stmt *st,
                    const char *const *params, const char **json, size_t *len, struct bff_error *e)
{
    PGresult *r = bff_db_query(db, a, st, params, e);

    if (r == NULL)
        return -1;
    if (PQntuples(r) != 1 || PQgetisnull(r, 0, 0))
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "%s: no result", st->name);
    *json = PQgetvalue(r, 0, 0);
    *len = (size_t)PQgetlength(r, 0, 0);
    return 0;
}

int bff_metrics_stock_compute(struct bff_db *db, struct bff_arena *a, const char **json,
                              size_t *len, struct bff_error *e)
{
    return one_json(db, a, &stock_stmt, NULL, json, len, e);
}

int bff_metrics_stock(struct bff_db *db, struct bff_cache *c, struct bff_arena *a, int ttl,
                      const char **json, size_t *len, int *cached, struct bff_error *e)
{
    char *hit;

    if (cached != NULL)
        *cached = 0;
    if ((hit = bff_cache_get(c, a, BFF_METRICS_STOCK_KEY, len)) != NULL) {
        *json = hit;
        if (cached != NULL)
            *cached = 1;
        return 0;
    }
    if (bff_metrics_stock_compute(db, a, json, len, e) < 0)
        return -1;
    bff_cache_set(c, BFF_METRICS_STOCK_KEY, *json, *len, ttl);
    return 0;
}

int bff_metrics_stock_refresh(struct bff_db *db, struct bff_cache *c, struct bff_arena *a, int ttl,
                              struct bff_error *e)
{
    const char *json;
    size_t len;

    if (bff_metrics_stock_compute(db, a, &json, &len, e) < 0)
        return -1;
    bff_cache_set(c, BFF_METRICS_STOCK_KEY, json, len, ttl);
    return 0;
}

int bff_metrics_orders(struct bff_db *db, struct bff_arena *a, const char **json, size_t *len,
                       struct bff_error *e)
{
    return one_json(db, a, &orders_stmt, NULL, json, len, e);
}

int bff_metrics_fefo(struct bff_db *db, struct bff_arena *a, int days, const char **json,
                     size_t *len, struct bff_error *e)
{
    char d[16];
    const char *p[1] = {d};

    snprintf(d, sizeof d, "%d", days);
    return one_json(db, a, &fefo_stmt, p, json, len, e);
}

int bff_metrics_db_load(struct bff_db *db, struct bff_arena *a, struct bff_db_load *out,
                        struct bff_error *e)
{
    PGresult *r = bff_db_query(db, a, &load_stmt, NULL, e);

    if (r == NULL)
        return -1;
    out->connections = bff_db_int(r, 0, 0);
    out->max_connections = bff_db_int(r, 0, 1);
    out->queue_length = bff_db_int(r, 0, 2);
    return 0;
}
