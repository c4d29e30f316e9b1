/*
 * check_metrics.c — the shared-memory metrics segment (lib/metrics.c) and
 * the threshold table, without a stack: segments of their own name
 * (/bff-metrics-check-<pid>-<n>), removed by the teardown.
 *
 * "core": create/attach from two processes, exact counts under concurrent
 * writers, status classes, layout change, host-wide counters, the minute
 * ring (with an injected clock) across minutes and across a full wrap,
 * the take-over of a position left BUSY by a dead process.
 * "limits": bucket edges, quantile interpolation, classification on and
 * around every bound (a value exactly on a bound is warning).
 */
#include <check.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "metrics.h"

static char name[64];
static int seq;
static const char *const slots[] = {"GET /a/", "POST /a/", "GET /b/{id}/", "GET (unmatched)"};
#define NSLOTS 4

/* A fixed minute boundary: 2026-11-28T06:00:00Z. */
#define T0 ((int64_t)1795845600)

static void setup(void)
{
    snprintf(name, sizeof name, "/bff-metrics-check-%d-%d", (int)getpid(), seq++);
    bff_metrics_unlink(name);
}

static void teardown(void)
{
    bff_metrics_unlink(name);
}

static struct bff_metrics *open_seg(int64_t now)
{
    struct bff_error e;
    struct bff_metrics *m;

    bff_error_clear(&e);
    m = bff_metrics_open(name, slots, NSLOTS, now, &e);
    ck_assert_msg(m != NULL, "bff_metrics_open: %s", e.msg);
    return m;
}

static uint64_t count(struct bff_metrics *m, int slot, int minutes, int64_t now)
{
    struct bff_mx_stats s;

    bff_metrics_read(m, slot, minutes, now, &s);
    return s.count;
}

/* ------------------------------------------------------------------ core */

START_TEST(test_create_attach_two_processes)
{
    struct bff_metrics *m = open_seg(T0);
    struct bff_metrics *ro;
    struct bff_error e;
    pid_t pid;
    int st, i;

    ck_assert_int_eq(bff_metrics_nslots(m), NSLOTS);
    ck_assert_str_eq(bff_metrics_slot_name(m, 2), "GET /b/{id}/");
    ck_assert_int_eq(bff_metrics_created(m), T0);
    bff_metrics_record(m, 0, 200, 1500, T0 + 1);

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        /* A second process attaches (same layout: no new segment) and adds. */
        struct bff_metrics *c = bff_metrics_open(name, slots, NSLOTS, T0 + 999, NULL);

        if (c == NULL || bff_metrics_created(c) != T0)
            _exit(1);
        for (i = 0; i < 7; i++)
            bff_metrics_record(c, 2, 404, 2000, T0 + 2);
        bff_metrics_close(c);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed");

    ck_assert_uint_eq(count(m, 0, 0, T0 + 3), 1);
    ck_assert_uint_eq(count(m, 2, 0, T0 + 3), 7);
    ck_assert_uint_eq(count(m, -1, 0, T0 + 3), 8);
    ck_assert_uint_eq(count(m, -1, 5, T0 + 3), 8);

    /* bffctl's read-only view, without slot names of its own. */
    bff_error_clear(&e);
    ro = bff_metrics_attach(name, &e);
    ck_assert_msg(ro != NULL, "attach: %s", e.msg);
    ck_assert_int_eq(bff_metrics_nslots(ro), NSLOTS);
    ck_assert_str_eq(bff_metrics_slot_name(ro, 3), "GET (unmatched)");
    ck_assert_uint_eq(count(ro, 2, 0, T0 + 3), 7);
    bff_metrics_record(ro, 2, 200, 1, T0 + 3); /* read-only: ignored */
    ck_assert_uint_eq(count(m, 2, 0, T0 + 3), 7);
    bff_metrics_close(ro);
    bff_metrics_close(m);
}
END_TEST

START_TEST(test_attach_missing)
{
    struct bff_error e;

    bff_error_clear(&e);
    ck_assert_ptr_null(bff_metrics_attach(name, &e));
    ck_assert_str_eq(e.code, BFF_E_NOT_FOUND);
}
END_TEST

/* Four processes hammer the same cells: every increment lands. */
START_TEST(test_concurrent_writers_exact)
{
    enum { PROCS = 4, EACH = 20000 };
    struct bff_metrics *m = open_seg(T0);
    struct bff_mx_stats s;
    uint64_t c[BFF_MX_NCOUNTERS];
    pid_t pids[PROCS];
    int i, st;

    for (i = 0; i < PROCS; i++) {
        pids[i] = fork();
        ck_assert_int_ge(pids[i], 0);
        if (pids[i] == 0) {
            struct bff_metrics *w = bff_metrics_open(name, slots, NSLOTS, T0, NULL);
            int k;

            if (w == NULL)
                _exit(1);
            for (k = 0; k < EACH; k++) {
                /* spread over two minutes, so ring positions are claimed
                 * concurrently too */
                int64_t now = T0 + 59 + (k & 1);

                bff_metrics_record(w, 1, k % 10 == 0 ? 500 : 201, 100 + k % 7, now);
                bff_metrics_add(w, BFF_MX_CACHE_HITS, 1, now);
            }
            _exit(0);
        }
    }
    for (i = 0; i < PROCS; i++) {
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    bff_metrics_read(m, 1, 0, T0 + 60, &s);
    ck_assert_uint_eq(s.count, PROCS * EACH);
    ck_assert_uint_eq(s.status[5], PROCS * EACH / 10);
    ck_assert_uint_eq(s.status[2], PROCS * EACH - PROCS * EACH / 10);
    bff_metrics_read(m, 1, 5, T0 + 60, &s);
    ck_assert_uint_eq(s.count, PROCS * EACH);
    bff_metrics_read(m, 1, 1, T0 + 60, &s); /* the second minute alone */
    ck_assert_uint_eq(s.count, PROCS * EACH / 2);
    bff_metrics_counters(m, 0, T0 + 60, c);
    ck_assert_uint_eq(c[BFF_MX_CACHE_HITS], PROCS * EACH);
    bff_metrics_counters(m, 5, T0 + 60, c);
    ck_assert_uint_eq(c[BFF_MX_CACHE_HITS], PROCS * EACH);
    bff_metrics_close(m);
}
END_TEST

START_TEST(test_status_classes_sum_max)
{
    struct bff_metrics *m = open_seg(T0);
    static const int statuses[] = {101, 200, 204, 301, 404, 409, 500, 503, 99, 600};
    struct bff_mx_stats s;
    size_t i;

    for (i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        bff_metrics_record(m, 0, statuses[i], (int64_t)(i + 1) * 1000, T0);
    bff_metrics_read(m, 0, 0, T0, &s);
    ck_assert_uint_eq(s.count, 10);
    ck_assert_uint_eq(s.status[0], 2); /* 99, 600 */
    ck_assert_uint_eq(s.status[1], 1);
    ck_assert_uint_eq(s.status[2], 2);
    ck_assert_uint_eq(s.status[3], 1);
    ck_assert_uint_eq(s.status[4], 2);
    ck_assert_uint_eq(s.status[5], 2);
    ck_assert_uint_eq(s.sum_us, 55000);
    ck_assert_uint_eq(s.max_us, 10000);
    /* out-of-range slots are ignored, not a crash */
    bff_metrics_record(m, NSLOTS, 200, 1, T0);
    bff_metrics_record(m, -1, 200, 1, T0);
    ck_assert_uint_eq(count(m, -1, 0, T0), 10);
    bff_metrics_close(m);
}
END_TEST

/* A build with another route table gets a fresh segment. */
START_TEST(test_layout_change_replaces)
{
    static const char *const other[] = {"GET /a/", "POST /a/", "GET /c/", "GET (unmatched)"};
    struct bff_metrics *m = open_seg(T0), *n2, *again;

    bff_metrics_record(m, 0, 200, 10, T0);
    n2 = bff_metrics_open(name, other, NSLOTS, T0 + 100, NULL);
    ck_assert_ptr_nonnull(n2);
    ck_assert_int_eq(bff_metrics_created(n2), T0 + 100);
    ck_assert_uint_eq(count(n2, 0, 0, T0 + 100), 0);
    ck_assert_str_eq(bff_metrics_slot_name(n2, 2), "GET /c/");
    /* the old mapping still works (a process of the old build) */
    bff_metrics_record(m, 0, 200, 10, T0);
    ck_assert_uint_eq(count(m, 0, 0, T0), 2);
    /* and the name now means the new layout */
    again = bff_metrics_open(name, other, NSLOTS, T0 + 200, NULL);
    ck_assert_int_eq(bff_metrics_created(again), T0 + 100);
    bff_metrics_close(again);
    bff_metrics_close(n2);
    bff_metrics_close(m);
}
END_TEST

START_TEST(test_counters_sync)
{
    struct bff_metrics *m = open_seg(T0);
    uint64_t local[BFF_MX_NCOUNTERS] = {0, 0, 0}, c[BFF_MX_NCOUNTERS];

    local[BFF_MX_CACHE_HITS] = 5;
    local[BFF_MX_CACHE_MISSES] = 2;
    bff_metrics_sync(m, local, T0);
    bff_metrics_sync(m, local, T0); /* nothing new: nothing added */
    local[BFF_MX_CACHE_HITS] = 8;
    local[BFF_MX_DB_ERRORS] = 1;
    bff_metrics_sync(m, local, T0 + 60);
    bff_metrics_counters(m, 0, T0 + 60, c);
    ck_assert_uint_eq(c[BFF_MX_CACHE_HITS], 8);
    ck_assert_uint_eq(c[BFF_MX_CACHE_MISSES], 2);
    ck_assert_uint_eq(c[BFF_MX_DB_ERRORS], 1);
    bff_metrics_counters(m, 1, T0 + 60, c); /* the last minute only */
    ck_assert_uint_eq(c[BFF_MX_CACHE_HITS], 3);
    ck_assert_uint_eq(c[BFF_MX_CACHE_MISSES], 0);
    bff_metrics_close(m);
}
END_TEST

/* One request per minute for 20 minutes: the 5-minute window always holds
 * the last 5, even after the ring (16 minutes) has wrapped. */
START_TEST(test_ring_rotation)
{
    struct bff_metrics *m = open_seg(T0);
    struct bff_mx_stats s;
    int k;

    for (k = 0; k < 20; k++) {
        int64_t now = T0 + k * 60 + 30;

        bff_metrics_record(m, 0, 200, (k + 1) * 1000, now); /* k+1 ms */
        ck_assert_uint_eq(count(m, 0, 5, now), (uint64_t)(k + 1 < 5 ? k + 1 : 5));
        ck_assert_uint_eq(count(m, 0, 1, now), 1);
        bff_metrics_read(m, 0, 5, now, &s);
        ck_assert_uint_eq(s.max_us, (uint64_t)(k + 1) * 1000);
        ck_assert_uint_eq(s.sum_us,
                          (uint64_t)1000 * (k + 1 < 5 ? (k + 1) * (k + 2) / 2 : 5 * (k + 1) - 10));
    }
    ck_assert_uint_eq(count(m, 0, 0, T0 + 20 * 60), 20);
    /* Quiet minutes leave the window empty... */
    ck_assert_uint_eq(count(m, 0, 5, T0 + 19 * 60 + 5 * 60), 0);
    /* ...and a request after a long silence (a position last used 16
     * minutes ago) is not mixed with the stale data. */
    bff_metrics_record(m, 0, 503, 7000, T0 + 35 * 60);
    bff_metrics_read(m, 0, 5, T0 + 35 * 60, &s);
    ck_assert_uint_eq(s.count, 1);
    ck_assert_uint_eq(s.status[5], 1);
    ck_assert_uint_eq(s.max_us, 7000);
    /* the window reaches back exactly 5 minutes, the current one included */
    bff_metrics_record(m, 1, 200, 1, T0 + 40 * 60);      /* minute 40 */
    bff_metrics_record(m, 1, 200, 1, T0 + 44 * 60 + 59); /* minute 44 */
    ck_assert_uint_eq(count(m, 1, 5, T0 + 44 * 60 + 59), 2);
    ck_assert_uint_eq(count(m, 1, 5, T0 + 45 * 60), 1);
    bff_metrics_close(m);
}
END_TEST

/*
 * A process that died while recycling a ring position leaves its stamp
 * BUSY. Writers wait a moment, then take the position over. The stamps
 * follow the 64-byte header (see metrics.c's layout).
 */
START_TEST(test_busy_takeover)
{
    struct bff_metrics *m = open_seg(T0);
    uint64_t minute = (uint64_t)(T0 + 3600) / 60, *stamp;
    int fd = shm_open(name, O_RDWR, 0);
    void *base;

    ck_assert_int_ge(fd, 0);
    base = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    ck_assert(base != MAP_FAILED);
    stamp = (uint64_t *)((char *)base + 64) + minute % BFF_MX_RING;
    *stamp = minute | (1ULL << 63);
    bff_metrics_record(m, 0, 200, 5, T0 + 3600);
    ck_assert_uint_eq(*stamp, minute);
    ck_assert_uint_eq(count(m, 0, 1, T0 + 3600), 1);
    munmap(base, 4096);
    bff_metrics_close(m);
}
END_TEST

/* Recording in minute k prepares minute k+1's position: its stale data
 * (from 15 minutes earlier) is gone before k+1 begins. */
START_TEST(test_next_minute_prepared)
{
    struct bff_metrics *m = open_seg(T0);
    int64_t k = T0 + 20 * 60;

    bff_metrics_record(m, 0, 200, 5, k - 15 * 60); /* same position as k+1 */
    bff_metrics_record(m, 0, 200, 5, k);
    ck_assert_uint_eq(count(m, 0, 1, k + 60), 0);
    ck_assert_uint_eq(count(m, 0, 2, k + 60), 1);
    bff_metrics_close(m);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST(test_bucket_edges)
{
    struct bff_metrics *m = open_seg(T0);
    struct bff_mx_stats s;

    bff_metrics_record(m, 0, 200, 250, T0);      /* 0.25 ms: first bucket */
    bff_metrics_record(m, 0, 200, 251, T0);      /* next */
    bff_metrics_record(m, 0, 200, 200000, T0);   /* 200 ms: the 200 bucket */
    bff_metrics_record(m, 0, 200, 10000000, T0); /* 10 s: last finite */
    bff_metrics_record(m, 0, 200, 10000001, T0); /* +Inf */
    bff_metrics_read(m, 0, 0, T0, &s);
    ck_assert_uint_eq(s.bucket[0], 1);
    ck_assert_uint_eq(s.bucket[1], 1);
    ck_assert_int_eq((int)bff_mx_bounds_ms[9], 200);
    ck_assert_uint_eq(s.bucket[9], 1);
    ck_assert_uint_eq(s.bucket[BFF_MX_BUCKETS - 2], 1);
    ck_assert_uint_eq(s.bucket[BFF_MX_BUCKETS - 1], 1);
    bff_metrics_close(m);
}
END_TEST

static void add_ms(struct bff_mx_stats *s, double ms)
{
    int b;

    for (b = 0; b < BFF_MX_BUCKETS - 1 && ms > bff_mx_bounds_ms[b]; b++)
        ;
    s->bucket[b]++;
    s->count++;
    s->status[2]++;
    s->sum_us += (uint64_t)(ms * 1000);
    if ((uint64_t)(ms * 1000) > s->max_us)
        s->max_us = (uint64_t)(ms * 1000);
}

START_TEST(test_quantiles)
{
    struct bff_mx_stats s;
    int i;

    memset(&s, 0, sizeof s);
    ck_assert(bff_mx_quantile(&s, 0.5) < 0); /* no data */

    /* 1..100 ms, one each: interpolation is exact for a uniform spread */
    for (i = 1; i <= 100; i++)
        add_ms(&s, i);
    ck_assert_double_eq_tol(bff_mx_quantile(&s, 0.50), 50.0, 1e-9);
    ck_assert_double_eq_tol(bff_mx_quantile(&s, 0.95), 95.0, 1e-9);
    ck_assert_double_eq_tol(bff_mx_quantile(&s, 0.99), 99.0, 1e-9);
    ck_assert_double_eq_tol(bff_mx_quantile(&s, 1.0), 100.0, 1e-9);

    /* 100 requests of 3 ms: inside (2, 5], capped by the max (3 ms) */
    memset(&s, 0, sizeof s);
    for (i = 0; i < 100; i++)
        add_ms(&s, 3);
    ck_assert_double_eq_tol(bff_mx_quantile(&s, 0.50), 2.5, 1e-9);
    ck_assert_double_eq_tol(bff_mx_quantile(&s, 1.0), 3.0, 1e-9);
    ck_assert(bff_mx_quantile(&s, 0.99) <= 3.0);

    /* 95 fast + 5 slow: p95 stays fast, p99 lands among the slow ones */
    memset(&s, 0, sizeof s);
    for (i = 0; i < 95; i++)
        add_ms(&s, 4);
    for (i = 0; i < 5; i++)
        add_ms(&s, 1500);
    ck_assert(bff_mx_quantile(&s, 0.95) <= 5.0);
    ck_assert(bff_mx_quantile(&s, 0.99) > 1000.0 && bff_mx_quantile(&s, 0.99) <= 1500.0);

    /* beyond the last bound: the max is the upper edge */
    memset(&s, 0, sizeof s);
    add_ms(&s, 20000);
    ck_assert_double_eq_tol(bff_mx_quantile(&s, 1.0), 20000.0, 1e-9);
    ck_assert(bff_mx_quantile(&s, 0.5) >= 10000.0);
}
END_TEST

START_TEST(test_classification_table)
{
    static const struct bff_mx_threshold rt = {"response_time_ms", 0, 200, 1000};
    static const struct bff_mx_threshold err = {"error_rate_pct", 0, 1, 5};
    static const struct bff_mx_threshold db = {"db_connections_pct", 0, 80, 95};
    static const struct bff_mx_threshold hit = {"cache_hit_rate_pct", 1, 80, 50};
    static const struct bff_mx_threshold q = {"queue_length", 0, 100, 1000};
    static const struct {
        const struct bff_mx_threshold *t;
        int has;
        double v;
        enum bff_mx_level want;
    } cases[] = {
        {&rt, 1, 0, BFF_MX_NORMAL},        {&rt, 1, 199.99, BFF_MX_NORMAL},
        {&rt, 1, 200, BFF_MX_WARNING},     {&rt, 1, 500, BFF_MX_WARNING},
        {&rt, 1, 1000, BFF_MX_WARNING},    {&rt, 1, 1000.01, BFF_MX_CRITICAL},
        {&rt, 0, 5000, BFF_MX_NORMAL},     {&err, 1, 0.99, BFF_MX_NORMAL},
        {&err, 1, 1, BFF_MX_WARNING},      {&err, 1, 5, BFF_MX_WARNING},
        {&err, 1, 5.01, BFF_MX_CRITICAL},  {&db, 1, 79.99, BFF_MX_NORMAL},
        {&db, 1, 80, BFF_MX_WARNING},      {&db, 1, 95, BFF_MX_WARNING},
        {&db, 1, 95.5, BFF_MX_CRITICAL},   {&hit, 1, 100, BFF_MX_NORMAL},
        {&hit, 1, 80.01, BFF_MX_NORMAL},   {&hit, 1, 80, BFF_MX_WARNING},
        {&hit, 1, 65, BFF_MX_WARNING},     {&hit, 1, 50, BFF_MX_WARNING},
        {&hit, 1, 49.99, BFF_MX_CRITICAL}, {&hit, 1, 0, BFF_MX_CRITICAL},
        {&hit, 0, 0, BFF_MX_NORMAL},       {&q, 1, 0, BFF_MX_NORMAL},
        {&q, 1, 99, BFF_MX_NORMAL},        {&q, 1, 100, BFF_MX_WARNING},
        {&q, 1, 1000, BFF_MX_WARNING},     {&q, 1, 1001, BFF_MX_CRITICAL},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        enum bff_mx_level got = bff_mx_classify(cases[i].t, cases[i].has, cases[i].v);

        ck_assert_msg(got == cases[i].want, "%s %s%g: got %s, want %s", cases[i].t->name,
                      cases[i].has ? "" : "(no value) ", cases[i].v, bff_mx_level_name(got),
                      bff_mx_level_name(cases[i].want));
    }
    ck_assert_str_eq(bff_mx_level_name(BFF_MX_NORMAL), "normal");
    ck_assert_str_eq(bff_mx_level_name(BFF_MX_WARNING), "warning");
    ck_assert_str_eq(bff_mx_level_name(BFF_MX_CRITICAL), "critical");
}
END_TEST

START_TEST(test_bad_names)
{
    static const char *const longname[] = {"GET "
                                           "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                           "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"};
    struct bff_error e;

    bff_error_clear(&e);
    ck_assert_ptr_null(bff_metrics_open("no-slash", slots, NSLOTS, T0, &e));
    ck_assert_ptr_null(bff_metrics_open("/a/b", slots, NSLOTS, T0, &e));
    ck_assert_ptr_null(bff_metrics_open(name, slots, 0, T0, &e));
    ck_assert_ptr_null(bff_metrics_open(name, longname, 1, T0, &e));
}
END_TEST

static Suite *make_metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");

    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_set_timeout(core, 30);
    tcase_add_test(core, test_create_attach_two_processes);
    tcase_add_test(core, test_attach_missing);
    tcase_add_test(core, test_concurrent_writers_exact);
    tcase_add_test(core, test_status_classes_sum_max);
    tcase_add_test(core, test_layout_change_replaces);
    tcase_add_test(core, test_counters_sync);
    tcase_add_test(core, test_ring_rotation);
    tcase_add_test(core, test_busy_takeover);
    tcase_add_test(core, test_next_minute_prepared);
    tcase_add_test(limits, test_bucket_edges);
    tcase_add_test(limits, test_quantiles);
    tcase_add_test(limits, test_classification_table);
    tcase_add_test(limits, test_bad_names);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_metrics_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
