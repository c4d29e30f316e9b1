/*
 * jobs_maint.c — housekeeping jobs: clearsessions, the cache-invalidation
 * replay, the monthly report, pruning the queue itself.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "log.h"
#include "mail.h"
#include "outbox.h"
#include "report.h"
#include "sessions.h"
#include "worker.h"

#define REPLAY_BATCH 500
#define PRUNE_DONE_DAYS 3    /* > the longest slot kept by unique keys that matters (1 day) */
#define PRUNE_DEAD_DAYS 30

/* clear_sessions (daily): expired tokens, old idempotency keys. */
int job_clear_sessions(struct bff_job_ctx *ctx, struct bff_error *e)
{
    int64_t tokens, keys;

    if (bff_clear_sessions(ctx->db, &tokens, &keys, e) < 0)
        return BFF_JOB_FAILED;
    bff_buf_printf(ctx->result, "{\"tokens\":%lld,\"idempotency_keys\":%lld}", (long long)tokens,
                   (long long)keys);
    return 0;
}

/*
 * replay_cache_invalidations (every 30 s): drain cache_invalidations while
 * Redis answers. Redis still down is not a failure — the rows wait for the
 * next run — so the job is done with "redis": "unreachable".
 */
int job_replay_cache_invalidations(struct bff_job_ctx *ctx, struct bff_error *e)
{
    long n, total = 0;
    int i;

    if (!bff_cache_enabled(ctx->cache)) {
        bff_buf_puts(ctx->result, "{\"replayed\":0,\"reason\":\"cache not configured\"}");
        return 0;
    }
    for (i = 0; i < 1000; i++) {
        n = bff_invalidations_replay(ctx->db, ctx->cache, REPLAY_BATCH);
        if (n < 0) {
            bff_buf_printf(ctx->result, "{\"replayed\":%ld,\"redis\":\"unreachable\"}", total);
            bff_log_warn(NULL, "cache invalidation replay stopped: Redis or PostgreSQL failed",
                         "#replayed", bff_arena_sprintf(ctx->a, "%ld", total));
            return 0;
        }
        total += n;
        if (n < REPLAY_BATCH)
            break;
    }
    bff_buf_printf(ctx->result, "{\"replayed\":%ld}", total);
    return 0;
}

/*
 * monthly_report (1st of the month): compute and store a month's report
 * and e-mail it once (reports.emailed_at). The month: payload "month"
 * (YYYY-MM), else the month before bff-beat's slot ("slot": "YYYY-MM"),
 * else last month. Running it again recomputes the same figures and sends
 * nothing; without SMTP it stores the report and stays un-e-mailed.
 */
int job_monthly_report(struct bff_job_ctx *ctx, struct bff_error *e)
{
    const struct bff_json *pl = bff_job_payload(ctx, e), *v;
    struct bff_report rep;
    char month[8], subject[96];
    int emailed = 0;

    if (pl == NULL)
        return BFF_JOB_GIVE_UP;
    if ((v = bff_json_get(pl, "month")) != NULL) {
        if (v->type != BFF_JSON_STRING || !bff_report_month_valid(v->s)) {
            bff_error_set(e, BFF_E_BAD_REQUEST, "month", "payload month must be \"YYYY-MM\"");
            return BFF_JOB_GIVE_UP;
        }
        snprintf(month, sizeof month, "%s", v->s);
    } else if ((v = bff_json_get(pl, "slot")) != NULL && v->type == BFF_JSON_STRING &&
               bff_report_month_valid(v->s)) {
        bff_report_month_before(v->s, month);
    } else {
        bff_report_previous_month(time(NULL), month);
    }
    if (bff_report_monthly(ctx->db, ctx->a, month, &rep, e) < 0)
        return BFF_JOB_FAILED;
    if (rep.emailed_at == NULL && bff_mail_configured(ctx->cfg)) {
        snprintf(subject, sizeof subject, "[bff] Monthly report %s", month);
        if (bff_mail_send(ctx->cfg, ctx->cfg->alert_email, subject, rep.text, e) < 0)
            return BFF_JOB_FAILED;
        /* XXX a crash right here sends it again on the retry: at least once */
        if (bff_report_mark_emailed(ctx->db, month, e) < 0)
            return BFF_JOB_FAILED;
        emailed = 1;
    } else if (rep.emailed_at == NULL) {
        bff_log_warn(NULL, "monthly report stored, not e-mailed: BFF_SMTP_URL or "
                           "BFF_ALERT_EMAIL unset", "month", month);
    }
    bff_buf_printf(ctx->result, "{\"month\":\"%s\",\"emailed_now\":%s,\"emailed_before\":%s}",
                   month, emailed ? "true" : "false", rep.emailed_at ? "true" : "false");
    return 0;
}

/* prune_jobs (daily): the queue keeps finished jobs for `bffctl queue`
 * and for the unique keys of recent slots, not forever. */
int job_prune_jobs(struct bff_job_ctx *ctx, struct bff_error *e)
{
    long n = bff_jobs_prune(ctx->db, PRUNE_DONE_DAYS, PRUNE_DEAD_DAYS, e);

    if (n < 0)
        return BFF_JOB_FAILED;
    bff_buf_printf(ctx->result, "{\"deleted\":%ld}", n);
    return 0;
}
