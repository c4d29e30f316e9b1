/*
 * check_e2e_catalog.c — products, warehouses and lots through the real
 * stack (SPEC §4): validation, search, keyset pagination, receiving and
 * cycle counts, and cache-aside coherence (product:{id} and
 * stock:{id}:warehouse:{wid|all} in the test Redis: filled by a read, gone
 * after every write that changes them).
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv.h"

static void req(const char *method, struct http_resp *r, const char *body, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void req(const char *method, struct http_resp *r, const char *body, const char *fmt, ...)
{
    char path[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    inv_req(method, path, body, NULL, r);
}

/* Assert a 400 bad_request naming field. */
static void assert_bad(const struct http_resp *r, const char *field)
{
    const char *f;

    t_assert_error(r, 400, "bad_request");
    f = t_jstr(r->json, "error", "field", NULL);
    ck_assert_msg(f && strcmp(f, field) == 0, "field %s, want %s: %s", f ? f : "(none)", field,
                  r->body);
}

static char *repeat(const char *s, int n)
{
    size_t k = strlen(s);
    char *out = malloc(k * (size_t)n + 1);
    int i;

    for (i = 0; i < n; i++)
        memcpy(out + k * (size_t)i, s, k);
    out[k * (size_t)n] = '\0';
    return out;
}

/* ------------------------------------------------------------- products */

START_TEST(product_create_rules)
{
    static const char *bad_skus[] = {"\"\"", "\"has space\"", "\"caf\\u00e9\"", "\"a/b\"",
                                     "42",   "null"};
    const char *sku = inv_code("Ok.sku_");
    char body[2048], *name, *loc;
    struct http_resp r;
    size_t i;

    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"Plain\"}", sku);
    inv_req("POST", "/api/products/", body, NULL, &r);
    inv_expect(&r, 201);
    ck_assert_str_eq(t_jstr(r.json, "sku", NULL), sku);
    ck_assert_int_eq(inv_int(r.json, "min_shelf_life_days", NULL), 0);
    ck_assert_int_eq(inv_int(r.json, "reorder_point", NULL), 0);
    ck_assert(YAJL_IS_TRUE(t_jget(r.json, "active", NULL)));
    ck_assert_ptr_nonnull(t_jstr(r.json, "created_at", NULL));
    ck_assert_ptr_nonnull(t_jstr(r.json, "updated_at", NULL));
    loc = t_header(&r, "Location");
    ck_assert_ptr_nonnull(loc);
    free(loc);
    t_resp_free(&r);
    /* duplicate */
    inv_req("POST", "/api/products/", body, NULL, &r);
    t_assert_error(&r, 409, "conflict");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "sku");
    t_resp_free(&r);
    for (i = 0; i < sizeof bad_skus / sizeof bad_skus[0]; i++) {
        snprintf(body, sizeof body, "{\"sku\":%s,\"name\":\"x\"}", bad_skus[i]);
        inv_req("POST", "/api/products/", body, NULL, &r);
        assert_bad(&r, "sku");
        t_resp_free(&r);
    }
    /* 64 chars ok, 65 not */
    {
        char s[80];

        snprintf(s, sizeof s, "%s", inv_code("K"));
        while (strlen(s) < 64)
            strcat(s, "z");
        snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"x\"}", s);
        inv_req("POST", "/api/products/", body, NULL, &r);
        inv_expect(&r, 201);
        t_resp_free(&r);
        strcat(s, "z");
        snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"x\"}", s);
        inv_req("POST", "/api/products/", body, NULL, &r);
        assert_bad(&r, "sku");
        t_resp_free(&r);
    }
    /* name: 1..200 characters, counted as UTF-8 characters, not bytes */
    name = repeat("\xc3\xa9", 200);
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"%s\"}", inv_code("N"), name);
    inv_req("POST", "/api/products/", body, NULL, &r);
    inv_expect(&r, 201);
    ck_assert_str_eq(t_jstr(r.json, "name", NULL), name);
    t_resp_free(&r);
    free(name);
    name = repeat("\xc3\xa9", 201);
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"%s\"}", inv_code("N"), name);
    inv_req("POST", "/api/products/", body, NULL, &r);
    assert_bad(&r, "name");
    t_resp_free(&r);
    free(name);
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"\"}", inv_code("N"));
    inv_req("POST", "/api/products/", body, NULL, &r);
    assert_bad(&r, "name");
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"sku\":\"%s\"}", inv_code("N"));
    inv_req("POST", "/api/products/", body, NULL, &r);
    assert_bad(&r, "name");
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"x\",\"min_shelf_life_days\":-1}",
             inv_code("N"));
    inv_req("POST", "/api/products/", body, NULL, &r);
    assert_bad(&r, "min_shelf_life_days");
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"x\",\"reorder_point\":1.5}",
             inv_code("N"));
    inv_req("POST", "/api/products/", body, NULL, &r);
    assert_bad(&r, "reorder_point");
    t_resp_free(&r);
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"x\",\"colour\":\"red\"}",
             inv_code("N"));
    inv_req("POST", "/api/products/", body, NULL, &r);
    assert_bad(&r, "colour");
    t_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"x\",\"min_shelf_life_days\":30,\"reorder_point\":12}",
             inv_code("N"));
    inv_req("POST", "/api/products/", body, NULL, &r);
    inv_expect(&r, 201);
    ck_assert_int_eq(inv_int(r.json, "min_shelf_life_days", NULL), 30);
    ck_assert_int_eq(inv_int(r.json, "reorder_point", NULL), 12);
    t_resp_free(&r);
}
END_TEST

START_TEST(product_patch_rules)
{
    long long p = inv_product(0);
    struct http_resp r;
    char *created;

    req("GET", &r, NULL, "/api/products/%lld/", p);
    inv_expect(&r, 200);
    created = strdup(t_jstr(r.json, "updated_at", NULL));
    t_resp_free(&r);
    req("PATCH", &r,
        "{\"name\":\"Renamed\",\"active\":false,\"min_shelf_life_days\":7,"
        "\"reorder_point\":100}",
        "/api/products/%lld/", p);
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "name", NULL), "Renamed");
    ck_assert(YAJL_IS_FALSE(t_jget(r.json, "active", NULL)));
    ck_assert_int_eq(inv_int(r.json, "min_shelf_life_days", NULL), 7);
    ck_assert_int_eq(inv_int(r.json, "reorder_point", NULL), 100);
    ck_assert_str_ne(t_jstr(r.json, "updated_at", NULL), created);
    t_resp_free(&r);
    free(created);
    req("PATCH", &r, "{\"sku\":\"NEW\"}", "/api/products/%lld/", p);
    assert_bad(&r, "sku");
    t_resp_free(&r);
    req("PATCH", &r, "{\"name\":\"x\",\"sku\":\"NEW\"}", "/api/products/%lld/", p);
    assert_bad(&r, "sku");
    t_resp_free(&r);
    req("PATCH", &r, "{\"name\":null}", "/api/products/%lld/", p);
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);
    req("PATCH", &r, "{\"active\":\"yes\"}", "/api/products/%lld/", p);
    assert_bad(&r, "active");
    t_resp_free(&r);
    req("PATCH", &r, "{\"name\":\"x\"}", "/api/products/999999999/");
    t_assert_error(&r, 404, "not_found");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/products/999999999/");
    t_assert_error(&r, 404, "not_found");
    t_resp_free(&r);
    /* a partial PATCH changes only what it names */
    req("PATCH", &r, "{\"reorder_point\":5}", "/api/products/%lld/", p);
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "name", NULL), "Renamed");
    ck_assert_int_eq(inv_int(r.json, "min_shelf_life_days", NULL), 7);
    t_resp_free(&r);
}
END_TEST

/* n products whose sku starts with prefix and whose name holds word. */
static void make_named(const char *prefix, const char *word, int n, long long *ids)
{
    struct http_resp r;
    char body[512];
    int i;

    for (i = 0; i < n; i++) {
        snprintf(body, sizeof body, "{\"sku\":\"%s-%d\",\"name\":\"Item %s no. %d\"}", prefix, i,
                 word, i);
        inv_req("POST", "/api/products/", body, NULL, &r);
        inv_expect(&r, 201);
        if (ids)
            ids[i] = inv_int(r.json, "id", NULL);
        t_resp_free(&r);
    }
}

static size_t count_items(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static size_t count_items(const char *fmt, ...)
{
    char path[512];
    struct http_resp r;
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    inv_req("GET", path, NULL, NULL, &r);
    inv_expect(&r, 200);
    n = inv_len(t_jget(r.json, "items", NULL));
    t_resp_free(&r);
    return n;
}

START_TEST(product_search)
{
    char prefix[64], word[64];
    long long ids[3];
    struct http_resp r;

    snprintf(prefix, sizeof prefix, "%s", inv_code("SrchA"));
    snprintf(word, sizeof word, "Wq%sq", inv_code("w"));
    make_named(prefix, "plain", 3, ids);
    make_named(inv_code("Other"), word, 2, NULL);
    /* SKU prefix, any case */
    ck_assert_uint_eq(count_items("/api/products/?q=%s", prefix), 3);
    {
        char low[64];
        size_t i;

        for (i = 0; prefix[i]; i++)
            low[i] = (char)(prefix[i] >= 'A' && prefix[i] <= 'Z' ? prefix[i] + 32 : prefix[i]);
        low[i] = '\0';
        ck_assert_uint_eq(count_items("/api/products/?q=%s", low), 3);
    }
    /* not a SKU substring */
    ck_assert_uint_eq(count_items("/api/products/?q=%s", prefix + 2), 0);
    /* name substring, any case */
    {
        char up[64];
        size_t i;

        for (i = 0; word[i]; i++)
            up[i] = (char)(word[i] >= 'a' && word[i] <= 'z' ? word[i] - 32 : word[i]);
        up[i] = '\0';
        ck_assert_uint_eq(count_items("/api/products/?q=%s", up + 1), 2);
    }
    /* LIKE wildcards are literal */
    ck_assert_uint_eq(count_items("/api/products/?q=%%25%s", word), 0);
    ck_assert_uint_eq(count_items("/api/products/?q=%s_", prefix), 0);
    /* active filter */
    req("PATCH", &r, "{\"active\":false}", "/api/products/%lld/", ids[1]);
    inv_expect(&r, 200);
    t_resp_free(&r);
    ck_assert_uint_eq(count_items("/api/products/?q=%s&active=true", prefix), 2);
    ck_assert_uint_eq(count_items("/api/products/?q=%s&active=false", prefix), 1);
    req("GET", &r, NULL, "/api/products/?active=maybe");
    assert_bad(&r, "active");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/products/?q=");
    assert_bad(&r, "q");
    t_resp_free(&r);
}
END_TEST

START_TEST(keyset_pagination)
{
    static const char *bad_limits[] = {"0", "201", "abc", "-1", "1.5", ""};
    char prefix[64];
    long long ids[7];
    struct http_resp r;
    size_t i;

    snprintf(prefix, sizeof prefix, "%s", inv_code("Page"));
    make_named(prefix, "paged", 7, ids);
    req("GET", &r, NULL, "/api/products/?q=%s&limit=3", prefix);
    inv_expect(&r, 200);
    ck_assert_uint_eq(inv_len(t_jget(r.json, "items", NULL)), 3);
    ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "items", NULL), 0), "id", NULL), ids[0]);
    ck_assert_int_eq(inv_int(r.json, "next_after", NULL), ids[2]);
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/products/?q=%s&limit=3&after=%lld", prefix, ids[2]);
    inv_expect(&r, 200);
    ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "items", NULL), 0), "id", NULL), ids[3]);
    ck_assert_int_eq(inv_int(r.json, "next_after", NULL), ids[5]);
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/products/?q=%s&limit=3&after=%lld", prefix, ids[5]);
    inv_expect(&r, 200);
    ck_assert_uint_eq(inv_len(t_jget(r.json, "items", NULL)), 1);
    ck_assert(YAJL_IS_NULL(t_jget(r.json, "next_after", NULL)));
    t_resp_free(&r);
    /* exactly a page left: no next page */
    req("GET", &r, NULL, "/api/products/?q=%s&limit=4&after=%lld", prefix, ids[2]);
    inv_expect(&r, 200);
    ck_assert_uint_eq(inv_len(t_jget(r.json, "items", NULL)), 4);
    ck_assert(YAJL_IS_NULL(t_jget(r.json, "next_after", NULL)));
    t_resp_free(&r);
    ck_assert_uint_eq(count_items("/api/products/?q=%s&limit=200", prefix), 7);
    ck_assert_uint_eq(count_items("/api/products/?q=%s", prefix), 7);
    ck_assert_uint_le(count_items("/api/products/"), 50);
    for (i = 0; i < sizeof bad_limits / sizeof bad_limits[0]; i++) {
        req("GET", &r, NULL, "/api/products/?limit=%s", bad_limits[i]);
        assert_bad(&r, "limit");
        t_resp_free(&r);
        req("GET", &r, NULL, "/api/lots/?limit=%s", bad_limits[i]);
        assert_bad(&r, "limit");
        t_resp_free(&r);
    }
    req("GET", &r, NULL, "/api/products/?after=x");
    assert_bad(&r, "after");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/products/?sort=name");
    assert_bad(&r, "sort");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/warehouses/?q=x");
    assert_bad(&r, "q");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/orders/?limit=201");
    assert_bad(&r, "limit");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/products/%lld/stock/?warehouse=abc", ids[0]);
    assert_bad(&r, "warehouse");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/products/%lld/stock/?wh=1", ids[0]);
    assert_bad(&r, "wh");
    t_resp_free(&r);
    /* warehouses page the same way */
    {
        long long w1 = inv_warehouse(), w2 = inv_warehouse();

        req("GET", &r, NULL, "/api/warehouses/?after=%lld&limit=1", w1 - 1);
        inv_expect(&r, 200);
        ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "items", NULL), 0), "id", NULL), w1);
        ck_assert_int_eq(inv_int(r.json, "next_after", NULL), w1);
        t_resp_free(&r);
        req("GET", &r, NULL, "/api/warehouses/?after=%lld", w1);
        inv_expect(&r, 200);
        ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "items", NULL), 0), "id", NULL), w2);
        t_resp_free(&r);
    }
}
END_TEST

/* ----------------------------------------------------------- warehouses */

START_TEST(warehouse_rules)
{
    const char *code = inv_code("WH.");
    char body[256];
    struct http_resp r;
    long long id;

    snprintf(body, sizeof body, "{\"code\":\"%s\",\"name\":\"Main\"}", code);
    inv_req("POST", "/api/warehouses/", body, NULL, &r);
    inv_expect(&r, 201);
    id = inv_int(r.json, "id", NULL);
    ck_assert_str_eq(t_jstr(r.json, "code", NULL), code);
    ck_assert(YAJL_IS_TRUE(t_jget(r.json, "active", NULL)));
    t_resp_free(&r);
    inv_req("POST", "/api/warehouses/", body, NULL, &r);
    t_assert_error(&r, 409, "conflict");
    t_resp_free(&r);
    inv_req("POST", "/api/warehouses/", "{\"code\":\"a b\",\"name\":\"x\"}", NULL, &r);
    assert_bad(&r, "code");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/warehouses/%lld/", id);
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "name", NULL), "Main");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/warehouses/999999999/");
    t_assert_error(&r, 404, "not_found");
    t_resp_free(&r);
}
END_TEST

/* ------------------------------------------------------------------ lots */

START_TEST(receive_rules)
{
    long long p = inv_product(0), w = inv_warehouse(), id;
    const char *code = inv_code("LOT.");
    char body[512];
    struct http_resp r;

    snprintf(body, sizeof body,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\",\"expires_on\":\"%s\","
             "\"quantity\":10}",
             p, w, code, inv_date(30));
    inv_req("POST", "/api/lots/", body, NULL, &r);
    inv_expect(&r, 201);
    id = inv_int(r.json, "id", NULL);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "available");
    ck_assert_str_eq(t_jstr(r.json, "expires_on", NULL), inv_date(30));
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 10);
    ck_assert_ptr_nonnull(t_jstr(r.json, "received_at", NULL));
    t_resp_free(&r);
    /* the same lot again adds to it */
    inv_req("POST", "/api/lots/", body, NULL, &r);
    inv_expect(&r, 200);
    ck_assert_int_eq(inv_int(r.json, "id", NULL), id);
    ck_assert_int_eq(inv_int(r.json, "on_hand", NULL), 20);
    t_resp_free(&r);
    /* the same code with another expiry */
    snprintf(body, sizeof body,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\",\"expires_on\":\"%s\","
             "\"quantity\":10}",
             p, w, code, inv_date(31));
    inv_req("POST", "/api/lots/", body, NULL, &r);
    t_assert_error(&r, 409, "conflict");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "expires_on");
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(id, "on_hand"), 20);
    /* the same code in another warehouse is another lot */
    {
        long long w2 = inv_warehouse();

        snprintf(body, sizeof body,
                 "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\","
                 "\"expires_on\":\"%s\",\"quantity\":1}",
                 p, w2, code, inv_date(31));
        inv_req("POST", "/api/lots/", body, NULL, &r);
        inv_expect(&r, 201);
        t_resp_free(&r);
    }
    /* two receipts: two ledger rows summing to on_hand */
    ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM movements WHERE lot_id = %lld AND kind = "
                                 "'receive'",
                                 id),
                     2);
    ck_assert_int_eq(
        inv_sql_int("SELECT sum(on_hand_delta) FROM movements WHERE lot_id = %lld", id), 20);
    /* references and values */
    snprintf(body, sizeof body,
             "{\"product_id\":999999999,\"warehouse_id\":%lld,\"lot_code\":\"x\","
             "\"expires_on\":\"%s\",\"quantity\":1}",
             w, inv_date(5));
    inv_req("POST", "/api/lots/", body, NULL, &r);
    assert_bad(&r, "product_id");
    t_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"product_id\":%lld,\"warehouse_id\":999999999,\"lot_code\":\"x\","
             "\"expires_on\":\"%s\",\"quantity\":1}",
             p, inv_date(5));
    inv_req("POST", "/api/lots/", body, NULL, &r);
    assert_bad(&r, "warehouse_id");
    t_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"x\","
             "\"expires_on\":\"2030-02-30\",\"quantity\":1}",
             p, w);
    inv_req("POST", "/api/lots/", body, NULL, &r);
    assert_bad(&r, "expires_on");
    t_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"x\","
             "\"expires_on\":\"30/01/2030\",\"quantity\":1}",
             p, w);
    inv_req("POST", "/api/lots/", body, NULL, &r);
    assert_bad(&r, "expires_on");
    t_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"no good\","
             "\"expires_on\":\"%s\",\"quantity\":1}",
             p, w, inv_date(5));
    inv_req("POST", "/api/lots/", body, NULL, &r);
    assert_bad(&r, "lot_code");
    t_resp_free(&r);
    snprintf(body, sizeof body,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"x\","
             "\"expires_on\":\"%s\"}",
             p, w, inv_date(5));
    inv_req("POST", "/api/lots/", body, NULL, &r);
    assert_bad(&r, "quantity");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/lots/999999999/");
    t_assert_error(&r, 404, "not_found");
    t_resp_free(&r);
}
END_TEST

START_TEST(lot_list_filters)
{
    long long p = inv_product(0), w1 = inv_warehouse(), w2 = inv_warehouse();
    long long a = inv_lot(p, w1, 3, 1), b = inv_lot(p, w2, 20, 1), c = inv_lot(p, w1, -1, 1);
    struct http_resp r;

    ck_assert_uint_eq(count_items("/api/lots/?product=%lld", p), 3);
    ck_assert_uint_eq(count_items("/api/lots/?product=%lld&warehouse=%lld", p, w1), 2);
    ck_assert_uint_eq(count_items("/api/lots/?product=%lld&status=expired", p), 1);
    ck_assert_uint_eq(count_items("/api/lots/?product=%lld&status=available", p), 2);
    ck_assert_uint_eq(count_items("/api/lots/?product=%lld&expiring_within_days=7", p), 1);
    ck_assert_uint_eq(count_items("/api/lots/?product=%lld&expiring_within_days=30", p), 2);
    req("GET", &r, NULL, "/api/lots/?product=%lld&expiring_within_days=7", p);
    ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "items", NULL), 0), "id", NULL), a);
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/lots/?product=%lld&status=expired", p);
    ck_assert_int_eq(inv_int(inv_at(t_jget(r.json, "items", NULL), 0), "id", NULL), c);
    t_resp_free(&r);
    req("PATCH", &r, "{\"status\":\"quarantined\"}", "/api/lots/%lld/", b);
    inv_expect(&r, 200);
    t_resp_free(&r);
    ck_assert_uint_eq(count_items("/api/lots/?product=%lld&status=quarantined", p), 1);
    req("GET", &r, NULL, "/api/lots/?status=gone");
    assert_bad(&r, "status");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/lots/?product=abc");
    assert_bad(&r, "product");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/lots/?expiring_within_days=-1");
    assert_bad(&r, "expiring_within_days");
    t_resp_free(&r);
}
END_TEST

START_TEST(adjust_rules)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 10);
    struct http_resp r;
    char *reason;

    req("POST", &r, "{\"delta\":5,\"reason\":\"found a box\"}", "/api/lots/%lld/adjust/", a);
    inv_expect(&r, 200);
    ck_assert_int_eq(inv_int(r.json, "on_hand", NULL), 15);
    t_resp_free(&r);
    /* 6 reserved: on_hand may go down to 6, not below */
    inv_reqf("POST", "/api/orders/", &r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":6}]}", p);
    inv_expect(&r, 201);
    t_resp_free(&r);
    req("POST", &r, "{\"delta\":-10,\"reason\":\"count\"}", "/api/lots/%lld/adjust/", a);
    t_assert_error(&r, 409, "conflict");
    t_resp_free(&r);
    ck_assert_int_eq(inv_lot_col(a, "on_hand"), 15);
    req("POST", &r, "{\"delta\":-9,\"reason\":\"count\"}", "/api/lots/%lld/adjust/", a);
    inv_expect(&r, 200);
    ck_assert_int_eq(inv_int(r.json, "on_hand", NULL), 6);
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 0);
    t_resp_free(&r);
    /* never below 0 */
    {
        long long b = inv_lot(p, w, 12, 3);

        req("POST", &r, "{\"delta\":-4,\"reason\":\"count\"}", "/api/lots/%lld/adjust/", b);
        t_assert_error(&r, 409, "conflict");
        t_resp_free(&r);
        req("POST", &r, "{\"delta\":-3,\"reason\":\"count\"}", "/api/lots/%lld/adjust/", b);
        inv_expect(&r, 200);
        ck_assert_int_eq(inv_int(r.json, "on_hand", NULL), 0);
        t_resp_free(&r);
    }
    req("POST", &r, "{\"delta\":0,\"reason\":\"count\"}", "/api/lots/%lld/adjust/", a);
    assert_bad(&r, "delta");
    t_resp_free(&r);
    req("POST", &r, "{\"delta\":1000000001,\"reason\":\"count\"}", "/api/lots/%lld/adjust/", a);
    assert_bad(&r, "delta");
    t_resp_free(&r);
    req("POST", &r, "{\"delta\":-1000000001,\"reason\":\"count\"}", "/api/lots/%lld/adjust/", a);
    assert_bad(&r, "delta");
    t_resp_free(&r);
    req("POST", &r, "{\"delta\":1}", "/api/lots/%lld/adjust/", a);
    assert_bad(&r, "reason");
    t_resp_free(&r);
    req("POST", &r, "{\"delta\":1,\"reason\":\"\"}", "/api/lots/%lld/adjust/", a);
    assert_bad(&r, "reason");
    t_resp_free(&r);
    {
        char body[1024], *long_reason = repeat("r", 201);

        snprintf(body, sizeof body, "{\"delta\":1,\"reason\":\"%s\"}", long_reason);
        req("POST", &r, body, "/api/lots/%lld/adjust/", a);
        assert_bad(&r, "reason");
        t_resp_free(&r);
        free(long_reason);
    }
    req("POST", &r, "{\"delta\":1,\"reason\":\"x\"}", "/api/lots/999999999/adjust/");
    t_assert_error(&r, 404, "not_found");
    t_resp_free(&r);
    /* the ledger: two adjustments with their reasons, summing to on_hand */
    ck_assert_int_eq(inv_sql_int("SELECT count(*) FROM movements WHERE lot_id = %lld AND kind = "
                                 "'adjust'",
                                 a),
                     2);
    {
        char sql[160];

        snprintf(sql, sizeof sql,
                 "SELECT string_agg(reason, ',' ORDER BY id) FROM movements "
                 "WHERE kind = 'adjust' AND lot_id = %lld",
                 a);
        reason = t_sql(sql);
        ck_assert_str_eq(reason, "found a box,count");
        free(reason);
    }
    ck_assert_int_eq(inv_sql_int("SELECT sum(on_hand_delta) FROM movements WHERE lot_id = %lld", a),
                     6);
    ck_assert_int_eq(inv_violations(), 0);
}
END_TEST

START_TEST(permissions)
{
    long long p = inv_product(0);
    struct http_resp r;

    inv_login("products.read");
    req("GET", &r, NULL, "/api/products/%lld/", p);
    inv_expect(&r, 200);
    t_resp_free(&r);
    inv_req("POST", "/api/products/", "{\"sku\":\"nope\",\"name\":\"x\"}", NULL, &r);
    t_assert_error(&r, 403, "forbidden");
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/products/%lld/stock/", p);
    t_assert_error(&r, 403, "forbidden");
    t_resp_free(&r);
    inv_login("stock.read");
    req("GET", &r, NULL, "/api/products/%lld/stock/", p);
    inv_expect(&r, 200);
    t_resp_free(&r);
    req("POST", &r, "{\"delta\":1,\"reason\":\"x\"}", "/api/lots/1/adjust/");
    t_assert_error(&r, 403, "forbidden");
    t_resp_free(&r);
    t_get("/api/products/", &r);
    t_assert_error(&r, 401, "unauthenticated");
    t_resp_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- cache */

static int cached(const char *fmt, long long a, long long b)
{
    char key[128];

    snprintf(key, sizeof key, fmt, a, b);
    return inv_redis_exists(key);
}

START_TEST(product_cache_coherent)
{
    long long p = inv_product(0);
    struct http_resp r;
    char sql[160];

    req("GET", &r, NULL, "/api/products/%lld/", p);
    inv_expect(&r, 200);
    t_resp_free(&r);
    ck_assert_int_eq(cached("product:%lld", p, 0), 1);
    /* the read really is cache-aside: a change behind the API's back is
     * not seen until the entry goes */
    snprintf(sql, sizeof sql, "UPDATE products SET name = 'Behind' WHERE id = %lld", p);
    free(t_sql(sql));
    req("GET", &r, NULL, "/api/products/%lld/", p);
    ck_assert_str_eq(t_jstr(r.json, "name", NULL), "Test product");
    t_resp_free(&r);
    req("PATCH", &r, "{\"name\":\"Fresh name\"}", "/api/products/%lld/", p);
    inv_expect(&r, 200);
    t_resp_free(&r);
    ck_assert_int_eq(cached("product:%lld", p, 0), 0);
    req("GET", &r, NULL, "/api/products/%lld/", p);
    inv_expect(&r, 200);
    ck_assert_str_eq(t_jstr(r.json, "name", NULL), "Fresh name");
    t_resp_free(&r);
    req("PATCH", &r, "{\"active\":false}", "/api/products/%lld/", p);
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/products/%lld/", p);
    ck_assert(YAJL_IS_FALSE(t_jget(r.json, "active", NULL)));
    t_resp_free(&r);
    /* a refused PATCH leaves the entry */
    ck_assert_int_eq(cached("product:%lld", p, 0), 1);
    req("PATCH", &r, "{\"name\":\"\"}", "/api/products/%lld/", p);
    t_resp_free(&r);
    ck_assert_int_eq(cached("product:%lld", p, 0), 1);
}
END_TEST

/* Read stock twice (all, one warehouse) so both entries are cached. */
static void warm(long long p, long long w, struct http_resp *all)
{
    struct http_resp r;

    inv_stock(p, all);
    req("GET", &r, NULL, "/api/products/%lld/stock/?warehouse=%lld", p, w);
    inv_expect(&r, 200);
    t_resp_free(&r);
    ck_assert_int_eq(cached("stock:%lld:warehouse:all", p, 0), 1);
    ck_assert_int_eq(cached("stock:%lld:warehouse:%lld", p, w), 1);
}

/* After a write: both entries gone, and a read shows on_hand/reserved. */
static void assert_fresh(long long p, long long w, long long on_hand, long long reserved,
                         const char *what)
{
    struct http_resp r;

    ck_assert_msg(cached("stock:%lld:warehouse:all", p, 0) == 0, "%s left stock:all", what);
    ck_assert_msg(cached("stock:%lld:warehouse:%lld", p, w) == 0, "%s left stock:w", what);
    inv_stock(p, &r);
    ck_assert_msg(inv_int(r.json, "on_hand", NULL) == on_hand &&
                      inv_int(r.json, "reserved", NULL) == reserved,
                  "after %s: %s; want on_hand %lld reserved %lld", what, r.body, on_hand, reserved);
    t_resp_free(&r);
    req("GET", &r, NULL, "/api/products/%lld/stock/?warehouse=%lld", p, w);
    ck_assert_msg(inv_int(r.json, "on_hand", NULL) == on_hand &&
                      inv_int(r.json, "reserved", NULL) == reserved,
                  "after %s (warehouse): %s", what, r.body);
    t_resp_free(&r);
}

START_TEST(stock_cache_coherent)
{
    long long p = inv_product(0), w = inv_warehouse(), a = inv_lot(p, w, 10, 10), o, b;
    struct http_resp r, s;

    /* reserve */
    warm(p, w, &s);
    t_resp_free(&s);
    inv_reqf("POST", "/api/orders/", &r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":4}]}", p);
    inv_expect(&r, 201);
    o = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    assert_fresh(p, w, 10, 4, "reserve");
    /* cancel */
    warm(p, w, &s);
    t_resp_free(&s);
    req("POST", &r, NULL, "/api/orders/%lld/cancel/", o);
    inv_expect(&r, 200);
    t_resp_free(&r);
    assert_fresh(p, w, 10, 0, "cancel");
    /* ship */
    inv_reqf("POST", "/api/orders/", &r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":3}]}", p);
    o = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    warm(p, w, &s);
    t_resp_free(&s);
    req("POST", &r, NULL, "/api/orders/%lld/ship/", o);
    inv_expect(&r, 200);
    t_resp_free(&r);
    assert_fresh(p, w, 7, 0, "ship");
    /* receive */
    warm(p, w, &s);
    t_resp_free(&s);
    b = inv_lot(p, w, 20, 5);
    assert_fresh(p, w, 12, 0, "receive");
    /* adjust */
    warm(p, w, &s);
    t_resp_free(&s);
    req("POST", &r, "{\"delta\":-2,\"reason\":\"count\"}", "/api/lots/%lld/adjust/", b);
    inv_expect(&r, 200);
    t_resp_free(&r);
    assert_fresh(p, w, 10, 0, "adjust");
    /* quarantine */
    warm(p, w, &s);
    t_resp_free(&s);
    req("PATCH", &r, "{\"status\":\"quarantined\"}", "/api/lots/%lld/", a);
    inv_expect(&r, 200);
    t_resp_free(&r);
    assert_fresh(p, w, 10, 0, "quarantine");
    inv_stock(p, &r);
    ck_assert_int_eq(inv_int(r.json, "quarantined", NULL), 7);
    ck_assert_int_eq(inv_int(r.json, "available", NULL), 3);
    t_resp_free(&r);
    /* a refused write leaves the entries */
    warm(p, w, &s);
    req("POST", &r, "{\"delta\":-100,\"reason\":\"count\"}", "/api/lots/%lld/adjust/", b);
    t_assert_error(&r, 409, "conflict");
    t_resp_free(&r);
    ck_assert_int_eq(cached("stock:%lld:warehouse:all", p, 0), 1);
    inv_stock(p, &r);
    ck_assert_str_eq(r.body, s.body);
    t_resp_free(&r);
    t_resp_free(&s);
    /* the expiry job's re-allocation is covered by SQL; an order for
     * another product leaves this product's entries alone */
    {
        long long q = inv_product(0);

        inv_lot(q, w, 10, 1);
        inv_reqf("POST", "/api/orders/", &r, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}",
                 q);
        inv_expect(&r, 201);
        t_resp_free(&r);
        ck_assert_int_eq(cached("stock:%lld:warehouse:all", p, 0), 1);
    }
}
END_TEST

static Suite *make_e2e_catalog_suite(void)
{
    Suite *s = suite_create("e2e_catalog");
    TCase *prod = tcase_create("core"), *lots = tcase_create("lots"),
          *cache = tcase_create("cache");

    tcase_set_timeout(prod, 60);
    tcase_set_timeout(lots, 60);
    tcase_set_timeout(cache, 60);
    tcase_add_test(prod, product_create_rules);
    tcase_add_test(prod, product_patch_rules);
    tcase_add_test(prod, product_search);
    tcase_add_test(prod, keyset_pagination);
    tcase_add_test(prod, warehouse_rules);
    tcase_add_test(prod, permissions);
    tcase_add_test(lots, receive_rules);
    tcase_add_test(lots, lot_list_filters);
    tcase_add_test(lots, adjust_rules);
    tcase_add_test(cache, product_cache_coherent);
    tcase_add_test(cache, stock_cache_coherent);
    suite_add_tcase(s, prod);
    suite_add_tcase(s, lots);
    suite_add_tcase(s, cache);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_e2e_catalog_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
