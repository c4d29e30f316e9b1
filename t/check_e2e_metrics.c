/*
 * check_e2e_metrics.c — metrics through the real path (nginx → bff-fcgi
 * pool → PostgreSQL/Redis) of the test stack.
 *
 * The metrics segment belongs to the stack (BFF_METRICS_SHM differs per
 * test stack) and other suites ran before this one, so request counts are
 * compared as deltas: read, send N requests with known statuses, read
 * again. Suites run one at a time, so between two reads only this suite's
 * requests (and its own reads) reach the pool.
 *
 * "core": exact per-route counts and plausible percentiles; Prometheus
 * output that parses (every line, cumulative buckets, +Inf == _count) and
 * is refused to a non-loopback-127.0.0.1 client by nginx; system
 * thresholds flipping at the runbook's bounds (queue_length via queued
 * jobs); stock figures equal to sums computed in SQL; orders and FEFO;
 * pattern invalidation deleting exactly the matching keys; the dashboard
 * call; the request log line. "limits": a database outage counted as 5xx
 * and database errors, and the error rate turning non-zero.
 */
#include <check.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "inv.h"

#define JOB_KIND "e2e_metrics_noop"

static char *mtoken; /* metrics.read (strdup'd: t_token's buffer is reused) */

static void setup(void)
{
    mtoken = strdup(t_token("metrics.read", NULL));
    inv_login("*");
}

static void teardown(void)
{
    free(mtoken);
    mtoken = NULL;
}

/* GET path with the metrics token. */
static void mget(const char *path, struct http_resp *r)
{
    const char *h[] = {t_auth(mtoken), NULL};

    t_http("GET", path, h, NULL, 0, r);
}

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
    ck_assert_msg(v != NULL, "no row: %s", sql);
    n = atoll(v);
    free(v);
    return n;
}

/* ------------------------------------------------------- performance */

struct window {
    long long count, s4, s5;
    double p50, p95, p99, max;
};
struct route_stats {
    struct window last, total;
};

static double jnum(yajl_val v, const char *k)
{
    const char *path[] = {k, NULL};
    yajl_val x = yajl_tree_get(v, path, yajl_t_any);

    if (x == NULL || YAJL_IS_NULL(x))
        return -1;
    ck_assert_msg(YAJL_IS_NUMBER(x), "%s is not a number", k);
    return YAJL_GET_DOUBLE(x);
}

static void read_window(yajl_val w, struct window *out)
{
    int ok;

    out->count = t_jint(w, &ok, "count", NULL);
    ck_assert(ok);
    out->s4 = t_jint(w, &ok, "status_4xx", NULL);
    ck_assert(ok);
    out->s5 = t_jint(w, &ok, "status_5xx", NULL);
    ck_assert(ok);
    out->p50 = jnum(w, "p50_ms");
    out->p95 = jnum(w, "p95_ms");
    out->p99 = jnum(w, "p99_ms");
    out->max = jnum(w, "max_ms");
}

/* The stats of one "METHOD pattern" from /api/metrics/performance/ (zeros
 * when the route has served nothing yet). */
static void perf(const char *route, struct route_stats *out)
{
    struct http_resp r;
    yajl_val routes;
    size_t i;
    int ok;

    memset(out, 0, sizeof *out);
    mget("/api/metrics/performance/", &r);
    inv_expect(&r, 200);
    ck_assert_int_eq(t_jint(r.json, &ok, "window_seconds", NULL), 300);
    routes = t_jget(r.json, "routes", NULL);
    ck_assert(routes != NULL && YAJL_IS_ARRAY(routes));
    for (i = 0; i < routes->u.array.len; i++) {
        yajl_val e = routes->u.array.values[i];
        const char *name = t_jstr(e, "route", NULL);

        ck_assert(name != NULL);
        if (strcmp(name, route) != 0)
            continue;
        read_window(t_jget(e, "last_5m", NULL), &out->last);
        read_window(t_jget(e, "since_start", NULL), &out->total);
    }
    t_resp_free(&r);
}

static void assert_plausible(const struct window *w, const char *what)
{
    ck_assert_msg(w->p50 >= 0 && w->p50 <= w->p95 && w->p95 <= w->p99 && w->p99 <= w->max &&
                      w->max < 10000,
                  "%s: implausible percentiles p50 %g p95 %g p99 %g max %g", what, w->p50, w->p95,
                  w->p99, w->max);
}

static void send_n(const char *method, const char *path, int n, long want)
{
    int i;

    for (i = 0; i < n; i++) {
        struct http_resp r;

        inv_req(method, path, NULL, NULL, &r);
        ck_assert_msg(r.status == want, "%s %s: %ld, want %ld: %s", method, path, r.status, want,
                      r.body);
        t_resp_free(&r);
    }
}

START_TEST(test_performance_exact_counts)
{
    struct route_stats g0, g1, h0, h1, u0, u1, d0, d1;
    long long pid = inv_product(0);
    char path[64];

    snprintf(path, sizeof path, "/api/products/%lld/", pid);
    perf("GET /api/products/{id}/", &g0);
    perf("HEAD /api/products/{id}/", &h0);
    perf("GET (unmatched)", &u0);
    perf("DELETE (unmatched)", &d0);

    send_n("GET", path, 7, 200);
    send_n("GET", "/api/products/999999999999/", 5, 404); /* matched: counts under the route */
    send_n("HEAD", path, 4, 200);
    send_n("GET", "/api/no-such-thing/", 3, 404);
    send_n("DELETE", path, 2, 405);

    perf("GET /api/products/{id}/", &g1);
    perf("HEAD /api/products/{id}/", &h1);
    perf("GET (unmatched)", &u1);
    perf("DELETE (unmatched)", &d1);

    ck_assert_int_eq(g1.total.count - g0.total.count, 12);
    ck_assert_int_eq(g1.total.s4 - g0.total.s4, 5);
    ck_assert_int_eq(g1.total.s5 - g0.total.s5, 0);
    ck_assert_int_eq(h1.total.count - h0.total.count, 4);
    ck_assert_int_eq(u1.total.count - u0.total.count, 3);
    ck_assert_int_eq(u1.total.s4 - u0.total.s4, 3);
    ck_assert_int_eq(d1.total.count - d0.total.count, 2);
    ck_assert_int_eq(d1.total.s4 - d0.total.s4, 2);
    /* all of it within the last 5 minutes */
    ck_assert_int_ge(g1.last.count, 12);
    ck_assert_int_le(g1.last.count, g1.total.count);
    ck_assert_int_ge(g1.last.s4, 5);
    ck_assert_int_ge(h1.last.count, 4);
    assert_plausible(&g1.last, "GET product last_5m");
    assert_plausible(&g1.total, "GET product since_start");
    assert_plausible(&h1.total, "HEAD product since_start");
}
END_TEST

/* ----------------------------------------------------------- Prometheus */

static void get_metrics(struct http_resp *r)
{
    t_http("GET", "/metrics", NULL, NULL, 0, r);
    ck_assert_msg(r->status == 200, "/metrics: %ld %s", r->status, r->body);
}

/* The value of the sample line "name{labels} value" (labels exactly as
 * written), or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    const char *p = text;

    while ((p = strstr(p, series)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    return -1;
}

START_TEST(test_prometheus_parses)
{
    static const char *sample_re =
        "^[a-zA-Z_:][a-zA-Z0-9_:]*"
        "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\""
        "(,[a-zA-Z_][a-zA-Z0-9_]*=\"([^\"\\\\\n]|\\\\[\\\\\"n])*\")*\\})?"
        " ([-+]?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?|NaN|[-+]Inf)( -?[0-9]+)?$";
    static const char *help_re = "^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* [^\n]+$";
    static const char *type_re =
        "^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$";
    regex_t rs, rh, rt;
    struct http_resp r;
    char *ct, *text, *line, *save = NULL, prev_series[512] = "", typed[64][64];
    double prev_le = -1, prev_cum = -1, inf = -1;
    int ntyped = 0, lines = 0, buckets = 0, histograms = 0, i;

    ck_assert_int_eq(regcomp(&rs, sample_re, REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_int_eq(regcomp(&rh, help_re, REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_int_eq(regcomp(&rt, type_re, REG_EXTENDED | REG_NOSUB), 0);

    send_n("GET", "/api/no-such-thing/", 1, 404); /* at least one series besides ours */
    get_metrics(&r);
    ct = t_header(&r, "Content-Type");
    ck_assert_msg(ct && strncmp(ct, "text/plain; version=0.0.4", 25) == 0, "Content-Type %s", ct);
    free(ct);
    ck_assert(r.len > 0 && r.body[r.len - 1] == '\n');

    text = strdup(r.body);
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lines++;
        if (strncmp(line, "# HELP ", 7) == 0) {
            ck_assert_msg(regexec(&rh, line, 0, NULL, 0) == 0, "bad HELP line: %s", line);
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char fam[64];

            ck_assert_msg(regexec(&rt, line, 0, NULL, 0) == 0, "bad TYPE line: %s", line);
            sscanf(line + 7, "%63s", fam);
            for (i = 0; i < ntyped; i++)
                ck_assert_msg(strcmp(typed[i], fam) != 0, "family %s typed twice", fam);
            ck_assert(ntyped < 64);
            snprintf(typed[ntyped++], sizeof typed[0], "%s", fam);
            continue;
        }
        ck_assert_msg(line[0] != '#', "unexpected comment: %s", line);
        ck_assert_msg(regexec(&rs, line, 0, NULL, 0) == 0, "bad sample line: %s", line);
        /* its family was TYPEd before it */
        {
            int found = 0;

            for (i = 0; i < ntyped; i++) {
                size_t n = strlen(typed[i]);

                if (strncmp(line, typed[i], n) == 0 &&
                    (line[n] == '{' || line[n] == ' ' || line[n] == '_'))
                    found = 1;
            }
            ck_assert_msg(found, "sample before its # TYPE: %s", line);
        }
        /* histogram buckets: cumulative per series, ascending le, +Inf last
         * and equal to _count */
        if (strncmp(line, "bff_http_request_duration_seconds_bucket{", 41) == 0) {
            char *le = strstr(line, ",le=\""), series[512];
            double v = strtod(strrchr(line, ' ') + 1, NULL), lev;

            ck_assert(le != NULL);
            snprintf(series, sizeof series, "%.*s", (int)(le - line), line);
            if (strcmp(series, prev_series) != 0) {
                ck_assert_msg(prev_series[0] == '\0' || inf >= 0, "series without +Inf: %s",
                              prev_series);
                snprintf(prev_series, sizeof prev_series, "%s", series);
                prev_le = -1;
                prev_cum = -1;
                inf = -1;
                histograms++;
            }
            lev = strncmp(le + 5, "+Inf", 4) == 0 ? 1e300 : strtod(le + 5, NULL);
            ck_assert_msg(lev > prev_le, "le not ascending: %s", line);
            ck_assert_msg(v >= prev_cum, "buckets not cumulative: %s", line);
            prev_le = lev;
            prev_cum = v;
            if (lev == 1e300)
                inf = v;
            buckets++;
        } else if (strncmp(line, "bff_http_request_duration_seconds_count{", 40) == 0) {
            ck_assert_msg(inf >= 0, "_count before +Inf: %s", line);
            ck_assert_msg(strtod(strrchr(line, ' ') + 1, NULL) == inf, "+Inf %g != _count: %s", inf,
                          line);
        }
    }
    free(text);
    ck_assert_int_gt(lines, 20);
    ck_assert_int_gt(histograms, 1);
    ck_assert_int_eq(buckets % 16, 0);

    /* the families the runbook's dashboards need */
    ck_assert(sample(r.body, "bff_cache_hits_total") >= 0);
    ck_assert(sample(r.body, "bff_cache_misses_total") >= 0);
    ck_assert(sample(r.body, "bff_db_errors_total") >= 0);
    ck_assert_msg(sample(r.body, "bff_queue_length") ==
                      (double)sql_int("SELECT count(*) FROM jobs WHERE status = 'queued'"),
                  "bff_queue_length is not the queued jobs");
    ck_assert(sample(r.body, "bff_stock_available_units") >= 0);
    ck_assert(sample(r.body, "bff_stock_reserved_units") >= 0);
    ck_assert(sample(r.body, "bff_http_requests_total{route=\"(unmatched)\",method=\"GET\","
                             "status=\"4xx\"}") >= 1);
    t_resp_free(&r);
    regfree(&rs);
    regfree(&rh);
    regfree(&rt);
}
END_TEST

/* requests_total (status classes) and the histogram count agree, and both
 * move by exactly what we sent. */
START_TEST(test_prometheus_counts)
{
    static const char *const ok =
        "bff_http_requests_total{route=\"/api/warehouses/{id}/\",method=\"GET\",status=\"2xx\"}";
    static const char *const nf =
        "bff_http_requests_total{route=\"/api/warehouses/{id}/\",method=\"GET\",status=\"4xx\"}";
    static const char *const cnt =
        "bff_http_request_duration_seconds_count{route=\"/api/warehouses/{id}/\",method=\"GET\"}";
    struct http_resp a, b;
    long long wh = inv_warehouse();
    double ok0, nf0, c0;
    char path[64];

    get_metrics(&a);
    ok0 = sample(a.body, ok);
    nf0 = sample(a.body, nf);
    c0 = sample(a.body, cnt);
    snprintf(path, sizeof path, "/api/warehouses/%lld/", wh);
    send_n("GET", path, 6, 200);
    send_n("GET", "/api/warehouses/999999999999/", 2, 404);
    get_metrics(&b);
    ck_assert_double_eq(sample(b.body, ok) - (ok0 < 0 ? 0 : ok0), 6);
    ck_assert_double_eq(sample(b.body, nf) - (nf0 < 0 ? 0 : nf0), 2);
    ck_assert_double_eq(sample(b.body, cnt) - (c0 < 0 ? 0 : c0), 8);
    t_resp_free(&a);
    t_resp_free(&b);
}
END_TEST

/* nginx admits /metrics from 127.0.0.1 and ::1 only: 127.0.0.2 is loopback
 * too, but not allowed — the deny rule is really there. */
static size_t sink(char *p, size_t s, size_t n, void *u)
{
    (void)p;
    (void)u;
    return s * n;
}

static long status_from(const char *iface, const char *path)
{
    char url[512];
    CURL *c = curl_easy_init();
    long code = 0;

    ck_assert_ptr_nonnull(c);
    snprintf(url, sizeof url, "%s%s", t_env("BFF_TEST_HTTP_URL"), path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_INTERFACE, iface);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    return code;
}

START_TEST(test_metrics_loopback_only)
{
    ck_assert_int_eq(status_from("127.0.0.1", "/metrics"), 200);
    ck_assert_int_eq(status_from("127.0.0.2", "/metrics"), 403);
    ck_assert_int_eq(status_from("127.0.0.2", "/health/"), 200); /* only /metrics */
}
END_TEST

/* --------------------------------------------------------------- system */

static const char *check_status(yajl_val sys, const char *name)
{
    return t_jstr(sys, "checks", name, "status", NULL);
}

static int level(const char *s)
{
    return strcmp(s, "critical") == 0 ? 2 : strcmp(s, "warning") == 0 ? 1 : 0;
}

static void system_now(struct http_resp *r)
{
    mget("/api/metrics/system/", r);
    inv_expect(r, 200);
}

static void set_queued(long long want)
{
    long long have = sql_int("SELECT count(*) FROM jobs WHERE status = 'queued'");
    long long mine = sql_int("SELECT count(*) FROM jobs WHERE kind = '" JOB_KIND "'");
    char sql[256];

    ck_assert_msg(have - mine <= want, "%lld foreign queued jobs already", have - mine);
    if (want > have)
        snprintf(sql, sizeof sql,
                 "INSERT INTO jobs (kind, run_at) SELECT '" JOB_KIND "', now() + interval '1 day'"
                 " FROM generate_series(1, %lld)",
                 want - have);
    else
        snprintf(sql, sizeof sql,
                 "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE kind = '" JOB_KIND
                 "' LIMIT %lld)",
                 have - want);
    free(t_sql(sql));
    ck_assert_int_eq(sql_int("SELECT count(*) FROM jobs WHERE status = 'queued'"), want);
}

static void drop_jobs(void)
{
    free(t_sql("DELETE FROM jobs WHERE kind = '" JOB_KIND "'"));
}

START_TEST(test_system_shape_and_thresholds)
{
    static const struct {
        const char *name, *lo_key, *hi_key;
        long long lo, hi;
    } want[] = {
        {"response_time_ms", "normal_below", "critical_above", 200, 1000},
        {"error_rate_pct", "normal_below", "critical_above", 1, 5},
        {"db_connections_pct", "normal_below", "critical_above", 80, 95},
        {"cache_hit_rate_pct", "normal_above", "critical_below", 80, 50},
        {"queue_length", "normal_below", "critical_above", 100, 1000},
    };
    static const struct {
        long long queued;
        const char *status;
    } steps[] = {{99, "normal"}, {100, "warning"}, {1000, "warning"}, {1001, "critical"}};
    struct http_resp r;
    size_t i;
    int ok, worst = 0;
    yajl_val v;

    drop_jobs();
    system_now(&r);
    ck_assert_int_eq(t_jint(r.json, &ok, "window_seconds", NULL), 300);
    ck_assert(t_jget(r.json, "checks", NULL) && YAJL_IS_OBJECT(t_jget(r.json, "checks", NULL)));
    ck_assert_int_eq(t_jget(r.json, "checks", NULL)->u.object.len, 5);
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *st = check_status(r.json, want[i].name);

        ck_assert_msg(st != NULL, "no %s", want[i].name);
        ck_assert_int_eq(t_jint(r.json, &ok, "checks", want[i].name, want[i].lo_key, NULL),
                         want[i].lo);
        ck_assert(ok);
        ck_assert_int_eq(t_jint(r.json, &ok, "checks", want[i].name, want[i].hi_key, NULL),
                         want[i].hi);
        ck_assert(ok);
        v = t_jget(r.json, "checks", want[i].name, "value", NULL);
        ck_assert_msg(v != NULL, "%s has no value member", want[i].name);
        if (YAJL_IS_NULL(v))
            ck_assert_str_eq(st, "normal");
        if (level(st) > worst)
            worst = level(st);
    }
    /* always numbers */
    ck_assert(YAJL_IS_NUMBER(t_jget(r.json, "checks", "db_connections_pct", "value", NULL)));
    ck_assert(YAJL_IS_NUMBER(t_jget(r.json, "checks", "queue_length", "value", NULL)));
    /* the cache is configured and the auth layer looks permissions up */
    ck_assert(YAJL_IS_NUMBER(t_jget(r.json, "checks", "cache_hit_rate_pct", "value", NULL)));
    ck_assert_int_eq(level(t_jstr(r.json, "status", NULL)), worst);
    t_resp_free(&r);

    /* queue_length flips at its bounds; a value on a bound is warning */
    for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        set_queued(steps[i].queued);
        system_now(&r);
        ck_assert_int_eq(t_jint(r.json, &ok, "checks", "queue_length", "value", NULL),
                         steps[i].queued);
        ck_assert_msg(strcmp(check_status(r.json, "queue_length"), steps[i].status) == 0,
                      "queue %lld: %s, want %s", steps[i].queued,
                      check_status(r.json, "queue_length"), steps[i].status);
        if (strcmp(steps[i].status, "critical") == 0)
            ck_assert_str_eq(t_jstr(r.json, "status", NULL), "critical");
        t_resp_free(&r);
    }
    drop_jobs();
    system_now(&r);
    if (t_jint(r.json, &ok, "checks", "queue_length", "value", NULL) < 100)
        ck_assert_str_eq(check_status(r.json, "queue_length"), "normal");
    t_resp_free(&r);
}
END_TEST

START_TEST(test_db_connections_value)
{
    struct http_resp r;
    long long max = sql_int("SHOW max_connections");
    yajl_val v;
    double pct;

    system_now(&r);
    v = t_jget(r.json, "checks", "db_connections_pct", "value", NULL);
    pct = YAJL_GET_DOUBLE(v);
    /* our own session and the pool's are client backends */
    ck_assert_msg(pct >= 100.0 / (double)max && pct <= 100.0, "db_connections_pct %g", pct);
    t_resp_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- stock */

static void invalidate_key(const char *key)
{
    char body[256];
    struct http_resp r;

    snprintf(body, sizeof body, "{\"key\":\"%s\"}", key);
    inv_req("POST", "/api/admin/cache/invalidate/", body, NULL, &r);
    inv_expect(&r, 200);
    t_resp_free(&r);
}

START_TEST(test_stock_equals_sql)
{
    static const struct {
        const char *member, *sql;
    } figures[] = {
        {"total_products", "SELECT count(*) FROM products"},
        {"total_lots", "SELECT count(*) FROM lots WHERE on_hand > 0"},
        {"on_hand", "SELECT coalesce(sum(on_hand), 0) FROM lots"},
        {"available_stock", "SELECT coalesce(sum(on_hand - reserved), 0) FROM lots"
                            " WHERE status = 'available' AND expires_on > current_date"},
        {"reserved_stock", "SELECT coalesce(sum(reserved), 0) FROM lots"},
        {"expired_stock", "SELECT coalesce(sum(on_hand), 0) FROM lots"
                          " WHERE expires_on <= current_date"},
        {"quarantined_stock", "SELECT coalesce(sum(on_hand), 0) FROM lots"
                              " WHERE status = 'quarantined' AND expires_on > current_date"},
        {"expiring_within_7_days",
         "SELECT coalesce(sum(on_hand), 0) FROM lots WHERE status = 'available'"
         " AND expires_on > current_date AND expires_on <= current_date + 7"},
    };
    long long p = inv_product(0), wh = inv_warehouse(), q;
    struct http_resp r, r2;
    yajl_val byw;
    size_t i;
    int ok;

    /* one of each kind: fresh, expiring soon, expired, quarantined, reserved */
    inv_lot(p, wh, 100, 50);
    inv_lot(p, wh, 3, 20);
    inv_lot(p, wh, -2, 7);
    q = inv_lot(p, wh, 40, 11);
    {
        char path[64];

        snprintf(path, sizeof path, "/api/lots/%lld/", q);
        inv_reqf("PATCH", path, &r, "{\"status\":\"quarantined\"}");
        inv_expect(&r, 200);
        t_resp_free(&r);
    }
    inv_reqf("POST", "/api/orders/", &r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":9}]}", p);
    inv_expect(&r, 201);
    t_resp_free(&r);

    invalidate_key("metrics:stock");
    mget("/api/metrics/stock/", &r);
    inv_expect(&r, 200);
    for (i = 0; i < sizeof figures / sizeof figures[0]; i++) {
        long long got = t_jint(r.json, &ok, figures[i].member, NULL);

        ck_assert_msg(ok, "%s missing: %s", figures[i].member, r.body);
        ck_assert_msg(got == sql_int("%s", figures[i].sql), "%s: %lld, SQL says %lld",
                      figures[i].member, got, sql_int("%s", figures[i].sql));
    }
    byw = t_jget(r.json, "by_warehouse", NULL);
    ck_assert(byw && YAJL_IS_ARRAY(byw));
    ck_assert_int_eq((long long)byw->u.array.len, sql_int("SELECT count(*) FROM warehouses"));
    for (i = 0; i < byw->u.array.len; i++) {
        yajl_val w = byw->u.array.values[i];

        if (t_jint(w, &ok, "warehouse_id", NULL) != wh)
            continue;
        ck_assert_int_eq(t_jint(w, &ok, "on_hand", NULL), 88);
        ck_assert_int_eq(t_jint(w, &ok, "available", NULL), 50 + 20 - 9);
        ck_assert_int_eq(t_jint(w, &ok, "reserved", NULL), 9);
        ck_assert_int_eq(t_jint(w, &ok, "expired", NULL), 7);
        ck_assert_int_eq(t_jint(w, &ok, "quarantined", NULL), 11);
    }

    /* cached under metrics:stock for at most BFF_METRICS_CACHE_TTL: a write
     * does not show until it expires or is invalidated */
    ck_assert_int_eq(inv_redis_exists("metrics:stock"), 1);
    inv_lot(p, wh, 100, 1000);
    mget("/api/metrics/stock/", &r2);
    ck_assert_str_eq(r2.body, r.body);
    t_resp_free(&r2);
    invalidate_key("metrics:stock");
    mget("/api/metrics/stock/", &r2);
    ck_assert_int_eq(t_jint(r2.json, &ok, "on_hand", NULL),
                     t_jint(r.json, &ok, "on_hand", NULL) + 1000);
    t_resp_free(&r2);
    t_resp_free(&r);
}
END_TEST

/* ------------------------------------------------------- orders, FEFO */

START_TEST(test_orders_and_fefo)
{
    long long p = inv_product(0), wh = inv_warehouse(), order, days_ok;
    struct http_resp r;
    yajl_val hours, last;
    char path[64];
    int ok;

    inv_lot(p, wh, 30, 100);
    inv_reqf("POST", "/api/orders/", &r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":3}]}", p);
    inv_expect(&r, 201);
    order = t_jint(r.json, &ok, "id", NULL);
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/orders/%lld/ship/", order);
    inv_req("POST", path, NULL, NULL, &r);
    inv_expect(&r, 200);
    t_resp_free(&r);

    mget("/api/metrics/orders/", &r);
    inv_expect(&r, 200);
    ck_assert_int_eq(
        t_jint(r.json, &ok, "orders_last_hour", NULL),
        sql_int("SELECT count(*) FROM orders WHERE created_at > now() - interval '1 hour'"));
    ck_assert_int_eq(
        t_jint(r.json, &ok, "shipped_last_hour", NULL),
        sql_int("SELECT count(*) FROM orders WHERE shipped_at > now() - interval '1 hour'"));
    hours = t_jget(r.json, "per_hour", NULL);
    ck_assert(hours && YAJL_IS_ARRAY(hours));
    ck_assert_int_eq(hours->u.array.len, 24);
    last = hours->u.array.values[23];
    ck_assert_int_eq(
        t_jint(last, &ok, "created", NULL),
        sql_int("SELECT count(*) FROM orders WHERE created_at >= date_trunc('hour', now())"));
    ck_assert_int_ge(t_jint(last, &ok, "shipped", NULL), 1);
    ck_assert(t_jstr(hours->u.array.values[0], "hour", NULL) != NULL);
    t_resp_free(&r);

    mget("/api/metrics/fefo/?days=30", &r);
    inv_expect(&r, 200);
    ck_assert_int_eq(t_jint(r.json, &ok, "window_days", NULL), 30);
    days_ok = sql_int("SELECT count(*) FROM orders WHERE shipped_at >= now() - interval '30 days'");
    ck_assert_int_eq(t_jint(r.json, &ok, "shipped_orders", NULL), days_ok);
    ck_assert_int_eq(t_jint(r.json, &ok, "fefo_compliant_orders", NULL),
                     sql_int("SELECT count(*) FROM orders WHERE fefo_compliant"
                             " AND shipped_at >= now() - interval '30 days'"));
    {
        char *pct =
            t_sql("SELECT round(100.0 * count(*) FILTER (WHERE fefo_compliant) / count(*), 2)"
                  " FROM orders WHERE shipped_at >= now() - interval '30 days'");
        yajl_val v = t_jget(r.json, "fefo_efficiency_pct", NULL);

        ck_assert(v && YAJL_IS_NUMBER(v));
        ck_assert_double_eq_tol(YAJL_GET_DOUBLE(v), atof(pct), 0.001);
        free(pct);
    }
    t_resp_free(&r);

    mget("/api/metrics/fefo/", &r); /* default 30 */
    ck_assert_int_eq(t_jint(r.json, &ok, "window_days", NULL), 30);
    t_resp_free(&r);
    mget("/api/metrics/fefo/?days=0", &r);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "days");
    t_resp_free(&r);
    mget("/api/metrics/fefo/?days=3651", &r);
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
    mget("/api/metrics/fefo/?days=3650", &r);
    inv_expect(&r, 200);
    t_resp_free(&r);
    mget("/api/metrics/fefo/?days=1.5", &r);
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
}
END_TEST

/* ------------------------------------------------------- cache admin */

static redisContext *redis(void)
{
    const char *url = t_env("BFF_TEST_REDIS_URL"); /* redis://host:port/db */
    char host[128];
    int port = 0, db = 0;
    redisContext *c;

    ck_assert_int_ge(sscanf(url, "redis://%127[^:]:%d/%d", host, &port, &db), 2);
    c = redisConnect(host, port);
    ck_assert_msg(c && !c->err, "redis connect");
    if (db)
        freeReplyObject(redisCommand(c, "SELECT %d", db));
    return c;
}

static long long rint_cmd(redisContext *c, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;
    long long v;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    ck_assert(r != NULL);
    v = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return v;
}

static long long invalidate(const char *body, long want_status)
{
    struct http_resp r;
    long long n;
    int ok;

    inv_req("POST", "/api/admin/cache/invalidate/", body, NULL, &r);
    ck_assert_msg(r.status == want_status, "%s: %ld %s", body, r.status, r.body);
    n = r.status == 200 ? t_jint(r.json, &ok, "deleted", NULL) : -1;
    t_resp_free(&r);
    return n;
}

START_TEST(test_pattern_invalidation_exact)
{
    redisContext *c = redis();
    char pfx[64], body[256];
    int i;

    snprintf(pfx, sizeof pfx, "t-inv:%d:", (int)getpid());
    freeReplyObject(redisCommand(c, "SET %sproduct:1 a", pfx));
    freeReplyObject(redisCommand(c, "SET %sproduct:22 b", pfx));
    freeReplyObject(redisCommand(c, "SET %sproduct:3:x c", pfx));
    freeReplyObject(redisCommand(c, "SET %sproducts d", pfx)); /* no ':' after product */
    freeReplyObject(redisCommand(c, "SET %sstock:1:warehouse:1 e", pfx));
    freeReplyObject(redisCommand(c, "SET %sproduct[1] f", pfx)); /* glob characters */
    /* more than one SCAN page (COUNT 500) */
    for (i = 0; i < 1200; i++)
        freeReplyObject(redisCommand(c, "SET %sbulk:%d v", pfx, i));

    snprintf(body, sizeof body, "{\"pattern\":\"%sproduct:*\"}", pfx);
    ck_assert_int_eq(invalidate(body, 200), 3);
    ck_assert_int_eq(rint_cmd(c, "EXISTS %sproduct:1 %sproduct:22 %sproduct:3:x", pfx, pfx, pfx),
                     0);
    ck_assert_int_eq(
        rint_cmd(c, "EXISTS %sproducts %sstock:1:warehouse:1 %sproduct[1]", pfx, pfx, pfx), 3);
    ck_assert_int_eq(invalidate(body, 200), 0); /* idempotent */

    snprintf(body, sizeof body, "{\"pattern\":\"%sproduct\\\\[1\\\\]\"}", pfx); /* escaped glob */
    ck_assert_int_eq(invalidate(body, 200), 1);
    snprintf(body, sizeof body, "{\"pattern\":\"%sbulk:*\"}", pfx);
    ck_assert_int_eq(invalidate(body, 200), 1200);

    snprintf(body, sizeof body, "{\"key\":\"%sstock:1:warehouse:1\"}", pfx);
    ck_assert_int_eq(invalidate(body, 200), 1);
    ck_assert_int_eq(invalidate(body, 200), 0);
    snprintf(body, sizeof body, "{\"key\":\"%sproduct*\"}", pfx); /* a key is not a pattern */
    ck_assert_int_eq(invalidate(body, 200), 0);
    ck_assert_int_eq(rint_cmd(c, "EXISTS %sproducts", pfx), 1);

    /* all: every key of bff's database */
    ck_assert_int_ge(invalidate("{\"all\":true}", 200), 1);
    ck_assert_int_eq(rint_cmd(c, "EXISTS %sproducts", pfx), 0);
    redisFree(c);
}
END_TEST

START_TEST(test_invalidate_refusals)
{
    struct http_resp r;
    const char *h[2];
    char *admin_less;

    invalidate("{}", 400);
    invalidate("{\"pattern\":\"a*\",\"key\":\"b\"}", 400);
    invalidate("{\"all\":false}", 400);
    invalidate("{\"all\":true,\"key\":\"x\"}", 400);
    invalidate("{\"pattern\":\"\"}", 400);
    invalidate("{\"pattern\":7}", 400);
    invalidate("{\"keys\":\"x\"}", 400);
    admin_less = strdup(t_token("metrics.read products.write", NULL));
    h[0] = t_auth(admin_less);
    h[1] = NULL;
    t_http("POST", "/api/admin/cache/invalidate/", h, "{\"all\":true}", 12, &r);
    t_assert_error(&r, 403, "forbidden");
    t_resp_free(&r);
    t_http("POST", "/api/admin/cache/invalidate/", NULL, "{\"all\":true}", 12, &r);
    t_assert_error(&r, 401, "unauthenticated");
    t_resp_free(&r);
    free(admin_less);
}
END_TEST

/* ------------------------------------------------- dashboard, permissions */

START_TEST(test_dashboard_and_permissions)
{
    static const char *const paths[] = {"/api/metrics/stock/",       "/api/metrics/orders/",
                                        "/api/metrics/fefo/",        "/api/metrics/system/",
                                        "/api/metrics/performance/", "/api/bff/dashboard/"};
    struct http_resp r;
    char *other = strdup(t_token("products.read", NULL));
    const char *h[] = {NULL, NULL};
    size_t i;
    int ok;

    mget("/api/bff/dashboard/", &r);
    inv_expect(&r, 200);
    ck_assert(t_jstr(r.json, "generated_at", NULL) != NULL);
    ck_assert(t_jstr(r.json, "health", "status", NULL) != NULL);
    ck_assert_str_eq(t_jstr(r.json, "health", "checks", "database", "status", NULL), "ok");
    ck_assert_str_eq(t_jstr(r.json, "health", "checks", "cache", "status", NULL), "ok");
    ck_assert(t_jstr(r.json, "system", "status", NULL) != NULL);
    ck_assert_int_eq(t_jint(r.json, &ok, "system", "window_seconds", NULL), 300);
    t_jint(r.json, &ok, "stock", "available_stock", NULL);
    ck_assert(ok);
    ck_assert_int_eq(t_jget(r.json, "orders", "per_hour", NULL)->u.array.len, 24);
    ck_assert_int_eq(t_jint(r.json, &ok, "fefo", "window_days", NULL), 30);
    t_resp_free(&r);

    h[0] = t_auth(other);
    for (i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        t_http("GET", paths[i], NULL, NULL, 0, &r);
        t_assert_error(&r, 401, "unauthenticated");
        t_resp_free(&r);
        t_http("GET", paths[i], h, NULL, 0, &r);
        t_assert_error(&r, 403, "forbidden");
        t_resp_free(&r);
    }
    free(other);
}
END_TEST

/* One JSON line per request with route, status, duration, request id and
 * user id; never the token. */
START_TEST(test_request_log_line)
{
    const char *logf = getenv("BFF_LOG_FILE");
    long long uid;
    char *tok, rid[64], hdr_rid[96], line[4096], want_uid[48], path[64];
    const char *h[3];
    struct http_resp r;
    long long p = inv_product(0);
    int found = 0;
    FILE *f;

    ck_assert_msg(logf && *logf, "BFF_LOG_FILE is not set (the stack's env)");
    tok = strdup(t_token("products.read", &uid));
    snprintf(rid, sizeof rid, "e2e-metrics-log-%d-%lld", (int)getpid(), p);
    snprintf(hdr_rid, sizeof hdr_rid, "X-Request-Id: %s", rid);
    h[0] = t_auth(tok);
    h[1] = hdr_rid;
    h[2] = NULL;
    snprintf(path, sizeof path, "/api/products/%lld/", p);
    t_http("GET", path, h, NULL, 0, &r);
    inv_expect(&r, 200);
    t_resp_free(&r);
    usleep(100 * 1000);

    f = fopen(logf, "r");
    ck_assert_msg(f != NULL, "cannot read %s", logf);
    snprintf(want_uid, sizeof want_uid, "\"user_id\":%lld", uid);
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, rid))
            continue;
        ck_assert_msg(strstr(line, tok) == NULL, "the token was logged: %s", line);
        if (!strstr(line, "\"msg\":\"request\"") && !strstr(line, "\"msg\":\"slow request\""))
            continue;
        found++;
        ck_assert_msg(strstr(line, "\"route\":\"/api/products/{id}/\"") != NULL, "%s", line);
        ck_assert_msg(strstr(line, "\"status\":200") != NULL, "%s", line);
        ck_assert_msg(strstr(line, "\"duration_ms\":") != NULL, "%s", line);
        ck_assert_msg(strstr(line, "\"sql_ms\":") != NULL, "%s", line);
        ck_assert_msg(strstr(line, want_uid) != NULL, "no %s in %s", want_uid, line);
        /* info, or warn when it took over 200 ms */
        ck_assert_msg(strstr(line, "\"level\":\"INFO\"") != NULL ||
                          (strstr(line, "\"level\":\"WARN\"") && strstr(line, "slow request")),
                      "%s", line);
    }
    fclose(f);
    ck_assert_int_eq(found, 1);
    free(tok);
}
END_TEST

/* ------------------------------------------------------------- limits */

static void restore_postgres(void)
{
    t_stackctl("start", "postgres", NULL);
    t_wait_status("/health/database/", 200, 15000);
}

/* A database outage: the requests it fails count as 5xx under their
 * route, the failed connects as database errors, and the error rate of the
 * last 5 minutes is above zero. */
START_TEST(test_outage_counts_5xx_and_db_errors)
{
    struct route_stats o0, o1;
    struct http_resp a, b;
    double e0, e1;
    int i;

    perf("GET /api/metrics/orders/", &o0);
    get_metrics(&a);
    e0 = sample(a.body, "bff_db_errors_total");
    ck_assert_int_eq(t_stackctl("stop", "postgres", NULL), 0);
    for (i = 0; i < 3; i++) {
        struct http_resp r;

        mget("/api/metrics/orders/", &r);
        t_assert_error(&r, 503, "unavailable");
        t_resp_free(&r);
    }
    get_metrics(&b); /* still answers: the request metrics need no database */
    e1 = sample(b.body, "bff_db_errors_total");
    ck_assert_msg(e1 > e0, "bff_db_errors_total %g -> %g", e0, e1);
    ck_assert_msg(strstr(b.body, "bff_queue_length") == NULL, "a gauge from a dead database");
    restore_postgres();
    perf("GET /api/metrics/orders/", &o1);
    ck_assert_int_eq(o1.total.count - o0.total.count, 3 + 0);
    ck_assert_int_eq(o1.total.s5 - o0.total.s5, 3);
    {
        struct http_resp r;
        yajl_val v;

        system_now(&r);
        v = t_jget(r.json, "checks", "error_rate_pct", "value", NULL);
        ck_assert(v && YAJL_IS_NUMBER(v) && YAJL_GET_DOUBLE(v) > 0);
        t_resp_free(&r);
    }
    t_resp_free(&a);
    t_resp_free(&b);
}
END_TEST

static Suite *make_e2e_metrics_suite(void)
{
    Suite *s = suite_create("e2e_metrics");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");

    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_add_unchecked_fixture(limits, NULL, restore_postgres);
    tcase_set_timeout(core, 120);
    tcase_set_timeout(limits, 120);
    tcase_add_test(core, test_performance_exact_counts);
    tcase_add_test(core, test_prometheus_parses);
    tcase_add_test(core, test_prometheus_counts);
    tcase_add_test(core, test_metrics_loopback_only);
    tcase_add_test(core, test_system_shape_and_thresholds);
    tcase_add_test(core, test_db_connections_value);
    tcase_add_test(core, test_stock_equals_sql);
    tcase_add_test(core, test_orders_and_fefo);
    tcase_add_test(core, test_pattern_invalidation_exact);
    tcase_add_test(core, test_invalidate_refusals);
    tcase_add_test(core, test_dashboard_and_permissions);
    tcase_add_test(core, test_request_log_line);
    tcase_add_test(limits, test_outage_counts_5xx_and_db_errors);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_e2e_metrics_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
