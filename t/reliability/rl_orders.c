/*
 * rl_orders.c — the order scenarios of the reliability suite: the hot
 * product race (1), multi-line lock order (2), idempotent retries (3) and
 * the generic order load that the crash, restart and outage scenarios
 * (4, 5, 6, 7, 12) run while the shell breaks things.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl.h"
#include "rl_cmds.h"

static char *token;
static long long token_uid;

static long long violations(void)
{
    return rl_sql_int("SELECT count(*) FROM bff_violations");
}

static long long pg_deadlocks(void)
{
    return rl_sql_int("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()");
}

/* Response classes counted by every order load. */
enum cls { C_2XX, C_409, C_422, C_OTHER4XX, C_502, C_503, C_504, C_OTHER5XX, C_TRANSPORT, C_N };
static const char *const cls_name[C_N] = {"2xx", "409", "422",       "other 4xx", "502",
                                          "503", "504", "other 5xx", "transport"};

static enum cls classify(long status)
{
    if (status == 0)
        return C_TRANSPORT;
    if (status >= 200 && status < 300)
        return C_2XX;
    if (status == 409)
        return C_409;
    if (status == 422)
        return C_422;
    if (status < 500)
        return C_OTHER4XX;
    if (status == 502)
        return C_502;
    if (status == 503)
        return C_503;
    if (status == 504)
        return C_504;
    return C_OTHER5XX;
}

struct counts {
    long n[C_N];
    long not_json_errors; /* an error answer that is not the SPEC's JSON */
};

static void count_add(struct counts *to, const struct counts *from)
{
    int i;

    for (i = 0; i < C_N; i++)
        __atomic_add_fetch(&to->n[i], from->n[i], __ATOMIC_RELAXED);
    __atomic_add_fetch(&to->not_json_errors, from->not_json_errors, __ATOMIC_RELAXED);
}

static long fivexx(const struct counts *c)
{
    return c->n[C_502] + c->n[C_503] + c->n[C_504] + c->n[C_OTHER5XX];
}

static void print_counts(const char *what, const struct counts *c)
{
    int i;

    printf("  %s:", what);
    for (i = 0; i < C_N; i++)
        if (c->n[i])
            printf(" %s=%ld", cls_name[i], c->n[i]);
    printf("\n");
}

/* POST /api/orders/ (with an Idempotency-Key when key is set); the order
 * id of a 2xx into *id. */
static __thread int last_inflight; /* the last 409 was "conflict": key in progress */

static long post_order(struct rl_client *c, const char *body, const char *key, long long *id,
                       struct counts *k, double *ms)
{
    char kh[300];
    const char *hdr[2] = {kh, NULL};
    struct rl_resp r;
    long status;

    snprintf(kh, sizeof kh, "Idempotency-Key: %s", key ? key : "");
    rl_http(c, "POST", "/api/orders/", body, strlen(body), key ? hdr : NULL, &r);
    status = r.status;
    last_inflight = 0;
    if (status == 409) {
        char code[64];

        last_inflight = rl_is_json_error(&r, code, sizeof code) && strcmp(code, "conflict") == 0;
    }
    if (ms)
        *ms = r.ms;
    if (k) {
        k->n[classify(status)]++;
        if (status >= 400 && !rl_is_json_error(&r, NULL, 0))
            k->not_json_errors++;
    }
    if (id) {
        *id = -1;
        if (status >= 200 && status < 300) {
            yajl_val v = rl_json(r.body);

            *id = rl_jint(v, "id", NULL);
            yajl_tree_free(v);
        }
    }
    rl_resp_free(&r);
    return status;
}

static void setup_token(void)
{
    if (token == NULL)
        token = rl_token(NULL, &token_uid);
}

/* ============================================================ 1. race */

static struct {
    long long product;
    int orders;
    struct counts k;
    long long units; /* units in 2xx orders */
} race;

static void *race_client(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg * 7919 + 1;
    struct rl_client c;
    struct counts k;
    int i;

    memset(&k, 0, sizeof k);
    rl_client_init(&c, token);
    for (i = 0; i < race.orders; i++) {
        char body[256];
        long q = rl_rand_range(&seed, 1, 3), st;

        snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":%ld}]}",
                 race.product, q);
        st = post_order(&c, body, NULL, NULL, &k, NULL);
        if (st >= 200 && st < 300)
            __atomic_add_fetch(&race.units, q, __ATOMIC_RELAXED);
        else if (st != 409 && k.n[C_OTHER4XX] + fivexx(&k) + k.n[C_TRANSPORT] < 3)
            fprintf(stderr, "race: unexpected status %ld\n", st);
    }
    count_add(&race.k, &k);
    rl_client_free(&c);
    return NULL;
}

static int run_threads(int n, void *(*fn)(void *))
{
    pthread_t *t = calloc((size_t)n, sizeof *t);
    long i;

    for (i = 0; i < n; i++)
        if (pthread_create(&t[i], NULL, fn, (void *)i) != 0)
            rl_die("pthread_create failed");
    for (i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    free(t);
    return 0;
}

int rl_cmd_race(int argc, char **argv)
{
    const char *S = "1 hot-product race";
    int clients = (int)rl_opt_int(argc, argv, "--clients", 64);
    char tag[64], code[96];
    struct rl_client c;
    long long wh, reserved, oversold, committed, v0;
    double t0, secs;

    race.orders = (int)rl_opt_int(argc, argv, "--orders", 200);
    setup_token();
    rl_client_init(&c, token);
    rl_tag(tag, sizeof tag);
    wh = rl_mk_warehouse(&c, tag);
    race.product = rl_mk_product(&c, tag);
    /* 3 lots, 500 units, three expiry dates. */
    snprintf(code, sizeof code, "%s-a", tag);
    rl_mk_lot(&c, race.product, wh, code, 30, 150);
    snprintf(code, sizeof code, "%s-b", tag);
    rl_mk_lot(&c, race.product, wh, code, 60, 200);
    snprintf(code, sizeof code, "%s-c", tag);
    rl_mk_lot(&c, race.product, wh, code, 90, 150);
    rl_client_free(&c);
    v0 = violations();

    printf("%s: %d clients x %d orders of 1-3 units, 1 product, 3 lots, 500 units\n", S, clients,
           race.orders);
    t0 = rl_now_ms();
    run_threads(clients, race_client);
    secs = (rl_now_ms() - t0) / 1000.0;
    print_counts("answers", &race.k);

    reserved = rl_sql_int("SELECT coalesce(sum(reserved), 0) FROM lots WHERE product_id = %lld",
                          race.product);
    oversold = rl_sql_int("SELECT coalesce(sum(greatest(reserved - on_hand, 0)), 0) FROM lots"
                          " WHERE product_id = %lld",
                          race.product);
    committed = rl_sql_int("SELECT coalesce(sum(ol.quantity), 0) FROM order_lines ol"
                           " JOIN orders o ON o.id = ol.order_id"
                           " WHERE ol.product_id = %lld AND o.status = 'reserved'",
                           race.product);
    rl_figure(S, "orders sent", "-", -1, "%ld", (long)clients * race.orders);
    rl_figure(S, "orders reserved (2xx)", "-", -1, "%ld", race.k.n[C_2XX]);
    rl_figure(S, "insufficient_stock (409)", "-", -1, "%ld", race.k.n[C_409]);
    rl_figure(S, "throughput (orders/s)", "-", -1, "%.0f", (double)clients * race.orders / secs);
    rl_figure(S, "5xx answers", "0", fivexx(&race.k) + race.k.n[C_TRANSPORT] == 0, "%ld",
              fivexx(&race.k) + race.k.n[C_TRANSPORT]);
    rl_figure(S, "other answers (not 2xx/409)", "0", race.k.n[C_OTHER4XX] + race.k.n[C_422] == 0,
              "%ld", race.k.n[C_OTHER4XX] + race.k.n[C_422]);
    rl_figure(S, "oversold units", "0", oversold == 0, "%lld", oversold);
    rl_figure(S, "units reserved", "500", reserved == 500, "%lld", reserved);
    rl_figure(S, "units in acknowledged orders", "500", race.units == 500 && committed == 500,
              "%lld", race.units);
    rl_figure(S, "invariant violations (bff_violations)", "0", violations() == 0 && v0 == 0, "%lld",
              violations());
    return rl_failures() ? 1 : 0;
}

/* ======================================================= 2. lock order */

#define LO_MAX_PRODUCTS 16

static struct {
    long long product[LO_MAX_PRODUCTS];
    int nproducts, orders;
    struct counts k;
    long deadlock_bodies;
    long long units[LO_MAX_PRODUCTS];
} lo;

static void *lo_client(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg * 104729 + 3;
    struct rl_client c;
    struct counts k;
    int i, j;

    memset(&k, 0, sizeof k);
    rl_client_init(&c, token);
    for (i = 0; i < lo.orders; i++) {
        int idx[LO_MAX_PRODUCTS], n = (int)rl_rand_range(&seed, 2, 5), q[LO_MAX_PRODUCTS];
        char body[2048], kh[64];
        size_t o = 0;
        struct rl_resp r;
        const char *hdr[2] = {kh, NULL};

        for (j = 0; j < lo.nproducts; j++)
            idx[j] = j;
        for (j = lo.nproducts - 1; j > 0; j--) { /* random order, distinct */
            int s = (int)rl_rand_range(&seed, 0, j), t = idx[j];

            idx[j] = idx[s];
            idx[s] = t;
        }
        o += (size_t)snprintf(body + o, sizeof body - o, "{\"lines\":[");
        for (j = 0; j < n; j++) {
            q[j] = (int)rl_rand_range(&seed, 1, 5);
            o += (size_t)snprintf(body + o, sizeof body - o,
                                  "%s{\"product_id\":%lld,\"quantity\":%d}", j ? "," : "",
                                  lo.product[idx[j]], q[j]);
        }
        snprintf(body + o, sizeof body - o, "]}");
        snprintf(kh, sizeof kh, "X-Request-Id: lo-%ld-%d", (long)(uintptr_t)arg, i);
        rl_http(&c, "POST", "/api/orders/", body, strlen(body), hdr, &r);
        k.n[classify(r.status)]++;
        if (strstr(r.body, "deadlock") != NULL)
            __atomic_add_fetch(&lo.deadlock_bodies, 1, __ATOMIC_RELAXED);
        if (r.status == 201)
            for (j = 0; j < n; j++)
                __atomic_add_fetch(&lo.units[idx[j]], q[j], __ATOMIC_RELAXED);
        else if (r.status >= 500 || r.status == 0)
            fprintf(stderr, "lockorder: %ld %s %s\n", r.status, r.err, r.body);
        rl_resp_free(&r);
    }
    count_add(&lo.k, &k);
    rl_client_free(&c);
    return NULL;
}

int rl_cmd_lockorder(int argc, char **argv)
{
    const char *S = "2 multi-line lock order";
    int clients = (int)rl_opt_int(argc, argv, "--clients", 32), i;
    char tag[64], code[96];
    struct rl_client c;
    long long wh, d0, d1, mism = 0;
    double t0, secs;

    lo.orders = (int)rl_opt_int(argc, argv, "--orders", 40);
    lo.nproducts = (int)rl_opt_int(argc, argv, "--products", 6);
    if (lo.nproducts < 5 || lo.nproducts > LO_MAX_PRODUCTS)
        rl_die("--products: 5..%d", LO_MAX_PRODUCTS);
    setup_token();
    rl_client_init(&c, token);
    rl_tag(tag, sizeof tag);
    wh = rl_mk_warehouse(&c, tag);
    for (i = 0; i < lo.nproducts; i++) {
        snprintf(code, sizeof code, "%s-p%d", tag, i);
        lo.product[i] = rl_mk_product(&c, code);
        snprintf(code, sizeof code, "%s-p%d-a", tag, i);
        rl_mk_lot(&c, lo.product[i], wh, code, 40, 1000000);
        snprintf(code, sizeof code, "%s-p%d-b", tag, i);
        rl_mk_lot(&c, lo.product[i], wh, code, 80, 1000000);
    }
    rl_client_free(&c);
    printf("%s: %d clients x %d orders of 2-5 of %d products in random line order\n", S, clients,
           lo.orders, lo.nproducts);
    d0 = pg_deadlocks();
    t0 = rl_now_ms();
    run_threads(clients, lo_client);
    secs = (rl_now_ms() - t0) / 1000.0;
    d1 = pg_deadlocks();
    print_counts("answers", &lo.k);
    for (i = 0; i < lo.nproducts; i++) {
        long long res = rl_sql_int(
            "SELECT coalesce(sum(reserved), 0) FROM lots WHERE product_id = %lld", lo.product[i]);

        if (res != lo.units[i])
            mism++;
    }
    rl_figure(S, "orders sent", "-", -1, "%ld", (long)clients * lo.orders);
    rl_figure(S, "orders reserved (2xx)", "all", lo.k.n[C_2XX] == (long)clients * lo.orders, "%ld",
              lo.k.n[C_2XX]);
    rl_figure(S, "throughput (orders/s)", "-", -1, "%.0f", (double)clients * lo.orders / secs);
    rl_figure(S, "deadlock errors surfaced to clients", "0",
              fivexx(&lo.k) + lo.deadlock_bodies == 0, "%ld", fivexx(&lo.k) + lo.deadlock_bodies);
    rl_figure(S, "deadlocks detected by PostgreSQL", "0", d1 - d0 == 0, "%lld", d1 - d0);
    rl_figure(S, "products whose reserved != acked units", "0", mism == 0, "%lld", mism);
    rl_figure(S, "invariant violations (bff_violations)", "0", violations() == 0, "%lld",
              violations());
    return rl_failures() ? 1 : 0;
}

/* ================================================== 3. idempotent retries */

static struct {
    long long product;
    int keys, every, nthreads;
    char tag[64];
    long requests, replays, identical, inflight409, bad, fivexx, conflict422;
    long long units;
} idem;

struct shot {
    const char *body, *key;
    struct rl_client *c;
    pthread_barrier_t *go;
    long status;
    char *resp;
    char code[64];
};

static void *shoot(void *arg)
{
    struct shot *s = arg;
    char kh[300];
    const char *hdr[2] = {kh, NULL};
    struct rl_resp r;

    snprintf(kh, sizeof kh, "Idempotency-Key: %s", s->key);
    if (s->go)
        pthread_barrier_wait(s->go);
    rl_http(s->c, "POST", "/api/orders/", s->body, strlen(s->body), hdr, &r);
    s->status = r.status;
    s->code[0] = '\0';
    rl_is_json_error(&r, s->code, sizeof s->code);
    s->resp = r.body;
    r.body = NULL;
    rl_resp_free(&r);
    return NULL;
}

/* Judge the three answers of one key: exactly one distinct 2xx body;
 * every other answer is a byte-identical replay or (concurrent) a 409. */
static void judge(struct shot *s, int n, int concurrent)
{
    const char *first = NULL;
    int i;

    for (i = 0; i < n; i++) {
        __atomic_add_fetch(&idem.requests, 1, __ATOMIC_RELAXED);
        if (s[i].status >= 500 || s[i].status == 0) {
            __atomic_add_fetch(&idem.fivexx, 1, __ATOMIC_RELAXED);
            fprintf(stderr, "idem: %ld %s\n", s[i].status, s[i].resp);
            continue;
        }
        if (s[i].status == 201) {
            if (first == NULL) {
                first = s[i].resp;
                continue;
            }
            __atomic_add_fetch(&idem.replays, 1, __ATOMIC_RELAXED);
            if (strcmp(first, s[i].resp) == 0)
                __atomic_add_fetch(&idem.identical, 1, __ATOMIC_RELAXED);
            continue;
        }
        if (concurrent && s[i].status == 409 && strcmp(s[i].code, "conflict") == 0) {
            __atomic_add_fetch(&idem.inflight409, 1, __ATOMIC_RELAXED);
            continue;
        }
        __atomic_add_fetch(&idem.bad, 1, __ATOMIC_RELAXED);
        fprintf(stderr, "idem: unexpected %ld %s\n", s[i].status, s[i].resp);
    }
    if (first == NULL) {
        __atomic_add_fetch(&idem.bad, 1, __ATOMIC_RELAXED);
        fprintf(stderr, "idem: a key got no 201 at all\n");
    }
}

static void *idem_client(void *arg)
{
    long t = (long)(uintptr_t)arg;
    struct rl_client c[3];
    int i, j;

    for (j = 0; j < 3; j++)
        rl_client_init(&c[j], token);
    for (i = (int)t; i < idem.keys; i += idem.nthreads) {
        char body[256], key[128];
        struct shot s[3];
        int concurrent = i % idem.every == 0;
        long q = i % 3 + 1;

        snprintf(key, sizeof key, "%s-%d", idem.tag, i);
        snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":%ld}]}",
                 idem.product, q);
        memset(s, 0, sizeof s);
        if (concurrent) {
            pthread_barrier_t go;
            pthread_t th[3];

            pthread_barrier_init(&go, NULL, 3);
            for (j = 0; j < 3; j++) {
                s[j] = (struct shot){body, key, &c[j], &go, 0, NULL, ""};
                pthread_create(&th[j], NULL, shoot, &s[j]);
            }
            for (j = 0; j < 3; j++)
                pthread_join(th[j], NULL);
            pthread_barrier_destroy(&go);
        } else {
            for (j = 0; j < 3; j++) {
                s[j] = (struct shot){body, key, &c[0], NULL, 0, NULL, ""};
                shoot(&s[j]);
            }
        }
        judge(s, 3, concurrent);
        __atomic_add_fetch(&idem.units, q, __ATOMIC_RELAXED);
        for (j = 0; j < 3; j++)
            free(s[j].resp);
        /* Every 50th key is also sent with another body: 422. */
        if (i % 50 == 1) {
            struct shot x = {
                "{\"lines\":[{\"product_id\":1,\"quantity\":9}]}", key, &c[0], NULL, 0, NULL, ""};

            shoot(&x);
            if (x.status == 422 && strcmp(x.code, "idempotency_conflict") == 0)
                __atomic_add_fetch(&idem.conflict422, 1, __ATOMIC_RELAXED);
            else
                fprintf(stderr, "idem: same key, other body: %ld %s\n", x.status, x.resp);
            free(x.resp);
        }
    }
    for (j = 0; j < 3; j++)
        rl_client_free(&c[j]);
    return NULL;
}

int rl_cmd_idem(int argc, char **argv)
{
    const char *S = "3 idempotent retries";
    char code[96];
    struct rl_client c;
    long long wh, orders, reserved, keys422;

    idem.keys = (int)rl_opt_int(argc, argv, "--orders", 500);
    idem.every = (int)rl_opt_int(argc, argv, "--concurrent-every", 4);
    idem.nthreads = (int)rl_opt_int(argc, argv, "--clients", 8);
    token = rl_token(NULL, &token_uid); /* a user of its own: its orders are ours */
    rl_client_init(&c, token);
    rl_tag(idem.tag, sizeof idem.tag);
    wh = rl_mk_warehouse(&c, idem.tag);
    idem.product = rl_mk_product(&c, idem.tag);
    snprintf(code, sizeof code, "%s-a", idem.tag);
    rl_mk_lot(&c, idem.product, wh, code, 60, 1000000);
    rl_client_free(&c);
    printf("%s: %d orders x 3 sends with one Idempotency-Key each; every %dth key's three "
           "sends are concurrent\n",
           S, idem.keys, idem.every);
    run_threads(idem.nthreads, idem_client);
    orders = rl_sql_int("SELECT count(*) FROM orders WHERE created_by = %lld", token_uid);
    reserved = rl_sql_int("SELECT coalesce(sum(reserved), 0) FROM lots WHERE product_id = %lld",
                          idem.product);
    keys422 = (idem.keys + 48) / 50;
    rl_figure(S, "requests sent", "-", -1, "%ld", idem.requests);
    rl_figure(S, "orders created", "= keys", orders == idem.keys, "%lld of %d keys", orders,
              idem.keys);
    rl_figure(S, "duplicate reservations", "0", orders == idem.keys && reserved == idem.units,
              "%lld", orders - idem.keys);
    rl_figure(S, "identical replays", "100%", idem.replays > 0 && idem.identical == idem.replays,
              "%.1f%% of %ld",
              idem.replays ? 100.0 * (double)idem.identical / (double)idem.replays : 0.0,
              idem.replays);
    rl_figure(S, "in-flight duplicates answered 409", "-", -1, "%ld", idem.inflight409);
    rl_figure(S, "other answers to duplicates", "0", idem.bad == 0, "%ld", idem.bad);
    rl_figure(S, "same key + other body answered 422", "all", idem.conflict422 == keys422,
              "%ld of %lld", idem.conflict422, keys422);
    rl_figure(S, "5xx answers", "0", idem.fivexx == 0, "%ld", idem.fivexx);
    rl_figure(S, "invariant violations (bff_violations)", "0", violations() == 0, "%lld",
              violations());
    return rl_failures() ? 1 : 0;
}

/* ================================================ generic order load */

#define MAX_ACK 2000000

#define LD_MAX_PRODUCTS 32

static struct {
    const char *scenario, *stop_file;
    long long product[LD_MAX_PRODUCTS];
    int nproducts;
    double deadline, give_up_ms;
    int retry;
    char tag[64];
    struct counts first; /* first attempt of each key */
    struct counts all;   /* retries */
    long keys, acked, gave_up, retried_ok, not_json;
    long long *ack_ids;
    double max_ack_ms, max_fail_ms;
    long max_keys, hold;
    struct rl_lat lat;
    pthread_mutex_t mu;
} ld;

static int load_done(void)
{
    return rl_now_ms() >= ld.deadline || (ld.stop_file && access(ld.stop_file, F_OK) == 0) ||
           (ld.max_keys > 0 && __atomic_load_n(&ld.keys, __ATOMIC_RELAXED) >= ld.max_keys);
}

static void *load_client(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg * 15485863 + 11;
    long t = (long)(uintptr_t)arg, seq = 0;
    struct rl_client c;
    struct counts first, all;

    memset(&first, 0, sizeof first);
    memset(&all, 0, sizeof all);
    rl_client_init(&c, token);
    while (!load_done()) {
        char body[256], key[128];
        double t0 = rl_now_ms(), ms;
        long long id = -1;
        int attempt;
        long st = 0;

        snprintf(key, sizeof key, "%s-%ld-%ld", ld.tag, t, seq++);
        if (ld.max_keys > 0 && __atomic_add_fetch(&ld.keys, 1, __ATOMIC_RELAXED) > ld.max_keys) {
            __atomic_sub_fetch(&ld.keys, 1, __ATOMIC_RELAXED);
            break;
        }
        if (ld.max_keys <= 0)
            __atomic_add_fetch(&ld.keys, 1, __ATOMIC_RELAXED);
        if (ld.hold > 0)
            snprintf(body, sizeof body,
                     "{\"hold_seconds\":%ld,\"lines\":[{\"product_id\":%lld,\"quantity\":%ld}]}",
                     ld.hold, ld.product[rl_rand_range(&seed, 0, ld.nproducts - 1)],
                     rl_rand_range(&seed, 1, 3));
        else
            snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":%ld}]}",
                     ld.product[rl_rand_range(&seed, 0, ld.nproducts - 1)],
                     rl_rand_range(&seed, 1, 3));
        for (attempt = 0;; attempt++) {
            struct counts *k = attempt == 0 ? &first : &all;

            st = post_order(&c, body, key, &id, k, &ms);
            rl_lat_add(&ld.lat, ms);
            if (!(st >= 200 && st < 300)) {
                pthread_mutex_lock(&ld.mu);
                if (ms > ld.max_fail_ms)
                    ld.max_fail_ms = ms;
                pthread_mutex_unlock(&ld.mu);
            }
            if (st >= 200 && st < 300)
                break;
            if (!ld.retry)
                break;
            /* retry what a client may retry: transport errors, 5xx, and a
             * 409 "conflict" while our own earlier attempt may still be
             * running (not insufficient_stock: that is an answer) */
            if (!(st == 0 || st >= 500 || (st == 409 && last_inflight)))
                break;
            if (rl_now_ms() - t0 > ld.give_up_ms)
                break;
            rl_sleep_ms(st == 409 ? 200 : 100);
        }
        if (st >= 200 && st < 300 && id > 0) {
            long n = __atomic_fetch_add(&ld.acked, 1, __ATOMIC_RELAXED);

            if (n < MAX_ACK)
                ld.ack_ids[n] = id;
            if (attempt > 0)
                __atomic_add_fetch(&ld.retried_ok, 1, __ATOMIC_RELAXED);
            pthread_mutex_lock(&ld.mu);
            if (rl_now_ms() - t0 > ld.max_ack_ms)
                ld.max_ack_ms = rl_now_ms() - t0;
            pthread_mutex_unlock(&ld.mu);
        } else {
            __atomic_add_fetch(&ld.gave_up, 1, __ATOMIC_RELAXED);
            if (ld.gave_up <= 5)
                fprintf(stderr, "orders: key %s not acknowledged (last status %ld)\n", key, st);
        }
    }
    count_add(&ld.first, &first);
    count_add(&ld.all, &all);
    rl_client_free(&c);
    return NULL;
}

/* "label: name" when the load has a label (two loads in one scenario). */
static const char *ld_label;
static const char *L(const char *name)
{
    static char buf[16][160];
    static int k;

    if (ld_label == NULL)
        return name;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s: %s", ld_label, name);
    return buf[k];
}

/*
 * rl orders --scenario NAME [--label L] [--seconds S] [--clients C] [--retry]
 *           [--stop-file F] [--expect-json-errors]
 * Orders with one Idempotency-Key each, for S seconds or until F exists.
 * --retry: a failed attempt is retried with the same key (up to 60 s);
 * without it every non-2xx answer is a failed request.
 */
int rl_cmd_orders(int argc, char **argv)
{
    const char *S = rl_opt(argc, argv, "--scenario", "order load");
    const char *label = rl_opt(argc, argv, "--label", NULL);
    int clients = (int)rl_opt_int(argc, argv, "--clients", 8);
    long seconds = rl_opt_int(argc, argv, "--seconds", 10);
    int json_only = rl_flag(argc, argv, "--expect-json-errors");
    int no502 = rl_flag(argc, argv, "--no-502");
    long fail_fast = rl_opt_int(argc, argv, "--max-fail-ms", 0);
    char code[96], *list;
    struct rl_client c;
    long long wh, found, orders, partial, stored;
    size_t cap, o = 0;
    long i, failed;
    double t0, secs;

    ld.scenario = S;
    ld_label = label;
    ld.retry = rl_flag(argc, argv, "--retry");
    ld.stop_file = rl_opt(argc, argv, "--stop-file", NULL);
    ld.give_up_ms = 60000;
    ld.max_keys = rl_opt_int(argc, argv, "--max-orders", 0);
    ld.hold = rl_opt_int(argc, argv, "--hold", 0);
    ld.ack_ids = calloc(MAX_ACK, sizeof *ld.ack_ids);
    pthread_mutex_init(&ld.mu, NULL);
    rl_lat_init(&ld.lat);
    token = rl_token(NULL, &token_uid);
    rl_client_init(&c, token);
    rl_tag(ld.tag, sizeof ld.tag);
    /* One existing product (--product), or --products N of its own, each
     * with one big lot; every order takes a random one. */
    ld.product[0] = rl_opt_int(argc, argv, "--product", 0);
    ld.nproducts = 1;
    if (ld.product[0] <= 0) {
        ld.nproducts = (int)rl_opt_int(argc, argv, "--products", 16);
        if (ld.nproducts < 1 || ld.nproducts > LD_MAX_PRODUCTS)
            rl_die("--products: 1..%d", LD_MAX_PRODUCTS);
        wh = rl_mk_warehouse(&c, ld.tag);
        for (i = 0; i < ld.nproducts; i++) {
            snprintf(code, sizeof code, "%s-%ld", ld.tag, i);
            ld.product[i] = rl_mk_product(&c, code);
            rl_mk_lot(&c, ld.product[i], wh, code, 60, 1000000000);
        }
    }
    rl_client_free(&c);
    if (ld.stop_file)
        unlink(ld.stop_file);
    printf("  fixture: %d product(s) from %lld, user %lld\n", ld.nproducts, ld.product[0],
           token_uid);
    printf("%s: order load, %d clients, %s, %s\n", S, clients,
           ld.retry ? "failed attempts retried with the same Idempotency-Key" : "no retries",
           ld.stop_file ? "until the stop file appears" : "timed");
    fflush(stdout);
    {
        const char *ready = rl_opt(argc, argv, "--ready-file", NULL);

        if (ready) {
            FILE *f = fopen(ready, "w");

            if (f)
                fclose(f);
        }
    }
    t0 = rl_now_ms();
    ld.deadline = t0 + (double)seconds * 1000.0;
    run_threads(clients, load_client);
    secs = (rl_now_ms() - t0) / 1000.0;
    print_counts("first attempts", &ld.first);
    print_counts("retries", &ld.all);

    /* Every acknowledged order is there, whole; nothing twice. */
    cap = (size_t)(ld.acked < MAX_ACK ? ld.acked : MAX_ACK) * 21 + 16;
    list = malloc(cap);
    o += (size_t)snprintf(list + o, cap - o, "{");
    for (i = 0; i < ld.acked && i < MAX_ACK; i++)
        o += (size_t)snprintf(list + o, cap - o, "%s%lld", i ? "," : "", ld.ack_ids[i]);
    snprintf(list + o, cap - o, "}");
    found = rl_sql_int("SELECT count(*) FROM orders WHERE id = ANY('%s'::bigint[])"
                       " AND status = 'reserved' AND created_by = %lld",
                       list, token_uid);
    free(list);
    orders = rl_sql_int("SELECT count(*) FROM orders WHERE created_by = %lld", token_uid);
    stored = rl_sql_int("SELECT count(*) FROM idempotency_keys WHERE user_id = %lld"
                        " AND status BETWEEN 200 AND 299",
                        token_uid);
    partial =
        rl_sql_int("SELECT count(*) FROM orders o WHERE o.created_by = %lld AND ("
                   " NOT EXISTS (SELECT 1 FROM order_lines ol WHERE ol.order_id = o.id) OR EXISTS ("
                   " SELECT 1 FROM order_lines ol WHERE ol.order_id = o.id AND ol.quantity <>"
                   " (SELECT coalesce(sum(quantity), 0) FROM allocations a"
                   "   WHERE a.order_id = o.id AND a.line = ol.line)))",
                   token_uid);
    failed = ld.keys - ld.acked;

    rl_figure(S, L("orders attempted (keys)"), "-", -1, "%ld in %.0f s", ld.keys, secs);
    rl_figure(S, L("orders acknowledged (2xx)"), "-", -1, "%ld", ld.acked);
    if (ld.retry) {
        char by[160] = "";
        size_t bo = 0;
        int j;

        for (j = 1; j < C_N; j++)
            if (ld.first.n[j] + ld.all.n[j])
                bo += (size_t)snprintf(by + bo, sizeof by - bo, "%s%s: %ld", bo ? ", " : " (",
                                       cls_name[j], ld.first.n[j] + ld.all.n[j]);
        if (bo)
            snprintf(by + bo, sizeof by - bo, ")");
        rl_figure(S, L("first attempts failed (retried)"), "-", -1, "%ld%s",
                  ld.keys - ld.first.n[C_2XX], by);
        rl_figure(S, L("orders never acknowledged after retries"), "0", failed == 0, "%ld", failed);
        rl_figure(S, L("longest time to acknowledgement"), "-", -1, "%.0f ms", ld.max_ack_ms);
    } else {
        rl_figure(S, L("failed requests"), "0", failed == 0, "%ld", failed);
    }
    if (json_only)
        rl_figure(S, L("error answers not SPEC JSON"), "0",
                  ld.first.not_json_errors + ld.all.not_json_errors == 0, "%ld",
                  ld.first.not_json_errors + ld.all.not_json_errors);
    if (fail_fast > 0) {
        char exp[32];

        snprintf(exp, sizeof exp, "<= %ld ms", fail_fast);
        rl_figure(S, L("slowest failed attempt"), exp, ld.max_fail_ms <= (double)fail_fast,
                  "%.0f ms", ld.max_fail_ms);
    }
    if (no502)
        rl_figure(S, L("502/504 answers"), "0",
                  ld.first.n[C_502] + ld.first.n[C_504] + ld.all.n[C_502] + ld.all.n[C_504] == 0,
                  "%ld", ld.first.n[C_502] + ld.first.n[C_504] + ld.all.n[C_502] + ld.all.n[C_504]);
    rl_figure(S, L("acknowledged orders lost"), "0", found == ld.acked, "%lld", ld.acked - found);
    rl_figure(S, L("partial orders"), "0", partial == 0, "%lld", partial);
    /* An order and its key's 2xx row commit together: more orders than
     * such rows would be a key that reserved twice. */
    rl_figure(S, L("duplicate orders (orders - keys stored)"), "0",
              orders <= ld.keys && orders == stored, "%lld", orders - stored);
    rl_figure(S, L("order p99 latency"), "-", -1, "%.0f ms", rl_lat_pct(&ld.lat, 99));
    return rl_failures() ? 1 : 0;
}
