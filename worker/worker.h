/*
 * worker.h — bff-worker's job kinds and runtime (SPEC §6), Celery's tasks
 * and worker.
 *
 * The job kinds are one table, read like the route table:
 *     {"expire_lots", job_expire_lots, "default", 20, 5, 300, 10000, BFF_JOB_TX, "..."},
 * (name, handler, queue, priority, max_attempts, timeout_s, backoff_ms,
 * flags, summary). A handler runs with a connection, the cache and an
 * arena, and reports through its return value:
 *     0                 done (ctx->result may hold a JSON object)
 *     BFF_JOB_FAILED    failed: retried with backoff, dead after max_attempts
 *     BFF_JOB_GIVE_UP   failed for good (bad payload): dead at once
 * with e filled for the last two.
 *
 * BFF_JOB_TX kinds run inside one transaction that also locks the job's
 * row and marks it done: their database effects commit exactly once, even
 * when a lease runs out or the worker is killed half-way. Other kinds run
 * in autocommit (they talk to Redis or SMTP, or work in batches) and must
 * be idempotent: a worker killed after the effect and before the
 * completion runs them again.
 *
 * Test-only kinds (record, sleep, fail) are not in this table: the test
 * suite links the same runtime into t/bff-worker-test with its own extra
 * table (t/worker_test.c), so a production bff-worker cannot run them and
 * `bffctl queue enqueue` refuses them.
 */
#ifndef BFF_WORKER_H
#define BFF_WORKER_H

#include <stdint.h>

#include "arena.h"
#include "buf.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "jobs.h"

#define BFF_JOB_FAILED (-1)
#define BFF_JOB_GIVE_UP (-2)

#define BFF_JOB_TX 0x1u   /* effects + completion in one transaction */

struct bff_job_ctx {
    struct bff_db *db;
    struct bff_cache *cache;
    const struct bff_config *cfg;
    const struct bff_job *job;     /* the claimed job (payload is JSON text) */
    const char *worker;            /* this process's locked_by */
    struct bff_arena *a;           /* freed after the job */
    struct bff_buf *result;        /* a JSON object for jobs.result, or empty */
    int in_tx;                     /* running inside the job's transaction */
    /* products whose stock:{id}:* entries to drop once the effects are
     * committed (bff_job_invalidate_stock) */
    const char **stock;
    int nstock, capstock;
};

typedef int (*bff_job_fn)(struct bff_job_ctx *ctx, struct bff_error *e);

struct bff_job_kind {
    const char *name;
    bff_job_fn run;
    const char *queue;       /* default queue */
    int priority;            /* 0..1000, lower first */
    int max_attempts;
    int timeout_s;           /* the worker process is killed past this (SIGALRM) */
    int backoff_ms;          /* delay before the first retry; doubles each time */
    unsigned flags;          /* BFF_JOB_TX */
    const char *summary;
};

/* The production kinds; ends with a NULL name. */
extern const struct bff_job_kind bff_job_kinds[];

/* The kind called name in the production table, then in extra (may be
 * NULL), or NULL. */
const struct bff_job_kind *bff_job_kind_find(const struct bff_job_kind *extra, const char *name);

/*
 * Enqueue a job of kind k with its defaults: queue (unless queue is
 * non-NULL), priority, max_attempts. payload: JSON object text or NULL;
 * unique_key may be NULL. Same returns as bff_jobs_enqueue.
 */
int bff_job_enqueue_kind(struct bff_db *db, const struct bff_job_kind *k, const char *queue,
                         const char *payload, const char *unique_key, int64_t delay_ms,
                         int64_t *id, struct bff_error *e);

/* Drop the stock cache of product_id: after commit for a BFF_JOB_TX job,
 * at once otherwise (recorded for replay when Redis is unreachable). */
void bff_job_invalidate_stock(struct bff_job_ctx *ctx, const char *product_id);
/* Same for every id of a PostgreSQL bigint[] literal ("{1,2,3}"). */
void bff_job_invalidate_stock_array(struct bff_job_ctx *ctx, const char *array);

/* The job's payload parsed (an object; {} when empty), or NULL with e
 * (the caller returns BFF_JOB_GIVE_UP). */
struct bff_json;
const struct bff_json *bff_job_payload(struct bff_job_ctx *ctx, struct bff_error *e);

/*
 * bff-worker's main: options, the supervisor and its worker processes.
 * extra: more kinds (NULL-terminated table) for test binaries, or NULL.
 */
int bff_worker_main(int argc, char **argv, const struct bff_job_kind *extra);

/* Handlers of the production table (jobs_*.c). */
int job_expire_reservations(struct bff_job_ctx *ctx, struct bff_error *e);
int job_expire_lots(struct bff_job_ctx *ctx, struct bff_error *e);
int job_low_stock_alert(struct bff_job_ctx *ctx, struct bff_error *e);
int job_refresh_metrics(struct bff_job_ctx *ctx, struct bff_error *e);
int job_clear_sessions(struct bff_job_ctx *ctx, struct bff_error *e);
int job_replay_cache_invalidations(struct bff_job_ctx *ctx, struct bff_error *e);
int job_monthly_report(struct bff_job_ctx *ctx, struct bff_error *e);
int job_prune_jobs(struct bff_job_ctx *ctx, struct bff_error *e);

#endif
