/*
 * check_e2e_fefo.c — the FEFO rule of SPEC §4, one case per rule, through
 * nginx → bff-fcgi → PostgreSQL: expiry order, tie-break by lot id, shelf
 * life (line, product, the larger), warehouse filter, lines of one product,
 * lots past their date, quarantine, shortages (all or nothing), quarantine
 * re-allocation, quantity bounds and 64-bit totals.
 *
 * Every case makes its own products, warehouses and lots (unique codes), so
 * it sees nobody else's stock.
 */
#include <check.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "inv.h"

/* line i (0-based) of an order body */
static yajl_val line_of(yajl_val order, size_t i)
{
    return inv_at(t_jget(order, "lines", NULL), i);
}

/* Assert line i holds exactly the n (lot, qty) pairs given, in FEFO order. */
static void assert_allocs(yajl_val order, size_t i, int n, const long long *want)
{
    yajl_val a = t_jget(line_of(order, i), "allocations", NULL);
    int k;

    ck_assert_msg(inv_len(a) == (size_t)n, "line %zu has %zu allocations, want %d", i + 1,
                  inv_len(a), n);
    for (k = 0; k < n; k++) {
        long long lot = inv_int(inv_at(a, (size_t)k), "lot_id", NULL);
        long long q = inv_int(inv_at(a, (size_t)k), "quantity", NULL);

        ck_assert_msg(lot == want[2 * k] && q == want[2 * k + 1],
                      "line %zu allocation %d: lot %lld x %lld, want lot %lld x %lld", i + 1, k,
                      lot, q, want[2 * k], want[2 * k + 1]);
    }
}

/* POST /api/orders/ with a formatted body. */
static void order(struct http_resp *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void order(struct http_resp *r, const char *fmt, ...)
{
    char body[8192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    inv_req("POST", "/api/orders/", body, NULL, r);
}

/* Assert shortage k of a 409 insufficient_stock. */
static void assert_shortage(const struct http_resp *r, size_t k, long long line, long long product,
                            long long requested, long long available, long long short_dated)
{
    yajl_val s = inv_at(t_jget(r->json, "error", "shortages", NULL), k);

    ck_assert_msg(s != NULL, "no shortage %zu: %s", k, r->body);
    ck_assert_msg(inv_int(s, "line", NULL) == line && inv_int(s, "product_id", NULL) == product &&
                      inv_int(s, "requested", NULL) == requested &&
                      inv_int(s, "available", NULL) == available &&
                      inv_int(s, "short_dated", NULL) == short_dated,
                  "shortage %zu is %s; want line %lld product %lld requested %lld available %lld "
                  "short_dated %lld",
                  k, r->body, line, product, requested, available, short_dated);
}

/* Everything a failed reservation must not have touched, as one string. */
static char *stock_state(long long product)
{
    char sql[512];

    snprintf(sql, sizeof sql,
             "SELECT string_agg(id || ':' || on_hand || ':' || reserved || ':' || status, ',' "
             "ORDER BY id) || '|' || (SELECT count(*) FROM movements m JOIN lots l ON "
             "l.id = m.lot_id WHERE l.product_id = %lld) || '|' || (SELECT count(*) FROM "
             "order_lines WHERE product_id = %lld) FROM lots WHERE product_id = %lld",
             product, product, product);
    return t_sql(sql);
}

/* ---------------------------------------------------------------- rule */

START_TEST(expiry_order)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long l30 = inv_lot(p, w, 30, 5), l10 = inv_lot(p, w, 10, 5), l20 = inv_lot(p, w, 20, 5);
    struct http_resp r;

    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":7}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {l10, 5, l20, 2};

        assert_allocs(r.json, 0, 2, want);
    }
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "reserved");
    ck_assert_int_eq(inv_int(line_of(r.json, 0), "line", NULL), 1);
    ck_assert(YAJL_IS_NULL(t_jget(r.json, "fefo_compliant", NULL)));
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(l10, "reserved"), 5);
    ck_assert_int_eq(inv_lot_col(l20, "reserved"), 2);
    ck_assert_int_eq(inv_lot_col(l30, "reserved"), 0);

    /* the stock's lots list in FEFO order too */
    inv_stock(p, &r);
    ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "lots", NULL), 0), "id", NULL), l10);
    ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "lots", NULL), 1), "id", NULL), l20);
    ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "lots", NULL), 2), "id", NULL), l30);
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 8);
    ck_assert_int_eq(inv_int(r.json, "reserved", NULL), 7);
    t_resp_free(&r);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

START_TEST(tie_break_by_lot_id)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 15, 3), b = inv_lot(p, w, 15, 3), c = inv_lot(p, w, 15, 3);
    struct http_resp r;

    ck_assert(a < b && b < c);
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":2}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {a, 2};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":5}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {a, 1, b, 3, c, 1};

        assert_allocs(r.json, 0, 3, want);
    }
    t_resp_free(&r);
}
END_TEST

START_TEST(shelf_life_from_line)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long d5 = inv_lot(p, w, 5, 4), d10 = inv_lot(p, w, 10, 4), d11 = inv_lot(p, w, 11, 4);
    struct http_resp r;

    /* expires_on must be > today + 10: the lot of exactly +10 is too short */
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":3,\"min_shelf_life_days\":10}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {d11, 3};

        assert_allocs(r.json, 0, 1, want);
    }
    ck_assert_int_eq(inv_int(line_of(r.json, 0), "min_shelf_life_days", NULL), 10);
    t_resp_free(&r);
    /* without a rule the earliest lot goes first */
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {d5, 1};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    /* 9 days: the +10 lot qualifies */
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1,\"min_shelf_life_days\":9}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {d10, 1};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
}
END_TEST

START_TEST(shelf_life_from_product)
{
    long long p = inv_product(10), w = inv_warehouse();
    long long d5 = inv_lot(p, w, 5, 4), d10 = inv_lot(p, w, 10, 4), d21 = inv_lot(p, w, 21, 4),
              d11 = inv_lot(p, w, 11, 4);
    struct http_resp r;

    (void)d5;
    (void)d10;
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":2}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {d11, 2};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    /* the larger of line (20) and product (10) */
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":2,\"min_shelf_life_days\":20}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {d21, 2};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    /* a smaller line rule does not loosen the product's */
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1,\"min_shelf_life_days\":0}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {d11, 1};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    /* a product PATCH takes effect for the next order */
    {
        char path[64];

        snprintf(path, sizeof path, "/api/products/%lld/", p);
        inv_req("PATCH", path, "{\"min_shelf_life_days\":15}", NULL, &r);
        inv_expect(&r, 200);
        t_resp_free(&r);
    }
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {d21, 1};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
}
END_TEST

START_TEST(warehouse_filter)
{
    long long p = inv_product(0), w1 = inv_warehouse(), w2 = inv_warehouse();
    long long a = inv_lot(p, w1, 5, 5), b = inv_lot(p, w2, 10, 5);
    struct http_resp r;

    order(&r, "{\"warehouse_id\":%lld,\"lines\":[{\"product_id\":%lld,\"quantity\":3}]}", w2, p);
    inv_expect(&r, 201);
    {
        long long want[] = {b, 3};

        assert_allocs(r.json, 0, 1, want);
    }
    ck_assert_int_eq(inv_int(r.json, "warehouse_id", NULL), w2);
    t_resp_free(&r);
    /* unfiltered: the earlier lot, whatever its warehouse */
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {a, 1};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    /* w2 has 2 left: the 4 free in w1 do not count */
    order(&r, "{\"warehouse_id\":%lld,\"lines\":[{\"product_id\":%lld,\"quantity\":3}]}", w2, p);
    t_assert_error(&r, 409, "insufficient_stock");
    assert_shortage(&r, 0, 1, p, 3, 2, 0);
    t_resp_free(&r);
    /* a warehouse that does not exist is a 400 naming the field */
    order(&r, "{\"warehouse_id\":999999999,\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", p);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "warehouse_id");
    t_resp_free(&r);
    /* per-warehouse stock */
    {
        char path[96];

        snprintf(path, sizeof path, "/api/products/%lld/stock/?warehouse=%lld", p, w2);
        inv_req("GET", path, NULL, NULL, &r);
        inv_expect(&r, 200);
        ck_assert_int_eq(inv_int(r.json, "on_hand", NULL), 5);
        ck_assert_int_eq(inv_int(r.json, "reserved", NULL), 3);
        ck_assert_int_eq(inv_len(t_jget(r.json, "lots", NULL)), 1);
        t_resp_free(&r);
    }
}
END_TEST

START_TEST(two_lines_one_product)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 10, 5), b = inv_lot(p, w, 20, 5);
    struct http_resp r;

    order(&r,
          "{\"lines\":[{\"product_id\":%lld,\"quantity\":3},{\"product_id\":%lld,\"quantity\":4}]}",
          p, p);
    inv_expect(&r, 201);
    {
        long long l1[] = {a, 3}, l2[] = {a, 2, b, 2};

        assert_allocs(r.json, 0, 1, l1);
        assert_allocs(r.json, 1, 2, l2);
    }
    ck_assert_int_eq(inv_int(line_of(r.json, 1), "line", NULL), 2);
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 5);
    ck_assert_int_eq(inv_lot_col(b, "reserved"), 2);
}
END_TEST

START_TEST(lines_by_sku)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 5);
    char sql[128], *sku;
    struct http_resp r;

    snprintf(sql, sizeof sql, "SELECT sku FROM products WHERE id = %lld", p);
    sku = t_sql(sql);
    order(&r, "{\"lines\":[{\"sku\":\"%s\",\"quantity\":2},{\"product_id\":%lld,\"quantity\":1}]}",
          sku, p);
    inv_expect(&r, 201);
    ck_assert_int_eq(inv_int(line_of(r.json, 0), "product_id", NULL), p);
    {
        long long l1[] = {a, 2}, l2[] = {a, 1};

        assert_allocs(r.json, 0, 1, l1);
        assert_allocs(r.json, 1, 1, l2);
    }
    t_resp_free(&r);
    order(&r, "{\"lines\":[{\"sku\":\"%s-nope\",\"quantity\":1}]}", sku);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "lines[0].sku");
    t_resp_free(&r);
    order(&r,
          "{\"lines\":[{\"product_id\":%lld,\"quantity\":1},{\"product_id\":999999999,"
          "\"quantity\":1}]}",
          p);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "lines[1].product_id");
    t_resp_free(&r);
    /* both or neither of product_id and sku */
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"sku\":\"%s\",\"quantity\":1}]}", p, sku);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "lines[0]");
    t_resp_free(&r);
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1},{\"quantity\":1}]}", p);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "lines[1]");
    t_resp_free(&r);
    free(sku);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 3);
}
END_TEST

START_TEST(expired_today_never_eligible)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long later = inv_lot(p, w, 3, 2), today, stale;
    char sql[160];
    struct http_resp r;

    /* received on its last day: stored expired, never allocated */
    inv_reqf("POST", "/api/lots/", &r,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\",\"expires_on\":\"%s\","
             "\"quantity\":7}",
             p, w, inv_code("T"), inv_date(0));
    inv_expect(&r, 201);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "expired");
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 0);
    today = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    inv_reqf("POST", "/api/lots/", &r,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\",\"expires_on\":\"%s\","
             "\"quantity\":4}",
             p, w, inv_code("T"), inv_date(-30));
    inv_expect(&r, 201);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "expired");
    t_resp_free(&r);
    /* a lot whose day came while it was available (the job has not run) */
    stale = inv_lot(p, w, 1, 6);
    snprintf(sql, sizeof sql, "UPDATE lots SET expires_on = current_date WHERE id = %lld", stale);
    free(t_sql(sql));

    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":3}]}", p);
    t_assert_error(&r, 409, "insufficient_stock");
    assert_shortage(&r, 0, 1, p, 3, 2, 0);
    t_resp_free(&r);
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":2}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {later, 2};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(today, "reserved"), 0);
    ck_assert_int_eq(inv_lot_col(stale, "reserved"), 0);

    /* stock: past-date lots count as expired whether or not the job ran */
    inv_stock(p, &r);
    ck_assert_int_eq(inv_int(r.json, "on_hand", NULL), 19);
    ck_assert_int_eq(inv_int(r.json, "expired", NULL), 17);
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 0);
    t_resp_free(&r);
    {
        char path[64];

        snprintf(path, sizeof path, "/api/lots/%lld/", stale);
        inv_req("GET", path, NULL, NULL, &r);
        inv_expect(&r, 200);
        ck_assert_str_eq(t_jstr(r.json, "status", NULL), "expired");
        ck_assert_int_eq(inv_int(r.json, "available", NULL), 0);
        t_resp_free(&r);
    }
}
END_TEST

START_TEST(quarantined_excluded)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 5, 5), b = inv_lot(p, w, 10, 5);
    char path[64];
    struct http_resp r;

    snprintf(path, sizeof path, "/api/lots/%lld/", a);
    inv_req("PATCH", path, "{\"status\":\"quarantined\"}", NULL, &r);
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "quarantined");
    ck_assert_int_eq(inv_len(t_jget(r.json, "affected_orders", NULL)), 0);
    ck_assert(YAJL_IS_ARRAY(t_jget(r.json, "affected_orders", NULL)));
    t_resp_free(&r);
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":4}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {b, 4};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    inv_stock(p, &r);
    ck_assert_int_eq(inv_int(r.json, "quarantined", NULL), 5);
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 1);
    t_resp_free(&r);
    /* released, it is first again */
    inv_req("PATCH", path, "{\"status\":\"available\"}", NULL, &r);
    inv_expect(&r, 200);
    t_resp_free(&r);
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":2}]}", p);
    inv_expect(&r, 201);
    {
        long long want[] = {a, 2};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
}
END_TEST

/* ----------------------------------------------------------- shortages */

START_TEST(insufficient_leaves_stock_untouched)
{
    long long p = inv_product(0), w = inv_warehouse();
    char *before, *after;
    struct http_resp s1, s2, r;

    inv_lot(p, w, 3, 4); /* short-dated for a 7-day rule */
    inv_lot(p, w, 30, 5);
    inv_stock(p, &s1);
    before = stock_state(p);
    order(&r,
          "{\"external_ref\":\"%s\",\"lines\":[{\"product_id\":%lld,\"quantity\":8,"
          "\"min_shelf_life_days\":7}]}",
          inv_code("ref"), p);
    t_assert_error(&r, 409, "insufficient_stock");
    ck_assert_int_eq(inv_len(t_jget(r.json, "error", "shortages", NULL)), 1);
    assert_shortage(&r, 0, 1, p, 8, 5, 4);
    t_resp_free(&r);
    after = stock_state(p);
    ck_assert_str_eq(before, after);
    /* the stock endpoint, read fresh (not from the cache), says the same */
    {
        char key[64];

        snprintf(key, sizeof key, "stock:%lld:warehouse:all", p);
        inv_redis_del(key);
    }
    inv_stock(p, &s2);
    ck_assert_str_eq(s1.body, s2.body);
    t_resp_free(&s1);
    t_resp_free(&s2);
    free(before);
    free(after);
    ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM orders o JOIN order_lines ol ON "
                                 "ol.order_id = o.id WHERE ol.product_id = %lld",
                                 p),
                     0);
}
END_TEST

START_TEST(line_two_failing_reserves_nothing)
{
    long long p = inv_product(0), q = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 10, 10);
    const char *ref = inv_code("ref");
    char *before, *sql;
    struct http_resp r;

    inv_lot(q, w, 10, 1);
    before = stock_state(p);
    order(&r,
          "{\"external_ref\":\"%s\",\"lines\":[{\"product_id\":%lld,\"quantity\":4},"
          "{\"product_id\":%lld,\"quantity\":2}]}",
          ref, p, q);
    t_assert_error(&r, 409, "insufficient_stock");
    ck_assert_int_eq(inv_len(t_jget(r.json, "error", "shortages", NULL)), 1);
    assert_shortage(&r, 0, 2, q, 2, 1, 0);
    t_resp_free(&r);
    sql = stock_state(p);
    ck_assert_str_eq(before, sql);
    free(sql);
    free(before);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
    ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM orders WHERE external_ref = '%s'", ref), 0);
    /* the external_ref is still free */
    order(&r, "{\"external_ref\":\"%s\",\"lines\":[{\"product_id\":%lld,\"quantity\":4}]}", ref, p);
    inv_expect(&r, 201);
    t_resp_free(&r);
    order(&r, "{\"external_ref\":\"%s\",\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", ref, p);
    t_assert_error(&r, 409, "conflict");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "external_ref");
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 4);
}
END_TEST

START_TEST(shortages_count_after_earlier_lines)
{
    long long p = inv_product(0), w = inv_warehouse();
    struct http_resp r;

    inv_lot(p, w, 3, 4); /* short-dated for a 7-day rule */
    inv_lot(p, w, 30, 5);
    /* line 1 (no rule) takes 2 of the short lot and nothing else; line 2
     * (7 days) could get 5, and 2 short-dated units remain; line 3 has
     * what line 2 left of the long lot, minus nothing (line 2 failed but
     * counts), and every line is reported 1-based */
    order(&r,
          "{\"lines\":[{\"product_id\":%lld,\"quantity\":2},"
          "{\"product_id\":%lld,\"quantity\":6,\"min_shelf_life_days\":7},"
          "{\"product_id\":%lld,\"quantity\":9}]}",
          p, p, p);
    t_assert_error(&r, 409, "insufficient_stock");
    ck_assert_int_eq(inv_len(t_jget(r.json, "error", "shortages", NULL)), 2);
    assert_shortage(&r, 0, 2, p, 6, 5, 2);
    assert_shortage(&r, 1, 3, p, 9, 2, 0);
    t_resp_free(&r);
    ck_assert_int_eq(inv_sql_int("SELECT coalesce(sum(reserved), 0) FROM lots WHERE product_id = "
                                 "%lld",
                                 p),
                     0);
}
END_TEST

START_TEST(inactive_product_refused)
{
    long long p = inv_product(0), w = inv_warehouse();
    char path[64];
    struct http_resp r;

    inv_lot(p, w, 10, 5);
    snprintf(path, sizeof path, "/api/products/%lld/", p);
    inv_req("PATCH", path, "{\"active\":false}", NULL, &r);
    inv_expect(&r, 200);
    t_resp_free(&r);
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", p);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "lines[0].product_id");
    t_resp_free(&r);
}
END_TEST

/* ------------------------------------------------- quarantine re-allocation */

static void patch_lot(long long lot, const char *status, struct http_resp *r)
{
    char path[64], body[64];

    snprintf(path, sizeof path, "/api/lots/%lld/", lot);
    snprintf(body, sizeof body, "{\"status\":\"%s\"}", status);
    inv_req("PATCH", path, body, NULL, r);
}

static long long new_order(long long product, long long qty, const char *extra)
{
    struct http_resp r;
    long long id;

    order(&r, "{%s\"lines\":[{\"product_id\":%lld,\"quantity\":%lld}]}", extra ? extra : "",
          product, qty);
    inv_expect(&r, 201);
    id = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    return id;
}

START_TEST(quarantine_moves_fefo_and_splits)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 10, 6), o1, o2, b, c;
    struct http_resp r;

    o1 = new_order(p, 4, NULL);
    o2 = new_order(p, 2, NULL);
    c = inv_lot(p, w, 40, 0 + 1); /* later expiry: used only after b */
    b = inv_lot(p, w, 20, 4);
    /* o1 (4) moves to b; o2 (2) gets b's last... none: c has 1, so o2
     * moves 1 to c and 1 stays on a */
    patch_lot(a, "quarantined", &r);
    inv_expect(&r, 200);
    ck_assert_int_eq(inv_len(t_jget(r.json, "affected_orders", NULL)), 1);
    ck_assert_int_eq(YAJL_GET_INTEGER(inv_at(t_jget(r.json, "affected_orders", NULL), 0)), o2);
    ck_assert_int_eq(inv_int(r.json, "reserved", NULL), 1);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "quarantined");
    t_resp_free(&r);
    inv_order(o1, &r);
    {
        long long want[] = {b, 4};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    inv_order(o2, &r);
    {
        long long want[] = {a, 1, c, 1};

        assert_allocs(r.json, 0, 2, want);
    }
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 1);
    ck_assert_int_eq(inv_lot_col(b, "reserved"), 4);
    ck_assert_int_eq(inv_lot_col(c, "reserved"), 1);
    ck_assert_int_eq(inv_violations(), 0);

    /* quarantining again moves what can move now */
    inv_lot(p, w, 50, 3);
    patch_lot(a, "quarantined", &r);
    inv_expect(&r, 200);
    ck_assert_int_eq(inv_len(t_jget(r.json, "affected_orders", NULL)), 0);
    ck_assert_int_eq(inv_int(r.json, "reserved", NULL), 0);
    t_resp_free(&r);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

START_TEST(quarantine_all_moved_empty_list)
{
    long long p = inv_product(0), w = inv_warehouse();
    long long a = inv_lot(p, w, 10, 3), b, o;
    struct http_resp r;

    o = new_order(p, 3, NULL);
    b = inv_lot(p, w, 20, 3);
    patch_lot(a, "quarantined", &r);
    inv_expect(&r, 200);
    ck_assert(YAJL_IS_ARRAY(t_jget(r.json, "affected_orders", NULL)));
    ck_assert_int_eq(inv_len(t_jget(r.json, "affected_orders", NULL)), 0);
    t_resp_free(&r);
    inv_order(o, &r);
    {
        long long want[] = {b, 3};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
}
END_TEST

START_TEST(quarantine_respects_warehouse_and_shelf)
{
    long long p = inv_product(0), w1 = inv_warehouse(), w2 = inv_warehouse();
    long long a = inv_lot(p, w1, 30, 4), o1, o2, other_wh, short_lot, good;
    char extra[64];
    struct http_resp r;

    snprintf(extra, sizeof extra, "\"warehouse_id\":%lld,", w1);
    o1 = new_order(p, 2, extra);
    {
        struct http_resp x;

        order(&x, "{\"lines\":[{\"product_id\":%lld,\"quantity\":2,\"min_shelf_life_days\":20}]}",
              p);
        inv_expect(&x, 201);
        o2 = inv_int(x.json, "id", NULL);
        t_resp_free(&x);
    }
    other_wh = inv_lot(p, w2, 35, 10);  /* wrong warehouse for o1 */
    short_lot = inv_lot(p, w1, 15, 10); /* too short for o2's 20 days */
    good = inv_lot(p, w1, 40, 10);
    patch_lot(a, "quarantined", &r);
    inv_expect(&r, 200);
    ck_assert_int_eq(inv_len(t_jget(r.json, "affected_orders", NULL)), 0);
    t_resp_free(&r);
    inv_order(o1, &r);
    {
        long long want[] = {short_lot, 2}; /* w1, earliest */

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    inv_order(o2, &r);
    {
        long long want[] = {other_wh, 2}; /* any warehouse, > 20 days */

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(good, "reserved"), 0);
}
END_TEST

START_TEST(release_past_date_is_conflict)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 3);
    long long x = inv_lot(p, w, -1, 3);
    char sql[128];
    struct http_resp r;

    patch_lot(a, "quarantined", &r);
    inv_expect(&r, 200);
    t_resp_free(&r);
    snprintf(sql, sizeof sql, "UPDATE lots SET expires_on = current_date WHERE id = %lld", a);
    free(t_sql(sql));
    patch_lot(a, "available", &r);
    t_assert_error(&r, 409, "conflict");
    t_resp_free(&r);
    /* an expired lot changes status no more */
    patch_lot(x, "available", &r);
    t_assert_error(&r, 409, "conflict");
    t_resp_free(&r);
    patch_lot(x, "quarantined", &r);
    t_assert_error(&r, 409, "conflict");
    t_resp_free(&r);
    patch_lot(a, "expired", &r);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "status");
    t_resp_free(&r);
    patch_lot(999999999, "quarantined", &r);
    t_assert_error(&r, 404, "not_found");
    t_resp_free(&r);
}
END_TEST

START_TEST(expiry_job_moves_allocations)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 5), b, o1, o2;
    struct http_resp r;
    char sql[128];

    o1 = new_order(p, 3, NULL);
    o2 = new_order(p, 2, NULL);
    b = inv_lot(p, w, 20, 3);
    /* a's day comes (the job runs hourly; the date is moved here) */
    snprintf(sql, sizeof sql, "UPDATE lots SET expires_on = current_date WHERE id = %lld", a);
    free(t_sql(sql));
    ck_assert_int_ge(inv_sql_int("SELECT bff_expire_lots()"), 1);
    ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM lots WHERE id = %lld AND status = "
                                 "'expired'",
                                 a),
                     1);
    ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM movements WHERE lot_id = %lld AND kind = "
                                 "'expire'",
                                 a),
                     1);
    /* o1 (first by id) moved to b; o2 found b empty and stays */
    inv_order(o1, &r);
    {
        long long want[] = {b, 3};

        assert_allocs(r.json, 0, 1, want);
    }
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 2);
    ck_assert_int_eq(inv_violations(), 0);
    /* idempotent: the expired lot is not touched again */
    inv_sql_int("SELECT bff_expire_lots()");
    ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM movements WHERE lot_id = %lld AND kind = "
                                 "'expire'",
                                 a),
                     1);
    /* o2's allocation on the expired lot blocks a plain ship */
    {
        char path[64];

        snprintf(path, sizeof path, "/api/orders/%lld/ship/", o2);
        inv_req("POST", path, NULL, NULL, &r);
        t_assert_error(&r, 409, "conflict");
        t_resp_free(&r);
        snprintf(path, sizeof path, "/api/orders/%lld/cancel/", o2);
        inv_req("POST", path, NULL, NULL, &r);
        inv_expect(&r, 200);
        t_resp_free(&r);
        snprintf(path, sizeof path, "/api/orders/%lld/cancel/", o1);
        inv_req("POST", path, NULL, NULL, &r);
        inv_expect(&r, 200);
        t_resp_free(&r);
    }
    ck_assert_int_eq(inv_lot_col(a, "reserved"), 0);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

struct bg {
    const char *method, *path, *body, *token;
    struct http_resp r;
};

static void *bg_run(void *arg)
{
    struct bg *b = arg;
    char auth[128];
    const char *h[2] = {auth, NULL};

    snprintf(auth, sizeof auth, "Authorization: Bearer %s", b->token);
    t_http(b->method, b->path, h, b->body, strlen(b->body), &b->r);
    return NULL;
}

/*
 * Hold a stock write (method path body, by a fresh user) mid-transaction —
 * a lock on its user's row makes its ledger row's foreign key wait — send
 * a reservation of qty of product behind it, let the write finish, and
 * return the reservation's 201 body in *ord (the write must answer want).
 */
static void write_then_reserve(const char *method, const char *path, const char *body, long want,
                               long long product, long long qty, struct bg *ord)
{
    char tok_write[64], tok_order[64], obody[128], sql[128];
    struct bg wr;
    pthread_t t1, t2;
    long long uid;
    PGconn *h;
    PGresult *r;

    snprintf(tok_write, sizeof tok_write, "%s", t_token("*", &uid));
    snprintf(tok_order, sizeof tok_order, "%s", t_token("*", NULL));
    h = PQconnectdb(t_env("BFF_TEST_DATABASE_URL"));
    ck_assert_int_eq(PQstatus(h), CONNECTION_OK);
    PQclear(PQexec(h, "BEGIN"));
    snprintf(sql, sizeof sql, "SELECT 1 FROM users WHERE id = %lld FOR UPDATE", uid);
    r = PQexec(h, sql);
    ck_assert_int_eq(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);

    wr.method = method;
    wr.path = path;
    wr.body = body;
    wr.token = tok_write;
    ck_assert_int_eq(pthread_create(&t1, NULL, bg_run, &wr), 0);
    usleep(300 * 1000); /* the write holds its locks now */
    snprintf(obody, sizeof obody, "{\"lines\":[{\"product_id\":%lld,\"quantity\":%lld}]}", product,
             qty);
    ord->method = "POST";
    ord->path = "/api/orders/";
    ord->body = obody;
    ord->token = tok_order;
    ck_assert_int_eq(pthread_create(&t2, NULL, bg_run, ord), 0);
    usleep(300 * 1000); /* the reservation is behind it */
    PQclear(PQexec(h, "COMMIT"));
    PQfinish(h);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    inv_expect(&wr.r, want);
    t_resp_free(&wr.r);
    inv_expect(&ord->r, 201);
}

/*
 * What makes a lot newly eligible while a reservation of its product
 * arrives — a release from quarantine, a receipt — is seen by the
 * reservation once it runs: it takes that lot first (it expires first).
 * A reservation whose lot scan predated the write would skip it although
 * the ledger says it was there (bffctl verify: fefo_order).
 */
START_TEST(release_seen_by_waiting_reservation)
{
    long long p = inv_product(0), w = inv_warehouse(), c, d;
    char path[64];
    struct bg ord;

    c = inv_lot(p, w, 5, 4);
    d = inv_lot(p, w, 30, 4);
    {
        struct http_resp x;

        snprintf(path, sizeof path, "/api/lots/%lld/", c);
        inv_req("PATCH", path, "{\"status\":\"quarantined\"}", NULL, &x);
        inv_expect(&x, 200);
        t_resp_free(&x);
    }
    write_then_reserve("PATCH", path, "{\"status\":\"available\"}", 200, p, 2, &ord);
    {
        long long want[] = {c, 2};

        assert_allocs(ord.r.json, 0, 1, want);
    }
    t_resp_free(&ord.r);
    ck_assert_int_eq(inv_lot_col(d, "reserved"), 0);
}
END_TEST

START_TEST(receipt_seen_by_waiting_reservation)
{
    long long p = inv_product(0), w = inv_warehouse(), d = inv_lot(p, w, 30, 4), c;
    char body[256];
    struct bg ord;

    snprintf(body, sizeof body,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\","
             "\"expires_on\":\"%s\",\"quantity\":4}",
             p, w, inv_code("N"), inv_date(5));
    write_then_reserve("POST", "/api/lots/", body, 201, p, 2, &ord);
    c = inv_sql_int("SELECT max(id) FROM lots WHERE product_id = %lld", p);
    ck_assert_int_ne(c, d);
    {
        long long want[] = {c, 2};

        assert_allocs(ord.r.json, 0, 1, want);
    }
    t_resp_free(&ord.r);
    ck_assert_int_eq(inv_lot_col(d, "reserved"), 0);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

/* ----------------------------------------------------------- limits */

START_TEST(quantity_bounds)
{
    static const char *bad[] = {"0",    "1000000001",          "-1", "1.5", "\"3\"", "1e3", "null",
                                "true", "9223372036854775808", "[1]"};
    long long p = inv_product(0), w = inv_warehouse();
    struct http_resp r;
    size_t i;

    inv_lot(p, w, 10, 1000000000);
    inv_lot(p, w, 20, 1);
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", p);
    inv_expect(&r, 201);
    t_resp_free(&r);
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1000000000}]}", p);
    inv_expect(&r, 201);
    t_resp_free(&r);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":%s}]}", p, bad[i]);
        t_assert_error(&r, 400, "bad_request");
        ck_assert_msg(t_jstr(r.json, "error", "field", NULL) &&
                          strcmp(t_jstr(r.json, "error", "field", NULL), "lines[0].quantity") == 0,
                      "quantity %s: %s", bad[i], r.body);
        t_resp_free(&r);
    }
    /* the same rule on a later line names its index */
    order(&r,
          "{\"lines\":[{\"product_id\":%lld,\"quantity\":1},{\"product_id\":%lld,"
          "\"quantity\":0}]}",
          p, p);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "lines[1].quantity");
    t_resp_free(&r);
    /* lines: 1..100 */
    order(&r, "{\"lines\":[]}");
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "lines");
    t_resp_free(&r);
    {
        char *body = malloc(101 * 64 + 64);
        size_t n = 0;

        n += (size_t)sprintf(body + n, "{\"lines\":[");
        for (i = 0; i < 101; i++)
            n += (size_t)sprintf(body + n, "%s{\"product_id\":%lld,\"quantity\":1}", i ? "," : "",
                                 p);
        sprintf(body + n, "]}");
        inv_req("POST", "/api/orders/", body, NULL, &r);
        t_assert_error(&r, 400, "bad_request");
        ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "lines");
        t_resp_free(&r);
        /* 100 lines is fine */
        n = (size_t)sprintf(body, "{\"lines\":[");
        for (i = 0; i < 100; i++)
            n += (size_t)sprintf(body + n, "%s{\"product_id\":%lld,\"quantity\":1}", i ? "," : "",
                                 p);
        sprintf(body + n, "]}");
        inv_req("POST", "/api/orders/", body, NULL, &r);
        t_assert_error(&r, 409, "insufficient_stock"); /* all taken by now */
        t_resp_free(&r);
        free(body);
    }
    /* hold_seconds 1..86400, never null */
    order(&r, "{\"hold_seconds\":null,\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", p);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "hold_seconds");
    t_resp_free(&r);
    order(&r, "{\"hold_seconds\":86401,\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", p);
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
    order(&r, "{\"hold_seconds\":0,\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", p);
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1,\"extra\":1}]}", p);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "lines[0].extra");
    t_resp_free(&r);
    /* receipts share the bounds */
    inv_reqf("POST", "/api/lots/", &r,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\",\"expires_on\":\"%s\","
             "\"quantity\":1000000001}",
             p, w, inv_code("L"), inv_date(9));
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "quantity");
    t_resp_free(&r);
    inv_reqf("POST", "/api/lots/", &r,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\",\"expires_on\":\"%s\","
             "\"quantity\":0}",
             p, w, inv_code("L"), inv_date(9));
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
}
END_TEST

START_TEST(totals_do_not_overflow)
{
    long long p = inv_product(0), w = inv_warehouse(), lot = 0;
    struct http_resp r;
    int i;

    for (i = 0; i < 5; i++)
        lot = inv_lot(p, w, 10 + i, 1000000000);
    /* adding to one lot past 2^31 and 2^32 */
    {
        char sql[128], *code;

        snprintf(sql, sizeof sql, "SELECT lot_code FROM lots WHERE id = %lld", lot);
        code = t_sql(sql);
        for (i = 0; i < 4; i++) {
            inv_reqf("POST", "/api/lots/", &r,
                     "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\","
                     "\"expires_on\":\"%s\",\"quantity\":1000000000}",
                     p, w, code, inv_date(14));
            inv_expect(&r, 200);
            t_resp_free(&r);
        }
        free(code);
    }
    ck_assert_int_eq(inv_lot_col(lot, "on_hand"), 5000000000LL);
    order(&r,
          "{\"lines\":[{\"product_id\":%lld,\"quantity\":1000000000},{\"product_id\":%lld,"
          "\"quantity\":1000000000},{\"product_id\":%lld,\"quantity\":1000000000}]}",
          p, p, p);
    inv_expect(&r, 201);
    t_resp_free(&r);
    inv_stock(p, &r);
    ck_assert_int_eq(inv_int(r.json, "on_hand", NULL), 9000000000LL);
    ck_assert_int_eq(inv_int(r.json, "reserved", NULL), 3000000000LL);
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 6000000000LL);
    t_resp_free(&r);
    /* a shortage larger than 2^32 is reported exactly */
    order(&r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1000000000}],\"warehouse_id\":%lld}",
          p, w);
    inv_expect(&r, 201);
    t_resp_free(&r);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

static Suite *make_e2e_fefo_suite(void)
{
    Suite *s = suite_create("e2e_fefo");
    TCase *rule = tcase_create("core"), *shortage = tcase_create("shortages"),
          *quar = tcase_create("quarantine"), *limits = tcase_create("limits");

    tcase_set_timeout(rule, 60);
    tcase_set_timeout(shortage, 60);
    tcase_set_timeout(quar, 60);
    tcase_set_timeout(limits, 60);
    tcase_add_test(rule, expiry_order);
    tcase_add_test(rule, tie_break_by_lot_id);
    tcase_add_test(rule, shelf_life_from_line);
    tcase_add_test(rule, shelf_life_from_product);
    tcase_add_test(rule, warehouse_filter);
    tcase_add_test(rule, two_lines_one_product);
    tcase_add_test(rule, lines_by_sku);
    tcase_add_test(rule, expired_today_never_eligible);
    tcase_add_test(rule, quarantined_excluded);
    tcase_add_test(shortage, insufficient_leaves_stock_untouched);
    tcase_add_test(shortage, line_two_failing_reserves_nothing);
    tcase_add_test(shortage, shortages_count_after_earlier_lines);
    tcase_add_test(shortage, inactive_product_refused);
    tcase_add_test(quar, quarantine_moves_fefo_and_splits);
    tcase_add_test(quar, quarantine_all_moved_empty_list);
    tcase_add_test(quar, quarantine_respects_warehouse_and_shelf);
    tcase_add_test(quar, release_past_date_is_conflict);
    tcase_add_test(quar, expiry_job_moves_allocations);
    tcase_add_test(quar, release_seen_by_waiting_reservation);
    tcase_add_test(quar, receipt_seen_by_waiting_reservation);
    tcase_add_test(limits, quantity_bounds);
    tcase_add_test(limits, totals_do_not_overflow);
    suite_add_tcase(s, rule);
    suite_add_tcase(s, shortage);
    suite_add_tcase(s, quar);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_e2e_fefo_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
