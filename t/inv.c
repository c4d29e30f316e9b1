/*
 * inv.c — see inv.h.
 */
#define _GNU_SOURCE /* vasprintf */
#include "inv.h"

#include <check.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char token[64];

const char *inv_login(const char *perms)
{
    snprintf(token, sizeof token, "%s", t_token(perms, NULL));
    return token;
}

void inv_req(const char *method, const char *path, const char *body, const char *key,
             struct http_resp *r)
{
    char auth[128], idem[320];
    const char *h[3] = {auth, NULL, NULL};

    if (token[0] == '\0')
        inv_login("*");
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
    if (key) {
        snprintf(idem, sizeof idem, "Idempotency-Key: %s", key);
        h[1] = idem;
    }
    t_http(method, path, h, body, body ? strlen(body) : 0, r);
}

void inv_reqf(const char *method, const char *path, struct http_resp *r, const char *fmt, ...)
{
    char *body = NULL;
    va_list ap;

    if (fmt) {
        va_start(ap, fmt);
        ck_assert_int_ge(vasprintf(&body, fmt, ap), 0);
        va_end(ap);
    }
    inv_req(method, path, body, NULL, r);
    free(body);
}

const char *inv_date(int days)
{
    static char ring[8][16];
    static unsigned n;
    char sql[96], *v;
    char *out = ring[n++ % 8];

    snprintf(sql, sizeof sql, "SELECT (current_date + %d)::text", days);
    v = t_sql(sql);
    snprintf(out, 16, "%s", v);
    free(v);
    return out;
}

const char *inv_code(const char *prefix)
{
    static char ring[8][64];
    static unsigned n, seq, salt;
    static int pid;
    char *out = ring[n++ % 8];

    /* pid + a random salt: unique within the run and across runs on one
     * database, whatever pids are reused */
    if (pid != (int)getpid()) {
        FILE *f = fopen("/dev/urandom", "r");

        pid = (int)getpid();
        if (f == NULL || fread(&salt, sizeof salt, 1, f) != 1)
            salt = (unsigned)time(NULL);
        if (f)
            fclose(f);
        salt &= 0xfffff;
    }
    snprintf(out, 64, "%s%d%05x-%u", prefix, pid, salt, ++seq);
    return out;
}

void inv_expect(const struct http_resp *r, long status)
{
    ck_assert_msg(r->status == status, "status %ld, want %ld; body: %s", r->status, status,
                  r->body);
}

long long inv_product(int shelf)
{
    struct http_resp r;
    long long id;

    inv_reqf("POST", "/api/products/", &r,
             "{\"sku\":\"%s\",\"name\":\"Test product\",\"min_shelf_life_days\":%d}", inv_code("P"),
             shelf);
    inv_expect(&r, 201);
    id = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    return id;
}

long long inv_warehouse(void)
{
    struct http_resp r;
    long long id;

    inv_reqf("POST", "/api/warehouses/", &r, "{\"code\":\"%s\",\"name\":\"Test warehouse\"}",
             inv_code("W"));
    inv_expect(&r, 201);
    id = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    return id;
}

long long inv_lot(long long product, long long wh, int days, long long qty)
{
    struct http_resp r;
    long long id;

    inv_reqf("POST", "/api/lots/", &r,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\","
             "\"expires_on\":\"%s\",\"quantity\":%lld}",
             product, wh, inv_code("L"), inv_date(days), qty);
    inv_expect(&r, 201);
    id = inv_int(r.json, "id", NULL);
    t_resp_free(&r);
    return id;
}

long long inv_sql_int(const char *fmt, ...)
{
    char *sql = NULL, *v;
    long long n;
    va_list ap;

    va_start(ap, fmt);
    ck_assert_int_ge(vasprintf(&sql, fmt, ap), 0);
    va_end(ap);
    v = t_sql(sql);
    ck_assert_msg(v != NULL, "no value: %s", sql);
    n = atoll(v);
    free(v);
    free(sql);
    return n;
}

long long inv_lot_col(long long lot, const char *col)
{
    return inv_sql_int("SELECT %s FROM lots WHERE id = %lld", col, lot);
}

long long inv_violations(void)
{
    return inv_sql_int("SELECT count(*) FROM bff_violations");
}

yajl_val inv_at(yajl_val arr, size_t i)
{
    if (arr == NULL || !YAJL_IS_ARRAY(arr) || i >= YAJL_GET_ARRAY(arr)->len)
        return NULL;
    return YAJL_GET_ARRAY(arr)->values[i];
}

size_t inv_len(yajl_val arr)
{
    return arr && YAJL_IS_ARRAY(arr) ? YAJL_GET_ARRAY(arr)->len : 0;
}

long long inv_int(yajl_val v, ...)
{
    const char *k;
    va_list ap;

    va_start(ap, v);
    while (v && (k = va_arg(ap, const char *)) != NULL) {
        const char *path[2] = {k, NULL};

        v = yajl_tree_get(v, path, yajl_t_any);
    }
    va_end(ap);
    ck_assert_msg(v != NULL && YAJL_IS_INTEGER(v), "no integer at the path");
    return YAJL_GET_INTEGER(v);
}

void inv_stock(long long product, struct http_resp *r)
{
    char path[96];

    snprintf(path, sizeof path, "/api/products/%lld/stock/", product);
    inv_req("GET", path, NULL, NULL, r);
    inv_expect(r, 200);
}

int inv_bffctl(const char *args, char **out)
{
    char cmd[1024], buf[4096];
    size_t n = 0, k;
    char *acc = NULL;
    FILE *p;
    int st;

    snprintf(cmd, sizeof cmd,
             "BFF_DATABASE_URL='%s' BFF_REDIS_URL='%s' BFF_LOG_FILE= BFF_ERROR_LOG_FILE= "
             "'%s/ctl/bffctl' %s",
             t_env("BFF_TEST_DATABASE_URL"), t_env("BFF_TEST_REDIS_URL"),
             t_env("BFF_TEST_BUILDDIR"), args);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while ((k = fread(buf, 1, sizeof buf, p)) > 0) {
        char *q = realloc(acc, n + k + 1);

        ck_assert_ptr_nonnull(q);
        acc = q;
        memcpy(acc + n, buf, k);
        n += k;
        acc[n] = '\0';
    }
    st = pclose(p);
    if (out)
        *out = acc ? acc : calloc(1, 1);
    else
        free(acc);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* A reply to one command on the test Redis; the caller frees it. */
static redisReply *redis_cmd(const char *cmd, const char *key)
{
    const char *url = t_env("BFF_TEST_REDIS_URL");
    char host[128];
    int port = 6379, db = 0;
    redisContext *c;
    redisReply *r;

    ck_assert_msg(sscanf(url, "redis://%127[^:/]:%d/%d", host, &port, &db) >= 1,
                  "BFF_TEST_REDIS_URL %s", url);
    c = redisConnect(host, port);
    ck_assert_msg(c && !c->err, "redis %s: %s", url, c ? c->errstr : "no memory");
    if (db) {
        r = redisCommand(c, "SELECT %d", db);
        freeReplyObject(r);
    }
    r = redisCommand(c, "%s %s", cmd, key);
    ck_assert_msg(r != NULL && r->type != REDIS_REPLY_ERROR, "redis %s %s failed", cmd, key);
    redisFree(c);
    return r;
}

int inv_redis_exists(const char *key)
{
    redisReply *r = redis_cmd("EXISTS", key);
    int n = (int)r->integer;

    freeReplyObject(r);
    return n;
}

void inv_redis_del(const char *key)
{
    freeReplyObject(redis_cmd("DEL", key));
}

void inv_order(long long id, struct http_resp *r)
{
    char path[64];

    snprintf(path, sizeof path, "/api/orders/%lld/", id);
    inv_req("GET", path, NULL, NULL, r);
    inv_expect(r, 200);
}
