/*
 * kinds.c — the job-kind table (Celery's task registry) and what handlers
 * share.
 */
#include "worker.h"

#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "outbox.h"

/*
 * One line per kind: name, handler, queue, priority (lower first),
 * max_attempts, timeout_s, backoff_ms (first retry; doubles), flags.
 * Periodic ones are enqueued by bff-beat (schedule.c); all are idempotent.
 */
const struct bff_job_kind bff_job_kinds[] = {
    {"expire_reservations", job_expire_reservations, "default", 10, 5, 120, 5000, BFF_JOB_TX,
     "expire reserved orders past their hold; release their stock"},
    {"expire_lots", job_expire_lots, "default", 20, 5, 300, 10000, BFF_JOB_TX,
     "mark lots past their date expired; move open allocations FEFO"},
    {"replay_cache_invalidations", job_replay_cache_invalidations, "default", 30, 3, 60, 5000, 0,
     "replay cache invalidations recorded while Redis was unreachable"},
    /* a failed refresh is simply superseded by the next one, 30 s later */
    {"refresh_metrics", job_refresh_metrics, "default", 50, 1, 60, 5000, 0,
     "warm metrics:stock"},
    /* not BFF_JOB_TX: an SMTP conversation does not belong in a transaction */
    {"low_stock_alert", job_low_stock_alert, "default", 60, 5, 120, 30000, 0,
     "e-mail the products under their reorder point to BFF_ALERT_EMAIL"},
    {"clear_sessions", job_clear_sessions, "default", 80, 3, 300, 60000, BFF_JOB_TX,
     "delete expired tokens and old idempotency keys (clearsessions)"},
    {"monthly_report", job_monthly_report, "default", 90, 5, 600, 60000, 0,
     "store last month's report and e-mail it once"},
    {"prune_jobs", job_prune_jobs, "default", 90, 3, 300, 60000, BFF_JOB_TX,
     "delete finished jobs: done after 3 days, dead after 30"},
    {NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL},
};

const struct bff_job_kind *bff_job_kind_find(const struct bff_job_kind *extra, const char *name)
{
    const struct bff_job_kind *k;

    for (k = bff_job_kinds; k->name != NULL; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    for (k = extra; k != NULL && k->name != NULL; k++)
        if (strcmp(k->name, name) == 0)
            return k;
    return NULL;
}

int bff_job_enqueue_kind(struct bff_db *db, const struct bff_job_kind *k, const char *queue,
                         const char *payload, const char *unique_key, int64_t delay_ms,
                         int64_t *id, struct bff_error *e)
{
    struct bff_job_spec s;

    memset(&s, 0, sizeof s);
    s.kind = k->name;
    s.queue = queue != NULL ? queue : k->queue;
    s.payload = payload;
    s.priority = k->priority;
    s.max_attempts = k->max_attempts;
    s.delay_ms = delay_ms;
    s.unique_key = unique_key;
    return bff_jobs_enqueue(db, &s, id, e);
}

void bff_job_invalidate_stock(struct bff_job_ctx *ctx, const char *product_id)
{
    int i;

    if (!ctx->in_tx) {
        bff_invalidate_stock(ctx->db, ctx->cache, product_id);
        return;
    }
    for (i = 0; i < ctx->nstock; i++)
        if (strcmp(ctx->stock[i], product_id) == 0)
            return;
    if (ctx->nstock == ctx->capstock) {
        int cap = ctx->capstock ? ctx->capstock * 2 : 16;
        const char **n = bff_arena_alloc(ctx->a, sizeof *n * (size_t)cap);

        if (ctx->nstock > 0)
            memcpy(n, ctx->stock, sizeof *n * (size_t)ctx->nstock);
        ctx->stock = n;
        ctx->capstock = cap;
    }
    ctx->stock[ctx->nstock++] = bff_arena_strdup(ctx->a, product_id);
}

void bff_job_invalidate_stock_array(struct bff_job_ctx *ctx, const char *array)
{
    const char *p = array;

    while (p != NULL && *p) {
        size_t n;

        p += strspn(p, "{},");
        n = strspn(p, "0123456789");
        if (n == 0)
            break;
        bff_job_invalidate_stock(ctx, bff_arena_strndup(ctx->a, p, n));
        p += n;
    }
}

const struct bff_json *bff_job_payload(struct bff_job_ctx *ctx, struct bff_error *e)
{
    const char *p = ctx->job->payload;
    struct bff_json *v;

    if (p == NULL || *p == '\0')
        p = "{}";
    if (bff_json_parse(ctx->a, p, strlen(p), BFF_JSON_MAX_DEPTH, &v, e) < 0)
        return NULL;
    if (v->type != BFF_JSON_OBJECT) {
        bff_error_set(e, BFF_E_BAD_REQUEST, "payload", "payload is not a JSON object");
        return NULL;
    }
    return v;
}
