/*
 * h_metrics.c — the /api/metrics/ endpoints and the Prometheus /metrics (SPEC §4
 * Metrics), and the accept loop's per-request recording (metrics_web.h).
 *
 * Request figures come from the host's shared-memory segment (every
 * bff-fcgi process of the host adds to it); business figures from one SQL
 * statement each (lib/metrics_biz.h), the stock ones cache-aside under
 * metrics:stock for BFF_METRICS_CACHE_TTL.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "metrics_biz.h"
#include "metrics_web.h"
#include "reply.h"
#include "routes.h"

const struct bff_field bff_metrics_fefo_query[] = {
    {"days", BFF_F_INT, 0, 1, 3650, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

/* ------------------------------------------------------------- slots */

/* Methods of the "unmatched" slots; the last one takes every other. */
static const char *const unmatched_methods[] = {"GET",   "HEAD",   "POST",    "PUT",
                                                "PATCH", "DELETE", "OPTIONS", "OTHER"};
#define N_UNMATCHED ((int)(sizeof unmatched_methods / sizeof unmatched_methods[0]))

/* Derived from the route table once, at open. */
static int nroutes;    /* rows of bff_routes */
static int *head_slot; /* per row: its HEAD slot, or -1 (not a GET row) */
static int unmatched0; /* first unmatched slot */

int bff_web_metrics_open(struct bff_ctx *ctx)
{
    const char **names;
    struct bff_error e;
    int n, i, k;

    for (nroutes = 0; bff_routes[nroutes].method != NULL; nroutes++)
        ;
    free(head_slot);
    head_slot = malloc((size_t)nroutes * sizeof *head_slot);
    names = calloc((size_t)nroutes * 2 + N_UNMATCHED, sizeof *names);
    if (head_slot == NULL || names == NULL) {
        free(names);
        bff_log_error(NULL, "metrics disabled", "error", "out of memory");
        return -1;
    }
    for (i = 0; i < nroutes; i++)
        names[i] =
            bff_arena_sprintf(ctx->arena, "%s %s", bff_routes[i].method, bff_routes[i].pattern);
    n = nroutes;
    for (i = 0; i < nroutes; i++) {
        head_slot[i] = -1;
        if (strcmp(bff_routes[i].method, "GET") == 0) {
            head_slot[i] = n;
            names[n++] = bff_arena_sprintf(ctx->arena, "HEAD %s", bff_routes[i].pattern);
        }
    }
    unmatched0 = n;
    for (k = 0; k < N_UNMATCHED; k++)
        names[n++] = bff_arena_sprintf(ctx->arena, "%s (unmatched)", unmatched_methods[k]);
    bff_error_clear(&e);
    ctx->metrics = bff_metrics_open(ctx->cfg->metrics_shm, names, n, (int64_t)time(NULL), &e);
    free(names);
    bff_arena_reset(ctx->arena);
    if (ctx->metrics == NULL) {
        bff_log_error(NULL, "metrics disabled", "error", e.msg);
        return -1;
    }
    return 0;
}

void bff_web_metrics_close(struct bff_ctx *ctx)
{
    bff_metrics_close(ctx->metrics);
    ctx->metrics = NULL;
    free(head_slot);
    head_slot = NULL;
}

int bff_web_metrics_slot(const struct bff_req *rq)
{
    int k;

    if (rq->route != NULL && head_slot != NULL) {
        int i = (int)(rq->route - bff_routes);

        if (strcmp(rq->method, "HEAD") == 0 && head_slot[i] >= 0)
            return head_slot[i];
        return i;
    }
    for (k = 0; k < N_UNMATCHED - 1; k++)
        if (rq->method && strcmp(rq->method, unmatched_methods[k]) == 0)
            break;
    return unmatched0 + k;
}

void bff_web_metrics_record(struct bff_req *rq, int status, int64_t dur_us)
{
    struct bff_ctx *ctx = rq->ctx;
    uint64_t local[BFF_MX_NCOUNTERS];
    int64_t now = (int64_t)time(NULL);

    if (ctx->metrics == NULL)
        return;
    local[BFF_MX_CACHE_HITS] = ctx->cache.hits;
    local[BFF_MX_CACHE_MISSES] = ctx->cache.misses;
    local[BFF_MX_DB_ERRORS] = ctx->db.errors;
    bff_metrics_record(ctx->metrics, bff_web_metrics_slot(rq), status, dur_us, now);
    bff_metrics_sync(ctx->metrics, local, now);
}

/* ---------------------------------------------------- business figures */

int h_metrics_stock(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_ctx *ctx = rq->ctx;
    struct bff_error e;
    const char *json;
    size_t len;

    bff_error_clear(&e);
    if (bff_metrics_stock(&ctx->db, &ctx->cache, rq->a, ctx->cfg->metrics_cache_ttl, &json, &len,
                          NULL, &e) < 0)
        return bff_resp_error(rq, rs, &e);
    return bff_reply_raw(rs, json, len, 200);
}

int h_metrics_orders(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_error e;
    const char *json;
    size_t len;

    bff_error_clear(&e);
    if (bff_metrics_orders(&rq->ctx->db, rq->a, &json, &len, &e) < 0)
        return bff_resp_error(rq, rs, &e);
    return bff_reply_raw(rs, json, len, 200);
}

int h_metrics_fefo(struct bff_req *rq, struct bff_resp *rs)
{
    int days = (int)bff_query_int(&rq->query, "days", 30);
    struct bff_error e;
    const char *json;
    size_t len;

    bff_error_clear(&e);
    if (bff_metrics_fefo(&rq->ctx->db, rq->a, days, &json, &len, &e) < 0)
        return bff_resp_error(rq, rs, &e);
    return bff_reply_raw(rs, json, len, 200);
}

/* ------------------------------------------------------------- system */

/* The runbook's "Métricas de Aplicación" table. */
enum { T_RESPONSE, T_ERRORS, T_DB, T_CACHE, T_QUEUE, T_COUNT };
static const struct bff_mx_threshold thresholds[T_COUNT] = {
    {"response_time_ms", 0, 200, 1000}, /* p95 over the window */
    {"error_rate_pct", 0, 1, 5},        /* 5xx share of requests */
    {"db_connections_pct", 0, 80, 95},  /* of max_connections */
    {"cache_hit_rate_pct", 1, 80, 50},  /* GET hits / lookups */
    {"queue_length", 0, 100, 1000},     /* jobs waiting */
};

struct check {
    int has; /* a value exists (else null, status normal) */
    double v;
    int decimals;
    enum bff_mx_level level;
};

static void write_check(struct bff_jw *w, const struct bff_mx_threshold *t, const struct check *c)
{
    bff_jw_kobj(w, t->name);
    bff_jw_key(w, "value");
    if (c->has)
        bff_jw_double(w, c->v, c->decimals);
    else
        bff_jw_null(w);
    bff_jw_kint(w, t->higher_is_better ? "normal_above" : "normal_below", (int64_t)t->normal);
    bff_jw_kint(w, t->higher_is_better ? "critical_below" : "critical_above", (int64_t)t->critical);
    bff_jw_kstr(w, "status", bff_mx_level_name(c->level));
    bff_jw_end(w);
}

/*
 * Every figure first (the database may fail, and nothing is written then),
 * then the object. Request figures cover the last BFF_MX_WINDOW minutes of
 * the host (all slots); the hit rate counts bff's own cache lookups and is
 * null without a configured cache or without lookups in the window. A
 * value is classified as written (rounded), so what a client reads and the
 * status it sees never disagree.
 */
int bff_web_write_system(struct bff_req *rq, struct bff_jw *w, struct bff_error *e)
{
    struct bff_ctx *ctx = rq->ctx;
    int64_t now = (int64_t)time(NULL);
    enum bff_mx_level worst = BFF_MX_NORMAL;
    uint64_t cnt[BFF_MX_NCOUNTERS], lookups;
    struct check c[T_COUNT];
    struct bff_mx_stats st;
    struct bff_db_load load;
    double p95;
    int i;

    if (bff_metrics_db_load(&ctx->db, rq->a, &load, e) < 0)
        return -1;
    bff_metrics_read(ctx->metrics, -1, BFF_MX_WINDOW, now, &st);
    bff_metrics_counters(ctx->metrics, BFF_MX_WINDOW, now, cnt);
    lookups = cnt[BFF_MX_CACHE_HITS] + cnt[BFF_MX_CACHE_MISSES];
    memset(c, 0, sizeof c);
    p95 = bff_mx_quantile(&st, 0.95);
    c[T_RESPONSE] = (struct check){p95 >= 0, p95, 2, 0};
    c[T_ERRORS] = (struct check){
        st.count > 0, st.count ? 100.0 * (double)st.status[5] / (double)st.count : 0, 2, 0};
    c[T_DB] = (struct check){1,
                             load.max_connections > 0
                                 ? 100.0 * (double)load.connections / (double)load.max_connections
                                 : 0,
                             2, 0};
    c[T_CACHE] = (struct check){
        bff_cache_enabled(&ctx->cache) && lookups > 0,
        lookups ? 100.0 * (double)cnt[BFF_MX_CACHE_HITS] / (double)lookups : 0, 2, 0};
    c[T_QUEUE] = (struct check){1, (double)load.queue_length, 0, 0};
    for (i = 0; i < T_COUNT; i++) {
        double scale = c[i].decimals == 2 ? 100.0 : 1.0;

        c[i].v = (double)llround(c[i].v * scale) / scale;
        c[i].level = bff_mx_classify(&thresholds[i], c[i].has, c[i].v);
        if (c[i].level > worst)
            worst = c[i].level;
    }

    bff_jw_obj(w);
    bff_jw_kstr(w, "status", bff_mx_level_name(worst));
    bff_jw_kint(w, "window_seconds", BFF_MX_WINDOW * 60);
    bff_jw_kobj(w, "checks");
    for (i = 0; i < T_COUNT; i++)
        write_check(w, &thresholds[i], &c[i]);
    bff_jw_end(w);
    bff_jw_end(w);
    return 0;
}

int h_metrics_system(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_error e;

    bff_error_clear(&e);
    if (bff_web_write_system(rq, &rs->w, &e) < 0) {
        bff_buf_reset(rs->body);
        return bff_resp_error(rq, rs, &e);
    }
    return 200;
}

/* -------------------------------------------------------- performance */

static void write_window(struct bff_jw *w, const char *key, const struct bff_mx_stats *s)
{
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"p50_ms", 0.50}, {"p95_ms", 0.95}, {"p99_ms", 0.99}};
    size_t i;

    bff_jw_kobj(w, key);
    bff_jw_kint(w, "count", (int64_t)s->count);
    bff_jw_kint(w, "status_4xx", (int64_t)s->status[4]);
    bff_jw_kint(w, "status_5xx", (int64_t)s->status[5]);
    for (i = 0; i < sizeof qs / sizeof qs[0]; i++) {
        bff_jw_key(w, qs[i].name);
        if (s->count > 0)
            bff_jw_double(w, bff_mx_quantile(s, qs[i].q), 3);
        else
            bff_jw_null(w);
    }
    bff_jw_key(w, "max_ms");
    if (s->count > 0)
        bff_jw_double(w, (double)s->max_us / 1000.0, 3);
    else
        bff_jw_null(w);
    bff_jw_end(w);
}

/* Every slot that has served a request since the segment was created, in
 * route-table order. */
int h_metrics_performance(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_metrics *m = rq->ctx->metrics;
    int64_t now = (int64_t)time(NULL);
    int i, n = bff_metrics_nslots(m);
    char since[32];

    bff_jw_obj(&rs->w);
    bff_jw_kint(&rs->w, "window_seconds", BFF_MX_WINDOW * 60);
    if (m != NULL) {
        time_t c = (time_t)bff_metrics_created(m);
        struct tm tm;

        gmtime_r(&c, &tm);
        strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
        bff_jw_kstr(&rs->w, "since", since);
    } else {
        bff_jw_knull(&rs->w, "since");
    }
    bff_jw_karr(&rs->w, "routes");
    for (i = 0; i < n; i++) {
        struct bff_mx_stats total, last;

        bff_metrics_read(m, i, 0, now, &total);
        if (total.count == 0)
            continue;
        bff_metrics_read(m, i, BFF_MX_WINDOW, now, &last);
        bff_jw_obj(&rs->w);
        bff_jw_kstr(&rs->w, "route", bff_metrics_slot_name(m, i));
        write_window(&rs->w, "last_5m", &last);
        write_window(&rs->w, "since_start", &total);
        bff_jw_end(&rs->w);
    }
    bff_jw_end(&rs->w);
    bff_jw_end(&rs->w);
    return 200;
}

/* --------------------------------------------------------- Prometheus */

/* A label value: backslash, double quote and newline escaped. */
static void label(struct bff_buf *b, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '\\' || s[i] == '"')
            bff_buf_putc(b, '\\');
        if (s[i] == '\n') {
            bff_buf_puts(b, "\\n");
            continue;
        }
        bff_buf_putc(b, s[i]);
    }
}

/* {route="...",method="..." from a slot name "METHOD pattern". */
static void route_labels(struct bff_buf *b, const char *slot)
{
    const char *sp = strchr(slot, ' ');
    size_t ml = sp ? (size_t)(sp - slot) : strlen(slot);
    const char *route = sp ? sp + 1 : "";

    bff_buf_puts(b, "{route=\"");
    label(b, route, strlen(route));
    bff_buf_puts(b, "\",method=\"");
    label(b, slot, ml);
    bff_buf_putc(b, '"');
}

static void help(struct bff_buf *b, const char *name, const char *type, const char *text)
{
    bff_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, text, name, type);
}

/* A member of the stock figures as an integer, or -1. */
static int64_t stock_figure(const struct bff_json *stock, const char *name)
{
    const struct bff_json *v = bff_json_get(stock, name);

    return v != NULL && v->type == BFF_JSON_NUMBER && v->is_int ? v->i : -1;
}

/*
 * Text exposition format 0.0.4. Request series are written for every slot
 * that has served a request; the gauges that need PostgreSQL are left out
 * (and the scrape still answers 200) when it cannot be asked, so a
 * database outage does not blind the request metrics.
 */
int h_metrics_prometheus(struct bff_req *rq, struct bff_resp *rs)
{
    static const char *const classes[6] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    struct bff_ctx *ctx = rq->ctx;
    struct bff_metrics *m = ctx->metrics;
    struct bff_buf *b = rs->body;
    int64_t now = (int64_t)time(NULL);
    int i, n = bff_metrics_nslots(m), c, k;
    uint64_t cnt[BFF_MX_NCOUNTERS];
    struct bff_db_load load;
    struct bff_error e;
    const char *json;
    size_t len;
    struct bff_json *stock = NULL;

    rs->content_type = "text/plain; version=0.0.4; charset=utf-8";
    bff_buf_reset(b);

    help(b, "bff_http_requests_total", "counter",
         "HTTP requests answered by bff-fcgi, by route pattern, method and status class.");
    for (i = 0; i < n; i++) {
        struct bff_mx_stats s;

        bff_metrics_read(m, i, 0, now, &s);
        for (c = 0; c < 6; c++) {
            if (s.status[c] == 0)
                continue;
            bff_buf_puts(b, "bff_http_requests_total");
            route_labels(b, bff_metrics_slot_name(m, i));
            bff_buf_printf(b, ",status=\"%s\"} %" PRIu64 "\n", classes[c], s.status[c]);
        }
    }

    help(b, "bff_http_request_duration_seconds", "histogram",
         "Time from the start of a request to its response written, by route pattern and "
         "method.");
    for (i = 0; i < n; i++) {
        struct bff_mx_stats s;
        uint64_t cum = 0;

        bff_metrics_read(m, i, 0, now, &s);
        if (s.count == 0)
            continue;
        for (k = 0; k < BFF_MX_BUCKETS; k++) {
            cum += s.bucket[k];
            bff_buf_puts(b, "bff_http_request_duration_seconds_bucket");
            route_labels(b, bff_metrics_slot_name(m, i));
            if (k < BFF_MX_BUCKETS - 1)
                bff_buf_printf(b, ",le=\"%g\"} %" PRIu64 "\n", bff_mx_bounds_ms[k] / 1000.0, cum);
            else
                bff_buf_printf(b, ",le=\"+Inf\"} %" PRIu64 "\n", cum);
        }
        bff_buf_puts(b, "bff_http_request_duration_seconds_sum");
        route_labels(b, bff_metrics_slot_name(m, i));
        bff_buf_printf(b, "} %.6f\n", (double)s.sum_us / 1e6);
        bff_buf_puts(b, "bff_http_request_duration_seconds_count");
        route_labels(b, bff_metrics_slot_name(m, i));
        /* the histogram's own count: equal to +Inf even while other
         * processes add between our reads of the status and bucket cells */
        bff_buf_printf(b, "} %" PRIu64 "\n", cum);
    }

    bff_metrics_counters(m, 0, now, cnt);
    help(b, "bff_cache_hits_total", "counter", "Cache lookups answered from Redis.");
    bff_buf_printf(b, "bff_cache_hits_total %" PRIu64 "\n", cnt[BFF_MX_CACHE_HITS]);
    help(b, "bff_cache_misses_total", "counter",
         "Cache lookups that went to PostgreSQL (absent key or Redis unreachable).");
    bff_buf_printf(b, "bff_cache_misses_total %" PRIu64 "\n", cnt[BFF_MX_CACHE_MISSES]);
    help(b, "bff_db_errors_total", "counter",
         "Failed PostgreSQL connects and statements (client faults such as conflicts excluded).");
    bff_buf_printf(b, "bff_db_errors_total %" PRIu64 "\n", cnt[BFF_MX_DB_ERRORS]);
    help(b, "bff_metrics_since_seconds", "gauge",
         "When the host's metrics segment was created (Unix time): counters start there.");
    bff_buf_printf(b, "bff_metrics_since_seconds %" PRId64 "\n", bff_metrics_created(m));

    bff_error_clear(&e);
    if (bff_metrics_db_load(&ctx->db, rq->a, &load, &e) == 0) {
        help(b, "bff_queue_length", "gauge", "Jobs waiting in the queue (status queued).");
        bff_buf_printf(b, "bff_queue_length %" PRId64 "\n", load.queue_length);
        help(b, "bff_db_connections", "gauge", "PostgreSQL client connections.");
        bff_buf_printf(b, "bff_db_connections %" PRId64 "\n", load.connections);
        help(b, "bff_db_max_connections", "gauge", "PostgreSQL max_connections.");
        bff_buf_printf(b, "bff_db_max_connections %" PRId64 "\n", load.max_connections);
    } else {
        bff_log_warn(rq->request_id, "metrics: database figures left out", "error", e.msg);
    }
    bff_error_clear(&e);
    if (bff_metrics_stock(&ctx->db, &ctx->cache, rq->a, ctx->cfg->metrics_cache_ttl, &json, &len,
                          NULL, &e) == 0 &&
        bff_json_parse(rq->a, json, len, BFF_JSON_MAX_DEPTH, &stock, &e) == 0) {
        static const struct {
            const char *metric, *member, *text;
        } g[] = {
            {"bff_stock_available_units", "available_stock",
             "Free units in available lots not past their date."},
            {"bff_stock_reserved_units", "reserved_stock", "Units reserved by open orders."},
            {"bff_stock_on_hand_units", "on_hand", "Units on hand in every lot."},
            {"bff_stock_expired_units", "expired_stock", "Units on hand in lots past their date."},
            {"bff_stock_quarantined_units", "quarantined_stock",
             "Units on hand in quarantined lots."},
            {"bff_products", "total_products", "Products in the catalogue."},
        };
        size_t j;

        for (j = 0; j < sizeof g / sizeof g[0]; j++) {
            int64_t v = stock_figure(stock, g[j].member);

            if (v < 0)
                continue;
            help(b, g[j].metric, "gauge", g[j].text);
            bff_buf_printf(b, "%s %" PRId64 "\n", g[j].metric, v);
        }
    } else if (e.code[0] != '\0') {
        bff_log_warn(rq->request_id, "metrics: stock figures left out", "error", e.msg);
    }
    return 200;
}
