/*
 * h_dashboard.c — GET /api/bff/dashboard/: everything web/ shows, in one
 * call (the backend-for-frontend way): health of each component, the
 * system checks, stock, orders per hour and FEFO efficiency.
 *
 * {"generated_at","health":{"status","checks":{"database","cache","smtp"}},
 *  "system":{...as /api/metrics/system/},"stock":{...},"orders":{...},
 *  "fefo":{...over 30 days}}
 *
 * The parts are the very objects of the individual endpoints, so the page
 * and the API can never disagree. Health is reported, not enforced: a cache
 * that is down shows as such and the call still answers 200; a database
 * that cannot answer the figures makes it 503 like any other endpoint.
 */
#include <string.h>

#include "handlers.h"
#include "health.h"
#include "metrics_biz.h"
#include "metrics_web.h"
#include "util.h"

#define DASHBOARD_FEFO_DAYS 30

static void write_check(struct bff_jw *w, const char *name, const struct bff_check *c)
{
    bff_jw_kobj(w, name);
    bff_jw_kstr(w, "status", c->status);
    bff_jw_kint(w, "latency_ms", c->latency_ms);
    if (strcmp(c->status, "down") == 0)
        bff_jw_kstr(w, "error", c->error);
    bff_jw_end(w);
}

int h_dashboard(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_ctx *ctx = rq->ctx;
    struct bff_check db, cache, smtp;
    const char *stock, *orders, *fefo, *status = "ok";
    size_t stock_len, orders_len, fefo_len;
    struct bff_error e;
    char now[40];

    bff_error_clear(&e);
    if (bff_metrics_stock(&ctx->db, &ctx->cache, rq->a, ctx->cfg->metrics_cache_ttl, &stock,
                          &stock_len, NULL, &e) < 0 ||
        bff_metrics_orders(&ctx->db, rq->a, &orders, &orders_len, &e) < 0 ||
        bff_metrics_fefo(&ctx->db, rq->a, DASHBOARD_FEFO_DAYS, &fefo, &fefo_len, &e) < 0)
        return bff_resp_error(rq, rs, &e);

    bff_health_database(&ctx->db, ctx->cfg->health_timeout_ms, &db);
    bff_health_cache(&ctx->cache, &cache);
    bff_health_smtp(ctx->cfg, ctx->cfg->health_timeout_ms, &smtp);
    if (strcmp(db.status, "down") == 0)
        status = "down";
    else if (strcmp(cache.status, "down") == 0 || strcmp(smtp.status, "down") == 0)
        status = "degraded";

    bff_utc_now(now, sizeof now);
    bff_jw_obj(&rs->w);
    bff_jw_kstr(&rs->w, "generated_at", now);
    bff_jw_kobj(&rs->w, "health");
    bff_jw_kstr(&rs->w, "status", status);
    bff_jw_kobj(&rs->w, "checks");
    write_check(&rs->w, "database", &db);
    write_check(&rs->w, "cache", &cache);
    write_check(&rs->w, "smtp", &smtp);
    bff_jw_end(&rs->w);
    bff_jw_kstr(&rs->w, "version", PACKAGE_VERSION);
    bff_jw_end(&rs->w);
    bff_jw_key(&rs->w, "system");
    if (bff_web_write_system(rq, &rs->w, &e) < 0) {
        bff_buf_reset(rs->body);
        return bff_resp_error(rq, rs, &e);
    }
    bff_jw_key(&rs->w, "stock");
    bff_jw_raw(&rs->w, stock, stock_len);
    bff_jw_key(&rs->w, "orders");
    bff_jw_raw(&rs->w, orders, orders_len);
    bff_jw_key(&rs->w, "fefo");
    bff_jw_raw(&rs->w, fefo, fefo_len);
    bff_jw_end(&rs->w);
    return 200;
}
