/*
 * check_e2e_worker.c — bff-worker and bff-beat as processes against the
 * test stack (SPEC §6): two workers never run one job twice; a worker
 * killed with -9 has its job run again once its lease is over, and only
 * once; a crashed worker process is replaced and its job put back; SIGTERM
 * lets the running job finish; failures back off exponentially and end
 * dead; several beats enqueue each (kind, slot) once; and the production
 * jobs through the real path: an order's hold runs out, an expired lot's
 * allocation moves, the low-stock e-mail reaches t/smtp-sink, an
 * invalidation recorded while Redis was frozen is replayed, metrics are
 * warmed, sessions cleared, the monthly report stored and mailed once.
 *
 * The stack runs no worker of its own: each test starts the processes it
 * needs, on a queue of its own ("tw_<pid>_<n>"), so it controls the timing
 * and never runs another test's jobs. Test-only kinds (record, sleep,
 * fail) exist only in t/bff-worker-test (worker_test.c).
 */
#define _GNU_SOURCE

#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "inv.h"
#include "jobs_test.h"

static char Q[64];        /* this test's queue */
static char dir[64];      /* this test's temp dir (logs, mails) */

static void setup(void)
{
    static int seq;

    snprintf(Q, sizeof Q, "tw_%ld_%d", (long)getpid(), ++seq);
    snprintf(dir, sizeof dir, "/tmp/bff-wtest.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    free(t_sql(T_EFFECTS_DDL));
    inv_login("*");
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *sqlv(const char *fmt, va_list ap)
{
    char sql[4096];

    vsnprintf(sql, sizeof sql, fmt, ap);
    return t_sql(sql);
}

/* The first value as a long long (0 for none). */
static long long sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static long long sql_int(const char *fmt, ...)
{
    va_list ap;
    char *v;
    long long n;

    va_start(ap, fmt);
    v = sqlv(fmt, ap);
    va_end(ap);
    n = v ? atoll(v) : 0;
    free(v);
    return n;
}

/* The first value in a static buffer ("" for none). */
static const char *sql_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *sql_str(const char *fmt, ...)
{
    static char out[2048];
    va_list ap;
    char *v;

    va_start(ap, fmt);
    v = sqlv(fmt, ap);
    va_end(ap);
    snprintf(out, sizeof out, "%s", v ? v : "");
    free(v);
    return out;
}

/* Poll until the SQL answers "t" (up to ms); 0 when it did. */
static int wait_true(int ms, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int wait_true(int ms, const char *fmt, ...)
{
    long long end = now_ms() + ms;
    char sql[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(sql, sizeof sql, fmt, ap);
    va_end(ap);
    do {
        char *v = t_sql(sql);
        int ok = v && strcmp(v, "t") == 0;

        free(v);
        if (ok)
            return 0;
        msleep(50);
    } while (now_ms() < end);
    return -1;
}

/* Enqueue a job into this test's queue; its id. */
static long long enqueue(const char *kind, const char *payload, int max_attempts, int delay_ms)
{
    return sql_int("INSERT INTO jobs (kind, queue, payload, max_attempts, run_at) VALUES "
                   "('%s', '%s', '%s', %d, now() + %d * interval '1 ms') RETURNING id",
                   kind, Q, payload ? payload : "{}", max_attempts, delay_ms);
}

/*
 * Start BFF_TEST_BUILDDIR/prog with args (NULL-terminated) and extra
 * environment assignments (NULL-terminated, may be NULL), in a process
 * group of its own (so kill(-pid) reaches its worker processes too); it
 * dies with the test (PR_SET_PDEATHSIG). Its log goes to dir/<log>.
 */
static pid_t start(const char *prog, const char *log, const char *const *env, ...)
{
    char path[4096], logenv[256];
    const char *argv[32];
    va_list ap;
    pid_t pid;
    int n = 0;

    snprintf(path, sizeof path, "%s/%s", t_env("BFF_TEST_BUILDDIR"), prog);
    snprintf(logenv, sizeof logenv, "BFF_LOG_FILE=%s/%s", dir, log);
    argv[n++] = path;
    va_start(ap, env);
    while (n < 31 && (argv[n] = va_arg(ap, const char *)) != NULL)
        n++;
    va_end(ap);
    argv[n] = NULL;
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        putenv(logenv);
        putenv("BFF_ERROR_LOG_FILE=");
        for (; env && *env; env++)
            putenv((char *)*env);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Wait up to ms for pid; its wait status, or -1 when it is still running. */
static int wait_exit(pid_t pid, int ms)
{
    long long end = now_ms() + ms;
    int st;

    do {
        pid_t r = waitpid(pid, &st, WNOHANG);

        if (r == pid)
            return st;
        msleep(20);
    } while (now_ms() < end);
    return -1;
}

/* SIGTERM the process (group) and expect a clean exit within ms. */
static void stop_ok(pid_t pid, int ms)
{
    int st;

    kill(pid, SIGTERM);
    st = wait_exit(pid, ms);
    if (st == -1) {
        kill(-pid, SIGKILL);
        waitpid(pid, &st, 0);
        ck_abort_msg("pid %d did not stop within %d ms of SIGTERM", (int)pid, ms);
    }
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "pid %d ended with status %d",
                  (int)pid, st);
}

/* Run `bff-worker --once --queues Q` (prod or test binary) to the end. */
static void run_once(const char *prog, const char *const *env)
{
    pid_t pid = start(prog, "once.log", env, "--once", "--concurrency", "1", "--queues", Q,
                      (char *)NULL);
    int st = wait_exit(pid, 60000);

    ck_assert_msg(st != -1, "%s --once did not finish", prog);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s --once: status %d", prog, st);
}

static long long effects(long long job)
{
    return sql_int("SELECT count(*) FROM job_test_effects WHERE job_id = %lld", job);
}

/* Lines of dir/name containing needle. */
static int count_lines(const char *name, const char *needle)
{
    char path[256], line[4096];
    FILE *f;
    int n = 0;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* ------------------------------------------------------------ the queue */

START_TEST(two_workers_run_each_job_once)
{
    pid_t a, b;

    sql_int("WITH i AS (INSERT INTO jobs (kind, queue) SELECT 'record', '%s' FROM "
            "generate_series(1, 200) RETURNING 1) SELECT count(*) FROM i", Q);
    a = start("t/bff-worker-test", "a.log", NULL, "--concurrency", "2", "--queues", Q,
              (char *)NULL);
    b = start("t/bff-worker-test", "b.log", NULL, "--concurrency", "2", "--queues", Q,
              (char *)NULL);
    ck_assert_int_eq(wait_true(60000, "SELECT count(*) = 200 FROM jobs WHERE queue = '%s' "
                                      "AND status = 'done'", Q), 0);
    stop_ok(a, 10000);
    stop_ok(b, 10000);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM job_test_effects e JOIN jobs j ON "
                             "j.id = e.job_id WHERE j.queue = '%s'", Q),
                     200);
    ck_assert_int_eq(sql_int("SELECT count(DISTINCT e.job_id) FROM job_test_effects e JOIN jobs "
                             "j ON j.id = e.job_id WHERE j.queue = '%s'", Q),
                     200);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s' AND attempts <> 1", Q),
                     0);
    /* both workers (four processes) took part */
    ck_assert_int_ge(sql_int("SELECT count(DISTINCT e.worker) FROM job_test_effects e JOIN jobs "
                             "j ON j.id = e.job_id WHERE j.queue = '%s'", Q),
                     2);
    ck_assert_int_eq(count_lines("a.log", "\"outcome\":\"done\"") +
                         count_lines("b.log", "\"outcome\":\"done\""),
                     200);
}
END_TEST

START_TEST(killed_worker_job_runs_again_after_lease)
{
    long long job = enqueue("sleep", "{\"ms\": 2500}", 3, 0), killed_at_lease;
    pid_t w = start("t/bff-worker-test", "w1.log", NULL, "--concurrency", "1", "--lease", "2",
                    "--queues", Q, (char *)NULL), w2;
    char until[64];

    ck_assert_int_eq(wait_true(10000, "SELECT status = 'running' FROM jobs WHERE id = %lld",
                               job), 0);
    msleep(300);
    kill(-w, SIGKILL);   /* the supervisor and its worker process, mid-job */
    waitpid(w, NULL, 0);
    snprintf(until, sizeof until, "%s",
             sql_str("SELECT locked_until FROM jobs WHERE id = %lld", job));
    killed_at_lease = sql_int("SELECT (extract(epoch FROM locked_until) * 1000)::bigint FROM jobs "
                              "WHERE id = %lld", job);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || attempts FROM jobs WHERE id = %lld", job),
                     "running 1");
    ck_assert_int_eq(effects(job), 0);

    w2 = start("t/bff-worker-test", "w2.log", NULL, "--concurrency", "1", "--lease", "2",
               "--poll", "1", "--queues", Q, (char *)NULL);
    ck_assert_int_eq(wait_true(20000, "SELECT status = 'done' FROM jobs WHERE id = %lld", job), 0);
    stop_ok(w2, 10000);
    /* run again, once, and not before the dead worker's lease ran out */
    ck_assert_int_eq(effects(job), 1);
    ck_assert_str_eq(sql_str("SELECT attempts || ' ' || (last_error LIKE 'lease expired%%') FROM "
                             "jobs WHERE id = %lld", job),
                     "2 true");
    ck_assert_msg(sql_int("SELECT (extract(epoch FROM started_at) * 1000)::bigint FROM jobs "
                          "WHERE id = %lld", job) >= killed_at_lease,
                  "job restarted before the lease (%s) ran out", until);
}
END_TEST

START_TEST(crashed_worker_process_is_replaced)
{
    long long job = enqueue("sleep", "{\"ms\": 1500}", 3, 0), child;
    pid_t w = start("t/bff-worker-test", "w.log", NULL, "--concurrency", "1", "--lease", "60",
                    "--queues", Q, (char *)NULL);
    long long t0;

    ck_assert_int_eq(wait_true(10000, "SELECT status = 'running' FROM jobs WHERE id = %lld",
                               job), 0);
    child = sql_int("SELECT split_part(locked_by, ':', 2)::bigint FROM jobs WHERE id = %lld", job);
    ck_assert_int_gt(child, 0);
    ck_assert_int_ne(child, w);
    t0 = now_ms();
    kill((pid_t)child, SIGKILL);
    /* the supervisor puts the job back at once (not after the 60 s lease)
     * and a new worker process runs it */
    ck_assert_int_eq(wait_true(15000, "SELECT status = 'done' FROM jobs WHERE id = %lld", job), 0);
    ck_assert_int_lt(now_ms() - t0, 15000);
    ck_assert_int_eq(effects(job), 1);
    ck_assert_str_eq(sql_str("SELECT attempts || ' ' || (last_error LIKE '%%killed by signal 9%%') "
                             "FROM jobs WHERE id = %lld", job),
                     "2 true");
    ck_assert_int_ne(sql_int("SELECT split_part(worker, ':', 2)::bigint FROM job_test_effects "
                             "WHERE job_id = %lld", job),
                     child);
    ck_assert_int_eq(count_lines("w.log", "worker process died"), 1);
    stop_ok(w, 10000);
}
END_TEST

START_TEST(sigterm_lets_the_running_job_finish)
{
    long long job = enqueue("sleep", "{\"ms\": 1500}", 3, 0), next, t0;
    pid_t w = start("t/bff-worker-test", "w.log", NULL, "--concurrency", "1", "--queues", Q,
                    (char *)NULL);

    ck_assert_int_eq(wait_true(10000, "SELECT status = 'running' FROM jobs WHERE id = %lld",
                               job), 0);
    next = enqueue("record", NULL, 3, 0);   /* waits behind the running one */
    t0 = now_ms();
    stop_ok(w, 10000);
    ck_assert_int_ge(now_ms() - t0, 500);   /* it did wait for the job */
    ck_assert_str_eq(sql_str("SELECT status || ' ' || attempts FROM jobs WHERE id = %lld", job),
                     "done 1");
    ck_assert_int_eq(effects(job), 1);
    /* and took no new job once told to stop */
    ck_assert_str_eq(sql_str("SELECT status || ' ' || attempts FROM jobs WHERE id = %lld", next),
                     "queued 0");
}
END_TEST

START_TEST(failures_back_off_then_die)
{
    long long job = enqueue("fail", NULL, 3, 0);
    pid_t w = start("t/bff-worker-test", "w.log", NULL, "--concurrency", "1", "--poll", "1",
                    "--queues", Q, (char *)NULL);
    double gap1, gap2;

    ck_assert_int_eq(wait_true(20000, "SELECT status = 'dead' FROM jobs WHERE id = %lld", job), 0);
    stop_ok(w, 10000);
    ck_assert_int_eq(effects(job), 3);
    ck_assert_str_eq(sql_str("SELECT string_agg(attempt::text, ',' ORDER BY at) FROM "
                             "job_test_effects WHERE job_id = %lld", job),
                     "1,2,3");
    /* backoff 300 ms then 600 ms (±20 %) */
    gap1 = atof(sql_str("SELECT extract(epoch FROM max(at) - min(at)) FROM job_test_effects "
                        "WHERE job_id = %lld AND attempt <= 2", job));
    gap2 = atof(sql_str("SELECT extract(epoch FROM max(at) - min(at)) FROM job_test_effects "
                        "WHERE job_id = %lld AND attempt >= 2", job));
    ck_assert_msg(gap1 >= 0.23 && gap2 >= 0.47 && gap2 > gap1,
                  "retry gaps %.3f s then %.3f s: not exponential backoff", gap1, gap2);
    ck_assert_str_eq(sql_str("SELECT last_error FROM jobs WHERE id = %lld", job),
                     "failing on purpose (attempt 3)");
    ck_assert_int_eq(count_lines("w.log", "\"outcome\":\"retry\""), 2);
    ck_assert_int_eq(count_lines("w.log", "\"outcome\":\"dead\""), 1);
}
END_TEST

/* ------------------------------------------------------------------ beat */

START_TEST(beats_enqueue_each_slot_once)
{
    enum { BEATS = 4 };
    long long mark, rows, keys, kinds;
    pid_t b[BEATS];
    char log[BEATS][16];
    int i, st, logged = 0;

    /* slots an earlier beat run (a kept stack) enqueued would be no-ops */
    free(t_sql("DELETE FROM jobs WHERE unique_key IS NOT NULL AND queue = 'default' AND "
               "payload ? 'slot'"));
    mark = sql_int("SELECT coalesce(max(id), 0) FROM jobs");
    for (i = 0; i < BEATS; i++) {
        snprintf(log[i], sizeof log[i], "beat%d.log", i);
        b[i] = start("worker/bff-beat", log[i], NULL, "--once", (char *)NULL);
    }
    for (i = 0; i < BEATS; i++) {
        st = wait_exit(b[i], 30000);
        ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "beat %d: status %d", i,
                      st);
        logged += count_lines(log[i], "\"msg\":\"beat: enqueued\"");
    }
    rows = sql_int("SELECT count(*) FROM jobs WHERE id > %lld AND unique_key IS NOT NULL", mark);
    keys = sql_int("SELECT count(DISTINCT unique_key) FROM jobs WHERE id > %lld AND unique_key "
                   "IS NOT NULL", mark);
    kinds = sql_int("SELECT count(DISTINCT kind) FROM jobs WHERE id > %lld AND unique_key IS NOT "
                    "NULL", mark);
    free(t_sql("DELETE FROM jobs WHERE unique_key IS NOT NULL AND status = 'queued' AND "
               "queue = 'default' AND payload ? 'slot'"));
    /* one job per (kind, slot) between the four of them; a slot boundary
     * passing during the test may add a second slot for some kinds */
    ck_assert_int_eq(rows, keys);
    ck_assert_int_ge(kinds, 8);
    ck_assert_int_ge(rows, kinds);
    ck_assert_int_le(rows, 2 * kinds);
    ck_assert_int_eq(logged, rows);
}
END_TEST

/* ------------------------------------------------------- production jobs */

START_TEST(order_hold_runs_out)
{
    struct http_resp r;
    long long wh = inv_warehouse(), p = inv_product(0), order, t0;
    pid_t w;

    inv_lot(p, wh, 30, 10);
    inv_reqf("POST", "/api/orders/", &r,
             "{\"hold_seconds\":1,\"lines\":[{\"product_id\":%lld,\"quantity\":4}]}", p);
    inv_expect(&r, 201);
    order = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    t0 = now_ms();
    inv_stock(p, &r);   /* reserved, and cached */
    ck_assert_int_eq(inv_int(r.json, "reserved", NULL), 4);
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 6);
    t_resp_free(&r);
    inv_stock(p, &r);
    t_resp_free(&r);

    /* beat's minute tick, arriving after the hold is over */
    w = start("worker/bff-worker", "w.log", NULL, "--concurrency", "1", "--queues", Q,
              (char *)NULL);
    enqueue("expire_reservations", NULL, 5, 1500);
    ck_assert_int_eq(wait_true(10000, "SELECT status = 'expired' FROM orders WHERE id = %lld",
                               order), 0);
    /* due at 1.5 s and woken for it, not at the 5 s poll */
    ck_assert_int_lt(now_ms() - t0, 4500);
    stop_ok(w, 10000);
    {
        char path[64];

        snprintf(path, sizeof path, "/api/orders/%lld/", order);
        inv_reqf("GET", path, &r, NULL);
        inv_expect(&r, 200);
        ck_assert_str_eq(t_jstr(r.json, "status", NULL), "expired");
        t_resp_free(&r);
    }
    /* stock released, and the cached copy dropped */
    inv_stock(p, &r);
    ck_assert_int_eq(inv_int(r.json, "reserved", NULL), 0);
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 10);
    t_resp_free(&r);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

START_TEST(expired_lot_allocation_moves)
{
    struct http_resp r;
    long long wh = inv_warehouse(), p = inv_product(0), a, b, order;
    yajl_val allocs;
    char path[64];

    a = inv_lot(p, wh, 3, 10);
    b = inv_lot(p, wh, 40, 10);
    inv_reqf("POST", "/api/orders/", &r,
             "{\"lines\":[{\"product_id\":%lld,\"quantity\":5}]}", p);
    inv_expect(&r, 201);
    order = inv_int(r.json, "id", NULL);
    allocs = t_jget(inv_at(t_jget(r.json, "lines", NULL), 0), "allocations", NULL);
    ck_assert_int_eq(inv_len(allocs), 1);
    ck_assert_int_eq(inv_int(inv_at(allocs, 0), "lot_id", NULL), a);   /* FEFO: the sooner */
    t_resp_free(&r);
    inv_stock(p, &r);   /* cached */
    t_resp_free(&r);

    sql_int("UPDATE lots SET expires_on = current_date WHERE id = %lld RETURNING 1", a);
    enqueue("expire_lots", NULL, 5, 0);
    run_once("worker/bff-worker", NULL);

    snprintf(path, sizeof path, "/api/orders/%lld/", order);
    inv_reqf("GET", path, &r, NULL);
    inv_expect(&r, 200);
    allocs = t_jget(inv_at(t_jget(r.json, "lines", NULL), 0), "allocations", NULL);
    ck_assert_int_eq(inv_len(allocs), 1);
    ck_assert_int_eq(inv_int(inv_at(allocs, 0), "lot_id", NULL), b);
    ck_assert_int_eq(inv_int(inv_at(allocs, 0), "quantity", NULL), 5);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "reserved");
    t_resp_free(&r);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || reserved FROM lots WHERE id = %lld", a),
                     "expired 0");
    ck_assert_int_eq(inv_lot_col(b, "reserved"), 5);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM movements WHERE lot_id = %lld AND kind = "
                             "'expire'", a),
                     1);
    inv_stock(p, &r);   /* fresh, not the cached copy */
    ck_assert_int_eq(inv_int(r.json, "expired", NULL), 10);
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 5);
    t_resp_free(&r);
    ck_assert_int_eq(inv_violations(), 0);

    /* idempotent: a second run changes nothing */
    enqueue("expire_lots", NULL, 5, 0);
    run_once("worker/bff-worker", NULL);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM movements WHERE lot_id = %lld AND kind = "
                             "'expire'", a),
                     1);
    ck_assert_int_eq(inv_lot_col(b, "reserved"), 5);
}
END_TEST

/* The saved messages (msg-N.eml files in dir). */
static int mails(void)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        n += strncmp(de->d_name, "msg-", 4) == 0;
    closedir(d);
    return n;
}

/* The whole of dir/name, malloc'd. */
static char *slurp(const char *name)
{
    char path[256];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "r");
    ck_assert_msg(f != NULL, "no %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = calloc(1, (size_t)n + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return buf;
}

/* Is sku a row of the alert's table (a line starting "SKU ")? */
static int listed(const char *msg, const char *sku)
{
    char pat[96];

    snprintf(pat, sizeof pat, "\n%s ", sku);
    return strstr(msg, pat) != NULL;
}

START_TEST(low_stock_mail_arrives)
{
    struct http_resp r;
    long long wh = inv_warehouse(), low = inv_product(0), ok = inv_product(0), quiet;
    char smtp[64], path[64], low_sku[80], ok_sku[80], quiet_sku[80], *msg;
    const char *env[] = {smtp, "BFF_ALERT_EMAIL=ops@example.com, oncall@example.com", NULL};

    quiet = inv_product(0);
    inv_lot(low, wh, 30, 10);
    inv_lot(ok, wh, 30, 100);
    snprintf(path, sizeof path, "/api/products/%lld/", low);
    inv_reqf("PATCH", path, &r, "{\"reorder_point\":50}");
    inv_expect(&r, 200);
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/products/%lld/", ok);
    inv_reqf("PATCH", path, &r, "{\"reorder_point\":20}");
    inv_expect(&r, 200);
    t_resp_free(&r);
    snprintf(low_sku, sizeof low_sku, "%s", sql_str("SELECT sku FROM products WHERE id = %lld", low));
    snprintf(ok_sku, sizeof ok_sku, "%s", sql_str("SELECT sku FROM products WHERE id = %lld", ok));
    snprintf(quiet_sku, sizeof quiet_sku, "%s",
             sql_str("SELECT sku FROM products WHERE id = %lld", quiet));

    snprintf(smtp, sizeof smtp, "BFF_SMTP_URL=smtp://127.0.0.1:%d", t_sink_start("--dir", dir));
    enqueue("low_stock_alert", NULL, 5, 0);
    run_once("worker/bff-worker", env);
    t_sink_stop();
    ck_assert_int_eq(mails(), 1);
    msg = slurp("msg-1.eml");
    ck_assert_msg(strstr(msg, "To: ops@example.com, oncall@example.com\r\n") != NULL ||
                      strstr(msg, "To: ops@example.com, oncall@example.com\n") != NULL,
                  "no To header: %s", msg);
    ck_assert_msg(strstr(msg, "Subject: [bff] Low stock:") != NULL, "no subject: %s", msg);
    ck_assert_msg(listed(msg, low_sku), "%s (10 < 50) missing: %s", low_sku, msg);
    ck_assert_msg(!listed(msg, ok_sku), "%s (100 >= 20) listed: %s", ok_sku, msg);
    ck_assert_msg(!listed(msg, quiet_sku), "%s (no reorder point) listed", quiet_sku);
    free(msg);
    ck_assert_str_eq(sql_str("SELECT result->>'emailed' FROM jobs WHERE queue = '%s' AND kind = "
                             "'low_stock_alert'", Q),
                     "true");
}
END_TEST

START_TEST(smtp_down_retries_low_stock_mail)
{
    struct http_resp r;
    long long wh = inv_warehouse(), low = inv_product(0), job;
    char smtp[64], path[64];
    const char *env[] = {smtp, "BFF_ALERT_EMAIL=ops@example.com", NULL};

    inv_lot(low, wh, 30, 1);
    snprintf(path, sizeof path, "/api/products/%lld/", low);
    inv_reqf("PATCH", path, &r, "{\"reorder_point\":5}");
    inv_expect(&r, 200);
    t_resp_free(&r);
    snprintf(smtp, sizeof smtp, "BFF_SMTP_URL=smtp://127.0.0.1:%d", t_free_port()); /* nobody */
    job = enqueue("low_stock_alert", NULL, 5, 0);
    run_once("worker/bff-worker", env);
    ck_assert_str_eq(sql_str("SELECT status || ' ' || attempts || ' ' || (run_at > now()) FROM "
                             "jobs WHERE id = %lld", job),
                     "queued 1 true");
    ck_assert_msg(strstr(sql_str("SELECT last_error FROM jobs WHERE id = %lld", job), "SMTP") !=
                      NULL,
                  "last_error: %s", sql_str("SELECT last_error FROM jobs WHERE id = %lld", job));
}
END_TEST

static void resume_redis(void)
{
    t_stackctl("resume", "redis", NULL);
}

START_TEST(invalidation_replayed_after_redis_outage)
{
    struct http_resp r;
    long long p = inv_product(0);
    char path[64], key[64];

    snprintf(path, sizeof path, "/api/products/%lld/", p);
    snprintf(key, sizeof key, "product:%lld", p);
    inv_reqf("GET", path, &r, NULL);
    inv_expect(&r, 200);
    t_resp_free(&r);
    ck_assert_int_eq(inv_redis_exists(key), 1);

    /* a frozen Redis keeps its data: the cached product outlives the PATCH */
    ck_assert_int_eq(t_stackctl("pause", "redis", NULL), 0);
    inv_reqf("PATCH", path, &r, "{\"name\":\"Renamed while Redis was frozen\"}");
    inv_expect(&r, 200);
    t_resp_free(&r);
    ck_assert_int_ge(sql_int("SELECT count(*) FROM cache_invalidations WHERE key = '%s'", key), 1);
    ck_assert_int_eq(t_stackctl("resume", "redis", NULL), 0);
    ck_assert_int_eq(inv_redis_exists(key), 1);   /* stale */

    enqueue("replay_cache_invalidations", NULL, 3, 0);
    run_once("worker/bff-worker", NULL);
    ck_assert_int_eq(inv_redis_exists(key), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM cache_invalidations WHERE key = '%s'", key), 0);
    inv_reqf("GET", path, &r, NULL);
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "name", NULL), "Renamed while Redis was frozen");
    t_resp_free(&r);
}
END_TEST

START_TEST(metrics_warmed)
{
    inv_redis_del("metrics:stock");
    enqueue("refresh_metrics", NULL, 1, 0);
    run_once("worker/bff-worker", NULL);
    ck_assert_int_eq(inv_redis_exists("metrics:stock"), 1);
    ck_assert_str_eq(sql_str("SELECT result->>'cached' FROM jobs WHERE queue = '%s'", Q), "true");
}
END_TEST

START_TEST(sessions_cleared)
{
    long long uid, live, dead;

    t_token("*", &uid);
    live = sql_int("SELECT max(id) FROM api_tokens WHERE user_id = %lld", uid);
    t_token("*", &uid);
    dead = sql_int("SELECT max(id) FROM api_tokens WHERE user_id = %lld", uid);
    sql_int("UPDATE api_tokens SET created_at = now() - interval '40 days', expires_at = now() - "
            "interval '10 days' WHERE id = %lld RETURNING 1", dead);
    sql_int("INSERT INTO idempotency_keys (user_id, key, method, path, body_hash, status, "
            "response, created_at) VALUES (%lld, 'old-%s', 'POST', '/x', '\\x00', 201, '{}', "
            "now() - interval '3 days'), (%lld, 'new-%s', 'POST', '/x', '\\x00', 201, '{}', "
            "now()) RETURNING 1", uid, Q, uid, Q);
    enqueue("clear_sessions", NULL, 3, 0);
    run_once("worker/bff-worker", NULL);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM api_tokens WHERE id = %lld", dead), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM api_tokens WHERE id = %lld", live), 1);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM idempotency_keys WHERE key = 'old-%s'", Q), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM idempotency_keys WHERE key = 'new-%s'", Q), 1);
}
END_TEST

START_TEST(monthly_report_stored_and_mailed_once)
{
    char smtp[64], *msg;
    const char *env[] = {smtp, "BFF_ALERT_EMAIL=ops@example.com", NULL};

    free(t_sql("DELETE FROM reports WHERE month = '2001-02-01'"));
    snprintf(smtp, sizeof smtp, "BFF_SMTP_URL=smtp://127.0.0.1:%d", t_sink_start("--dir", dir));
    enqueue("monthly_report", "{\"month\": \"2001-02\"}", 5, 0);
    run_once("worker/bff-worker", env);
    ck_assert_int_eq(mails(), 1);
    msg = slurp("msg-1.eml");
    ck_assert_msg(strstr(msg, "Subject: [bff] Monthly report 2001-02") != NULL, "%s", msg);
    ck_assert_msg(strstr(msg, "Orders shipped:") != NULL, "%s", msg);
    free(msg);
    ck_assert_str_eq(sql_str("SELECT (data->>'orders_created') || ' ' || (emailed_at IS NOT "
                             "NULL) FROM reports WHERE month = '2001-02-01'"),
                     "0 true");
    /* again: same figures, no second e-mail */
    enqueue("monthly_report", "{\"month\": \"2001-02\"}", 5, 0);
    run_once("worker/bff-worker", env);
    t_sink_stop();
    ck_assert_int_eq(mails(), 1);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s' AND status = 'done'", Q),
                     2);
}
END_TEST

START_TEST(bffctl_queue_commands)
{
    char *out, args[256];
    long long dead = enqueue("record", NULL, 1, 0);

    sql_int("UPDATE jobs SET status = 'dead', attempts = 1, finished_at = now(), last_error = "
            "'x' WHERE id = %lld RETURNING 1", dead);
    ck_assert_int_eq(inv_bffctl("queue stats", &out), 0);
    ck_assert_msg(strstr(out, "queued") && strstr(out, "KIND"), "%s", out);
    free(out);
    ck_assert_int_eq(inv_bffctl("queue dead", &out), 0);
    snprintf(args, sizeof args, "%lld ", dead);
    ck_assert_msg(strstr(out, args) != NULL, "dead job %lld not listed: %s", dead, out);
    free(out);
    ck_assert_int_eq(inv_bffctl("queue scheduled", &out), 0);
    ck_assert_msg(strstr(out, "expire_reservations") && strstr(out, "every 1 min"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "queue retry %lld", dead);
    ck_assert_int_eq(inv_bffctl(args, &out), 0);
    free(out);
    ck_assert_str_eq(sql_str("SELECT status FROM jobs WHERE id = %lld", dead), "queued");
    snprintf(args, sizeof args, "queue retry %lld 2>/dev/null", dead);
    ck_assert_int_eq(inv_bffctl(args, &out), 1);   /* not dead any more */
    free(out);
    /* test-only kinds cannot be enqueued through bffctl */
    ck_assert_int_eq(inv_bffctl("queue enqueue record 2>/dev/null", &out), 2);
    free(out);
    snprintf(args, sizeof args, "queue enqueue expire_lots --queue %s", Q);
    ck_assert_int_eq(inv_bffctl(args, &out), 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s' AND kind = "
                             "'expire_lots' AND id = %lld", Q, atoll(out)),
                     1);
    free(out);
    snprintf(args, sizeof args, "queue purge --kind expire_lots");
    ck_assert_int_eq(inv_bffctl(args, &out), 0);
    ck_assert_msg(strstr(out, "deleted") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE queue = '%s' AND kind = "
                             "'expire_lots'", Q),
                     0);
    ck_assert_int_eq(inv_bffctl("report monthly --month 2001-03 --json", &out), 0);
    ck_assert_msg(strstr(out, "\"month\": \"2001-03\"") != NULL, "%s", out);
    free(out);
    ck_assert_int_eq(inv_bffctl("report monthly --month 2001-13 2>/dev/null", &out), 2);
    free(out);
}
END_TEST

static Suite *make_worker_suite(void)
{
    Suite *s = suite_create("e2e_worker");
    TCase *queue = tcase_create("queue"), *beat = tcase_create("beat"),
          *jobs = tcase_create("jobs"), *redis = tcase_create("redis");

    tcase_set_timeout(queue, 120);
    tcase_set_timeout(beat, 60);
    tcase_set_timeout(jobs, 120);
    tcase_set_timeout(redis, 60);
    tcase_add_checked_fixture(queue, setup, teardown);
    tcase_add_checked_fixture(beat, setup, teardown);
    tcase_add_checked_fixture(jobs, setup, teardown);
    tcase_add_checked_fixture(redis, setup, teardown);
    tcase_add_unchecked_fixture(redis, NULL, resume_redis);
    tcase_add_test(queue, two_workers_run_each_job_once);
    tcase_add_test(queue, killed_worker_job_runs_again_after_lease);
    tcase_add_test(queue, crashed_worker_process_is_replaced);
    tcase_add_test(queue, sigterm_lets_the_running_job_finish);
    tcase_add_test(queue, failures_back_off_then_die);
    tcase_add_test(beat, beats_enqueue_each_slot_once);
    tcase_add_test(jobs, order_hold_runs_out);
    tcase_add_test(jobs, expired_lot_allocation_moves);
    tcase_add_test(jobs, low_stock_mail_arrives);
    tcase_add_test(jobs, smtp_down_retries_low_stock_mail);
    tcase_add_test(jobs, metrics_warmed);
    tcase_add_test(jobs, sessions_cleared);
    tcase_add_test(jobs, monthly_report_stored_and_mailed_once);
    tcase_add_test(jobs, bffctl_queue_commands);
    tcase_add_test(redis, invalidation_replayed_after_redis_outage);
    suite_add_tcase(s, queue);
    suite_add_tcase(s, beat);
    suite_add_tcase(s, jobs);
    suite_add_tcase(s, redis);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_worker_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
