/*
 * jobs.h — the PostgreSQL task queue (SPEC §6), Celery's broker and result
 * backend in one table (schema/0007_jobs.sql).
 *
 * A job is a row: kind, queue, JSON payload, priority (lower runs first),
 * run_at. Workers claim due jobs with FOR UPDATE SKIP LOCKED in (priority,
 * run_at, id) order; a claim counts as an attempt and sets a lease
 * (locked_until) that the worker renews while it runs the job. A job whose
 * lease ran out — its worker was killed — is reclaimed by any worker.
 * A failure puts the job back with exponential backoff and jitter, or
 * marks it dead after max_attempts. A unique_key makes a second enqueue a
 * no-op (bff-beat's "kind:slot"). Enqueue is one INSERT on the caller's
 * connection, so inside the caller's transaction it commits — and wakes
 * workers through NOTIFY bff_jobs — with the caller's work, or not at all.
 *
 * Like the rest of lib/, nothing here prints or exits: 0/-1 (or a count)
 * and a struct bff_error. Strings handed out are arena strings.
 */
#ifndef BFF_JOBS_H
#define BFF_JOBS_H

#include <signal.h>
#include <stdint.h>

#include "arena.h"
#include "db.h"
#include "error.h"

#define BFF_JOBS_CHANNEL "bff_jobs"      /* NOTIFY channel; payload = queue */
#define BFF_JOBS_DEFAULT_QUEUE "default"
#define BFF_JOBS_DEFAULT_PRIORITY 100    /* 0..1000, lower first */
#define BFF_JOBS_DEFAULT_MAX_ATTEMPTS 5

/* What to enqueue. Zero-initialised fields take the defaults noted. */
struct bff_job_spec {
    const char *kind;        /* required: [a-z][a-z0-9_]* */
    const char *queue;       /* NULL: "default" */
    const char *payload;     /* JSON object text; NULL: {} */
    int priority;            /* 0..1000, lower first (0 is the most urgent) */
    int max_attempts;        /* 0: BFF_JOBS_DEFAULT_MAX_ATTEMPTS */
    int64_t delay_ms;        /* run_at = now() + delay_ms */
    const char *unique_key;  /* NULL: none; else a duplicate enqueue is a no-op */
};

/*
 * Insert a job on db's connection (inside the caller's open transaction,
 * if any). 1 when enqueued (*id set when id is non-NULL), 0 when a job with
 * the same unique_key already exists (nothing changed, *id = 0), -1 with e
 * ("bad_request" for a malformed kind/queue/payload).
 */
int bff_jobs_enqueue(struct bff_db *db, const struct bff_job_spec *s, int64_t *id,
                     struct bff_error *e);

/* A claimed job. Strings are arena strings. */
struct bff_job {
    int64_t id;
    const char *kind;
    const char *queue;
    const char *payload;     /* JSON text */
    int attempt;             /* this run's number, from 1 */
    int max_attempts;
    int priority;
};

/*
 * Claim up to n due jobs (status queued, run_at <= now()) of the given
 * queues and kinds (NULL-terminated lists; NULL = any) for worker (its id,
 * bff_jobs_worker_id), leasing each for lease_ms. Returns how many were
 * claimed into out[0..n), or -1 with e. Jobs another claimer holds are
 * skipped, never waited for.
 */
int bff_jobs_claim(struct bff_db *db, struct bff_arena *a, const char *worker,
                   const char *const *queues, const char *const *kinds, int n, int lease_ms,
                   struct bff_job *out, struct bff_error *e);

/* "host:pid" of process pid (0: this one): the locked_by of its claims. */
void bff_jobs_worker_id(long pid, char *out, size_t n);

/*
 * Lock the claimed job's row for the rest of the caller's transaction, so
 * that the job's own effects and its completion commit together: a job run
 * this way happens once even if its lease runs out (reclaimers skip locked
 * rows). 1 when the job is still ours, 0 when the claim was lost, -1 with e.
 */
int bff_jobs_lock(struct bff_db *db, int64_t id, const char *worker, struct bff_error *e);

/* Extend one job's lease to now() + lease_ms. 1, 0 when it is not ours. */
int bff_jobs_renew(struct bff_db *db, int64_t id, const char *worker, int lease_ms,
                   struct bff_error *e);
/* Extend the lease of every running job of these workers (NULL-terminated),
 * skipping rows locked by a running transaction (bff_jobs_lock holds them).
 * Number renewed, or -1. The worker's parent process calls this. */
long bff_jobs_renew_workers(struct bff_db *db, const char *const *workers, int lease_ms,
                            struct bff_error *e);

/* Mark a job done with an optional JSON result (NULL: none). 1, 0 when the
 * claim was lost (another worker reclaimed it), -1 with e. */
int bff_jobs_complete(struct bff_db *db, int64_t id, const char *worker, const char *result,
                      struct bff_error *e);

enum bff_job_outcome { BFF_JOB_LOST = 0, BFF_JOB_RETRY = 1, BFF_JOB_DEAD = 2 };
/*
 * Record a failed run: back to queued with run_at = now() + delay_ms, or
 * dead when the job has used its attempts or give_up is set (a failure a
 * retry cannot fix). Returns the outcome (BFF_JOB_LOST when the claim was
 * no longer ours), or -1 with e.
 */
int bff_jobs_fail(struct bff_db *db, int64_t id, const char *worker, const char *error,
                  int64_t delay_ms, int give_up, struct bff_error *e);

/*
 * Exponential backoff with jitter for the retry after failed attempt
 * `attempt` (1-based): base_ms * 2^(attempt-1), at most cap_ms, then
 * ±20 % by rnd (any 32-bit random value). Pure; for tests and workers.
 */
int64_t bff_jobs_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint32_t rnd);

/*
 * Put back every job `worker` holds (its process is known to be dead):
 * queued after delay_ms, or dead when out of attempts, with `why` as
 * last_error. Rows still locked by the dead process's transaction are
 * left to the lease. Number released, or -1.
 */
long bff_jobs_release_worker(struct bff_db *db, const char *worker, const char *why,
                             int64_t delay_ms, struct bff_error *e);

/*
 * Reclaim up to `limit` running jobs whose lease has expired: queued again
 * (run at once) or dead when out of attempts. Fills ids[0..) with their
 * ids when ids is non-NULL (room for limit). Number reclaimed, or -1.
 */
long bff_jobs_reclaim(struct bff_db *db, int limit, int64_t *ids, struct bff_error *e);

/*
 * Milliseconds until the next job of these queues/kinds becomes due or
 * the next lease runs out (0 when one already is), or -1 when there is
 * none; -2 with e on error. Workers sleep at most this long.
 */
int64_t bff_jobs_next_due_ms(struct bff_db *db, const char *const *queues,
                             const char *const *kinds, struct bff_error *e);

/*
 * LISTEN on BFF_JOBS_CHANNEL on this connection unless already done
 * (*gen remembers the connection generation that listened). 0 or -1.
 */
int bff_jobs_listen(struct bff_db *db, unsigned *gen, struct bff_error *e);
/*
 * Sleep until a notification for one of queues (NULL: any) arrives, up to
 * timeout_ms (-1: no limit), with ppoll(2) on the connection's socket;
 * `mask`, when non-NULL, is the signal mask during the sleep (signals the
 * caller blocks elsewhere can interrupt it). 1 woken, 0 timed out, 2
 * interrupted by a signal, -1 with e when the connection broke.
 */
int bff_jobs_wait(struct bff_db *db, const char *const *queues, int timeout_ms,
                  const sigset_t *mask, struct bff_error *e);

/* Per-kind counts for `bffctl queue stats`. */
struct bff_jobs_kind_stats {
    const char *kind;        /* arena */
    int64_t queued;          /* status queued (due or not) */
    int64_t due;             /*   of which run_at <= now() */
    int64_t retrying;        /*   of which waiting after a failure */
    int64_t running, done, dead;
    double oldest_due_s;     /* age of the oldest due job (since run_at), 0 when none */
};
/* One row per kind present, by kind. 0 (*out, *n), or -1 with e. */
int bff_jobs_stats(struct bff_db *db, struct bff_arena *a, struct bff_jobs_kind_stats **out,
                   int *n, struct bff_error *e);
/* Due, unclaimed jobs: the runbook's "Queue Length" (/api/metrics/system/).
 * The count, or -1 with e. */
int64_t bff_jobs_queue_length(struct bff_db *db, struct bff_error *e);

/* A job as listed by `bffctl queue ...`: every column as text (arena;
 * NULL for SQL NULL; times as ISO 8601 UTC). */
struct bff_job_row {
    int64_t id;
    const char *kind, *queue, *status, *payload, *last_error, *result;
    int attempts, max_attempts, priority;
    const char *run_at, *created_at, *started_at, *finished_at;
    const char *locked_by, *locked_until;
    int64_t lease_left_ms;   /* running: locked_until - now() (negative: expired) */
};
enum bff_jobs_list {
    BFF_JOBS_ACTIVE,         /* running, by started_at */
    BFF_JOBS_PENDING,        /* queued and due, in claim order */
    BFF_JOBS_SCHEDULED,      /* queued with run_at in the future, by run_at */
    BFF_JOBS_DEAD            /* dead, newest first */
};
/* Up to limit rows of one list. 0, or -1 with e. */
int bff_jobs_list(struct bff_db *db, struct bff_arena *a, enum bff_jobs_list which, int limit,
                  struct bff_job_row **out, int *n, struct bff_error *e);
/* One job by id: 1 found, 0 not, -1 with e. */
int bff_jobs_get(struct bff_db *db, struct bff_arena *a, int64_t id, struct bff_job_row *out,
                 struct bff_error *e);

/*
 * Run a dead job again (attempts reset to 0), or a queued job that waits
 * for its retry now. 0; -1 with e: "not_found", or "conflict" naming the
 * job's status when it is running or done.
 */
int bff_jobs_retry(struct bff_db *db, int64_t id, struct bff_error *e);
/* Delete queued jobs (of one kind, or all when kind is NULL). Count, or -1. */
long bff_jobs_purge(struct bff_db *db, const char *kind, struct bff_error *e);
/* Delete done jobs finished more than done_days ago and dead ones more than
 * dead_days ago. Count, or -1. */
long bff_jobs_prune(struct bff_db *db, int done_days, int dead_days, struct bff_error *e);

#endif
