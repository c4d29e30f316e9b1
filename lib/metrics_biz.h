/*
 * metrics_biz.h — the runbook's "Métricas de Negocio" and the database
 * figures of "Métricas de Aplicación", each computed by one SQL statement.
 *
 * Shared by bff-fcgi (/api/metrics/..., /metrics, the dashboard) and
 * bff-worker (refresh_metrics warms metrics:stock). JSON results are arena
 * strings owned by the caller's arena. Like every user of struct bff_stmt,
 * not for several threads at once (db.h).
 */
#ifndef BFF_METRICS_BIZ_H
#define BFF_METRICS_BIZ_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "cache.h"
#include "db.h"
#include "error.h"

/* The cache key of the stock figures (SPEC §4). */
#define BFF_METRICS_STOCK_KEY "metrics:stock"

/*
 * Stock figures, computed in one statement:
 * {"total_products","total_lots","on_hand","available_stock",
 *  "reserved_stock","expired_stock","quarantined_stock",
 *  "expiring_within_7_days","by_warehouse":[{"warehouse_id","code","name",
 *  "on_hand","available","reserved","expired","quarantined"}],"generated_at"}
 * (definitions in docs/metrics.md; they match the products stock endpoint).
 * 0 with the document in json and len, or -1 with e.
 */
int bff_metrics_stock_compute(struct bff_db *db, struct bff_arena *a, const char **json,
                              size_t *len, struct bff_error *e);
/* Cache-aside under metrics:stock for ttl seconds: the cached copy when
 * there is one (*cached = 1), else computed and stored. */
int bff_metrics_stock(struct bff_db *db, struct bff_cache *c, struct bff_arena *a, int ttl,
                      const char **json, size_t *len, int *cached, struct bff_error *e);
/* Compute and store (the worker's refresh_metrics). 0, or -1 with e when
 * the database failed; a cache that cannot store is not an error. */
int bff_metrics_stock_refresh(struct bff_db *db, struct bff_cache *c, struct bff_arena *a, int ttl,
                              struct bff_error *e);

/* {"orders_last_hour","shipped_last_hour","per_hour":[{"hour","created",
 * "shipped","cancelled"} x 24, oldest first, the current hour last]}. */
int bff_metrics_orders(struct bff_db *db, struct bff_arena *a, const char **json, size_t *len,
                       struct bff_error *e);

/* {"window_days","shipped_orders","fefo_compliant_orders",
 * "fefo_efficiency_pct"} over orders shipped in the last `days` days;
 * the percentage is null when none shipped. */
int bff_metrics_fefo(struct bff_db *db, struct bff_arena *a, int days, const char **json,
                     size_t *len, struct bff_error *e);

/* Database load: client connections (pg_stat_activity), max_connections,
 * and jobs waiting in the queue (status 'queued'). */
struct bff_db_load {
    int64_t connections;
    int64_t max_connections;
    int64_t queue_length;
};
int bff_metrics_db_load(struct bff_db *db, struct bff_arena *a, struct bff_db_load *out,
                        struct bff_error *e);

#endif
