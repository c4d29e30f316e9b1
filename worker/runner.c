/*
 * runner.c — bff-worker: one supervisor process and N worker processes
 * (Celery's prefork pool), each worker with its own PostgreSQL connection.
 *
 * A worker process loops: reclaim expired leases, claim one due job of its
 * queues, run it, record the outcome, log one JSON line; with nothing due
 * it sleeps on LISTEN bff_jobs until a notification, the next run_at or
 * the poll interval, whichever comes first. It claims one job at a time,
 * so it never holds a lease on a job it is not running (Celery's
 * prefetch multiplier of 1).
 *
 * The supervisor forks the workers, renews their leases every lease/3
 * (a worker busy in a long job cannot), and restarts a worker that dies,
 * first putting back the jobs the dead one held (a job whose worker keeps
 * dying uses up its attempts and ends dead). When the supervisor itself
 * is killed the workers die with it (PR_SET_PDEATHSIG) and their jobs are
 * reclaimed by anyone once their leases run out.
 *
 * SIGTERM/SIGINT: the supervisor passes it on; each worker finishes the
 * job it is running (the signal stays blocked while a job runs and only
 * interrupts the sleep), then exits; the supervisor exits 0 once they all
 * have. A job running past its kind's timeout gets its worker killed
 * (SIGALRM); the supervisor puts the job back as for any dead worker.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "worker.h"

#define MAX_CONCURRENCY 64
#define MAX_QUEUES 32
#define MAX_KINDS 128
#define RECLAIM_EVERY_MS 1000
#define RESTART_DELAY_MS 1000   /* a worker that died within this is restarted after it */
#define RELEASE_DELAY_MS 1000   /* a dead worker's jobs run again after this */
#define RETRY_CAP_MS (3600 * 1000)

struct opts {
    int concurrency;
    const char *queues[MAX_QUEUES + 1];
    char queue_buf[2048];      /* the queue names (strtok'd) */
    char queue_text[2048];     /* --queues as given, for the log */
    const char *kinds[MAX_KINDS + 1];
    int once;
    int lease_ms;
    int poll_ms;
};

static const struct bff_job_kind *extra_kinds;
static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
    (void)sig;
    stopping = 1;
}

static const char usage_text[] =
    "usage: bff-worker [--concurrency N] [--queues Q1,Q2] [--once] [--lease S] [--poll S]\n"
    "\n"
    "Run jobs from the PostgreSQL queue (Celery's `celery worker`).\n"
    "\n"
    "  --concurrency N  worker processes, each with its own connection (1..64, default 2)\n"
    "  --queues Q1,Q2   queues to take jobs from (default: default)\n"
    "  --once           run every job that is due now, then exit (0 when every worker\n"
    "                   process ended cleanly; job failures are recorded, not fatal)\n"
    "  --lease S        seconds a claim lasts unless renewed (1..3600, default 60);\n"
    "                   a killed worker's job is claimed again after it\n"
    "  --poll S         longest sleep without a NOTIFY (1..3600, default 5)\n"
    "\n"
    "SIGTERM/SIGINT: running jobs finish, then the worker exits 0.\n"
    "Settings: the BFF_* environment (BFF_DATABASE_URL, BFF_REDIS_URL, BFF_SMTP_URL,\n"
    "BFF_ALERT_EMAIL, BFF_LOG_FILE, ...). Jobs: `bffctl queue --help`.\n";

static int opt_int(const char *name, const char *v, int64_t min, int64_t max, int *out)
{
    int64_t n;

    if (v == NULL || bff_parse_int64(v, min, max, &n) < 0) {
        fprintf(stderr, "bff-worker: %s needs an integer in %lld..%lld (see --help)\n", name,
                (long long)min, (long long)max);
        return -1;
    }
    *out = (int)n;
    return 0;
}

/* Parse argv into o. 0 run, 1 --help printed, -1 usage error printed. */
static int parse_args(int argc, char **argv, struct opts *o)
{
    int i, nq = 0, nk = 0, secs;
    const struct bff_job_kind *k;
    char *p, *save = NULL;

    memset(o, 0, sizeof *o);
    o->concurrency = 2;
    o->lease_ms = 60 * 1000;
    o->poll_ms = 5 * 1000;
    snprintf(o->queue_buf, sizeof o->queue_buf, "%s", BFF_JOBS_DEFAULT_QUEUE);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage_text, stdout);
            return 1;
        } else if (strcmp(a, "--once") == 0) {
            o->once = 1;
        } else if (strcmp(a, "--concurrency") == 0 || strcmp(a, "-c") == 0) {
            if (opt_int(a, v, 1, MAX_CONCURRENCY, &o->concurrency) < 0)
                return -1;
            i++;
        } else if (strcmp(a, "--lease") == 0) {
            if (opt_int(a, v, 1, 3600, &secs) < 0)
                return -1;
            o->lease_ms = secs * 1000;
            i++;
        } else if (strcmp(a, "--poll") == 0) {
            if (opt_int(a, v, 1, 3600, &secs) < 0)
                return -1;
            o->poll_ms = secs * 1000;
            i++;
        } else if (strcmp(a, "--queues") == 0 || strcmp(a, "-Q") == 0) {
            if (v == NULL || strlen(v) >= sizeof o->queue_buf) {
                fprintf(stderr, "bff-worker: --queues needs a list of queue names\n");
                return -1;
            }
            snprintf(o->queue_buf, sizeof o->queue_buf, "%s", v);
            i++;
        } else {
            fprintf(stderr, "bff-worker: unknown argument '%s' (see --help)\n", a);
            return -1;
        }
    }
    snprintf(o->queue_text, sizeof o->queue_text, "%s", o->queue_buf);
    for (p = strtok_r(o->queue_buf, ",", &save); p != NULL; p = strtok_r(NULL, ",", &save)) {
        if (!bff_is_code(p, 64) || nq == MAX_QUEUES) {
            fprintf(stderr, "bff-worker: bad queue name '%s' (1..64 of [A-Za-z0-9._-], at most %d)\n",
                    p, MAX_QUEUES);
            return -1;
        }
        o->queues[nq++] = p;
    }
    if (nq == 0) {
        fprintf(stderr, "bff-worker: --queues names no queue\n");
        return -1;
    }
    for (k = bff_job_kinds; k->name != NULL && nk < MAX_KINDS; k++)
        o->kinds[nk++] = k->name;
    for (k = extra_kinds; k != NULL && k->name != NULL && nk < MAX_KINDS; k++)
        o->kinds[nk++] = k->name;
    return 0;
}

/* ------------------------------------------------------ a worker process */

struct wproc {
    const struct opts *o;
    char id[128];
    struct bff_db db;
    struct bff_cache cache;
    struct bff_arena *a;
    struct bff_buf result;
    sigset_t waitmask;         /* the mask while sleeping: stop signals let through */
    unsigned listen_gen;
    int db_down;               /* an outage was logged */
};

/* A stop signal arrived, delivered or still pending (blocked). */
static int stop_requested(void)
{
    sigset_t p;

    if (stopping)
        return 1;
    if (sigpending(&p) == 0 && (sigismember(&p, SIGTERM) == 1 || sigismember(&p, SIGINT) == 1))
        return 1;
    return 0;
}

/* Sleep ms (stop signals interrupt it). */
static void nap(struct wproc *w, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    ppoll(NULL, 0, &ts, &w->waitmask);
}

static void log_outcome(const struct bff_job *j, int64_t t0_us, const char *outcome,
                        const char *err)
{
    char id[24], att[16], dur[24];
    enum bff_log_level lvl = BFF_LOG_INFO;

    snprintf(id, sizeof id, "%lld", (long long)j->id);
    snprintf(att, sizeof att, "%d", j->attempt);
    snprintf(dur, sizeof dur, "%lld", (long long)((bff_now_us() - t0_us) / 1000));
    if (strcmp(outcome, "dead") == 0)
        lvl = BFF_LOG_ERROR;
    else if (strcmp(outcome, "done") != 0)
        lvl = BFF_LOG_WARN;
    if (err != NULL)
        bff_log(lvl, NULL, "job finished", "kind", j->kind, "#job_id", id, "queue", j->queue,
                "#attempt", att, "#duration_ms", dur, "outcome", outcome, "error", err,
                (char *)NULL);
    else
        bff_log(lvl, NULL, "job finished", "kind", j->kind, "#job_id", id, "queue", j->queue,
                "#attempt", att, "#duration_ms", dur, "outcome", outcome, (char *)NULL);
}

/* Record a failed run; the outcome's name. */
static const char *record_failure(struct wproc *w, const struct bff_job_kind *k,
                                  const struct bff_job *j, const char *why, int give_up)
{
    struct bff_error e;
    uint32_t rnd = 0;
    int64_t delay;
    int rc;

    bff_random_bytes(&rnd, sizeof rnd);
    delay = bff_jobs_backoff_ms(j->attempt, k ? k->backoff_ms : 1000, RETRY_CAP_MS, rnd);
    bff_error_clear(&e);
    rc = bff_jobs_fail(&w->db, j->id, w->id, why, delay, give_up, &e);
    if (rc < 0) {
        bff_log_error(NULL, "could not record a job failure; its lease will expire",
                      "kind", j->kind, "error", e.msg);
        return "unrecorded";
    }
    return rc == BFF_JOB_DEAD ? "dead" : rc == BFF_JOB_RETRY ? "retry" : "lost";
}

/* Run one claimed job to its recorded outcome. */
static void run_job(struct wproc *w, const struct bff_job *j)
{
    const struct bff_job_kind *k = bff_job_kind_find(extra_kinds, j->kind);
    struct bff_job_ctx ctx;
    struct bff_error e;
    const char *outcome, *result;
    int64_t t0 = bff_now_us();
    int rc, i;

    bff_error_clear(&e);
    if (k == NULL) {
        outcome = record_failure(w, NULL, j, "no such job kind in this worker", 1);
        log_outcome(j, t0, outcome, "no such job kind in this worker");
        return;
    }
    memset(&ctx, 0, sizeof ctx);
    ctx.db = &w->db;
    ctx.cache = &w->cache;
    ctx.cfg = &bff_cfg;
    ctx.job = j;
    ctx.worker = w->id;
    ctx.a = w->a;
    ctx.result = &w->result;
    bff_buf_reset(&w->result);
    bff_log_debug(NULL, "job started", "kind", j->kind,
                  "#job_id", bff_arena_sprintf(w->a, "%lld", (long long)j->id));

    alarm((unsigned)k->timeout_s);   /* past it, SIGALRM ends this process */
    if (k->flags & BFF_JOB_TX) {
        /* The row lock, not the lease, guards this run; the lease only
         * has to outlast the timeout in case this process dies. */
        if (bff_jobs_renew(&w->db, j->id, w->id, k->timeout_s * 1000 + w->o->lease_ms, &e) <= 0 ||
            bff_db_begin(&w->db, &e) < 0) {
            rc = BFF_JOB_FAILED;
            goto failed;
        }
        ctx.in_tx = 1;
        if ((rc = bff_jobs_lock(&w->db, j->id, w->id, &e)) <= 0) {
            bff_db_rollback(&w->db);
            alarm(0);
            log_outcome(j, t0, rc == 0 ? "lost" : "unrecorded", rc == 0 ? NULL : e.msg);
            return;
        }
        rc = k->run(&ctx, &e);
        if (rc == 0) {
            result = w->result.len > 0 ? bff_buf_cstr(&w->result) : NULL;
            rc = bff_jobs_complete(&w->db, j->id, w->id, result, &e);
            if (rc == 1 && bff_db_commit(&w->db, &e) == 0) {
                ctx.in_tx = 0;
                for (i = 0; i < ctx.nstock; i++)
                    bff_job_invalidate_stock(&ctx, ctx.stock[i]);
                alarm(0);
                log_outcome(j, t0, "done", NULL);
                return;
            }
            bff_db_rollback(&w->db);
            alarm(0);
            if (rc == 0) {
                log_outcome(j, t0, "lost", NULL);
                return;
            }
            rc = BFF_JOB_FAILED;
            goto failed;
        }
        bff_db_rollback(&w->db);
        ctx.in_tx = 0;
    } else {
        rc = k->run(&ctx, &e);
        if (rc == 0) {
            result = w->result.len > 0 ? bff_buf_cstr(&w->result) : NULL;
            rc = bff_jobs_complete(&w->db, j->id, w->id, result, &e);
            alarm(0);
            if (rc >= 0) {
                log_outcome(j, t0, rc == 1 ? "done" : "lost", NULL);
                return;
            }
            log_outcome(j, t0, "unrecorded", e.msg);
            return;
        }
    }
failed:
    alarm(0);
    if (e.msg[0] == '\0')
        snprintf(e.msg, sizeof e.msg, "failed without a message");
    outcome = record_failure(w, k, j, e.msg, rc == BFF_JOB_GIVE_UP);
    log_outcome(j, t0, outcome, e.msg);
}

/* Make sure the connection is up and listening. 0, or -1 (logged once). */
static int ready(struct wproc *w)
{
    struct bff_error e;
    unsigned before = w->listen_gen;

    bff_error_clear(&e);
    if (bff_jobs_listen(&w->db, &w->listen_gen, &e) < 0) {
        if (!w->db_down)
            bff_log_error(NULL, "worker: database unavailable, retrying", "error", e.msg);
        w->db_down = 1;
        return -1;
    }
    if (before != w->listen_gen) {
        /* a backend whose worker died stops at its next check, not when
         * its statement ends (PostgreSQL 14+; harmless elsewhere) */
        PGresult *r = PQexec(w->db.conn, "SET client_connection_check_interval = 1000");

        PQclear(r);
    }
    if (w->db_down)
        bff_log_info(NULL, "worker: database reachable again");
    w->db_down = 0;
    return 0;
}

static int worker_main(const struct opts *o, pid_t parent, const sigset_t *orig)
{
    struct wproc w;
    struct sigaction sa;
    struct bff_error e;
    struct bff_job job;
    int64_t next_reclaim = 0, ids[100];
    int idle_spins = 0, rc = 0;

    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(1);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGHUP, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, SIG_DFL);
    memset(&w, 0, sizeof w);
    w.o = o;
    /* SIGTERM/SIGINT stay blocked (from the supervisor) except in sleeps */
    w.waitmask = *orig;
    sigdelset(&w.waitmask, SIGTERM);
    sigdelset(&w.waitmask, SIGINT);
    sigdelset(&w.waitmask, SIGALRM);
    bff_jobs_worker_id(0, w.id, sizeof w.id);
    bff_db_init(&w.db, &bff_cfg, bff_cfg.database_url);
    bff_db_set_application_name(&w.db, "bff-worker");
    bff_cache_init(&w.cache, &bff_cfg);
    w.a = bff_arena_new();

    while (!stop_requested()) {
        int n;
        int64_t due;

        bff_arena_reset(w.a);
        if (ready(&w) < 0) {
            if (o->once) {
                rc = 1;
                break;
            }
            nap(&w, 1000);
            continue;
        }
        bff_error_clear(&e);
        if (bff_now_ms() >= next_reclaim) {
            long i, got = bff_jobs_reclaim(&w.db, 100, ids, &e);

            for (i = 0; i < got && i < 100; i++)
                bff_log_warn(NULL, "lease expired: job put back in the queue",
                             "#job_id", bff_arena_sprintf(w.a, "%lld", (long long)ids[i]));
            next_reclaim = bff_now_ms() + RECLAIM_EVERY_MS;
        }
        n = bff_jobs_claim(&w.db, w.a, w.id, o->queues, o->kinds, 1, o->lease_ms, &job, &e);
        if (n < 0) {
            bff_log_error(NULL, "worker: claim failed", "error", e.msg);
            if (o->once) {
                rc = 1;
                break;
            }
            nap(&w, 1000);
            continue;
        }
        if (n == 1) {
            idle_spins = 0;
            run_job(&w, &job);
            continue;
        }
        if (o->once)
            break;
        due = bff_jobs_next_due_ms(&w.db, o->queues, o->kinds, &e);
        if (due < 0 || due > o->poll_ms)
            due = o->poll_ms;
        /* "due now" yet nothing to claim: another worker holds it; do not
         * spin on it */
        if (due < 100 && ++idle_spins > 1)
            due = 100;
        if (bff_jobs_wait(&w.db, o->queues, (int)due, &w.waitmask, &e) < 0)
            nap(&w, 200);
    }
    bff_db_close(&w.db);
    bff_cache_close(&w.cache);
    bff_arena_free(w.a);
    bff_buf_free(&w.result);
    return rc;
}

/* ----------------------------------------------------------- supervisor */

struct child {
    pid_t pid;             /* 0: slot empty */
    char id[128];          /* its locked_by */
    int64_t started_ms;
    int64_t restart_at;    /* 0: no restart pending */
};

static int spawn(struct child *c, const struct opts *o, const sigset_t *orig)
{
    pid_t parent = getpid(), pid = fork();

    if (pid < 0) {
        bff_log_error(NULL, "worker: fork failed", "error", strerror(errno));
        c->restart_at = bff_now_ms() + RESTART_DELAY_MS;
        return -1;
    }
    if (pid == 0)
        _exit(worker_main(o, parent, orig));
    c->pid = pid;
    c->started_ms = bff_now_ms();
    c->restart_at = 0;
    bff_jobs_worker_id((long)pid, c->id, sizeof c->id);
    bff_log_info(NULL, "worker process started", "worker", c->id);
    return 0;
}

/* Describe how a child ended ("exit status 1", "killed by signal 9"). */
static void describe_status(int st, char *out, size_t n)
{
    if (WIFEXITED(st))
        snprintf(out, n, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st) && WTERMSIG(st) == SIGALRM)
        snprintf(out, n, "killed: its job ran past the kind's timeout");
    else if (WIFSIGNALED(st))
        snprintf(out, n, "killed by signal %d (%s)", WTERMSIG(st), strsignal(WTERMSIG(st)));
    else
        snprintf(out, n, "wait status %d", st);
}

struct supervisor {
    const struct opts *o;
    struct child kids[MAX_CONCURRENCY];
    struct bff_db db;          /* renewals and releases; never used by children */
    int rc;
};

/* Reap every child that ended; put back the jobs of one that died. */
static void reap(struct supervisor *s)
{
    pid_t pid;
    int st, i;

    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        char how[128], why[256], released[24];
        struct bff_error e;
        long n;
        int clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;

        for (i = 0; i < s->o->concurrency && s->kids[i].pid != pid; i++)
            ;
        if (i == s->o->concurrency)
            continue;
        describe_status(st, how, sizeof how);
        if (!WIFEXITED(st)) {
            snprintf(why, sizeof why, "worker process %s %s", s->kids[i].id, how);
            bff_error_clear(&e);
            n = bff_jobs_release_worker(&s->db, s->kids[i].id, why, RELEASE_DELAY_MS, &e);
            snprintf(released, sizeof released, "%ld", n < 0 ? 0L : n);
            if (n < 0)
                bff_log_error(NULL, "worker process died; its jobs wait for their lease",
                              "worker", s->kids[i].id, "how", how, "error", e.msg);
            else
                bff_log_error(NULL, "worker process died", "worker", s->kids[i].id, "how", how,
                              "#jobs_released", released);
        } else if (!clean) {
            bff_log_error(NULL, "worker process failed", "worker", s->kids[i].id, "how", how);
        }
        s->kids[i].pid = 0;
        if (!clean)
            s->rc = 1;
        if (stopping || s->o->once)
            continue;
        s->kids[i].restart_at = bff_now_ms() - s->kids[i].started_ms < RESTART_DELAY_MS
                                    ? bff_now_ms() + RESTART_DELAY_MS
                                    : bff_now_ms();
    }
}

/* Renew the leases of every live child's jobs. */
static void renew(struct supervisor *s)
{
    const char *ids[MAX_CONCURRENCY + 1];
    struct bff_error e;
    int i, n = 0;

    for (i = 0; i < s->o->concurrency; i++)
        if (s->kids[i].pid > 0)
            ids[n++] = s->kids[i].id;
    ids[n] = NULL;
    if (n == 0)
        return;
    bff_error_clear(&e);
    if (bff_jobs_renew_workers(&s->db, ids, s->o->lease_ms, &e) < 0)
        bff_log_warn(NULL, "worker: lease renewal failed", "error", e.msg);
}

static int supervise(const struct opts *o)
{
    struct supervisor s;
    sigset_t set, orig;
    int64_t renew_every = o->lease_ms / 3 > 100 ? o->lease_ms / 3 : 100;
    int64_t next_renew = bff_now_ms() + renew_every;
    int i;

    memset(&s, 0, sizeof s);
    s.o = o;
    bff_db_init(&s.db, &bff_cfg, bff_cfg.database_url);
    bff_db_set_application_name(&s.db, "bff-worker");
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &orig);
    signal(SIGPIPE, SIG_IGN);

    for (i = 0; i < o->concurrency; i++)
        spawn(&s.kids[i], o, &orig);
    for (;;) {
        int64_t now = bff_now_ms(), wake = next_renew, left;
        struct timespec ts;
        siginfo_t info;
        int sig, live = 0, pending = 0;

        for (i = 0; i < o->concurrency; i++)
            if (s.kids[i].pid == 0 && s.kids[i].restart_at > 0 && s.kids[i].restart_at < wake)
                wake = s.kids[i].restart_at;
        left = wake > now ? wake - now : 0;
        ts.tv_sec = (time_t)(left / 1000);
        ts.tv_nsec = (long)(left % 1000) * 1000000L;
        sig = sigtimedwait(&set, &info, &ts);
        if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
            stopping = 1;
            bff_log_info(NULL, "worker: stopping once the running jobs are finished");
            for (i = 0; i < o->concurrency; i++)
                if (s.kids[i].pid > 0)
                    kill(s.kids[i].pid, SIGTERM);
        }
        reap(&s);
        now = bff_now_ms();
        for (i = 0; i < o->concurrency; i++) {
            if (s.kids[i].pid == 0 && s.kids[i].restart_at > 0 && !stopping &&
                s.kids[i].restart_at <= now)
                spawn(&s.kids[i], o, &orig);
            if (s.kids[i].pid > 0)
                live++;
            else if (s.kids[i].restart_at > 0)
                pending++;
        }
        if (now >= next_renew) {
            renew(&s);
            next_renew = now + renew_every;
        }
        if (live == 0 && (stopping || pending == 0))
            break;
    }
    bff_db_close(&s.db);
    bff_log_info(NULL, "worker stopped");
    return stopping ? 0 : s.rc;
}

int bff_worker_main(int argc, char **argv, const struct bff_job_kind *extra)
{
    struct opts o;
    struct bff_error e;
    char conc[16], lease[16];
    int rc;

    extra_kinds = extra;
    if ((rc = parse_args(argc, argv, &o)) != 0)
        return rc > 0 ? 0 : 2;
    bff_error_clear(&e);
    if (bff_config_load(&bff_cfg, &e) < 0 || bff_log_open(&bff_cfg, &e) < 0) {
        fprintf(stderr, "bff-worker: %s\n", e.msg);
        return 1;
    }
    snprintf(conc, sizeof conc, "%d", o.concurrency);
    snprintf(lease, sizeof lease, "%d", o.lease_ms / 1000);
    bff_log_info(NULL, o.once ? "worker started (--once)" : "worker started",
                 "#concurrency", conc, "queues", o.queue_text, "#lease_s", lease);
    return supervise(&o);
}
