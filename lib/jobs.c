/*
 * jobs.c — the PostgreSQL task queue (see jobs.h and schema/0007_jobs.sql).
 */
#define _GNU_SOURCE /* ppoll */

#include "jobs.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "util.h"

/* ------------------------------------------------------------ statements */

static struct bff_stmt st_enqueue = {
    "jobs_enqueue",
    "INSERT INTO jobs (kind, queue, payload, priority, max_attempts, run_at, unique_key) "
    "VALUES ($1, coalesce($2, 'default'), coalesce($3::jsonb, '{}'), $4::int, "
    "        coalesce($5::int, 5), now() + $6::bigint * interval '1 millisecond', $7) "
    "ON CONFLICT (unique_key) DO NOTHING RETURNING id",
    7, 0};

static struct bff_stmt st_claim = {
    "jobs_claim",
    "WITH c AS (SELECT id FROM jobs"
    "            WHERE status = 'queued' AND run_at <= now()"
    "              AND ($1::text[] IS NULL OR queue = ANY ($1::text[]))"
    "              AND ($2::text[] IS NULL OR kind = ANY ($2::text[]))"
    "            ORDER BY priority, run_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED) "
    "UPDATE jobs j SET status = 'running', attempts = j.attempts + 1, locked_by = $4,"
    "       locked_until = now() + $5::int * interval '1 millisecond', started_at = now()"
    "  FROM c WHERE j.id = c.id "
    "RETURNING j.id, j.kind, j.queue, j.payload::text, j.attempts, j.max_attempts, j.priority",
    5, 0};

static struct bff_stmt st_lock = {
    "jobs_lock",
    "SELECT 1 FROM jobs WHERE id = $1 AND locked_by = $2 AND status = 'running' FOR UPDATE",
    2, 0};

static struct bff_stmt st_renew = {
    "jobs_renew",
    "UPDATE jobs SET locked_until = now() + $3::int * interval '1 millisecond'"
    " WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    3, 0};

static struct bff_stmt st_renew_workers = {
    "jobs_renew_workers",
    "UPDATE jobs SET locked_until = now() + $2::int * interval '1 millisecond'"
    " WHERE id IN (SELECT id FROM jobs WHERE status = 'running' AND locked_by = ANY ($1::text[])"
    "               FOR UPDATE SKIP LOCKED)",
    2, 0};

static struct bff_stmt st_complete = {
    "jobs_complete",
    "UPDATE jobs SET status = 'done', finished_at = now(), result = $3::jsonb,"
    "       locked_by = NULL, locked_until = NULL"
    " WHERE id = $1 AND locked_by = $2 AND status = 'running'",
    3, 0};

/* Shared by fail, release and reclaim: back to the queue, or dead. */
#define REQUEUE_OR_DEAD(dead_if, delay)                                                   \
    "status = CASE WHEN " dead_if " THEN 'dead' ELSE 'queued' END,"                       \
    " run_at = CASE WHEN " dead_if " THEN run_at ELSE now() + " delay                     \
    " * interval '1 millisecond' END,"                                                    \
    " finished_at = CASE WHEN " dead_if " THEN now() END,"                                \
    " locked_by = NULL, locked_until = NULL"

static struct bff_stmt st_fail = {
    "jobs_fail",
    "UPDATE jobs SET last_error = $3, " REQUEUE_OR_DEAD("(attempts >= max_attempts OR $5::bool)",
                                                         "$4::bigint")
    " WHERE id = $1 AND locked_by = $2 AND status = 'running' RETURNING status",
    5, 0};

static struct bff_stmt st_release = {
    "jobs_release",
    "UPDATE jobs SET last_error = $2, " REQUEUE_OR_DEAD("attempts >= max_attempts", "$3::bigint")
    " WHERE id IN (SELECT id FROM jobs WHERE locked_by = $1 AND status = 'running'"
    "               FOR UPDATE SKIP LOCKED)",
    3, 0};

static struct bff_stmt st_reclaim = {
    "jobs_reclaim",
    "UPDATE jobs j SET last_error = 'lease expired: worker ' || j.locked_by || ' stopped', "
    REQUEUE_OR_DEAD("j.attempts >= j.max_attempts", "0")
    "  FROM (SELECT id FROM jobs WHERE status = 'running' AND locked_until < now()"
    "         ORDER BY locked_until LIMIT $1::int FOR UPDATE SKIP LOCKED) c"
    " WHERE j.id = c.id RETURNING j.id",
    1, 0};

static struct bff_stmt st_next_due = {
    "jobs_next_due",
    "SELECT greatest(0, ceil(extract(epoch FROM least("
    "  (SELECT min(run_at) FROM jobs WHERE status = 'queued'"
    "      AND ($1::text[] IS NULL OR queue = ANY ($1::text[]))"
    "      AND ($2::text[] IS NULL OR kind = ANY ($2::text[]))),"
    "  (SELECT min(locked_until) FROM jobs WHERE status = 'running')) - clock_timestamp())"
    "  * 1000))::bigint",
    2, 0};

static struct bff_stmt st_stats = {
    "jobs_stats",
    "SELECT kind,"
    "       count(*) FILTER (WHERE status = 'queued'),"
    "       count(*) FILTER (WHERE status = 'queued' AND run_at <= now()),"
    "       count(*) FILTER (WHERE status = 'queued' AND attempts > 0),"
    "       count(*) FILTER (WHERE status = 'running'),"
    "       count(*) FILTER (WHERE status = 'done'),"
    "       count(*) FILTER (WHERE status = 'dead'),"
    "       coalesce(extract(epoch FROM now() - min(run_at)"
    "                FILTER (WHERE status = 'queued' AND run_at <= now())), 0)"
    "  FROM jobs GROUP BY kind ORDER BY kind",
    0, 0};

static struct bff_stmt st_queue_length = {
    "jobs_queue_length",
    "SELECT count(*) FROM jobs WHERE status = 'queued' AND run_at <= now()", 0, 0};

#define ROW_COLUMNS                                                                       \
    "id, kind, queue, status, payload::text, last_error, result::text, attempts,"        \
    " max_attempts, priority, bff_ts(run_at), bff_ts(created_at), bff_ts(started_at),"   \
    " bff_ts(finished_at), locked_by, bff_ts(locked_until),"                             \
    " (extract(epoch FROM locked_until - now()) * 1000)::bigint"

static struct bff_stmt st_list[] = {
    [BFF_JOBS_ACTIVE] = {"jobs_list_active",
                         "SELECT " ROW_COLUMNS " FROM jobs WHERE status = 'running'"
                         " ORDER BY started_at, id LIMIT $1::int",
                         1, 0},
    [BFF_JOBS_PENDING] = {"jobs_list_pending",
                          "SELECT " ROW_COLUMNS " FROM jobs WHERE status = 'queued'"
                          " AND run_at <= now() ORDER BY priority, run_at, id LIMIT $1::int",
                          1, 0},
    [BFF_JOBS_SCHEDULED] = {"jobs_list_scheduled",
                            "SELECT " ROW_COLUMNS " FROM jobs WHERE status = 'queued'"
                            " AND run_at > now() ORDER BY run_at, id LIMIT $1::int",
                            1, 0},
    [BFF_JOBS_DEAD] = {"jobs_list_dead",
                       "SELECT " ROW_COLUMNS " FROM jobs WHERE status = 'dead'"
                       " ORDER BY finished_at DESC, id DESC LIMIT $1::int",
                       1, 0},
};

static struct bff_stmt st_get = {"jobs_get", "SELECT " ROW_COLUMNS " FROM jobs WHERE id = $1",
                                 1, 0};

static struct bff_stmt st_retry = {
    "jobs_retry",
    "WITH old AS (SELECT id, status, run_at > now() AS waiting FROM jobs WHERE id = $1"
    "              FOR UPDATE),"
    "     upd AS (UPDATE jobs j SET status = 'queued', run_at = now(), finished_at = NULL,"
    "                   attempts = CASE WHEN old.status = 'dead' THEN 0 ELSE j.attempts END"
    "              FROM old WHERE j.id = old.id"
    "               AND (old.status = 'dead' OR (old.status = 'queued' AND old.waiting))"
    "              RETURNING j.id) "
    "SELECT old.status, old.waiting, (SELECT count(*) FROM upd) FROM old",
    1, 0};

static struct bff_stmt st_purge = {
    "jobs_purge", "DELETE FROM jobs WHERE status = 'queued' AND ($1::text IS NULL OR kind = $1)",
    1, 0};

static struct bff_stmt st_prune = {
    "jobs_prune",
    "DELETE FROM jobs WHERE (status = 'done' AND finished_at < now() - $1::int * interval '1 day')"
    "    OR (status = 'dead' AND finished_at < now() - $2::int * interval '1 day')",
    2, 0};

/* --------------------------------------------------------------- helpers */

/* A NULL-terminated list as a PostgreSQL array literal ("{"a","b"}"), each
 * element quoted and escaped: a parameter value, never SQL. NULL for NULL. */
static const char *text_array(struct bff_buf *b, const char *const *list)
{
    if (list == NULL)
        return NULL;
    bff_buf_reset(b);
    bff_buf_putc(b, '{');
    for (; *list; list++) {
        const char *p;

        if (b->len > 1)
            bff_buf_putc(b, ',');
        bff_buf_putc(b, '"');
        for (p = *list; *p; p++) {
            if (*p == '"' || *p == '\\')
                bff_buf_putc(b, '\\');
            bff_buf_putc(b, *p);
        }
        bff_buf_putc(b, '"');
    }
    bff_buf_putc(b, '}');
    return bff_buf_cstr(b);
}

static const char *fmt_i64(char *buf, size_t n, int64_t v)
{
    snprintf(buf, n, "%lld", (long long)v);
    return buf;
}

/* Rows changed by a command, from its tag ("UPDATE 3"). */
static long affected(PGresult *r)
{
    const char *t = PQcmdTuples(r);
    int64_t n;

    return t && *t && bff_parse_int64(t, 0, INT64_MAX, &n) == 0 ? (long)n : 0;
}

/* Run st, expecting a command; the affected row count, or -1. */
static long exec_count(struct bff_db *db, struct bff_stmt *st, const char *const *params,
                       struct bff_error *e)
{
    PGresult *r = bff_db_exec(db, st, params, e);
    long n;

    if (r == NULL)
        return -1;
    n = affected(r);
    PQclear(r);
    return n;
}

static int valid_kind(const char *k)
{
    size_t i;

    if (k == NULL || !(k[0] >= 'a' && k[0] <= 'z'))
        return 0;
    for (i = 1; k[i]; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '_'))
            return 0;
    return i <= 64;
}

/* ------------------------------------------------------------------- API */

int bff_jobs_enqueue(struct bff_db *db, const struct bff_job_spec *s, int64_t *id,
                     struct bff_error *e)
{
    char prio[16], att[16], delay[24];
    const char *p[7];
    PGresult *r;
    int rc;

    if (id != NULL)
        *id = 0;
    if (!valid_kind(s->kind))
        return bff_error_set(e, BFF_E_BAD_REQUEST, "kind", "invalid job kind '%s'",
                             s->kind ? s->kind : "(null)");
    if (s->queue != NULL && !bff_is_code(s->queue, 64))
        return bff_error_set(e, BFF_E_BAD_REQUEST, "queue", "invalid queue name '%s'", s->queue);
    if (s->priority < 0 || s->priority > 1000)
        return bff_error_set(e, BFF_E_BAD_REQUEST, "priority", "priority must be 0..1000");
    if (s->max_attempts < 0 || s->max_attempts > 100)
        return bff_error_set(e, BFF_E_BAD_REQUEST, "max_attempts", "max_attempts must be 1..100");
    if (s->unique_key != NULL && (s->unique_key[0] == '\0' || strlen(s->unique_key) > 200))
        return bff_error_set(e, BFF_E_BAD_REQUEST, "unique_key", "unique_key must be 1..200 chars");
    snprintf(prio, sizeof prio, "%d", s->priority);
    snprintf(att, sizeof att, "%d", s->max_attempts);
    p[0] = s->kind;
    p[1] = s->queue;
    p[2] = s->payload;
    p[3] = prio;
    p[4] = s->max_attempts > 0 ? att : NULL;
    p[5] = fmt_i64(delay, sizeof delay, s->delay_ms > 0 ? s->delay_ms : 0);
    p[6] = s->unique_key;
    if ((r = bff_db_exec(db, &st_enqueue, p, e)) == NULL) {
        /* a payload that is not a JSON object: 22P02 (syntax) or 23514 (check) */
        if (e != NULL && (strcmp(e->sqlstate, "22P02") == 0 || strcmp(e->sqlstate, "23514") == 0))
            snprintf(e->code, sizeof e->code, "%s", BFF_E_BAD_REQUEST);
        return -1;
    }
    rc = PQntuples(r) == 1;
    if (rc && id != NULL)
        *id = bff_db_int(r, 0, 0);
    PQclear(r);
    return rc;
}

void bff_jobs_worker_id(long pid, char *out, size_t n)
{
    char host[64];

    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    snprintf(out, n, "%s:%ld", host, pid != 0 ? pid : (long)getpid());
}

int bff_jobs_claim(struct bff_db *db, struct bff_arena *a, const char *worker,
                   const char *const *queues, const char *const *kinds, int n, int lease_ms,
                   struct bff_job *out, struct bff_error *e)
{
    struct bff_buf qb = BFF_BUF_INIT, kb = BFF_BUF_INIT;
    char lim[16], lease[16];
    const char *p[5];
    PGresult *r;
    int i, got = -1;

    if (n <= 0)
        return 0;
    snprintf(lim, sizeof lim, "%d", n);
    snprintf(lease, sizeof lease, "%d", lease_ms > 0 ? lease_ms : 1);
    p[0] = text_array(&qb, queues);
    p[1] = text_array(&kb, kinds);
    p[2] = lim;
    p[3] = worker;
    p[4] = lease;
    if ((r = bff_db_exec(db, &st_claim, p, e)) == NULL)
        goto out;
    got = PQntuples(r);
    for (i = 0; i < got; i++) {
        out[i].id = bff_db_int(r, i, 0);
        out[i].kind = bff_db_str(a, r, i, 1);
        out[i].queue = bff_db_str(a, r, i, 2);
        out[i].payload = bff_db_str(a, r, i, 3);
        out[i].attempt = (int)bff_db_int(r, i, 4);
        out[i].max_attempts = (int)bff_db_int(r, i, 5);
        out[i].priority = (int)bff_db_int(r, i, 6);
    }
    PQclear(r);
out:
    bff_buf_free(&qb);
    bff_buf_free(&kb);
    return got;
}

int bff_jobs_lock(struct bff_db *db, int64_t id, const char *worker, struct bff_error *e)
{
    char ids[24];
    const char *p[2] = {fmt_i64(ids, sizeof ids, id), worker};
    PGresult *r = bff_db_exec(db, &st_lock, p, e);
    int rc;

    if (r == NULL)
        return -1;
    rc = PQntuples(r) == 1;
    PQclear(r);
    return rc;
}

int bff_jobs_renew(struct bff_db *db, int64_t id, const char *worker, int lease_ms,
                   struct bff_error *e)
{
    char ids[24], lease[16];
    const char *p[3] = {fmt_i64(ids, sizeof ids, id), worker, lease};

    snprintf(lease, sizeof lease, "%d", lease_ms > 0 ? lease_ms : 1);
    return (int)exec_count(db, &st_renew, p, e);
}

long bff_jobs_renew_workers(struct bff_db *db, const char *const *workers, int lease_ms,
                            struct bff_error *e)
{
    struct bff_buf b = BFF_BUF_INIT;
    char lease[16];
    const char *p[2];
    long n;

    if (workers == NULL || workers[0] == NULL)
        return 0;
    snprintf(lease, sizeof lease, "%d", lease_ms > 0 ? lease_ms : 1);
    p[0] = text_array(&b, workers);
    p[1] = lease;
    n = exec_count(db, &st_renew_workers, p, e);
    bff_buf_free(&b);
    return n;
}

int bff_jobs_complete(struct bff_db *db, int64_t id, const char *worker, const char *result,
                      struct bff_error *e)
{
    char ids[24];
    const char *p[3] = {fmt_i64(ids, sizeof ids, id), worker, result};

    return (int)exec_count(db, &st_complete, p, e);
}

int bff_jobs_fail(struct bff_db *db, int64_t id, const char *worker, const char *error,
                  int64_t delay_ms, int give_up, struct bff_error *e)
{
    char ids[24], delay[24];
    const char *p[5] = {fmt_i64(ids, sizeof ids, id), worker, error ? error : "failed",
                        fmt_i64(delay, sizeof delay, delay_ms > 0 ? delay_ms : 0),
                        give_up ? "t" : "f"};
    PGresult *r = bff_db_exec(db, &st_fail, p, e);
    int rc;

    if (r == NULL)
        return -1;
    if (PQntuples(r) == 0)
        rc = BFF_JOB_LOST;
    else
        rc = strcmp(PQgetvalue(r, 0, 0), "dead") == 0 ? BFF_JOB_DEAD : BFF_JOB_RETRY;
    PQclear(r);
    return rc;
}

int64_t bff_jobs_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint32_t rnd)
{
    int64_t d = base_ms > 0 ? base_ms : 1;
    int i;

    for (i = 1; i < attempt && d < cap_ms; i++)
        d *= 2;
    if (cap_ms > 0 && d > cap_ms)
        d = cap_ms;
    /* jitter: d * (1 + j), j uniform in [-0.2, +0.2] in steps of 0.0001 */
    d += d * ((int64_t)(rnd % 4001) - 2000) / 10000;
    return d > 0 ? d : 0;
}

long bff_jobs_release_worker(struct bff_db *db, const char *worker, const char *why,
                             int64_t delay_ms, struct bff_error *e)
{
    char delay[24];
    const char *p[3] = {worker, why, fmt_i64(delay, sizeof delay, delay_ms > 0 ? delay_ms : 0)};

    return exec_count(db, &st_release, p, e);
}

long bff_jobs_reclaim(struct bff_db *db, int limit, int64_t *ids, struct bff_error *e)
{
    char lim[16];
    const char *p[1] = {lim};
    PGresult *r;
    long n, i;

    snprintf(lim, sizeof lim, "%d", limit > 0 ? limit : 1);
    if ((r = bff_db_exec(db, &st_reclaim, p, e)) == NULL)
        return -1;
    n = PQntuples(r);
    for (i = 0; ids != NULL && i < n && i < limit; i++)
        ids[i] = bff_db_int(r, (int)i, 0);
    PQclear(r);
    return n;
}

int64_t bff_jobs_next_due_ms(struct bff_db *db, const char *const *queues,
                             const char *const *kinds, struct bff_error *e)
{
    struct bff_buf qb = BFF_BUF_INIT, kb = BFF_BUF_INIT;
    const char *p[2];
    PGresult *r;
    int64_t ms = -2;

    p[0] = text_array(&qb, queues);
    p[1] = text_array(&kb, kinds);
    if ((r = bff_db_exec(db, &st_next_due, p, e)) != NULL) {
        ms = PQgetisnull(r, 0, 0) ? -1 : bff_db_int(r, 0, 0);
        PQclear(r);
    }
    bff_buf_free(&qb);
    bff_buf_free(&kb);
    return ms;
}

int bff_jobs_listen(struct bff_db *db, unsigned *gen, struct bff_error *e)
{
    if (bff_db_ensure(db, e) < 0)
        return -1;
    if (*gen == db->gen)
        return 0;
    if (bff_db_exec_sql(db, "LISTEN " BFF_JOBS_CHANNEL, e) < 0)
        return -1;
    *gen = db->gen;
    return 0;
}

/* Drain buffered notifications: 1 when one was for a queue of ours. */
static int drain(PGconn *c, const char *const *queues)
{
    PGnotify *n;
    int hit = 0;

    while ((n = PQnotifies(c)) != NULL) {
        const char *const *q;

        if (strcmp(n->relname, BFF_JOBS_CHANNEL) == 0) {
            if (queues == NULL)
                hit = 1;
            for (q = queues; q && *q; q++)
                if (strcmp(*q, n->extra) == 0)
                    hit = 1;
        }
        PQfreemem(n);
    }
    return hit;
}

int bff_jobs_wait(struct bff_db *db, const char *const *queues, int timeout_ms,
                  const sigset_t *mask, struct bff_error *e)
{
    int64_t deadline = timeout_ms < 0 ? -1 : bff_now_ms() + timeout_ms;

    if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
        return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "no database connection to wait on");
    for (;;) {
        struct pollfd pfd;
        struct timespec ts, *tsp = NULL;
        int n;

        /* notifications that arrived with earlier results */
        if (drain(db->conn, queues))
            return 1;
        if (deadline >= 0) {
            int64_t left = deadline - bff_now_ms();

            if (left <= 0)
                return 0;
            ts.tv_sec = (time_t)(left / 1000);
            ts.tv_nsec = (long)(left % 1000) * 1000000L;
            tsp = &ts;
        }
        pfd.fd = PQsocket(db->conn);
        pfd.events = POLLIN;
        pfd.revents = 0;
        n = ppoll(&pfd, 1, tsp, mask);
        if (n < 0 && errno == EINTR)
            return 2;
        if (n < 0)
            return bff_error_set(e, BFF_E_INTERNAL, NULL, "ppoll: %s", strerror(errno));
        if (n == 0)
            continue; /* the deadline check above returns 0 */
        if (!PQconsumeInput(db->conn) || PQstatus(db->conn) != CONNECTION_OK) {
            bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "database connection lost while waiting");
            bff_db_close(db);
            return -1;
        }
    }
}

int bff_jobs_stats(struct bff_db *db, struct bff_arena *a, struct bff_jobs_kind_stats **out,
                   int *n, struct bff_error *e)
{
    PGresult *r = bff_db_exec(db, &st_stats, NULL, e);
    int i;

    *out = NULL;
    *n = 0;
    if (r == NULL)
        return -1;
    *n = PQntuples(r);
    *out = bff_arena_calloc(a, sizeof **out * (size_t)(*n + 1));
    for (i = 0; i < *n; i++) {
        struct bff_jobs_kind_stats *s = &(*out)[i];

        s->kind = bff_db_str(a, r, i, 0);
        s->queued = bff_db_int(r, i, 1);
        s->due = bff_db_int(r, i, 2);
        s->retrying = bff_db_int(r, i, 3);
        s->running = bff_db_int(r, i, 4);
        s->done = bff_db_int(r, i, 5);
        s->dead = bff_db_int(r, i, 6);
        s->oldest_due_s = strtod(PQgetvalue(r, i, 7), NULL);
    }
    PQclear(r);
    return 0;
}

int64_t bff_jobs_queue_length(struct bff_db *db, struct bff_error *e)
{
    PGresult *r = bff_db_exec(db, &st_queue_length, NULL, e);
    int64_t n;

    if (r == NULL)
        return -1;
    n = bff_db_int(r, 0, 0);
    PQclear(r);
    return n;
}

static void fill_row(struct bff_arena *a, const PGresult *r, int i, struct bff_job_row *o)
{
    o->id = bff_db_int(r, i, 0);
    o->kind = bff_db_str(a, r, i, 1);
    o->queue = bff_db_str(a, r, i, 2);
    o->status = bff_db_str(a, r, i, 3);
    o->payload = bff_db_str(a, r, i, 4);
    o->last_error = bff_db_str(a, r, i, 5);
    o->result = bff_db_str(a, r, i, 6);
    o->attempts = (int)bff_db_int(r, i, 7);
    o->max_attempts = (int)bff_db_int(r, i, 8);
    o->priority = (int)bff_db_int(r, i, 9);
    o->run_at = bff_db_str(a, r, i, 10);
    o->created_at = bff_db_str(a, r, i, 11);
    o->started_at = bff_db_str(a, r, i, 12);
    o->finished_at = bff_db_str(a, r, i, 13);
    o->locked_by = bff_db_str(a, r, i, 14);
    o->locked_until = bff_db_str(a, r, i, 15);
    o->lease_left_ms = bff_db_int(r, i, 16);
}

int bff_jobs_list(struct bff_db *db, struct bff_arena *a, enum bff_jobs_list which, int limit,
                  struct bff_job_row **out, int *n, struct bff_error *e)
{
    char lim[16];
    const char *p[1] = {lim};
    PGresult *r;
    int i;

    *out = NULL;
    *n = 0;
    if ((int)which < 0 || which > BFF_JOBS_DEAD)
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "unknown job list %d", (int)which);
    snprintf(lim, sizeof lim, "%d", limit > 0 ? limit : 1);
    if ((r = bff_db_exec(db, &st_list[which], p, e)) == NULL)
        return -1;
    *n = PQntuples(r);
    *out = bff_arena_calloc(a, sizeof **out * (size_t)(*n + 1));
    for (i = 0; i < *n; i++)
        fill_row(a, r, i, &(*out)[i]);
    PQclear(r);
    return 0;
}

int bff_jobs_get(struct bff_db *db, struct bff_arena *a, int64_t id, struct bff_job_row *out,
                 struct bff_error *e)
{
    char ids[24];
    const char *p[1] = {fmt_i64(ids, sizeof ids, id)};
    PGresult *r = bff_db_exec(db, &st_get, p, e);
    int found;

    if (r == NULL)
        return -1;
    found = PQntuples(r) == 1;
    if (found)
        fill_row(a, r, 0, out);
    PQclear(r);
    return found;
}

int bff_jobs_retry(struct bff_db *db, int64_t id, struct bff_error *e)
{
    char ids[24];
    const char *p[1] = {fmt_i64(ids, sizeof ids, id)};
    PGresult *r = bff_db_exec(db, &st_retry, p, e);
    int rc = 0;

    if (r == NULL)
        return -1;
    if (PQntuples(r) == 0)
        rc = bff_error_set(e, BFF_E_NOT_FOUND, NULL, "job %lld does not exist", (long long)id);
    else if (bff_db_int(r, 0, 2) == 0)
        rc = bff_error_set(e, BFF_E_CONFLICT, NULL,
                           "job %lld is %s%s: only dead jobs and jobs waiting for a retry can "
                           "be retried",
                           (long long)id, PQgetvalue(r, 0, 0),
                           strcmp(PQgetvalue(r, 0, 0), "queued") == 0 ? " and due already" : "");
    PQclear(r);
    return rc;
}

long bff_jobs_purge(struct bff_db *db, const char *kind, struct bff_error *e)
{
    const char *p[1] = {kind};

    return exec_count(db, &st_purge, p, e);
}

long bff_jobs_prune(struct bff_db *db, int done_days, int dead_days, struct bff_error *e)
{
    char d1[16], d2[16];
    const char *p[2] = {d1, d2};

    snprintf(d1, sizeof d1, "%d", done_days);
    snprintf(d2, sizeof d2, "%d", dead_days);
    return exec_count(db, &st_prune, p, e);
}
