/*
 * cmd_queue.c — `bffctl queue ...`: the job queue as Celery's `inspect`,
 * `purge` and `call` showed it (runbook "Cola de Celery Saturada",
 * "Workers No Procesan Tareas", "Beat No Programa Tareas").
 *
 *   stats      counts by status and kind, oldest due job, connected workers
 *   active     running jobs: worker, start, lease        (inspect active)
 *   pending    due jobs waiting for a worker             (inspect reserved)
 *   scheduled  jobs waiting for a later run_at, and the beat schedule with
 *              each entry's next slot and last job      (inspect scheduled)
 *   dead       jobs that used up their attempts
 *   retry ID   run a dead job again (or a waiting retry now)
 *   purge      delete queued jobs [of one kind]        (celery purge)
 *   enqueue    enqueue a job of a production kind now  (celery call)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "jobs.h"
#include "schedule.h"
#include "util.h"
#include "worker.h"

#define LIST_LIMIT 100

/* bff processes connected to this database, by program (application_name). */
static struct bff_stmt st_connected = {
    "ctl_queue_connected",
    "SELECT application_name, count(*) FROM pg_stat_activity"
    " WHERE datname = current_database() AND application_name IN ('bff-worker', 'bff-beat')"
    " GROUP BY 1 ORDER BY 1",
    0, 0};
/* The newest job of each kind (what beat last enqueued and how it went). */
static struct bff_stmt st_last = {
    "ctl_queue_last",
    "SELECT DISTINCT ON (kind) kind, id, status, bff_ts(coalesce(finished_at, started_at,"
    " created_at)) FROM jobs ORDER BY kind, id DESC",
    0, 0};

static const char *or_dash(const char *s)
{
    return s != NULL && *s ? s : "-";
}

/* "12 s", "3 min", "2 h", "5 d" */
static const char *ago(char *buf, size_t n, double s)
{
    if (s < 120)
        snprintf(buf, n, "%.0f s", s);
    else if (s < 7200)
        snprintf(buf, n, "%.0f min", s / 60);
    else if (s < 172800)
        snprintf(buf, n, "%.0f h", s / 3600);
    else
        snprintf(buf, n, "%.0f d", s / 86400);
    return buf;
}

/* One line of text, at most n bytes, for a table cell. */
static const char *cell(char *buf, size_t n, const char *s)
{
    size_t i;

    snprintf(buf, n, "%s", or_dash(s));
    for (i = 0; buf[i]; i++)
        if (buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t')
            buf[i] = ' ';
    return buf;
}

static int q_stats(const char *cmd, struct bff_db *db, struct bff_arena *a, int argc, char **argv)
{
    struct bff_jobs_kind_stats *ks, t;
    struct bff_error e;
    char age[32];
    PGresult *r;
    int n, i;

    if (argc > 0)
        return bffctl_usage_error(cmd, "unexpected argument '%s'", argv[0]);
    bff_error_clear(&e);
    if (bff_jobs_stats(db, a, &ks, &n, &e) < 0)
        return bffctl_fail(cmd, "%s", e.msg);
    memset(&t, 0, sizeof t);
    for (i = 0; i < n; i++) {
        t.queued += ks[i].queued;
        t.due += ks[i].due;
        t.retrying += ks[i].retrying;
        t.running += ks[i].running;
        t.done += ks[i].done;
        t.dead += ks[i].dead;
        if (ks[i].oldest_due_s > t.oldest_due_s)
            t.oldest_due_s = ks[i].oldest_due_s;
    }
    printf("queued   %" PRId64 " (%" PRId64 " due now, %" PRId64 " waiting to retry", t.queued,
           t.due, t.retrying);
    if (t.due > 0)
        printf("; oldest due for %s", ago(age, sizeof age, t.oldest_due_s));
    printf(")\nrunning  %" PRId64 "\ndone     %" PRId64 "\ndead     %" PRId64 "\n", t.running,
           t.done, t.dead);
    if ((r = bff_db_exec(db, &st_connected, NULL, &e)) == NULL)
        return bffctl_fail(cmd, "%s", e.msg);
    printf("connected: ");
    if (PQntuples(r) == 0)
        printf("no bff-worker or bff-beat process");
    for (i = 0; i < PQntuples(r); i++)
        printf("%s%s %s connection(s)", i ? ", " : "", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    printf("\n");
    PQclear(r);
    if (n == 0) {
        printf("\n(no jobs)\n");
        return 0;
    }
    printf("\n%-28s %8s %8s %8s %8s %10s %8s %12s\n", "KIND", "QUEUED", "DUE", "RETRYING",
           "RUNNING", "DONE", "DEAD", "OLDEST DUE");
    for (i = 0; i < n; i++)
        printf("%-28s %8" PRId64 " %8" PRId64 " %8" PRId64 " %8" PRId64 " %10" PRId64
               " %8" PRId64 " %12s\n",
               ks[i].kind, ks[i].queued, ks[i].due, ks[i].retrying, ks[i].running, ks[i].done,
               ks[i].dead, ks[i].due ? ago(age, sizeof age, ks[i].oldest_due_s) : "-");
    return 0;
}

static int list(const char *cmd, struct bff_db *db, struct bff_arena *a, enum bff_jobs_list which,
                int argc, char **argv)
{
    struct bff_job_row *rows;
    struct bff_error e;
    char c1[64], c2[100];
    int n, i;

    if (argc > 0)
        return bffctl_usage_error(cmd, "unexpected argument '%s'", argv[0]);
    bff_error_clear(&e);
    if (bff_jobs_list(db, a, which, LIST_LIMIT, &rows, &n, &e) < 0)
        return bffctl_fail(cmd, "%s", e.msg);
    if (n == 0) {
        printf("(none)\n");
        return 0;
    }
    switch (which) {
    case BFF_JOBS_ACTIVE:
        printf("%-8s %-28s %-10s %-24s %-7s %-27s %s\n", "ID", "KIND", "QUEUE", "WORKER", "ATTEMPT",
               "STARTED", "LEASE");
        for (i = 0; i < n; i++) {
            char lease[48];

            if (rows[i].lease_left_ms >= 0)
                snprintf(lease, sizeof lease, "%.0f s left", rows[i].lease_left_ms / 1000.0);
            else
                snprintf(lease, sizeof lease, "expired %.0f s ago",
                         -rows[i].lease_left_ms / 1000.0);
            printf("%-8" PRId64 " %-28s %-10s %-24s %3d/%-3d %-27s %s\n", rows[i].id, rows[i].kind,
                   rows[i].queue, or_dash(rows[i].locked_by), rows[i].attempts,
                   rows[i].max_attempts, or_dash(rows[i].started_at), lease);
        }
        break;
    case BFF_JOBS_PENDING:
    case BFF_JOBS_SCHEDULED:
        printf("%-8s %-28s %-10s %-4s %-27s %-7s %s\n", "ID", "KIND", "QUEUE", "PRIO", "RUN AT",
               "ATTEMPT", "LAST ERROR");
        for (i = 0; i < n; i++)
            printf("%-8" PRId64 " %-28s %-10s %-4d %-27s %3d/%-3d %s\n", rows[i].id, rows[i].kind,
                   rows[i].queue, rows[i].priority, rows[i].run_at, rows[i].attempts,
                   rows[i].max_attempts, cell(c2, sizeof c2, rows[i].last_error));
        break;
    case BFF_JOBS_DEAD:
        printf("%-8s %-28s %-10s %-7s %-27s %s\n", "ID", "KIND", "QUEUE", "ATTEMPT", "DIED AT",
               "LAST ERROR");
        for (i = 0; i < n; i++)
            printf("%-8" PRId64 " %-28s %-10s %3d/%-3d %-27s %s\n", rows[i].id, rows[i].kind,
                   rows[i].queue, rows[i].attempts, rows[i].max_attempts,
                   cell(c1, sizeof c1, rows[i].finished_at), cell(c2, sizeof c2, rows[i].last_error));
        break;
    }
    if (n == LIST_LIMIT)
        printf("(first %d shown)\n", LIST_LIMIT);
    return 0;
}

static int q_active(const char *cmd, struct bff_db *db, struct bff_arena *a, int argc, char **argv)
{
    return list(cmd, db, a, BFF_JOBS_ACTIVE, argc, argv);
}

static int q_pending(const char *cmd, struct bff_db *db, struct bff_arena *a, int argc, char **argv)
{
    return list(cmd, db, a, BFF_JOBS_PENDING, argc, argv);
}

static int q_dead(const char *cmd, struct bff_db *db, struct bff_arena *a, int argc, char **argv)
{
    return list(cmd, db, a, BFF_JOBS_DEAD, argc, argv);
}

static int q_scheduled(const char *cmd, struct bff_db *db, struct bff_arena *a, int argc,
                       char **argv)
{
    const struct bff_schedule *s;
    struct bff_error e;
    time_t now = time(NULL);
    PGresult *r;
    int rc, i;

    printf("Jobs waiting for a later run (retries, delayed):\n");
    if ((rc = list(cmd, db, a, BFF_JOBS_SCHEDULED, argc, argv)) != 0)
        return rc;
    bff_error_clear(&e);
    if ((r = bff_db_exec(db, &st_last, NULL, &e)) == NULL)
        return bffctl_fail(cmd, "%s", e.msg);
    printf("\nBeat schedule (bff-beat; times UTC):\n");
    printf("%-28s %-32s %-21s %s\n", "KIND", "SCHEDULE", "NEXT SLOT", "LAST JOB");
    for (s = bff_schedule; s->kind != NULL; s++) {
        char desc[64], next[32], last[96] = "-";
        time_t t = bff_sched_next(s, now);
        struct tm tm;

        bff_sched_describe(s, desc, sizeof desc);
        gmtime_r(&t, &tm);
        strftime(next, sizeof next, "%Y-%m-%dT%H:%M:%SZ", &tm);
        for (i = 0; i < PQntuples(r); i++)
            if (strcmp(PQgetvalue(r, i, 0), s->kind) == 0)
                snprintf(last, sizeof last, "#%s %s %s", PQgetvalue(r, i, 1), PQgetvalue(r, i, 2),
                         PQgetvalue(r, i, 3));
        printf("%-28s %-32s %-21s %s\n", s->kind, desc, next, last);
    }
    PQclear(r);
    return 0;
}

static int parse_id(const char *s, int64_t *id)
{
    return s != NULL && bff_parse_int64(s, 1, INT64_MAX, id) == 0 ? 0 : -1;
}

static int q_retry(const char *cmd, struct bff_db *db, struct bff_arena *a, int argc, char **argv)
{
    struct bff_error e;
    int64_t id;

    if (argc != 1 || parse_id(argv[0], &id) < 0)
        return bffctl_usage_error(cmd, "retry needs one job id");
    bff_error_clear(&e);
    if (bff_jobs_retry(db, id, &e) < 0)
        return bffctl_fail(cmd, "%s", e.msg);
    printf("job %" PRId64 " queued to run now\n", id);
    return 0;
}

static int q_purge(const char *cmd, struct bff_db *db, struct bff_arena *a, int argc, char **argv)
{
    const char *kind = NULL;
    struct bff_error e;
    long n;
    int i;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--kind") == 0 && i + 1 < argc)
            kind = argv[++i];
        else if (strncmp(argv[i], "--kind=", 7) == 0)
            kind = argv[i] + 7;
        else
            return bffctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    bff_error_clear(&e);
    if ((n = bff_jobs_purge(db, kind, &e)) < 0)
        return bffctl_fail(cmd, "%s", e.msg);
    printf("%ld queued job(s) deleted\n", n);
    return 0;
}

static int q_enqueue(const char *cmd, struct bff_db *db, struct bff_arena *a, int argc,
                     char **argv)
{
    const struct bff_job_kind *k;
    const char *payload = NULL, *queue = NULL;
    struct bff_error e;
    int64_t id, delay = 0;
    int i;

    if (argc < 1 || argv[0][0] == '-')
        return bffctl_usage_error(cmd, "enqueue needs a job kind");
    if ((k = bff_job_kind_find(NULL, argv[0])) == NULL)
        return bffctl_usage_error(cmd, "no job kind '%s'", argv[0]);
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--payload") == 0 && i + 1 < argc)
            payload = argv[++i];
        else if (strcmp(argv[i], "--queue") == 0 && i + 1 < argc)
            queue = argv[++i];
        else if (strcmp(argv[i], "--delay") == 0 && i + 1 < argc) {
            if (bff_parse_int64(argv[++i], 0, 30LL * 86400, &delay) < 0)
                return bffctl_usage_error(cmd, "--delay needs seconds (0..2592000)");
        } else
            return bffctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    bff_error_clear(&e);
    if (bff_job_enqueue_kind(db, k, queue, payload, NULL, delay * 1000, &id, &e) < 0)
        return bffctl_fail(cmd, "%s", e.msg);
    printf("%" PRId64 "\n", id);
    return 0;
}

/* The subcommands, read like bffctl's own table. */
static const struct {
    const char *name;
    int (*run)(const char *cmd, struct bff_db *db, struct bff_arena *a, int argc, char **argv);
} subs[] = {
    {"stats", q_stats},
    {"active", q_active},
    {"pending", q_pending},
    {"scheduled", q_scheduled},
    {"dead", q_dead},
    {"retry", q_retry},
    {"purge", q_purge},
    {"enqueue", q_enqueue},
    {NULL, NULL},
};

int cmd_queue(int argc, char **argv)
{
    struct bff_arena *a;
    struct bff_db db;
    int i, rc;

    if (argc < 2)
        return bffctl_usage_error(argv[0], "missing subcommand");
    for (i = 0; subs[i].name != NULL; i++)
        if (strcmp(subs[i].name, argv[1]) == 0)
            break;
    if (subs[i].name == NULL)
        return bffctl_usage_error(argv[0], "unknown subcommand '%s'", argv[1]);
    if (bffctl_db_open(argv[0], &db) != 0)
        return 1;
    a = bff_arena_new();
    rc = subs[i].run(argv[0], &db, a, argc - 2, argv + 2);
    bff_arena_free(a);
    bff_db_close(&db);
    return rc;
}
