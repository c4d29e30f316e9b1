/*
 * check_jobs.c — the job queue library (lib/jobs.c), the beat schedule's
 * slot arithmetic (worker/schedule.c) and the report months, against the
 * real PostgreSQL of the test stack.
 *
 * The jobs table is shared with the other suites, so each test works in a
 * queue of its own ("tj_<pid>_<n>") and, where it counts by kind, under a
 * kind of its own; nothing here sees another test's jobs.
 */
#define _GNU_SOURCE /* strptime, timegm */

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "harness.h"
#include "jobs.h"
#include "jobs_test.h"
#include "report.h"
#include "schedule.h"
#include "util.h"
#include "worker.h"

static struct bff_config cfg;
static struct bff_db db;
static struct bff_arena *arena;
static char Q[64];          /* this test's queue */
static char K[64];          /* this test's private kind */
static const char *QS[2];   /* {Q, NULL} */

static void setup(void)
{
    static int seq;

    memset(&cfg, 0, sizeof cfg);
    cfg.statement_timeout_ms = 10000;
    cfg.lock_timeout_ms = 2000;
    cfg.idle_tx_timeout_ms = 20000;
    cfg.redis_url = "";
    cfg.smtp_url = "";
    bff_db_init(&db, &cfg, t_env("BFF_TEST_DATABASE_URL"));
    arena = bff_arena_new();
    snprintf(Q, sizeof Q, "tj_%ld_%d", (long)getpid(), ++seq);
    snprintf(K, sizeof K, "tk_%ld_%d", (long)getpid(), seq);
    QS[0] = Q;
    QS[1] = NULL;
    free(t_sql(T_EFFECTS_DDL));
}

static void teardown(void)
{
    bff_db_close(&db);
    bff_arena_free(arena);
}

/* t_sql with printf formatting; the first value as a long long (0 if none). */
static long long sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_int(const char *fmt, ...)
{
    char sql[2048], *v;
    long long n;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    v = t_sql(sql);
    n = v ? atoll(v) : 0;
    free(v);
    return n;
}

/* The first value as a string in a static buffer ("" for none). */
static const char *sql_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *sql_str(const char *fmt, ...)
{
    static char out[1024];
    char sql[2048], *v;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    v = t_sql(sql);
    snprintf(out, sizeof out, "%s", v ? v : "");
    free(v);
    return out;
}

static int64_t enqueue(const char *kind, int priority, int max_attempts, int64_t delay_ms,
                       const char *unique_key)
{
    struct bff_job_spec s;
    struct bff_error e;
    int64_t id;

    memset(&s, 0, sizeof s);
    s.kind = kind;
    s.queue = Q;
    s.priority = priority;
    s.max_attempts = max_attempts;
    s.delay_ms = delay_ms;
    s.unique_key = unique_key;
    bff_error_clear(&e);
    ck_assert_msg(bff_jobs_enqueue(&db, &s, &id, &e) == 1, "enqueue: %s", e.msg);
    ck_assert_int_gt(id, 0);
    return id;
}

/* Claim at most one job of Q as worker w; returns its id or 0. */
static int64_t claim(const char *w, int lease_ms, struct bff_job *j)
{
    struct bff_job tmp;
    struct bff_error e;
    int n;

    bff_error_clear(&e);
    n = bff_jobs_claim(&db, arena, w, QS, NULL, 1, lease_ms, j ? j : &tmp, &e);
    ck_assert_msg(n >= 0, "claim: %s", e.msg);
    return n == 1 ? (j ? j : &tmp)->id : 0;
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* ------------------------------------------------------------------ core */

START_TEST(enqueue_claim_complete)
{
    struct bff_job_spec s;
    struct bff_error e;
    struct bff_job j;
    int64_t id;

    memset(&s, 0, sizeof s);
    s.kind = "record";
    s.queue = Q;
    s.payload = "{\"x\": 1}";
    s.priority = 5;
    bff_error_clear(&e);
    ck_assert_int_eq(bff_jobs_enqueue(&db, &s, &id, &e), 1);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || attempts || ' ' || max_attempts FROM jobs "
                             "WHERE id = %lld", (long long)id),
                     "queued 0 5");
    ck_assert_int_eq(claim("w1", 30000, &j), id);
    ck_assert_str_eq(j.kind, "record");
    ck_assert_str_eq(j.queue, Q);
    ck_assert_str_eq(j.payload, "{\"x\": 1}");
    ck_assert_int_eq(j.attempt, 1);
    ck_assert_int_eq(j.priority, 5);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || locked_by || ' ' || "
                             "(locked_until > now() + interval '25 s') FROM jobs WHERE id = %lld",
                             (long long)id),
                     "running w1 true");
    /* nothing else to claim while it runs */
    ck_assert_int_eq(claim("w2", 30000, NULL), 0);
    ck_assert_int_eq(bff_jobs_complete(&db, id, "w1", "{\"ok\": true}", &e), 1);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || (finished_at IS NOT NULL) || ' ' || "
                             "(locked_by IS NULL) || ' ' || result::text FROM jobs WHERE id = %lld",
                             (long long)id),
                     "done true true {\"ok\": true}");
    /* completing twice is refused: the claim is gone */
    ck_assert_int_eq(bff_jobs_complete(&db, id, "w1", NULL, &e), 0);
    ck_assert_int_eq(claim("w1", 30000, NULL), 0);
}
END_TEST

START_TEST(unique_key_is_noop)
{
    char key[96];
    struct bff_job_spec s;
    struct bff_error e;
    int64_t id, id2 = 99;

    snprintf(key, sizeof key, "record:%s", Q);
    id = enqueue("record", 100, 0, 0, key);
    memset(&s, 0, sizeof s);
    s.kind = "record";
    s.queue = Q;
    s.priority = 100;
    s.unique_key = key;
    bff_error_clear(&e);
    ck_assert_int_eq(bff_jobs_enqueue(&db, &s, &id2, &e), 0);
    ck_assert_int_eq(id2, 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s'", Q), 1);
    /* still a no-op once the job is done: a slot runs once */
    ck_assert_int_eq(claim("w", 10000, NULL), id);
    ck_assert_int_eq(bff_jobs_complete(&db, id, "w", NULL, &e), 1);
    ck_assert_int_eq(bff_jobs_enqueue(&db, &s, &id2, &e), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s'", Q), 1);
}
END_TEST

START_TEST(enqueue_in_callers_transaction)
{
    struct bff_error e;

    bff_error_clear(&e);
    ck_assert_int_eq(bff_db_begin(&db, &e), 0);
    enqueue("record", 100, 0, 0, NULL);
    bff_db_rollback(&db);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s'", Q), 0);

    ck_assert_int_eq(bff_db_begin(&db, &e), 0);
    enqueue("record", 100, 0, 0, NULL);
    /* another session does not see it before the commit */
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s'", Q), 0);
    ck_assert_int_eq(bff_db_commit(&db, &e), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s'", Q), 1);
}
END_TEST

START_TEST(claim_order)
{
    int64_t a = enqueue("record", 50, 0, 0, NULL);
    int64_t b = enqueue("record", 10, 0, 0, NULL);
    int64_t c = enqueue("record", 10, 0, 0, NULL);
    int64_t d = enqueue("record", 1, 0, 60000, NULL); /* most urgent, but not due */

    (void)d;
    /* same priority: the earlier run_at first */
    ck_assert_int_eq(claim("w", 10000, NULL), b);
    ck_assert_int_eq(claim("w", 10000, NULL), c);
    ck_assert_int_eq(claim("w", 10000, NULL), a);
    ck_assert_int_eq(claim("w", 10000, NULL), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s' AND status = "
                             "'queued' AND run_at > now() + interval '50 s'", Q),
                     1);
}
END_TEST

START_TEST(fail_backoff_then_dead)
{
    struct bff_error e;
    struct bff_job j;
    int64_t id = enqueue("fail", 100, 3, 0, NULL);
    double wait_s;

    bff_error_clear(&e);
    ck_assert_int_eq(claim("w", 10000, &j), id);
    ck_assert_int_eq(j.attempt, 1);
    ck_assert_int_eq(bff_jobs_fail(&db, id, "w", "boom 1", 2000, 0, &e), BFF_JOB_RETRY);
    wait_s = atof(sql_str("SELECT extract(epoch FROM run_at - now()) FROM jobs WHERE id = %lld",
                          (long long)id));
    ck_assert_msg(wait_s > 1.0 && wait_s <= 2.1, "retry in %.3f s, want ~2 s", wait_s);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || attempts || ' ' || last_error || ' ' || "
                             "(locked_by IS NULL) FROM jobs WHERE id = %lld", (long long)id),
                     "queued 1 boom 1 true");
    /* not before its backoff */
    ck_assert_int_eq(claim("w", 10000, NULL), 0);
    sql_int("UPDATE jobs SET run_at = now() WHERE id = %lld RETURNING 1", (long long)id);
    ck_assert_int_eq(claim("w", 10000, &j), id);
    ck_assert_int_eq(j.attempt, 2);
    ck_assert_int_eq(bff_jobs_fail(&db, id, "w", "boom 2", 0, 0, &e), BFF_JOB_RETRY);
    ck_assert_int_eq(claim("w", 10000, &j), id);
    ck_assert_int_eq(j.attempt, 3);
    ck_assert_int_eq(bff_jobs_fail(&db, id, "w", "boom 3", 0, 0, &e), BFF_JOB_DEAD);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || attempts || ' ' || last_error || ' ' || "
                             "(finished_at IS NOT NULL) FROM jobs WHERE id = %lld", (long long)id),
                     "dead 3 boom 3 true");
    ck_assert_int_eq(claim("w", 10000, NULL), 0);
    /* a failure by someone who does not hold the claim changes nothing */
    ck_assert_int_eq(bff_jobs_fail(&db, id, "w", "late", 0, 0, &e), BFF_JOB_LOST);

    /* bffctl queue retry: fresh attempts */
    ck_assert_int_eq(bff_jobs_retry(&db, id, &e), 0);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || attempts || ' ' || (finished_at IS NULL) "
                             "FROM jobs WHERE id = %lld", (long long)id),
                     "queued 0 true");
    ck_assert_int_eq(claim("w", 10000, &j), id);
    ck_assert_int_eq(j.attempt, 1);
    /* give_up: dead at once, attempts left or not */
    ck_assert_int_eq(bff_jobs_fail(&db, id, "w", "bad payload", 0, 1, &e), BFF_JOB_DEAD);
}
END_TEST

START_TEST(backoff_grows_with_jitter)
{
    uint32_t r;
    int a;

    /* rnd % 4001 == 2000: no jitter */
    ck_assert_int_eq(bff_jobs_backoff_ms(1, 1000, 3600000, 2000), 1000);
    ck_assert_int_eq(bff_jobs_backoff_ms(2, 1000, 3600000, 2000), 2000);
    ck_assert_int_eq(bff_jobs_backoff_ms(4, 1000, 3600000, 2000), 8000);
    ck_assert_int_eq(bff_jobs_backoff_ms(40, 1000, 3600000, 2000), 3600000);
    /* the extremes of the jitter: -20 %, +20 % */
    ck_assert_int_eq(bff_jobs_backoff_ms(3, 1000, 3600000, 0), 3200);
    ck_assert_int_eq(bff_jobs_backoff_ms(3, 1000, 3600000, 4000), 4800);
    for (a = 1; a < 30; a++)
        for (r = 0; r < 100000; r += 997) {
            int64_t base = 1000LL << (a - 1 < 22 ? a - 1 : 22), d;

            if (base > 3600000)
                base = 3600000;
            d = bff_jobs_backoff_ms(a, 1000, 3600000, r * 2654435761u);
            ck_assert_msg(d >= base * 8 / 10 && d <= base * 12 / 10,
                          "attempt %d: %lld not within 20 %% of %lld", a, (long long)d,
                          (long long)base);
        }
}
END_TEST

START_TEST(expired_lease_is_reclaimed)
{
    struct bff_error e;
    struct bff_job j;
    int64_t ids[100], id = enqueue("record", 100, 3, 0, NULL), id1;
    long n, i;
    int found = 0;

    bff_error_clear(&e);
    ck_assert_int_eq(claim("w1", 300, NULL), id);
    n = bff_jobs_reclaim(&db, 100, ids, &e);
    for (i = 0; i < n; i++)
        ck_assert_int_ne(ids[i], id);   /* lease still good */
    msleep(600);
    n = bff_jobs_reclaim(&db, 100, ids, &e);
    ck_assert_int_ge(n, 1);
    for (i = 0; i < n; i++)
        found |= ids[i] == id;
    ck_assert_msg(found, "job %lld not reclaimed", (long long)id);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || (last_error LIKE 'lease expired%%') FROM "
                             "jobs WHERE id = %lld", (long long)id),
                     "queued true");
    ck_assert_int_eq(claim("w2", 10000, &j), id);
    ck_assert_int_eq(j.attempt, 2);
    /* the first worker comes back: too late, its claim is gone */
    ck_assert_int_eq(bff_jobs_complete(&db, id, "w1", NULL, &e), 0);
    ck_assert_int_eq(bff_jobs_complete(&db, id, "w2", NULL, &e), 1);

    /* out of attempts when the lease runs out: dead */
    id1 = enqueue("record", 100, 1, 0, NULL);
    ck_assert_int_eq(claim("w1", 200, NULL), id1);
    msleep(400);
    ck_assert_int_ge(bff_jobs_reclaim(&db, 100, NULL, &e), 1);
    ck_assert_str_eq(sql_str("SELECT status FROM jobs WHERE id = %lld", (long long)id1), "dead");
}
END_TEST

START_TEST(renewed_lease_is_kept)
{
    struct bff_error e;
    const char *ws[] = {"w1", NULL};
    int64_t ids[100], id = enqueue("record", 100, 3, 0, NULL);
    long n, i;

    bff_error_clear(&e);
    ck_assert_int_eq(claim("w1", 300, NULL), id);
    ck_assert_int_eq(bff_jobs_renew(&db, id, "w1", 5000, &e), 1);
    ck_assert_int_eq(bff_jobs_renew(&db, id, "w2", 5000, &e), 0);
    msleep(600);
    n = bff_jobs_reclaim(&db, 100, ids, &e);
    for (i = 0; i < n; i++)
        ck_assert_int_ne(ids[i], id);
    /* the supervisor's renewal of all of a worker's jobs */
    sql_int("UPDATE jobs SET locked_until = now() WHERE id = %lld RETURNING 1", (long long)id);
    ck_assert_int_ge(bff_jobs_renew_workers(&db, ws, 5000, &e), 1);
    ck_assert_str_eq(sql_str("SELECT locked_until > now() + interval '4 s' FROM jobs WHERE id = "
                             "%lld", (long long)id),
                     "t");
}
END_TEST

START_TEST(dead_workers_jobs_are_released)
{
    struct bff_error e;
    char w[64];
    int64_t a = enqueue("record", 100, 3, 0, NULL), b = enqueue("record", 100, 1, 0, NULL);

    snprintf(w, sizeof w, "gone:%s", Q);
    bff_error_clear(&e);
    ck_assert_int_eq(claim(w, 60000, NULL), a);
    ck_assert_int_eq(claim(w, 60000, NULL), b);
    ck_assert_int_eq(bff_jobs_release_worker(&db, w, "worker died", 0, &e), 2);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || last_error FROM jobs WHERE id = %lld",
                             (long long)a),
                     "queued worker died");
    ck_assert_str_eq(sql_str("SELECT status FROM jobs WHERE id = %lld", (long long)b), "dead");
    ck_assert_int_eq(claim("w2", 60000, NULL), a);
}
END_TEST

START_TEST(stats_lists_purge)
{
    struct bff_jobs_kind_stats *ks;
    struct bff_job_row *rows, row;
    struct bff_error e;
    int n, i, found;
    int64_t running, waiting;
    long purged;

    enqueue(K, 100, 0, 0, NULL);
    enqueue(K, 100, 0, 0, NULL);
    enqueue(K, 100, 0, 0, NULL);
    waiting = enqueue(K, 100, 0, 3600 * 1000, NULL);
    running = enqueue(K, 1, 0, 0, NULL);
    ck_assert_int_eq(claim("ws", 60000, NULL), running);
    bff_error_clear(&e);
    ck_assert_int_eq(bff_jobs_stats(&db, arena, &ks, &n, &e), 0);
    for (i = 0, found = 0; i < n; i++) {
        if (strcmp(ks[i].kind, K) != 0)
            continue;
        found = 1;
        ck_assert_int_eq(ks[i].queued, 4);
        ck_assert_int_eq(ks[i].due, 3);
        ck_assert_int_eq(ks[i].running, 1);
        ck_assert_int_eq(ks[i].done, 0);
        ck_assert_int_eq(ks[i].dead, 0);
    }
    ck_assert_msg(found, "kind %s missing from stats", K);
    ck_assert_int_ge(bff_jobs_queue_length(&db, &e), 3);

    ck_assert_int_eq(bff_jobs_list(&db, arena, BFF_JOBS_ACTIVE, 1000, &rows, &n, &e), 0);
    for (i = 0, found = 0; i < n; i++)
        if (rows[i].id == running) {
            found = 1;
            ck_assert_str_eq(rows[i].locked_by, "ws");
            ck_assert_int_gt(rows[i].lease_left_ms, 50000);
        }
    ck_assert(found);
    ck_assert_int_eq(bff_jobs_list(&db, arena, BFF_JOBS_SCHEDULED, 1000, &rows, &n, &e), 0);
    for (i = 0, found = 0; i < n; i++)
        found |= rows[i].id == waiting;
    ck_assert(found);
    ck_assert_int_eq(bff_jobs_get(&db, arena, waiting, &row, &e), 1);
    ck_assert_str_eq(row.status, "queued");
    ck_assert_int_eq(bff_jobs_get(&db, arena, -1, &row, &e), 0);

    /* purge deletes the queued ones of the kind, not the running one */
    purged = bff_jobs_purge(&db, K, &e);
    ck_assert_int_eq(purged, 4);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE kind = '%s'", K), 1);
    ck_assert_int_eq(bff_jobs_purge(&db, K, &e), 0);

    /* retry refuses what is not dead or waiting */
    ck_assert_int_eq(bff_jobs_retry(&db, running, &e), -1);
    ck_assert_str_eq(e.code, BFF_E_CONFLICT);
    ck_assert_int_eq(bff_jobs_retry(&db, 0x7fffffffffffLL, &e), -1);
    ck_assert_str_eq(e.code, BFF_E_NOT_FOUND);
}
END_TEST

START_TEST(enqueue_refuses_bad_input)
{
    struct bff_job_spec s;
    struct bff_error e;

    memset(&s, 0, sizeof s);
    s.queue = Q;
    s.kind = "Bad-Kind";
    ck_assert_int_eq(bff_jobs_enqueue(&db, &s, NULL, &e), -1);
    ck_assert_str_eq(e.code, BFF_E_BAD_REQUEST);
    s.kind = "record";
    s.payload = "[1, 2]";
    ck_assert_int_eq(bff_jobs_enqueue(&db, &s, NULL, &e), -1);
    ck_assert_str_eq(e.code, BFF_E_BAD_REQUEST);
    s.payload = "{";
    ck_assert_int_eq(bff_jobs_enqueue(&db, &s, NULL, &e), -1);
    ck_assert_str_eq(e.code, BFF_E_BAD_REQUEST);
    s.payload = NULL;
    s.queue = "no spaces";
    ck_assert_int_eq(bff_jobs_enqueue(&db, &s, NULL, &e), -1);
    ck_assert_str_eq(e.code, BFF_E_BAD_REQUEST);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s'", Q), 0);
}
END_TEST

START_TEST(prune_finished)
{
    struct bff_error e;
    int64_t old = enqueue("record", 100, 0, 0, NULL), recent;

    ck_assert_int_eq(claim("w", 10000, NULL), old);
    ck_assert_int_eq(bff_jobs_complete(&db, old, "w", NULL, &e), 1);
    recent = enqueue("record", 100, 0, 0, NULL);
    ck_assert_int_eq(claim("w", 10000, NULL), recent);
    ck_assert_int_eq(bff_jobs_complete(&db, recent, "w", NULL, &e), 1);
    sql_int("UPDATE jobs SET finished_at = now() - interval '4 days' WHERE id = %lld RETURNING 1",
            (long long)old);
    ck_assert_int_ge(bff_jobs_prune(&db, 3, 30, &e), 1);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE id = %lld", (long long)old), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE id = %lld", (long long)recent), 1);
}
END_TEST

/* LISTEN/NOTIFY: a sleeping worker wakes at the commit of an enqueue in
 * its queue, not before, and not for other queues. */
START_TEST(notify_wakes_waiter)
{
    struct bff_db other;
    struct bff_error e;
    struct bff_job_spec s;
    unsigned gen = 0;
    int64_t t0;
    int rc;

    bff_error_clear(&e);
    ck_assert_int_eq(bff_jobs_listen(&db, &gen, &e), 0);
    ck_assert_int_eq(bff_jobs_wait(&db, QS, 200, NULL, &e), 0);

    bff_db_init(&other, &cfg, t_env("BFF_TEST_DATABASE_URL"));
    memset(&s, 0, sizeof s);
    s.kind = "record";
    s.priority = 100;
    s.queue = "tj_some_other_queue";
    ck_assert_int_eq(bff_jobs_enqueue(&other, &s, NULL, &e), 1);
    ck_assert_int_eq(bff_jobs_wait(&db, QS, 300, NULL, &e), 0);
    free(t_sql("DELETE FROM jobs WHERE queue = 'tj_some_other_queue'"));

    s.queue = Q;
    ck_assert_int_eq(bff_db_begin(&other, &e), 0);
    ck_assert_int_eq(bff_jobs_enqueue(&other, &s, NULL, &e), 1);
    ck_assert_int_eq(bff_jobs_wait(&db, QS, 300, NULL, &e), 0);   /* not committed */
    ck_assert_int_eq(bff_db_commit(&other, &e), 0);
    t0 = bff_now_ms();
    rc = bff_jobs_wait(&db, QS, 5000, NULL, &e);
    ck_assert_int_eq(rc, 1);
    ck_assert_int_lt(bff_now_ms() - t0, 1000);
    bff_db_close(&other);
}
END_TEST

/* Processes claiming from one queue at once never get the same job. */
START_TEST(concurrent_claimers_take_each_job_once)
{
    enum { JOBS = 200, PROCS = 4 };
    pid_t pids[PROCS];
    int i, st;

    for (i = 0; i < JOBS; i++)
        enqueue(K, 100, 0, 0, NULL);
    for (i = 0; i < PROCS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            struct bff_db mine;
            struct bff_arena *a = bff_arena_new();
            struct bff_error e;
            struct bff_job j;
            char w[32], sql[256];
            PGconn *c;

            bff_db_init(&mine, &cfg, t_env("BFF_TEST_DATABASE_URL"));
            c = PQconnectdb(t_env("BFF_TEST_DATABASE_URL"));
            snprintf(w, sizeof w, "claimer-%d", i);
            bff_error_clear(&e);
            while (bff_jobs_claim(&mine, a, w, QS, NULL, 1, 30000, &j, &e) == 1) {
                PGresult *r;

                snprintf(sql, sizeof sql,
                         "INSERT INTO job_test_effects (job_id, kind, attempt, worker) "
                         "VALUES (%lld, '%s', 1, '%s')",
                         (long long)j.id, K, w);
                r = PQexec(c, sql);
                PQclear(r);
                if (bff_jobs_complete(&mine, j.id, w, NULL, &e) != 1)
                    _exit(3);
                bff_arena_reset(a);
            }
            _exit(e.code[0] ? 2 : 0);
        }
    }
    for (i = 0; i < PROCS; i++) {
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "claimer %d: status %d", i, st);
    }
    ck_assert_int_eq(sql_int("SELECT count(*) FROM job_test_effects WHERE kind = '%s'", K), JOBS);
    ck_assert_int_eq(sql_int("SELECT count(DISTINCT job_id) FROM job_test_effects WHERE kind = "
                             "'%s'", K),
                     JOBS);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE kind = '%s' AND status = 'done'", K),
                     JOBS);
    /* each claimer got a share: they really ran side by side */
    ck_assert_int_ge(sql_int("SELECT count(DISTINCT worker) FROM job_test_effects WHERE kind = "
                             "'%s'", K),
                     2);
}
END_TEST

/* ------------------------------------------------------------- schedule */

static time_t at(const char *iso)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    ck_assert_ptr_nonnull(strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm));
    return timegm(&tm);
}

static void slot_is(const struct bff_schedule *s, const char *now, const char *label,
                    const char *start, const char *next)
{
    char got[32];
    time_t t = bff_sched_slot(s, at(now), got, sizeof got);

    ck_assert_str_eq(got, label);
    ck_assert_int_eq(t, at(start));
    ck_assert_int_eq(bff_sched_next(s, at(now)), at(next));
}

START_TEST(schedule_slots)
{
    static const struct bff_schedule every = {"x", BFF_EVERY(60)};
    static const struct bff_schedule half = {"x", BFF_EVERY(30)};
    static const struct bff_schedule hourly = {"x", BFF_EVERY(3600)};
    static const struct bff_schedule daily = {"x", BFF_DAILY(3, 0)};
    static const struct bff_schedule monthly = {"x", BFF_MONTHLY(1, 2, 0)};

    slot_is(&every, "2026-11-28T05:41:37", "2026-11-28T05:41:00Z", "2026-11-28T05:41:00",
            "2026-11-28T05:42:00");
    slot_is(&every, "2026-11-28T05:41:00", "2026-11-28T05:41:00Z", "2026-11-28T05:41:00",
            "2026-11-28T05:42:00");
    slot_is(&half, "2026-11-28T05:41:59", "2026-11-28T05:41:30Z", "2026-11-28T05:41:30",
            "2026-11-28T05:42:00");
    slot_is(&hourly, "2026-12-31T23:59:59", "2026-12-31T23:00:00Z", "2026-12-31T23:00:00",
            "2027-01-01T00:00:00");
    /* before today's 03:00 the slot is yesterday's */
    slot_is(&daily, "2026-11-28T02:59:59", "2026-11-27", "2026-11-27T03:00:00",
            "2026-11-28T03:00:00");
    slot_is(&daily, "2026-11-28T03:00:00", "2026-11-28", "2026-11-28T03:00:00",
            "2026-11-29T03:00:00");
    slot_is(&daily, "2026-03-01T01:00:00", "2026-02-28", "2026-02-28T03:00:00",
            "2026-03-01T03:00:00");
    slot_is(&monthly, "2026-01-01T01:59:00", "2025-12", "2025-12-01T02:00:00",
            "2026-01-01T02:00:00");
    slot_is(&monthly, "2026-01-01T02:00:00", "2026-01", "2026-01-01T02:00:00",
            "2026-02-01T02:00:00");
    slot_is(&monthly, "2026-12-15T12:00:00", "2026-12", "2026-12-01T02:00:00",
            "2027-01-01T02:00:00");
}
END_TEST

START_TEST(schedule_names_real_kinds)
{
    const struct bff_schedule *s;
    char label[32];
    int n = 0;

    for (s = bff_schedule; s->kind != NULL; s++, n++) {
        ck_assert_msg(bff_job_kind_find(NULL, s->kind) != NULL, "%s is not a job kind", s->kind);
        /* unique keys fit the column (1..200 chars) */
        bff_sched_slot(s, time(NULL), label, sizeof label);
        ck_assert_int_lt(strlen(s->kind) + 1 + strlen(label), 200);
    }
    /* SPEC §6: every periodic job is there */
    ck_assert_int_ge(n, 7);
    ck_assert_ptr_null(bff_job_kind_find(NULL, "record"));  /* test kinds are not production's */
}
END_TEST

START_TEST(report_months)
{
    char m[8];

    ck_assert(bff_report_month_valid("2026-01"));
    ck_assert(bff_report_month_valid("2026-12"));
    ck_assert(!bff_report_month_valid("2026-13"));
    ck_assert(!bff_report_month_valid("2026-00"));
    ck_assert(!bff_report_month_valid("2026-1"));
    ck_assert(!bff_report_month_valid("1999-01"));
    ck_assert(!bff_report_month_valid("2026-01-01"));
    bff_report_month_before("2026-01", m);
    ck_assert_str_eq(m, "2025-12");
    bff_report_month_before("2026-11", m);
    ck_assert_str_eq(m, "2026-10");
    bff_report_previous_month(at("2026-03-01T00:00:00"), m);
    ck_assert_str_eq(m, "2026-02");
}
END_TEST

static Suite *make_jobs_suite(void)
{
    Suite *s = suite_create("jobs");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");

    tcase_set_timeout(core, 60);
    tcase_set_timeout(limits, 120);
    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_add_test(core, enqueue_claim_complete);
    tcase_add_test(core, unique_key_is_noop);
    tcase_add_test(core, enqueue_in_callers_transaction);
    tcase_add_test(core, claim_order);
    tcase_add_test(core, fail_backoff_then_dead);
    tcase_add_test(core, backoff_grows_with_jitter);
    tcase_add_test(core, expired_lease_is_reclaimed);
    tcase_add_test(core, renewed_lease_is_kept);
    tcase_add_test(core, dead_workers_jobs_are_released);
    tcase_add_test(core, stats_lists_purge);
    tcase_add_test(core, prune_finished);
    tcase_add_test(core, notify_wakes_waiter);
    tcase_add_test(core, schedule_slots);
    tcase_add_test(core, schedule_names_real_kinds);
    tcase_add_test(core, report_months);
    tcase_add_test(limits, enqueue_refuses_bad_input);
    tcase_add_test(limits, concurrent_claimers_take_each_job_once);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_jobs_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
