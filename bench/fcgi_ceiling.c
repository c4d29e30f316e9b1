/*
 * fcgi_ceiling.c — the smallest FastCGI program that can answer bench/run's
 * product requests: the ceilings bff-fcgi is measured against (issue 8).
 *
 *   fcgi-ceiling --mode fixed   answer a fixed JSON body (--body FILE: its
 *                               bytes, else a built-in product-sized object)
 *   fcgi-ceiling --mode redis   one Redis GET of product:{id} per request
 *                               (BFF_REDIS_URL, redis://host:port/db or
 *                               unix:///path?db=N), answered as is
 *   fcgi-ceiling --mode pg      one prepared PostgreSQL SELECT by primary key
 *                               per request — the statement h_products_get
 *                               runs on a cache miss (BFF_DATABASE_URL)
 *
 * {id} is the first run of digits in DOCUMENT_URI, so the same wrk script
 * drives /api/products/{id}/ and /ceiling/MODE/api/products/{id}/. Each
 * response carries the headers bff-fcgi sends (Status, Content-Type,
 * Content-Length, Cache-Control, X-Request-Id). No auth, no routing, no
 * logging, no arena: nothing but the round trip. Run by spawn-fcgi like
 * bff-fcgi (the listening socket is fd 0); SIGTERM ends the accept loop.
 */
#include <errno.h>
#include <fcgiapp.h>
#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum mode { M_FIXED, M_REDIS, M_PG };

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
    FCGX_ShutdownPending();
}

static const char default_body[] =
    "{\"id\":1,\"sku\":\"DEMO-000001\",\"name\":\"Demo product 1\",\"active\":true,"
    "\"min_shelf_life_days\":0,\"reorder_point\":10,"
    "\"created_at\":\"2026-01-01T00:00:00.000000Z\","
    "\"updated_at\":\"2026-01-01T00:00:00.000000Z\"}";

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        *len = fread(buf, 1, (size_t)n, f);
        buf[*len] = '\0';
    }
    fclose(f);
    return buf;
}

/* redis://host:port[/db] or unix:///path[?db=N] */
static redisContext *redis_open(const char *url)
{
    struct timeval tv = {1, 0};
    redisContext *rc = NULL;
    char host[256];
    int db = 0, port;

    if (url == NULL)
        return NULL;
    if (strncmp(url, "unix://", 7) == 0) {
        const char *q = strchr(url + 7, '?');
        size_t n = q ? (size_t)(q - url - 7) : strlen(url + 7);

        if (n == 0 || n >= sizeof host)
            return NULL;
        memcpy(host, url + 7, n);
        host[n] = '\0';
        if (q && strncmp(q, "?db=", 4) == 0)
            db = atoi(q + 4);
        rc = redisConnectUnixWithTimeout(host, tv);
    } else if (sscanf(url, "redis://%255[^:]:%d/%d", host, &port, &db) >= 2) {
        rc = redisConnectWithTimeout(host, port, tv);
    }
    if (rc == NULL || rc->err) {
        fprintf(stderr, "fcgi-ceiling: redis %s: %s\n", url, rc ? rc->errstr : "bad URL");
        return NULL;
    }
    if (db != 0) {
        redisReply *r = redisCommand(rc, "SELECT %d", db);

        if (r == NULL || r->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "fcgi-ceiling: redis SELECT %d failed\n", db);
            return NULL;
        }
        freeReplyObject(r);
    }
    return rc;
}

static PGconn *pg_open(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo ? conninfo : "");
    PGresult *r;

    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "fcgi-ceiling: postgres: %s", PQerrorMessage(c));
        return NULL;
    }
    r = PQprepare(c, "get", "SELECT bff_product_json(p) FROM products p WHERE p.id = $1", 1,
                  NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "fcgi-ceiling: prepare: %s", PQerrorMessage(c));
        return NULL;
    }
    PQclear(r);
    return c;
}

static void reply(FCGX_Request *fr, int status, const char *body, size_t len)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "Status: %d %s\r\n"
                     "Content-Type: application/json; charset=utf-8\r\n"
                     "Content-Length: %zu\r\n"
                     "Cache-Control: no-store\r\n"
                     "X-Request-Id: ceiling\r\n\r\n",
                     status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Error", len);

    FCGX_PutStr(head, n, fr->out);
    FCGX_PutStr(body, (int)len, fr->out);
}

/* The first decimal number in the path, as text (bounded). */
static const char *path_id(const char *path, char *buf, size_t n)
{
    size_t i = 0;

    while (path && *path && (*path < '0' || *path > '9'))
        path++;
    while (path && *path >= '0' && *path <= '9' && i + 1 < n)
        buf[i++] = *path++;
    buf[i] = '\0';
    return i ? buf : NULL;
}

int main(int argc, char **argv)
{
    enum mode mode = M_FIXED;
    const char *body_file = NULL, *body = default_body;
    size_t body_len = sizeof default_body - 1;
    redisContext *rc = NULL;
    PGconn *pg = NULL;
    FCGX_Request fr;
    struct sigaction sa;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            const char *m = argv[++i];

            if (strcmp(m, "fixed") == 0)
                mode = M_FIXED;
            else if (strcmp(m, "redis") == 0)
                mode = M_REDIS;
            else if (strcmp(m, "pg") == 0)
                mode = M_PG;
            else
                goto usage;
        } else if (strcmp(argv[i], "--body") == 0 && i + 1 < argc) {
            body_file = argv[++i];
        } else {
            goto usage;
        }
    }
    if (body_file && (body = read_file(body_file, &body_len)) == NULL) {
        fprintf(stderr, "fcgi-ceiling: cannot read %s\n", body_file);
        return 2;
    }
    if (mode == M_REDIS && (rc = redis_open(getenv("BFF_REDIS_URL"))) == NULL)
        return 2;
    if (mode == M_PG && (pg = pg_open(getenv("BFF_DATABASE_URL"))) == NULL)
        return 2;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (FCGX_Init() != 0)
        return 2;
    FCGX_InitRequest(&fr, 0, FCGI_FAIL_ACCEPT_ON_INTR);
    while (!stopping && FCGX_Accept_r(&fr) >= 0) {
        char idbuf[24], key[40];
        const char *id = path_id(FCGX_GetParam("DOCUMENT_URI", fr.envp), idbuf, sizeof idbuf);

        if (mode == M_FIXED) {
            reply(&fr, 200, body, body_len);
        } else if (id == NULL) {
            reply(&fr, 404, "{}", 2);
        } else if (mode == M_REDIS) {
            redisReply *r;

            snprintf(key, sizeof key, "product:%s", id);
            r = redisCommand(rc, "GET %s", key);
            if (r == NULL) {
                fprintf(stderr, "fcgi-ceiling: redis: %s\n", rc->errstr);
                return 1;
            }
            if (r->type == REDIS_REPLY_STRING)
                reply(&fr, 200, r->str, r->len);
            else
                reply(&fr, 404, "{}", 2);
            freeReplyObject(r);
        } else {
            const char *params[1] = {id};
            PGresult *r = PQexecPrepared(pg, "get", 1, params, NULL, NULL, 0);

            if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
                reply(&fr, 200, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
            else if (PQresultStatus(r) == PGRES_TUPLES_OK)
                reply(&fr, 404, "{}", 2);
            else
                reply(&fr, 500, "{}", 2);
            PQclear(r);
        }
        FCGX_Finish_r(&fr);
    }
    if (rc)
        redisFree(rc);
    if (pg)
        PQfinish(pg);
    return 0;

usage:
    fprintf(stderr, "usage: fcgi-ceiling [--mode fixed|redis|pg] [--body FILE]\n");
    return 2;
}
