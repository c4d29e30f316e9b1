/*
 * worker_test.c — t/bff-worker-test: bff-worker's runtime (worker/) with
 * three test-only job kinds that make a run observable. They live here,
 * not in worker/kinds.c, so the production bff-worker cannot run them and
 * `bffctl queue enqueue` refuses them; tests enqueue them with
 * bff_jobs_enqueue into a queue of their own.
 *
 *   record  (BFF_JOB_TX) insert a row into job_test_effects in the job's
 *           transaction: exactly one row per job, however often it ran
 *   sleep   sleep payload.ms (default 1000), then insert the row in
 *           autocommit: killed while sleeping, the job leaves no row
 *   fail    insert the row, then fail (retried with backoff, then dead)
 *
 * job_test_effects is created by the suites (t/check_jobs.c
 * T_EFFECTS_DDL), never by migrations.
 */
#include <stdio.h>
#include <time.h>

#include "json.h"
#include "worker.h"

static struct bff_stmt st_effect = {
    "t_job_effect",
    "INSERT INTO job_test_effects (job_id, kind, attempt, worker) VALUES ($1, $2, $3, $4)", 4, 0};

static int effect(struct bff_job_ctx *ctx, struct bff_error *e)
{
    char id[24], att[16];
    const char *p[4] = {id, ctx->job->kind, att, ctx->worker};
    PGresult *r;

    snprintf(id, sizeof id, "%lld", (long long)ctx->job->id);
    snprintf(att, sizeof att, "%d", ctx->job->attempt);
    if ((r = bff_db_exec(ctx->db, &st_effect, p, e)) == NULL)
        return BFF_JOB_FAILED;
    PQclear(r);
    return 0;
}

static int job_record(struct bff_job_ctx *ctx, struct bff_error *e)
{
    if (effect(ctx, e) < 0)
        return BFF_JOB_FAILED;
    bff_buf_puts(ctx->result, "{\"recorded\":true}");
    return 0;
}

static int job_sleep(struct bff_job_ctx *ctx, struct bff_error *e)
{
    const struct bff_json *pl = bff_job_payload(ctx, e), *ms;
    int64_t n = 1000;
    struct timespec ts;

    if (pl == NULL)
        return BFF_JOB_GIVE_UP;
    if ((ms = bff_json_get(pl, "ms")) != NULL && ms->type == BFF_JSON_NUMBER && ms->is_int)
        n = ms->i;
    ts.tv_sec = (time_t)(n / 1000);
    ts.tv_nsec = (long)(n % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0)
        ;
    return effect(ctx, e);
}

static int job_fail(struct bff_job_ctx *ctx, struct bff_error *e)
{
    if (effect(ctx, e) < 0)
        return BFF_JOB_FAILED;
    bff_error_set(e, BFF_E_INTERNAL, NULL, "failing on purpose (attempt %d)", ctx->job->attempt);
    return BFF_JOB_FAILED;
}

static const struct bff_job_kind test_kinds[] = {
    {"record", job_record, "default", 100, 3, 30, 100, BFF_JOB_TX,
     "test: insert the job's id into job_test_effects"},
    {"sleep", job_sleep, "default", 100, 3, 60, 100, 0, "test: sleep payload.ms, then record"},
    {"fail", job_fail, "default", 100, 3, 30, 300, 0, "test: record the attempt, then fail"},
    {NULL, NULL, NULL, 0, 0, 0, 0, 0, NULL},
};

int main(int argc, char **argv)
{
    return bff_worker_main(argc, argv, test_kinds);
}
