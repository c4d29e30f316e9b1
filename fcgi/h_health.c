/*
 * h_health.c — /health/ and its per-component checks (SPEC §4 Health).
 *
 * Public, never cached, never hanging: each check has its own deadline
 * (BFF_HEALTH_TIMEOUT_MS). The database being down makes the service down
 * (503); cache or SMTP down only degrades it (200); a component that is not
 * configured is neither.
 */
#include <string.h>

#include "config.h"
#include "handlers.h"
#include "health.h"

static void write_check(struct bff_jw *w, const struct bff_check *c)
{
    bff_jw_obj(w);
    bff_jw_kstr(w, "status", c->status);
    bff_jw_kint(w, "latency_ms", c->latency_ms);
    if (strcmp(c->status, "down") == 0)
        bff_jw_kstr(w, "error", c->error);
    bff_jw_end(w);
}

static int is_down(const struct bff_check *c)
{
    return strcmp(c->status, "down") == 0;
}

int h_health(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_ctx *ctx = rq->ctx;
    struct bff_check db, cache, smtp;
    const char *status = "ok";
    int timeout = ctx->cfg->health_timeout_ms;

    bff_health_database(&ctx->db, timeout, &db);
    bff_health_cache(&ctx->cache, &cache);
    bff_health_smtp(ctx->cfg, timeout, &smtp);
    if (is_down(&db))
        status = "down";
    else if (is_down(&cache) || is_down(&smtp))
        status = "degraded";

    bff_jw_obj(&rs->w);
    bff_jw_kstr(&rs->w, "status", status);
    bff_jw_kobj(&rs->w, "checks");
    bff_jw_key(&rs->w, "database");
    write_check(&rs->w, &db);
    bff_jw_key(&rs->w, "cache");
    write_check(&rs->w, &cache);
    bff_jw_key(&rs->w, "smtp");
    write_check(&rs->w, &smtp);
    bff_jw_end(&rs->w);
    bff_jw_kstr(&rs->w, "version", PACKAGE_VERSION);
    bff_jw_end(&rs->w);
    if (is_down(&db)) {
        rs->retry_after = 5;
        return 503;
    }
    return 200;
}

/* One component alone: its check object; 503 only when down. */
static int one(struct bff_resp *rs, const struct bff_check *c)
{
    write_check(&rs->w, c);
    return is_down(c) ? 503 : 200;
}

int h_health_database(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_check c;

    bff_health_database(&rq->ctx->db, rq->ctx->cfg->health_timeout_ms, &c);
    return one(rs, &c);
}

int h_health_cache(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_check c;

    bff_health_cache(&rq->ctx->cache, &c);
    return one(rs, &c);
}

int h_health_smtp(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_check c;

    bff_health_smtp(rq->ctx->cfg, rq->ctx->cfg->health_timeout_ms, &c);
    return one(rs, &c);
}
