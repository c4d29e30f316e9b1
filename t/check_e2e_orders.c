/*
 * check_e2e_orders.c — an order's life through the real stack (SPEC §4
 * Orders): confirm, cancel, ship, every refused transition, the hold
 * deadline, picks and fefo_compliant, and Idempotency-Key (replay, 422,
 * concurrent duplicate, 5xx not stored).
 */
#include <check.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "inv.h"

/* POST path with a formatted body (NULL fmt: none). */
static void post(struct http_resp *r, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void post(struct http_resp *r, const char *path, const char *fmt, ...)
{
    char body[4096];
    va_list ap;

    if (fmt == NULL) {
        inv_req("POST", path, NULL, NULL, r);
        return;
    }
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    inv_req("POST", path, body, NULL, r);
}

/* POST /api/orders/{id}/{action}/ with an optional body. */
static void act(struct http_resp *r, long long order, const char *action, const char *body)
{
    char path[96];

    snprintf(path, sizeof path, "/api/orders/%lld/%s/", order, action);
    inv_req("POST", path, body, NULL, r);
}

static long long reserve(long long product, long long qty)
{
    struct http_resp r;
    long long id;

    post(&r, "/api/orders/", "{\"lines\":[{\"product_id\":%lld,\"quantity\":%lld}]}", product, qty);
    inv_expect(&r, 201);
    id = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    return id;
}

/* Assert a 409 conflict whose message names word. */
static void assert_conflict(const struct http_resp *r, const char *word)
{
    const char *msg;

    t_assert_error(r, 409, "conflict");
    msg = t_jstr(r->json, "error", "message", NULL);
    ck_assert_msg(msg && strstr(msg, word), "message \"%s\" does not name \"%s\"", msg ? msg : "",
                  word);
}

static int json_is_true(yajl_val v)
{
    return v != NULL && YAJL_IS_TRUE(v);
}

static int json_is_false(yajl_val v)
{
    return v != NULL && YAJL_IS_FALSE(v);
}

/* ------------------------------------------------------------ lifecycle */

START_TEST(reserve_confirm_ship)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 5);
    long long b = inv_lot(p, w, 20, 5), o;
    struct http_resp r;

    post(&r, "/api/orders/",
         "{\"hold_seconds\":600,\"lines\":[{\"product_id\":%lld,"
         "\"quantity\":7}]}",
         p);
    inv_expect(&r, 201);
    o = inv_int(r.json, "id", NULL);
    ck_assert_ptr_nonnull(t_jstr(r.json, "reserved_until", NULL));
    ck_assert_ptr_nonnull(t_jstr(r.json, "created_at", NULL));
    t_resp_free(&r);

    act(&r, o, "confirm", NULL);
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "confirmed");
    ck_assert(YAJL_IS_NULL(t_jget(r.json, "reserved_until", NULL)));
    t_resp_free(&r);

    act(&r, o, "ship", NULL);
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "shipped");
    ck_assert(json_is_true(t_jget(r.json, "fefo_compliant", NULL)));
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "on_hand"), 0);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
    ck_assert_int_eq(inv_lot_col(b, "on_hand"), 3);
    ck_assert_int_eq(inv_lot_col(b, "reserved"), 0);
    ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM movements WHERE order_id = %lld AND "
                                 "kind = 'ship'",
                                 o),
                     2);
    inv_stock(p, &r);
    ck_assert_int_eq(inv_int(r.json, "on_hand", NULL), 3);
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 3);
    t_resp_free(&r);
    /* ship straight from reserved too */
    o = reserve(p, 1);
    act(&r, o, "ship", "");
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "shipped");
    t_resp_free(&r);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

START_TEST(cancel_releases)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 5), o1, o2;
    struct http_resp r;

    o1 = reserve(p, 2);
    o2 = reserve(p, 3);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 5);
    act(&r, o1, "cancel", NULL);
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "cancelled");
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 3);
    act(&r, o2, "confirm", NULL);
    inv_expect(&r, 200);
    t_resp_free(&r);
    act(&r, o2, "cancel", NULL);
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "cancelled");
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
    ck_assert_int_eq(inv_lot_col(a, "on_hand"), 5);
    ck_assert_int_eq(inv_sql_int("SELECT coalesce(sum(reserved_delta), 0) FROM movements WHERE "
                                 "lot_id = %lld",
                                 a),
                     0);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

START_TEST(invalid_transitions)
{
    static const char *actions[] = {"confirm", "cancel", "ship"};
    long long p = inv_product(0), w = inv_warehouse(), confirmed, shipped, cancelled;
    struct http_resp r;
    int i;

    inv_lot(p, w, 10, 50);
    confirmed = reserve(p, 1);
    act(&r, confirmed, "confirm", NULL);
    t_resp_free(&r);
    shipped = reserve(p, 1);
    act(&r, shipped, "ship", NULL);
    t_resp_free(&r);
    cancelled = reserve(p, 1);
    act(&r, cancelled, "cancel", NULL);
    t_resp_free(&r);

    act(&r, confirmed, "confirm", NULL);
    assert_conflict(&r, "confirmed");
    t_resp_free(&r);
    for (i = 0; i < 3; i++) {
        act(&r, shipped, actions[i], NULL);
        assert_conflict(&r, "shipped");
        t_resp_free(&r);
        act(&r, cancelled, actions[i], NULL);
        assert_conflict(&r, "cancelled");
        t_resp_free(&r);
        act(&r, 999999999, actions[i], NULL);
        t_assert_error(&r, 404, "not_found");
        t_resp_free(&r);
    }
    /* the refusals changed nothing */
    inv_order(shipped, &r);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "shipped");
    t_resp_free(&r);
    ck_assert_int_eq(inv_sql_int("SELECT sum(on_hand) FROM lots WHERE product_id = %lld", p), 49);
    ck_assert_int_eq(inv_sql_int("SELECT sum(reserved) FROM lots WHERE product_id = %lld", p), 1);
    /* confirm and cancel take no body fields */
    act(&r, confirmed, "cancel", "{\"why\":1}");
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
    act(&r, confirmed, "ship", "{\"pickz\":[]}");
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
}
END_TEST

START_TEST(hold_runs_out)
{
    static const char *actions[] = {"confirm", "cancel", "ship"};
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 5), o;
    struct http_resp r;
    int i;

    post(&r, "/api/orders/",
         "{\"hold_seconds\":1,\"lines\":[{\"product_id\":%lld,"
         "\"quantity\":2}]}",
         p);
    inv_expect(&r, 201);
    o = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    sleep(2);
    for (i = 0; i < 3; i++) {
        act(&r, o, actions[i], NULL);
        assert_conflict(&r, "expired");
        t_resp_free(&r);
    }
    inv_order(o, &r);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "expired");
    t_resp_free(&r);
    {
        char path[96];

        snprintf(path, sizeof path, "/api/orders/?status=expired&after=%lld", o - 1);
        inv_req("GET", path, NULL, NULL, &r);
        inv_expect(&r, 200);
        ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "items", NULL), 0), "id", NULL), o);
        t_resp_free(&r);
    }
    /* the expiry job releases the stock; running it again does nothing more */
    ck_assert_int_ge(inv_sql_int("SELECT bff_expire_reservations(1000)"), 1);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
    inv_sql_int("SELECT bff_expire_reservations(1000)");
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
    act(&r, o, "cancel", NULL);
    assert_conflict(&r, "expired");
    t_resp_free(&r);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

/* ---------------------------------------------------------------- picks */

START_TEST(picks_same_expiry_compliant)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 10, 4), b = inv_lot(p, w, 10, 4), o;
    struct http_resp r;
    char body[256];

    o = reserve(p, 3); /* a x 3 */
    snprintf(body, sizeof body,
             "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":1},"
             "{\"line\":1,\"lot_id\":%lld,\"quantity\":2}]}",
             b, a);
    act(&r, o, "ship", body);
    inv_expect(&r, 200);
    ck_assert(json_is_true(t_jget(r.json, "fefo_compliant", NULL)));
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "on_hand"), 2);
    ck_assert_int_eq(inv_lot_col(b, "on_hand"), 3);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
    ck_assert_int_eq(inv_lot_col(b, "reserved"), 0);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

START_TEST(picks_later_expiry_not_compliant)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 10, 4), b = inv_lot(p, w, 20, 4), o;
    struct http_resp r;
    char body[256];

    o = reserve(p, 3);
    snprintf(body, sizeof body,
             "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":2},"
             "{\"line\":1,\"lot_id\":%lld,\"quantity\":1}]}",
             a, b);
    act(&r, o, "ship", body);
    inv_expect(&r, 200);
    ck_assert(json_is_false(t_jget(r.json, "fefo_compliant", NULL)));
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "on_hand"), 2);
    ck_assert_int_eq(inv_lot_col(b, "on_hand"), 3);
    ck_assert_int_eq(inv_violations(), 0);
    /* shipping exactly the allocation by picks is compliant */
    o = reserve(p, 2); /* a x 2 */
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":2}]}", a);
    act(&r, o, "ship", body);
    inv_expect(&r, 200);
    ck_assert(json_is_true(t_jget(r.json, "fefo_compliant", NULL)));
    t_resp_free(&r);
}
END_TEST

START_TEST(picks_must_cover_lines)
{
    long long p = inv_product(0), q = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 10, 10), c = inv_lot(q, w, 10, 10), o;
    struct http_resp r;
    char body[512];

    post(&r, "/api/orders/",
         "{\"lines\":[{\"product_id\":%lld,\"quantity\":3},"
         "{\"product_id\":%lld,\"quantity\":2}]}",
         p, q);
    inv_expect(&r, 201);
    o = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    /* too few, too many, a line missing, an empty list, a line not there */
    snprintf(body, sizeof body,
             "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":2},"
             "{\"line\":2,\"lot_id\":%lld,\"quantity\":2}]}",
             a, c);
    act(&r, o, "ship", body);
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":4},"
             "{\"line\":2,\"lot_id\":%lld,\"quantity\":2}]}",
             a, c);
    act(&r, o, "ship", body);
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":3}]}", a);
    act(&r, o, "ship", body);
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
    act(&r, o, "ship", "{\"picks\":[]}");
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "picks");
    t_resp_free(&r);
    act(&r, o, "ship", "{\"picks\":null}");
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":3},"
             "{\"line\":2,\"lot_id\":%lld,\"quantity\":2},"
             "{\"line\":3,\"lot_id\":%lld,\"quantity\":1}]}",
             a, c, c);
    act(&r, o, "ship", body);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "picks[2].line");
    t_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"picks\":[{\"line\":1,\"lot_id\":999999999,\"quantity\":3},"
             "{\"line\":2,\"lot_id\":%lld,\"quantity\":2}]}",
             c);
    act(&r, o, "ship", body);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "picks[0].lot_id");
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":0}]}", a);
    act(&r, o, "ship", body);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "picks[0].quantity");
    t_resp_free(&r);
    /* nothing moved */
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 3);
    ck_assert_int_eq(inv_lot_col(a, "on_hand"), 10);
    /* two picks of one lot for a line add up */
    snprintf(body, sizeof body,
             "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":1},"
             "{\"line\":2,\"lot_id\":%lld,\"quantity\":2},"
             "{\"line\":1,\"lot_id\":%lld,\"quantity\":2}]}",
             a, c, a);
    act(&r, o, "ship", body);
    inv_expect(&r, 200);
    ck_assert(json_is_true(t_jget(r.json, "fefo_compliant", NULL)));
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "on_hand"), 7);
    ck_assert_int_eq(inv_lot_col(c, "on_hand"), 8);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

START_TEST(picks_from_ineligible_lots)
{
    long long p = inv_product(0), q = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 10, 5), quar = inv_lot(p, w, 20, 5), old = inv_lot(p, w, 30, 5);
    long long other = inv_lot(q, w, 10, 5), expired = inv_lot(p, w, -2, 5), o, o2;
    struct http_resp r;
    char body[256], path[64];

    (void)old;
    o = reserve(p, 3);
    snprintf(path, sizeof path, "/api/lots/%lld/", quar);
    inv_req("PATCH", path, "{\"status\":\"quarantined\"}", NULL, &r);
    inv_expect(&r, 200);
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":3}]}", quar);
    act(&r, o, "ship", body);
    assert_conflict(&r, "quarantined");
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":3}]}",
             expired);
    act(&r, o, "ship", body);
    assert_conflict(&r, "expired");
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":3}]}", other);
    act(&r, o, "ship", body);
    t_assert_error(&r, 409, "conflict");
    t_resp_free(&r);
    /* short: a has 5, this order holds 3 and another order 2 → 3 + 0 free */
    o2 = reserve(p, 2);
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":3}]}", a);
    act(&r, o, "ship", body);
    inv_expect(&r, 200); /* its own 3 */
    t_resp_free(&r);
    inv_lot(p, w, 25, 1);
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":2}]}", old);
    act(&r, o2, "ship", body);
    inv_expect(&r, 200);
    ck_assert(json_is_false(t_jget(r.json, "fefo_compliant", NULL)));
    t_resp_free(&r);
    /* a now has 2 on hand: an order of 3 holds both and one of the 25-day
     * lot; picking 3 from a finds its own 2 + 0 free */
    o = reserve(p, 3);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 2);
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":3}]}", a);
    act(&r, o, "ship", body);
    assert_conflict(&r, "lot");
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 2);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

START_TEST(stuck_allocation_needs_picks)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 4), b, o;
    struct http_resp r;
    char body[256], path[64];

    o = reserve(p, 4);
    snprintf(path, sizeof path, "/api/lots/%lld/", a);
    inv_req("PATCH", path, "{\"status\":\"quarantined\"}", NULL, &r);
    inv_expect(&r, 200);
    ck_assert_int_eq(inv_len(t_jget(r.json, "affected_orders", NULL)), 1);
    t_resp_free(&r);
    act(&r, o, "ship", NULL);
    assert_conflict(&r, "quarantined");
    t_resp_free(&r);
    act(&r, o, "confirm", NULL); /* still open: confirm works */
    inv_expect(&r, 200);
    t_resp_free(&r);
    act(&r, o, "ship", NULL);
    assert_conflict(&r, "quarantined");
    t_resp_free(&r);
    b = inv_lot(p, w, 20, 4);
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":4}]}", b);
    act(&r, o, "ship", body);
    inv_expect(&r, 200);
    ck_assert(json_is_false(t_jget(r.json, "fefo_compliant", NULL)));
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
    ck_assert_int_eq(inv_lot_col(a, "on_hand"), 4);
    ck_assert_int_eq(inv_lot_col(b, "on_hand"), 0);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

START_TEST(since_expired_allocation_needs_picks)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 4), b, o;
    struct http_resp r;
    char body[256];

    o = reserve(p, 2);
    b = inv_lot(p, w, 20, 4);
    snprintf(body, sizeof body, "UPDATE lots SET expires_on = current_date WHERE id = %lld", a);
    free(t_sql(body));
    act(&r, o, "ship", NULL);
    assert_conflict(&r, "expired");
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"picks\":[{\"line\":1,\"lot_id\":%lld,\"quantity\":2}]}", b);
    act(&r, o, "ship", body);
    inv_expect(&r, 200);
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

/* ---------------------------------------------------------- idempotency */

START_TEST(idempotent_replay)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 5);
    const char *key = inv_code("key-"), *ref = inv_code("ref");
    char body[256], *rid1, *rid2;
    struct http_resp r1, r2;

    snprintf(body, sizeof body,
             "{\"external_ref\":\"%s\",\"lines\":[{\"product_id\":%lld,\"quantity\":2}]}", ref, p);
    inv_req("POST", "/api/orders/", body, key, &r1);
    inv_expect(&r1, 201);
    inv_req("POST", "/api/orders/", body, key, &r2);
    inv_expect(&r2, 201);
    ck_assert_uint_eq(r1.len, r2.len);
    ck_assert_str_eq(r1.body, r2.body);
    rid1 = t_header(&r1, "X-Request-Id");
    rid2 = t_header(&r2, "X-Request-Id");
    ck_assert_str_ne(rid1, rid2); /* the current request's id in the header */
    free(rid1);
    free(rid2);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 2);
    ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM orders WHERE external_ref = '%s'", ref), 1);
    t_resp_free(&r1);
    t_resp_free(&r2);

    /* another body, another route: 422 */
    snprintf(body, sizeof body,
             "{\"external_ref\":\"%s\",\"lines\":[{\"product_id\":%lld,\"quantity\":3}]}", ref, p);
    inv_req("POST", "/api/orders/", body, key, &r1);
    t_assert_error(&r1, 422, "idempotency_conflict");
    t_resp_free(&r1);
    inv_req("POST", "/api/orders", body, key, &r1); /* another concrete path */
    t_assert_error(&r1, 422, "idempotency_conflict");
    t_resp_free(&r1);
    inv_req("POST", "/api/warehouses/", "{\"code\":\"x\",\"name\":\"x\"}", key, &r1);
    t_assert_error(&r1, 422, "idempotency_conflict");
    t_resp_free(&r1);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 2);

    /* keys belong to their user: another user's same key is new work */
    inv_login("*");
    snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", p);
    inv_req("POST", "/api/orders/", body, key, &r1);
    inv_expect(&r1, 201);
    t_resp_free(&r1);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 3);
    /* a bad key */
    inv_req("POST", "/api/orders/", body, "caf\xc3\xa9", &r1);
    t_assert_error(&r1, 400, "bad_request");
    t_resp_free(&r1);
}
END_TEST

START_TEST(idempotent_4xx_is_stored)
{
    long long p = inv_product(0), w = inv_warehouse();
    const char *key = inv_code("key-");
    char body[256];
    struct http_resp r1, r2;

    snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":2}]}", p);
    inv_req("POST", "/api/orders/", body, key, &r1);
    t_assert_error(&r1, 409, "insufficient_stock");
    inv_lot(p, w, 10, 5);
    inv_req("POST", "/api/orders/", body, key, &r2);
    t_assert_error(&r2, 409, "insufficient_stock");
    ck_assert_str_eq(r1.body, r2.body);
    /* the stored body keeps the first request's id; the header is this one's */
    {
        char *h1 = t_header(&r1, "X-Request-Id"), *h2 = t_header(&r2, "X-Request-Id");

        ck_assert_str_eq(t_jstr(r2.json, "error", "request_id", NULL), h1);
        ck_assert_str_ne(h1, h2);
        free(h1);
        free(h2);
    }
    t_resp_free(&r1);
    t_resp_free(&r2);
    ck_assert_int_eq(inv_sql_int("SELECT coalesce(sum(reserved), 0) FROM lots WHERE product_id = "
                                 "%lld",
                                 p),
                     0);
    /* transitions are POSTs too */
    {
        long long o = reserve(p, 1);
        char path[96];

        snprintf(path, sizeof path, "/api/orders/%lld/cancel/", o);
        inv_req("POST", path, NULL, "cancel-once", &r1);
        inv_expect(&r1, 200);
        inv_req("POST", path, NULL, "cancel-once", &r2);
        inv_expect(&r2, 200);
        ck_assert_str_eq(r1.body, r2.body);
        t_resp_free(&r1);
        t_resp_free(&r2);
        inv_req("POST", path, NULL, NULL, &r1);
        assert_conflict(&r1, "cancelled");
        t_resp_free(&r1);
    }
}
END_TEST

/* A connection holding every lot of a product FOR UPDATE until released. */
static PGconn *hold_lots(long long product)
{
    PGconn *c = PQconnectdb(t_env("BFF_TEST_DATABASE_URL"));
    char sql[160];
    PGresult *r;

    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    r = PQexec(c, "BEGIN");
    PQclear(r);
    snprintf(sql, sizeof sql, "SELECT id FROM lots WHERE product_id = %lld ORDER BY id FOR UPDATE",
             product);
    r = PQexec(c, sql);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    return c;
}

static void release_lots(PGconn *c)
{
    PGresult *r = PQexec(c, "ROLLBACK");

    PQclear(r);
    PQfinish(c);
}

struct call {
    const char *body, *key, *token;
    struct http_resp r;
};

static void *call_thread(void *arg)
{
    struct call *c = arg;
    char auth[128], idem[300];
    const char *h[3] = {auth, idem, NULL};

    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    snprintf(idem, sizeof idem, "Idempotency-Key: %s", c->key);
    t_http("POST", "/api/orders/", h, c->body, strlen(c->body), &c->r);
    return NULL;
}

START_TEST(idempotent_concurrent_duplicate)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 5);
    const char *token = inv_login("*");
    const char *key = inv_code("key-"), *ref = inv_code("ref");
    char body[256];
    struct call first, second;
    pthread_t t1;
    PGconn *hold;

    snprintf(body, sizeof body,
             "{\"external_ref\":\"%s\",\"lines\":[{\"product_id\":%lld,\"quantity\":2}]}", ref, p);
    first.body = second.body = body;
    first.key = second.key = key;
    first.token = second.token = token;
    /* the first request blocks on the lots (inside its transaction, after
     * taking the key); the duplicate arrives while it is in flight */
    hold = hold_lots(p);
    ck_assert_int_eq(pthread_create(&t1, NULL, call_thread, &first), 0);
    usleep(400 * 1000);
    call_thread(&second);
    t_assert_error(&second.r, 409, "conflict");
    ck_assert_str_eq(t_jstr(second.r.json, "error", "field", NULL), "Idempotency-Key");
    release_lots(hold);
    pthread_join(t1, NULL);
    inv_expect(&first.r, 201);
    t_resp_free(&second.r);
    /* afterwards: the stored answer */
    call_thread(&second);
    inv_expect(&second.r, 201);
    ck_assert_str_eq(first.r.body, second.r.body);
    t_resp_free(&first.r);
    t_resp_free(&second.r);
    ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM orders WHERE external_ref = '%s'", ref), 1);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 2);
}
END_TEST

struct ship_call {
    long long order;
    struct http_resp r;
};

static void *ship_thread(void *arg)
{
    struct ship_call *c = arg;

    act(&c->r, c->order, "ship", NULL);
    return NULL;
}

/* 1 when some session waits for a lock, polling up to ms. */
static int someone_waits_for_a_lock(int ms)
{
    for (; ms > 0; ms -= 20) {
        if (inv_sql_int("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        " AND datname = current_database()") > 0)
            return 1;
        usleep(20 * 1000);
    }
    return 0;
}

/*
 * A ship that arrives while a quarantine is moving its order's allocation
 * ships from where the units went once the quarantine commits, instead of
 * refusing with a 409 about the quarantined lot. What makes it so: the
 * quarantine's ledger rows reference the order (movements.order_id FK), so
 * it holds the order row FOR KEY SHARE until it commits, and the ship's
 * FOR UPDATE of the order waits for that before it reads the allocations.
 */
START_TEST(ship_during_quarantine_follows_the_move)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 20, 5), b = inv_lot(p, w, 60, 5), o = reserve(p, 2);
    PGconn *c = PQconnectdb(t_env("BFF_TEST_DATABASE_URL"));
    struct ship_call ship = {o, {0}};
    char sql[256];
    pthread_t t;
    PGresult *r;

    ck_assert_int_eq(inv_sql_int("SELECT lot_id FROM allocations WHERE order_id = %lld", o), a);
    ck_assert_msg(PQstatus(c) == CONNECTION_OK, "%s", PQerrorMessage(c));
    PQclear(PQexec(c, "BEGIN"));
    snprintf(sql, sizeof sql,
             "SELECT bff_lot_set_status((SELECT min(id) FROM users), %lld, 'quarantined')", a);
    r = PQexec(c, sql);
    ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
    PQclear(r);
    ck_assert_int_eq(pthread_create(&t, NULL, ship_thread, &ship), 0);
    ck_assert_msg(someone_waits_for_a_lock(3000), "the ship never waited for the lots");
    r = PQexec(c, "COMMIT");
    ck_assert_int_eq(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    pthread_join(t, NULL);
    inv_expect(&ship.r, 200);
    ck_assert_str_eq(t_jstr(ship.r.json, "status", NULL), "shipped");
    t_resp_free(&ship.r);
    ck_assert_int_eq(inv_sql_int("SELECT lot_id FROM shipments WHERE order_id = %lld", o), b);
    ck_assert_int_eq(inv_lot_col(b, "on_hand"), 3);
    ck_assert_int_eq(inv_lot_col(a, "on_hand"), 5);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
}
END_TEST

START_TEST(idempotent_simultaneous_burst)
{
    enum { N = 12 };
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 100);
    const char *token = inv_login("*");
    const char *key = inv_code("key-");
    char body[256];
    struct call c[N];
    pthread_t t[N];
    int i, created = 0, busy = 0;

    snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":3}]}", p);
    for (i = 0; i < N; i++) {
        c[i].body = body;
        c[i].key = key;
        c[i].token = token;
        ck_assert_int_eq(pthread_create(&t[i], NULL, call_thread, &c[i]), 0);
    }
    for (i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (c[i].r.status == 201)
            created++;
        else if (c[i].r.status == 409)
            busy++;
        else
            ck_abort_msg("status %ld: %s", c[i].r.status, c[i].r.body);
    }
    ck_assert_int_ge(created, 1);
    ck_assert_int_eq(created + busy, N);
    for (i = 1; i < N; i++)
        if (c[i].r.status == 201 && c[0].r.status == 201)
            ck_assert_str_eq(c[i].r.body, c[0].r.body);
    for (i = 0; i < N; i++)
        t_resp_free(&c[i].r);
    /* exactly one reservation, whatever the interleaving */
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 3);
    ck_assert_int_eq(inv_sql_int("SELECT count(DISTINCT order_id) FROM order_lines WHERE "
                                 "product_id = %lld",
                                 p),
                     1);
}
END_TEST

START_TEST(idempotent_5xx_not_stored)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 5);
    const char *key = inv_code("key-");
    char body[256];
    struct http_resp r;
    PGconn *hold;

    /* every attempt times out on the lot lock: 503 after the retries */
    snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":2}]}", p);
    hold = hold_lots(p);
    inv_req("POST", "/api/orders/", body, key, &r);
    release_lots(hold);
    t_assert_error(&r, 503, "unavailable");
    {
        char *ra = t_header(&r, "Retry-After");

        ck_assert_ptr_nonnull(ra);
        free(ra);
    }
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
    /* the retry does the work */
    inv_req("POST", "/api/orders/", body, key, &r);
    inv_expect(&r, 201);
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 2);
}
END_TEST

/* ----------------------------------------------------------------- lists */

START_TEST(order_list_and_get)
{
    long long p = inv_product(0), w = inv_warehouse(), first = 0, o;
    struct http_resp r;
    char path[128];
    int i;

    inv_lot(p, w, 10, 100);
    for (i = 0; i < 5; i++) {
        o = reserve(p, 1);
        if (i == 0)
            first = o;
    }
    act(&r, first, "cancel", NULL);
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/orders/?after=%lld&limit=2", first - 1);
    inv_req("GET", path, NULL, NULL, &r);
    inv_expect(&r, 200);
    ck_assert_int_eq(inv_len(t_jget(r.json, "items", NULL)), 2);
    ck_assert_int_eq(inv_int(r.json, "next_after", NULL), first + 1);
    t_resp_free(&r);
    snprintf(path, sizeof path, "/api/orders/?status=cancelled&after=%lld", first - 1);
    inv_req("GET", path, NULL, NULL, &r);
    inv_expect(&r, 200);
    ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "items", NULL), 0), "id", NULL), first);
    t_resp_free(&r);
    inv_req("GET", "/api/orders/?status=lost", NULL, NULL, &r);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "status");
    t_resp_free(&r);
    inv_req("GET", "/api/orders/999999999/", NULL, NULL, &r);
    t_assert_error(&r, 404, "not_found");
    t_resp_free(&r);
    /* permissions: orders.read cannot write */
    inv_login("orders.read");
    inv_req("GET", "/api/orders/?limit=1", NULL, NULL, &r);
    inv_expect(&r, 200);
    t_resp_free(&r);
    act(&r, first + 1, "cancel", NULL);
    t_assert_error(&r, 403, "forbidden");
    t_resp_free(&r);
}
END_TEST

static Suite *make_e2e_orders_suite(void)
{
    Suite *s = suite_create("e2e_orders");
    TCase *life = tcase_create("core"), *picks = tcase_create("picks"),
          *idem = tcase_create("idempotency");

    tcase_set_timeout(life, 60);
    tcase_set_timeout(picks, 60);
    tcase_set_timeout(idem, 60);
    tcase_add_test(life, reserve_confirm_ship);
    tcase_add_test(life, cancel_releases);
    tcase_add_test(life, invalid_transitions);
    tcase_add_test(life, hold_runs_out);
    tcase_add_test(life, order_list_and_get);
    tcase_add_test(picks, picks_same_expiry_compliant);
    tcase_add_test(picks, picks_later_expiry_not_compliant);
    tcase_add_test(picks, picks_must_cover_lines);
    tcase_add_test(picks, picks_from_ineligible_lots);
    tcase_add_test(picks, stuck_allocation_needs_picks);
    tcase_add_test(picks, since_expired_allocation_needs_picks);
    tcase_add_test(picks, ship_during_quarantine_follows_the_move);
    tcase_add_test(idem, idempotent_replay);
    tcase_add_test(idem, idempotent_4xx_is_stored);
    tcase_add_test(idem, idempotent_concurrent_duplicate);
    tcase_add_test(idem, idempotent_simultaneous_burst);
    tcase_add_test(idem, idempotent_5xx_not_stored);
    suite_add_tcase(s, life);
    suite_add_tcase(s, picks);
    suite_add_tcase(s, idem);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_e2e_orders_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
