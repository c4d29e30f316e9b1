/*
 * check_e2e_race.c — many clients racing for scarce stock through nginx →
 * spawn-fcgi → bff-fcgi → PostgreSQL (SPEC §4 invariants, §9 reliability).
 *
 * CLIENTS threads, each with its own libcurl handle, post ORDERS orders of
 * 1–3 units against a few lots of three products whose total is far below
 * the demand. Afterwards: no 5xx, the units of the 201s are exactly what
 * the lots hold reserved, no oversold lot, free stock only after reserved
 * stock in FEFO order, bff_violations empty and `bffctl verify` clean.
 * A second case sends multi-line orders with their products in random
 * order and cancels or ships some of them while the others reserve — a
 * lock-order deadlock would show as a 5xx or a timeout.
 *
 * The threads never call Check's assertions (they are not thread-safe):
 * they count, and the test asserts after joining them.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inv.h"

#define CLIENTS 16
#define ORDERS 50
#define NPROD 3

struct shared {
    const char *url; /* BFF_TEST_HTTP_URL */
    char token[64];  /* orders.read orders.write */
    char admin[64];  /* superuser, for the stock writer */
    long long product[NPROD];
    long long chaos_lot[NPROD]; /* the lot the stock writer toggles */
    long long warehouse;
    int multi;         /* multi-line orders: confirm, cancel, ship some,
                              while a stock writer works on the lots */
    volatile int done; /* the clients have finished */
};

struct client {
    const struct shared *sh;
    unsigned seed;
    int created, refused, ship_refused, s5xx, other, transport;
    long long units[NPROD];   /* units of 201 orders still open */
    long long shipped[NPROD]; /* units of the orders it shipped */
    long long added[NPROD];   /* the stock writer: units received/adjusted */
    char last_bad[512];
};

struct sink {
    char buf[16384];
    size_t n;
};

static size_t collect(char *data, size_t size, size_t nmemb, void *arg)
{
    struct sink *s = arg;
    size_t n = size * nmemb, room = sizeof s->buf - 1 - s->n;

    memcpy(s->buf + s->n, data, n < room ? n : room);
    s->n += n < room ? n : room;
    s->buf[s->n] = '\0';
    return n;
}

/* method path body on c's handle; the status, 0 on a transport error. */
static long request(CURL *h, struct client *c, const char *method, const char *path,
                    const char *body, struct sink *out)
{
    char url[512];
    long status = 0;

    snprintf(url, sizeof url, "%s%s", c->sh->url, path);
    out->n = 0;
    out->buf[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
    if (curl_easy_perform(h) != CURLE_OK) {
        c->transport++;
        return 0;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

static void note_bad(struct client *c, long status, const char *body)
{
    snprintf(c->last_bad, sizeof c->last_bad, "%ld %s", status, body);
    if (status >= 500)
        c->s5xx++;
    else
        c->other++;
}

/* The order id in a 201 body ({"id" : N, ...}). */
static long long order_id(const char *body)
{
    const char *p = strstr(body, "\"id\"");

    if (p == NULL)
        return 0;
    p = strchr(p, ':');
    return p ? atoll(p + 1) : 0;
}

static long post(CURL *h, struct client *c, const char *path, const char *body, struct sink *out)
{
    return request(h, c, "POST", path, body, out);
}

/* A handle sending token's Authorization and JSON; *hl to free. */
static CURL *handle(const char *token, struct curl_slist **hl)
{
    char auth[128];
    CURL *h = curl_easy_init();

    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    *hl = curl_slist_append(NULL, auth);
    *hl = curl_slist_append(*hl, "Content-Type: application/json");
    *hl = curl_slist_append(*hl, "Expect:");
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hl);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 40L);
    return h;
}

/*
 * The stock writer of the multi-line race, while the clients order: per
 * round, one product's chaos lot is quarantined (moving what it can) and
 * released again, and a new lot is received and the chaos lot counted up
 * in between — every kind of lot lock against the orders' locks.
 */
static void *writer_run(void *arg)
{
    struct client *c = arg;
    const struct shared *sh = c->sh;
    struct curl_slist *hl;
    char body[512], path[128];
    struct sink out;
    CURL *h = handle(sh->admin, &hl);
    int round;
    long st;

    for (round = 0; round < 400 && !sh->done; round++) {
        int k = round % NPROD;

        snprintf(path, sizeof path, "/api/lots/%lld/", sh->chaos_lot[k]);
        if ((st = request(h, c, "PATCH", path, "{\"status\":\"quarantined\"}", &out)) != 200)
            note_bad(c, st, out.buf);
        snprintf(body, sizeof body,
                 "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"CH%d-%d\","
                 "\"expires_on\":\"%s\",\"quantity\":2}",
                 sh->product[k], sh->warehouse, (int)getpid(), round,
                 round % 2 ? "2099-01-01" : "2030-01-01");
        if ((st = post(h, c, "/api/lots/", body, &out)) == 201 || st == 200)
            c->added[k] += 2;
        else
            note_bad(c, st, out.buf);
        snprintf(path, sizeof path, "/api/lots/%lld/adjust/", sh->chaos_lot[k]);
        if ((st = post(h, c, path, "{\"delta\":1,\"reason\":\"race count\"}", &out)) == 200)
            c->added[k] += 1;
        else
            note_bad(c, st, out.buf);
        snprintf(path, sizeof path, "/api/lots/%lld/", sh->chaos_lot[k]);
        if ((st = request(h, c, "PATCH", path, "{\"status\":\"available\"}", &out)) != 200)
            note_bad(c, st, out.buf);
        usleep(2000);
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return NULL;
}

static void *client_run(void *arg)
{
    struct client *c = arg;
    const struct shared *sh = c->sh;
    struct curl_slist *hl;
    char body[1024], path[128];
    struct sink out;
    CURL *h = handle(sh->token, &hl);
    int i;

    for (i = 0; i < ORDERS; i++) {
        long long q[NPROD] = {0, 0, 0};
        int order[NPROD] = {0, 1, 2}, nlines, k;
        size_t n;
        long st;

        if (!sh->multi) {
            k = (int)(rand_r(&c->seed) % NPROD);
            q[k] = 1 + rand_r(&c->seed) % 3;
            snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":%lld}]}",
                     sh->product[k], q[k]);
        } else {
            /* 2 or 3 lines, products shuffled */
            for (k = NPROD - 1; k > 0; k--) {
                int j = (int)(rand_r(&c->seed) % (unsigned)(k + 1)), t = order[k];

                order[k] = order[j];
                order[j] = t;
            }
            nlines = 2 + (int)(rand_r(&c->seed) % 2);
            n = (size_t)snprintf(body, sizeof body, "{\"lines\":[");
            for (k = 0; k < nlines; k++) {
                q[order[k]] = 1 + rand_r(&c->seed) % 3;
                n += (size_t)snprintf(body + n, sizeof body - n,
                                      "%s{\"product_id\":%lld,\"quantity\":%lld}", k ? "," : "",
                                      sh->product[order[k]], q[order[k]]);
            }
            snprintf(body + n, sizeof body - n, "]}");
        }
        st = post(h, c, "/api/orders/", body, &out);
        if (st == 201) {
            long long id = order_id(out.buf);
            int fate = sh->multi ? (int)(rand_r(&c->seed) % 4) : 0;

            c->created++;
            if (fate > 0) { /* cancel, ship or confirm right away */
                snprintf(path, sizeof path, "/api/orders/%lld/%s/", id,
                         fate == 1   ? "cancel"
                         : fate == 2 ? "ship"
                                     : "confirm");
                st = post(h, c, path, "", &out);
                if (st == 409 && fate == 2 && strstr(out.buf, "\"conflict\"")) {
                    /* an allocation caught on the writer's quarantined lot */
                    c->ship_refused++;
                    fate = 0;
                } else if (st != 200) {
                    note_bad(c, st, out.buf);
                    fate = 0;
                }
            }
            for (k = 0; k < NPROD; k++) {
                if (fate == 0 || fate == 3)
                    c->units[k] += q[k];
                else if (fate == 2)
                    c->shipped[k] += q[k];
            }
        } else if (st == 409 && strstr(out.buf, "insufficient_stock")) {
            c->refused++;
        } else if (st != 0) {
            note_bad(c, st, out.buf);
        }
    }
    curl_slist_free_all(hl);
    curl_easy_cleanup(h);
    return NULL;
}

/* Lots of the race: per product, several lots in two warehouses, plus an
 * expired and a quarantined one that must stay untouched. Returns the
 * free units of each product; the second lot is the writer's chaos lot. */
static void make_stock(struct shared *sh, long long *stock)
{
    static const int days[] = {12, 4, 30, 4, 18};
    static const int qty[] = {9, 7, 15, 5, 11};
    long long w1 = inv_warehouse(), w2 = inv_warehouse();
    int i, k;

    for (i = 0; i < NPROD; i++) {
        long long p = inv_product(0), q;
        struct http_resp r;
        char path[64];

        sh->product[i] = p;
        stock[i] = 0;
        sh->warehouse = w1;
        for (k = 0; k < 5; k++) {
            long long id = inv_lot(p, k % 2 ? w2 : w1, days[k] + i, 2 * qty[k] * (i + 1));

            if (k == 1)
                sh->chaos_lot[i] = id;
            stock[i] += 2 * qty[k] * (i + 1);
        }
        inv_lot(p, w1, -3, 50);    /* expired on receipt */
        q = inv_lot(p, w2, 2, 50); /* quarantined */
        snprintf(path, sizeof path, "/api/lots/%lld/", q);
        inv_req("PATCH", path, "{\"status\":\"quarantined\"}", NULL, &r);
        inv_expect(&r, 200);
        t_resp_free(&r);
    }
}

/* CLIENTS ordering threads (and, for multi, the stock writer in
 * c[CLIENTS]) until every order is sent. */
static void race(struct shared *sh, struct client *c)
{
    pthread_t t[CLIENTS + 1];
    int i;

    sh->done = 0;
    for (i = 0; i <= CLIENTS; i++) {
        memset(&c[i], 0, sizeof c[i]);
        c[i].sh = sh;
        c[i].seed = (unsigned)(i * 7919 + getpid());
    }
    for (i = 0; i < CLIENTS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, client_run, &c[i]), 0);
    if (sh->multi)
        ck_assert_int_eq(pthread_create(&t[CLIENTS], NULL, writer_run, &c[CLIENTS]), 0);
    for (i = 0; i < CLIENTS; i++)
        pthread_join(t[i], NULL);
    sh->done = 1;
    if (sh->multi)
        pthread_join(t[CLIENTS], NULL);
}

/* Assert what every race must leave: no 5xx, no transport error, no
 * unexpected answer, the invariants, a clean `bffctl verify`. Returns the
 * number of 201s. */
static int assert_clean(const struct shared *sh, const struct client *c, long long *units,
                        long long *shipped, long long *added)
{
    int i, k, created = 0, refused = 0, s5xx = 0, other = 0, transport = 0;
    const char *bad = NULL;
    char *out = NULL;
    int rc;

    for (k = 0; k < NPROD; k++)
        units[k] = shipped[k] = added[k] = 0;
    for (i = 0; i <= CLIENTS; i++) {
        created += c[i].created;
        refused += c[i].refused;
        s5xx += c[i].s5xx;
        other += c[i].other;
        transport += c[i].transport;
        if (c[i].last_bad[0])
            bad = c[i].last_bad;
        for (k = 0; k < NPROD; k++) {
            units[k] += c[i].units[k];
            shipped[k] += c[i].shipped[k];
            added[k] += c[i].added[k];
        }
    }
    ck_assert_msg(s5xx == 0 && other == 0 && transport == 0,
                  "%d 5xx, %d other, %d transport errors; last: %s", s5xx, other, transport,
                  bad ? bad : "");
    ck_assert_int_eq(created + refused, CLIENTS * ORDERS);
    ck_assert_msg(refused > 0, "demand should exceed the stock (%d refused)", refused);
    for (k = 0; k < NPROD; k++) {
        ck_assert_int_eq(
            inv_sql_int("SELECT sum(reserved) FROM lots WHERE product_id = %lld", sh->product[k]),
            units[k]);
        ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM lots WHERE product_id = %lld AND "
                                     "(reserved > on_hand OR reserved < 0)",
                                     sh->product[k]),
                         0);
        /* the expired and the quarantined lot were never touched */
        ck_assert_int_eq(inv_sql_int("SELECT coalesce(sum(reserved), 0) FROM lots WHERE "
                                     "product_id = %lld AND status <> 'available'",
                                     sh->product[k]),
                         0);
    }
    ck_assert_int_eq(inv_violations(), 0);
    rc = inv_bffctl("verify 2>&1", &out);
    ck_assert_msg(rc == 0, "bffctl verify exited %d:\n%s", rc, out);
    free(out);
    return created;
}

START_TEST(race_single_line)
{
    struct shared sh;
    struct client c[CLIENTS + 1];
    long long stock[NPROD], units[NPROD], shipped[NPROD], added[NPROD];
    int k;

    memset(&sh, 0, sizeof sh);
    sh.url = t_env("BFF_TEST_HTTP_URL");
    snprintf(sh.token, sizeof sh.token, "%s", inv_login("orders.read orders.write"));
    snprintf(sh.admin, sizeof sh.admin, "%s", inv_login("*"));
    make_stock(&sh, stock);
    race(&sh, c);
    assert_clean(&sh, c, units, shipped, added);
    for (k = 0; k < NPROD; k++) {
        long long left = stock[k] - units[k];

        /* all that fit: what is left is less than the largest order */
        ck_assert_msg(left >= 0 && left < 3, "product %d: %lld of %lld units left", k, left,
                      stock[k]);
        /* and FEFO: no free unit expires before a reserved one */
        ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM lots f JOIN lots r ON r.product_id = "
                                     "f.product_id AND r.reserved > 0 AND (r.expires_on, r.id) > "
                                     "(f.expires_on, f.id) WHERE f.product_id = %lld AND "
                                     "f.status = 'available' AND f.expires_on > current_date AND "
                                     "f.on_hand > f.reserved",
                                     sh.product[k]),
                         0);
    }
}
END_TEST

START_TEST(race_multi_line_lock_order)
{
    struct shared sh;
    struct client c[CLIENTS + 1];
    long long stock[NPROD], units[NPROD], shipped[NPROD], added[NPROD];
    int k, i, ship_refused = 0;

    memset(&sh, 0, sizeof sh);
    sh.url = t_env("BFF_TEST_HTTP_URL");
    snprintf(sh.token, sizeof sh.token, "%s", inv_login("orders.read orders.write"));
    snprintf(sh.admin, sizeof sh.admin, "%s", inv_login("*"));
    sh.multi = 1;
    make_stock(&sh, stock);
    race(&sh, c);
    assert_clean(&sh, c, units, shipped, added);
    for (i = 0; i < CLIENTS; i++)
        ship_refused += c[i].ship_refused;
    for (k = 0; k < NPROD; k++) {
        long long on_hand = inv_sql_int("SELECT sum(on_hand) FROM lots WHERE product_id = %lld "
                                        "AND status = 'available'",
                                        sh.product[k]);

        ck_assert_msg(added[k] > 0, "the stock writer did nothing for product %d", k);
        ck_assert_int_eq(on_hand, stock[k] + added[k] - shipped[k]);
        ck_assert_int_le(units[k] + shipped[k], stock[k] + added[k]);
    }
    /* ship refusals only come from the writer's quarantines */
    ck_assert_int_lt(ship_refused, CLIENTS * ORDERS / 4);
}
END_TEST

/* ------------------------------------------------ bffctl verify, seed-demo */

/* Run bffctl verify; its exit status, its stdout in *out (malloc'd). */
static int verify(char **out)
{
    return inv_bffctl("verify 2>/dev/null", out);
}

static void assert_verify_clean(void)
{
    char *out = NULL;
    int rc = verify(&out);

    ck_assert_msg(rc == 0 && strstr(out, "verify: 0 violations"), "verify exited %d:\n%s", rc, out);
    free(out);
}

/*
 * Corrupt (SQL), run verify, repair (SQL; NULL: none) — the repair comes
 * before any assertion, so a failure never leaves the shared database
 * broken for the suites after this one — then assert verify failed and
 * said every one of the strings given.
 */
static void assert_verify_finds(const char *what, const char *corrupt, const char *repair, ...)
{
    char *out = NULL;
    const char *s;
    va_list ap;
    int rc;

    if (corrupt)
        free(t_sql(corrupt));
    rc = verify(&out);
    if (repair)
        free(t_sql(repair));
    ck_assert_msg(rc == 1, "verify exited %d after %s:\n%s", rc, what, out);
    va_start(ap, repair);
    while ((s = va_arg(ap, const char *)) != NULL)
        ck_assert_msg(strstr(out, s) != NULL, "after %s verify does not say \"%s\":\n%s", what, s,
                      out);
    va_end(ap);
    free(out);
}

static long long order_of(long long product, long long qty)
{
    struct http_resp r;
    long long id;

    inv_reqf("POST", "/api/orders/", &r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":%lld}]}",
             product, qty);
    inv_expect(&r, 201);
    id = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    return id;
}

static void cancel(long long order)
{
    struct http_resp r;
    char path[64];

    snprintf(path, sizeof path, "/api/orders/%lld/cancel/", order);
    inv_req("POST", path, NULL, NULL, &r);
    inv_expect(&r, 200);
    t_resp_free(&r);
}

static void sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sql(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    free(t_sql(buf));
}

START_TEST(verify_reports_corruption)
{
    long long p = inv_product(0), w = inv_warehouse(), a, b, o, at;
    char subject[64], bad[512], fix[512];

    inv_login("*");
    a = inv_lot(p, w, 10, 10);
    b = inv_lot(p, w, 20, 10);
    assert_verify_clean();

    /* a lot's reserved that no allocation explains */
    snprintf(bad, sizeof bad, "UPDATE lots SET reserved = 2 WHERE id = %lld", a);
    snprintf(fix, sizeof fix, "UPDATE lots SET reserved = 0 WHERE id = %lld", a);
    snprintf(subject, sizeof subject, "lot %lld:", a);
    assert_verify_finds("reserved drift", bad, fix, "VIOLATION reserved_vs_allocations", subject,
                        "VIOLATION reserved_vs_ledger", NULL);
    /* on_hand the ledger does not explain */
    snprintf(bad, sizeof bad, "UPDATE lots SET on_hand = 11 WHERE id = %lld", a);
    snprintf(fix, sizeof fix, "UPDATE lots SET on_hand = 10 WHERE id = %lld", a);
    assert_verify_finds("on_hand drift", bad, fix, "VIOLATION on_hand_vs_ledger", subject, NULL);
    assert_verify_clean();

    /* a reservation that skipped the earlier lot: moved, ledger and all,
     * from a to b as a buggy reservation would have made it; then the
     * line's shelf-life rule as applied, broken. Cancelling the order
     * (closed orders are history) is the repair. */
    o = order_of(p, 3);
    sql("INSERT INTO movements (lot_id, kind, reserved_delta, order_id) VALUES "
        "(%lld, 'release', -3, %lld), (%lld, 'reserve', 3, %lld)",
        a, o, b, o);
    sql("UPDATE allocations SET lot_id = %lld WHERE order_id = %lld", b, o);
    sql("UPDATE lots SET reserved = reserved - 3 WHERE id = %lld", a);
    sql("UPDATE lots SET reserved = reserved + 3 WHERE id = %lld", b);
    snprintf(subject, sizeof subject, "order %lld line 1", o);
    {
        long long plain = inv_violations(); /* the plain invariants hold */
        char *out = NULL;
        int rc1, rc2;
        char *out2 = NULL;

        rc1 = verify(&out);
        sql("UPDATE order_lines SET shelf_days = 25 WHERE order_id = %lld", o);
        rc2 = verify(&out2);
        cancel(o);
        ck_assert_int_eq(plain, 0);
        ck_assert_msg(rc1 == 1 && strstr(out, "VIOLATION fefo_order") && strstr(out, subject),
                      "a FEFO skip: verify exited %d:\n%s", rc1, out);
        ck_assert_msg(rc2 == 1 && strstr(out2, "VIOLATION allocation_rule") &&
                          strstr(out2, subject),
                      "a shelf-life breach: verify exited %d:\n%s", rc2, out2);
        free(out);
        free(out2);
    }
    assert_verify_clean();

    /* a reservation on a lot that was quarantined at the time */
    o = order_of(p, 1);
    at = inv_sql_int("SELECT min(id) FROM movements WHERE order_id = %lld", o);
    sql("INSERT INTO lot_status_changes (id, lot_id, status) VALUES (%lld, %lld, 'quarantined')",
        at - 1, a);
    {
        char *out = NULL;
        int rc = verify(&out);

        cancel(o);
        snprintf(subject, sizeof subject, "reserved_ineligible order %lld:", o);
        ck_assert_msg(rc == 1 && strstr(out, subject) && strstr(out, "quarantined"),
                      "a quarantined reservation: verify exited %d:\n%s", rc, out);
        free(out);
    }
    assert_verify_clean();

    /* allowed: an allocation quarantine could not move is a warning */
    {
        long long q = inv_product(0), l = inv_lot(q, w, 10, 2), o2 = order_of(q, 2);
        struct http_resp r;
        char path[64], *out = NULL;
        int rc;

        snprintf(path, sizeof path, "/api/lots/%lld/", l);
        inv_req("PATCH", path, "{\"status\":\"quarantined\"}", NULL, &r);
        inv_expect(&r, 200);
        t_resp_free(&r);
        rc = verify(&out);
        cancel(o2);
        snprintf(subject, sizeof subject, "warning stuck_allocation order %lld line 1", o2);
        ck_assert_msg(rc == 0 && strstr(out, subject), "verify exited %d:\n%s", rc, out);
        free(out);
    }
    assert_verify_clean();
}
END_TEST

START_TEST(seed_demo_then_verify)
{
    char *out = NULL;
    struct http_resp r;
    long long p, o;
    int rc;

    rc = inv_bffctl("seed-demo --products 400 --warehouses 3 --lots-per-product 4 2>/dev/null",
                    &out);
    ck_assert_msg(rc == 0, "seed-demo exited %d: %s", rc, out);
    free(out);
    ck_assert_int_ge(inv_sql_int("SELECT count(*) FROM products WHERE sku LIKE 'DEMO-%%'"), 400);
    /* every demo product has its lots (this run's, or an earlier one's) */
    ck_assert_int_eq(inv_sql_int("SELECT count(DISTINCT l.product_id) FROM lots l JOIN products p "
                                 "ON p.id = l.product_id WHERE p.sku BETWEEN 'DEMO-000001' AND "
                                 "'DEMO-000400'"),
                     400);
    ck_assert_int_gt(inv_sql_int("SELECT count(*) FROM lots l JOIN products p ON p.id = "
                                 "l.product_id WHERE p.sku LIKE 'DEMO-%%' AND l.status = "
                                 "'expired'"),
                     0);
    ck_assert_int_gt(inv_sql_int("SELECT count(DISTINCT warehouse_id) FROM lots l JOIN products p "
                                 "ON p.id = l.product_id WHERE p.sku LIKE 'DEMO-%%'"),
                     2);
    /* again: nothing more */
    rc = inv_bffctl("seed-demo --products 400 --warehouses 3 --lots-per-product 4 2>/dev/null",
                    &out);
    ck_assert_msg(rc == 0 && strstr(out, "added 0 products and 0 lots"), "rerun: %d %s", rc, out);
    free(out);
    assert_verify_clean();
    /* the demo data serves an order as SPEC shows: reserve, confirm, ship */
    inv_login("*");
    p = inv_sql_int("SELECT id FROM products WHERE sku = 'DEMO-000007'");
    o = order_of(p, 5);
    {
        char path[64];

        snprintf(path, sizeof path, "/api/orders/%lld/confirm/", o);
        inv_req("POST", path, NULL, NULL, &r);
        inv_expect(&r, 200);
        t_resp_free(&r);
        snprintf(path, sizeof path, "/api/orders/%lld/ship/", o);
        inv_req("POST", path, NULL, NULL, &r);
        inv_expect(&r, 200);
        ck_assert(YAJL_IS_TRUE(t_jget(r.json, "fefo_compliant", NULL)));
        t_resp_free(&r);
    }
    assert_verify_clean();
    /* usage errors */
    ck_assert_int_eq(inv_bffctl("seed-demo --products 0 2>/dev/null", NULL), 2);
    ck_assert_int_eq(inv_bffctl("seed-demo --products many 2>/dev/null", NULL), 2);
    ck_assert_int_eq(inv_bffctl("seed-demo --lots 3 2>/dev/null", NULL), 2);
    ck_assert_int_eq(inv_bffctl("verify --now 2>/dev/null", NULL), 2);
    ck_assert_int_eq(inv_bffctl("verify --help >/dev/null", NULL), 0);
}
END_TEST

static Suite *make_e2e_race_suite(void)
{
    Suite *s = suite_create("e2e_race");
    TCase *tc = tcase_create("core"), *ver = tcase_create("verify");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, race_single_line);
    tcase_add_test(tc, race_multi_line_lock_order);
    suite_add_tcase(s, tc);
    tcase_set_timeout(ver, 60);
    tcase_add_test(ver, verify_reports_corruption);
    tcase_add_test(ver, seed_demo_then_verify);
    suite_add_tcase(s, ver);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    curl_global_init(CURL_GLOBAL_ALL);
    sr = srunner_create(make_e2e_race_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
