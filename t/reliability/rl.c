/*
 * rl.c — see rl.h.
 */
#define _GNU_SOURCE

#include "rl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

/* ------------------------------------------------------------------ misc */

void rl_die(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "rl: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

const char *rl_env(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || *v == '\0')
        rl_die("%s is not set: run through `scripts/dev test --reliability` "
               "(or `make check-reliability` with a test stack's test.env sourced)",
               name);
    return v;
}

double rl_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

void rl_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

uint64_t rl_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ULL;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

long rl_rand_range(uint64_t *s, long lo, long hi)
{
    return lo + (long)(rl_rand(s) % (uint64_t)(hi - lo + 1));
}

const char *rl_tag(char *buf, size_t n)
{
    static unsigned seq;
    unsigned k = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);

    snprintf(buf, n, "RL%d-%u-%u", (int)getpid(), k, (unsigned)(randombytes_random() % 100000));
    return buf;
}

const char *rl_opt(int argc, char **argv, const char *name, const char *def)
{
    int i;

    for (i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return argv[i + 1];
    return def;
}

long rl_opt_int(int argc, char **argv, const char *name, long def)
{
    const char *v = rl_opt(argc, argv, name, NULL);
    char *end;
    long n;

    if (v == NULL)
        return def;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno || *end || end == v)
        rl_die("%s: not an integer: %s", name, v);
    return n;
}

int rl_flag(int argc, char **argv, const char *name)
{
    int i;

    for (i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ HTTP */

struct sink {
    char *p;
    size_t n;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct sink *s = ud;
    size_t add = size * nmemb;
    char *q = realloc(s->p, s->n + add + 1);

    if (q == NULL)
        return 0;
    memcpy(q + s->n, ptr, add);
    s->n += add;
    q[s->n] = '\0';
    s->p = q;
    return add;
}

void rl_client_init(struct rl_client *c, const char *token)
{
    memset(c, 0, sizeof *c);
    c->h = curl_easy_init();
    if (c->h == NULL)
        rl_die("curl_easy_init failed");
    if (token)
        snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", token);
    c->timeout_ms = 35000;
}

void rl_client_free(struct rl_client *c)
{
    if (c->h)
        curl_easy_cleanup(c->h);
    c->h = NULL;
}

int rl_http(struct rl_client *c, const char *method, const char *path, const char *body, size_t len,
            const char *const *headers, struct rl_resp *r)
{
    static const char *base;
    struct curl_slist *hl = NULL;
    struct sink b = {NULL, 0}, h = {NULL, 0};
    char url[8192];
    int has_ct = 0;
    CURLcode rc;

    if (base == NULL)
        base = rl_env("BFF_TEST_HTTP_URL");
    memset(r, 0, sizeof *r);
    snprintf(url, sizeof url, "%s%s", base, path);
    curl_easy_reset(c->h);
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c->h, CURLOPT_PATH_AS_IS, 1L); /* ../ goes to nginx as sent */
    curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c->h, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c->h, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, r->err);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c->h, CURLOPT_NOBODY, 1L);
    for (; headers && *headers; headers++) {
        if (strncasecmp(*headers, "Content-Type:", 13) == 0)
            has_ct = 1;
        hl = curl_slist_append(hl, *headers);
    }
    if (c->auth[0])
        hl = curl_slist_append(hl, c->auth);
    if (body) {
        if (!has_ct)
            hl = curl_slist_append(hl, "Content-Type: application/json");
        hl = curl_slist_append(hl, "Expect:");
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hl);
    rc = curl_easy_perform(c->h);
    curl_slist_free_all(hl);
    r->body = b.p ? b.p : strdup("");
    r->len = b.n;
    r->headers = h.p ? h.p : strdup("");
    r->hlen = h.n;
    {
        double t = 0;

        curl_easy_getinfo(c->h, CURLINFO_TOTAL_TIME, &t);
        r->ms = t * 1000.0;
    }
    if (rc != CURLE_OK) {
        if (r->err[0] == '\0')
            snprintf(r->err, sizeof r->err, "%s", curl_easy_strerror(rc));
        r->status = 0;
        return -1;
    }
    curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &r->status);
    return 0;
}

void rl_resp_free(struct rl_resp *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

const char *rl_header(const struct rl_resp *r, const char *name, char *buf, size_t n)
{
    size_t k = strlen(name);
    const char *p = r->headers;

    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);

        if (ll > k && strncasecmp(p, name, k) == 0 && p[k] == ':') {
            const char *v = p + k + 1;
            size_t vl;

            while (*v == ' ')
                v++;
            vl = ll - (size_t)(v - p);
            if (vl >= n)
                vl = n - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        p = eol ? eol + 2 : NULL;
    }
    return NULL;
}

int rl_is_json_error(const struct rl_resp *r, char *code, size_t n)
{
    char ct[128];
    yajl_val v;
    const char *c;
    int ok;

    if (rl_header(r, "Content-Type", ct, sizeof ct) == NULL ||
        strncmp(ct, "application/json", 16) != 0)
        return 0;
    if ((v = rl_json(r->body)) == NULL)
        return 0;
    c = rl_jstr(v, "error", "code");
    ok = c != NULL;
    if (ok && code)
        snprintf(code, n, "%s", c);
    yajl_tree_free(v);
    return ok;
}

/* ------------------------------------------------------------------ JSON */

yajl_val rl_json(const char *text)
{
    char err[128];

    return text ? yajl_tree_parse(text, err, sizeof err) : NULL;
}

static yajl_val jget(yajl_val v, const char *k1, const char *k2)
{
    const char *path[3] = {k1, k2, NULL};

    return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

long long rl_jint(yajl_val v, const char *k1, const char *k2)
{
    yajl_val x = jget(v, k1, k2);

    return x && YAJL_IS_INTEGER(x) ? YAJL_GET_INTEGER(x) : -1;
}

const char *rl_jstr(yajl_val v, const char *k1, const char *k2)
{
    yajl_val x = jget(v, k1, k2);

    return x && YAJL_IS_STRING(x) ? YAJL_GET_STRING(x) : NULL;
}

/* ------------------------------------------------------------- database */

static __thread PGconn *tdb;

PGconn *rl_db(void)
{
    if (tdb == NULL || PQstatus(tdb) != CONNECTION_OK) {
        if (tdb)
            PQfinish(tdb);
        tdb = PQconnectdb(rl_env("BFF_TEST_DATABASE_URL"));
        if (PQstatus(tdb) != CONNECTION_OK)
            rl_die("test database: %s", PQerrorMessage(tdb));
    }
    return tdb;
}

static char *vsql(const char *fmt, va_list ap)
{
    char *q = NULL, *v = NULL;
    PGresult *r;
    ExecStatusType st;

    if (vasprintf(&q, fmt, ap) < 0)
        rl_die("out of memory");
    r = PQexec(rl_db(), q);
    st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && PQstatus(tdb) == CONNECTION_BAD) {
        /* PostgreSQL was restarted under us: once more on a new session */
        PQclear(r);
        r = PQexec(rl_db(), q);
        st = PQresultStatus(r);
    }
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        rl_die("SQL failed: %s: %s", q, PQresultErrorMessage(r));
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    free(q);
    return v;
}

char *rl_sql(const char *fmt, ...)
{
    va_list ap;
    char *v;

    va_start(ap, fmt);
    v = vsql(fmt, ap);
    va_end(ap);
    return v;
}

long long rl_sql_int(const char *fmt, ...)
{
    va_list ap;
    char *v;
    long long n;

    va_start(ap, fmt);
    v = vsql(fmt, ap);
    va_end(ap);
    n = v ? atoll(v) : 0;
    free(v);
    return n;
}

char *rl_token(const char *perms, long long *uid)
{
    unsigned char raw[32], h[crypto_hash_sha256_BYTES];
    char token[64], hex[65], name[64];
    long long id;
    const char *p;

    if (sodium_init() < 0)
        rl_die("sodium_init failed");
    randombytes_buf(raw, sizeof raw);
    memcpy(token, "bff_", 4);
    sodium_bin2base64(token + 4, sizeof token - 4, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_hash_sha256(h, (unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    rl_tag(name, sizeof name);
    id = rl_sql_int("INSERT INTO users (username, password_hash, is_superuser) VALUES ('%s', "
                    "'$argon2id$v=19$m=65536,t=2,p=1$unusable', %s) RETURNING id",
                    name, perms == NULL ? "true" : "false");
    for (p = perms; p && *p;) {
        size_t n = strcspn(p, " ");

        if (n > 0)
            free(rl_sql("INSERT INTO user_permissions (user_id, permission) VALUES (%lld, '%.*s')",
                        id, (int)n, p));
        p += n;
        p += strspn(p, " ");
    }
    free(rl_sql("INSERT INTO api_tokens (user_id, name, token_hash, expires_at) "
                "VALUES (%lld, 'reliability', decode('%s', 'hex'), now() + interval '1 day')",
                id, hex));
    if (uid)
        *uid = id;
    return strdup(token);
}

/* --------------------------------------------------------------- fixtures */

static long long create(struct rl_client *c, const char *path, const char *body)
{
    struct rl_resp r;
    yajl_val v;
    long long id;

    if (rl_http(c, "POST", path, body, strlen(body), NULL, &r) != 0)
        rl_die("POST %s: %s", path, r.err);
    if (r.status != 201 && r.status != 200)
        rl_die("POST %s %s: %ld %s", path, body, r.status, r.body);
    v = rl_json(r.body);
    id = rl_jint(v, "id", NULL);
    yajl_tree_free(v);
    rl_resp_free(&r);
    if (id <= 0)
        rl_die("POST %s: no id in the answer", path);
    return id;
}

long long rl_mk_warehouse(struct rl_client *c, const char *code)
{
    char b[256];

    snprintf(b, sizeof b, "{\"code\":\"%s\",\"name\":\"reliability %s\"}", code, code);
    return create(c, "/api/warehouses/", b);
}

long long rl_mk_product(struct rl_client *c, const char *sku)
{
    char b[256];

    snprintf(b, sizeof b, "{\"sku\":\"%s\",\"name\":\"reliability %s\"}", sku, sku);
    return create(c, "/api/products/", b);
}

long long rl_mk_lot(struct rl_client *c, long long product, long long warehouse, const char *code,
                    int expires_in_days, long long qty)
{
    char b[512], date[16];
    time_t t = time(NULL) + (time_t)expires_in_days * 86400;
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%d", &tm);
    snprintf(b, sizeof b,
             "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\","
             "\"expires_on\":\"%s\",\"quantity\":%lld}",
             product, warehouse, code, date, qty);
    return create(c, "/api/lots/", b);
}

/* ------------------------------------------------------------ statistics */

void rl_lat_init(struct rl_lat *l)
{
    memset(l, 0, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
}

void rl_lat_add(struct rl_lat *l, double ms)
{
    pthread_mutex_lock(&l->mu);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4096;
        double *v = realloc(l->v, cap * sizeof *v);

        if (v == NULL)
            rl_die("out of memory");
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = ms;
    pthread_mutex_unlock(&l->mu);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

double rl_lat_pct(struct rl_lat *l, double p)
{
    size_t i;

    if (l->n == 0)
        return 0;
    qsort(l->v, l->n, sizeof *l->v, cmp_double);
    i = (size_t)(p / 100.0 * (double)(l->n - 1) + 0.5);
    return l->v[i < l->n ? i : l->n - 1];
}

void rl_lat_free(struct rl_lat *l)
{
    free(l->v);
    pthread_mutex_destroy(&l->mu);
}

/* ---------------------------------------------------------------- figures */

static int failures;

int rl_figure(const char *scenario, const char *name, const char *expected, int ok, const char *fmt,
              ...)
{
    const char *file = getenv("RL_RESULTS");
    char value[256];
    const char *verdict = ok > 0 ? "PASS" : ok == 0 ? "FAIL" : "INFO";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    if (ok == 0)
        failures++;
    printf("  %-4s %-44s %-14s (expected %s)\n", verdict, name, value, expected);
    fflush(stdout);
    if (file && *file) {
        FILE *f = fopen(file, "a");

        if (f == NULL)
            rl_die("%s: %s", file, strerror(errno));
        fprintf(f, "%s\t%s\t%s\t%s\t%s\n", scenario, name, value, expected, verdict);
        fclose(f);
    }
    return ok;
}

int rl_failures(void)
{
    return failures;
}
