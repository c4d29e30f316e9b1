/*
 * rl_hostile.c — the hostile input battery (10), through nginx.
 *
 * Phase A: crafted inputs that must all be refused with a 4xx in the SPEC's
 * JSON error shape (deep JSON, every non-integer form of a quantity,
 * duplicate keys, unknown/mass-assignment fields, invalid UTF-8, oversized
 * body and headers, path traversal).
 * Phase C: random mutations of requests that cannot succeed whatever their
 * body (their target does not exist, or their lines name SKUs that do not
 * exist): any answer but a 5xx is fine, and nothing may change.
 * The database checksum is taken before A and after C: rejected requests
 * change nothing.
 * Phase B: SQL-looking strings and path traversal in every string field of
 * every route; these may be accepted, and then must be stored verbatim.
 */
#define _GNU_SOURCE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl.h"
#include "rl_cmds.h"

static const char *S = "10 hostile input";
static char *token;
static long fivexx, transport, unexpected;

/* md5 of every business table, in a stable order. */
static char *checksum(void)
{
    return rl_sql(
        "SELECT md5(string_agg(t, '|' ORDER BY t)) FROM ("
        " SELECT 'p' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), '')) t FROM products x"
        " UNION ALL SELECT 'w' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), '')) FROM "
        "warehouses x"
        " UNION ALL SELECT 'l' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), '')) FROM "
        "lots x"
        " UNION ALL SELECT 'o' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), '')) FROM "
        "orders x"
        " UNION ALL SELECT 'ol' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.order_id, "
        "x.line), ''))"
        "   FROM order_lines x"
        " UNION ALL SELECT 'a' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), '')) FROM "
        "allocations x"
        " UNION ALL SELECT 's' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.order_id, "
        "x.line, x.lot_id), ''))"
        "   FROM shipments x"
        " UNION ALL SELECT 'm' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), '')) FROM "
        "movements x"
        " UNION ALL SELECT 'i' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.user_id, x.key), "
        "''))"
        "   FROM idempotency_keys x"
        " UNION ALL SELECT 'u' || md5(coalesce(string_agg(x::text, ',' ORDER BY x.id), '')) FROM "
        "users x"
        ") s");
}

/* Send one request; count 5xx/transport. Returns the status. */
static long hsend(struct rl_client *c, const char *method, const char *path, const char *body,
                  size_t len, const char *const *hdr, struct rl_resp *keep)
{
    struct rl_resp r;
    long st;

    rl_http(c, method, path, body, len, hdr, &r);
    st = r.status;
    if (st == 0) {
        __atomic_add_fetch(&transport, 1, __ATOMIC_RELAXED);
        fprintf(stderr, "hostile: %s %.80s: transport error %s\n", method, path, r.err);
    } else if (st >= 500) {
        long n = __atomic_add_fetch(&fivexx, 1, __ATOMIC_RELAXED);

        if (n <= 10)
            fprintf(stderr, "hostile: %s %.80s body %.120s -> %ld %.200s\n", method, path,
                    body ? body : "", st, r.body);
    }
    if (keep)
        *keep = r;
    else
        rl_resp_free(&r);
    return st;
}

/* ------------------------------------------------------------ phase A */

struct acase {
    const char *name;
    long want;         /* exact status, or 0: any 4xx */
    const char *field; /* expected error field, or NULL */
};

static long a_cases, a_ok;

static void expect(struct rl_client *c, const struct acase *k, const char *method, const char *path,
                   const char *body, size_t len, const char *const *hdr)
{
    struct rl_resp r;
    char code[64];
    long st = hsend(c, method, path, body, len, hdr, &r);
    int ok = st >= 400 && st < 500 && (k->want == 0 || st == k->want) &&
             rl_is_json_error(&r, code, sizeof code);

    if (ok && k->field) {
        yajl_val v = rl_json(r.body);
        const char *f = rl_jstr(v, "error", "field");

        ok = f && strcmp(f, k->field) == 0;
        yajl_tree_free(v);
    }
    a_cases++;
    if (ok)
        a_ok++;
    else {
        unexpected++;
        fprintf(stderr, "hostile A: %s: %s %.60s -> %ld %.300s\n", k->name, method, path, st,
                r.body);
    }
    rl_resp_free(&r);
}

static char *repeat(const char *head, const char *unit, long n, const char *mid, const char *close,
                    long m, const char *tail, size_t *len)
{
    size_t hu = strlen(unit), hc = strlen(close), cap;
    char *b, *p;
    long i;

    cap = strlen(head) + hu * (size_t)n + strlen(mid) + hc * (size_t)m + strlen(tail) + 1;
    p = b = malloc(cap);
    p = stpcpy(p, head);
    for (i = 0; i < n; i++)
        p = memcpy(p, unit, hu), p += hu;
    p = stpcpy(p, mid);
    for (i = 0; i < m; i++)
        p = memcpy(p, close, hc), p += hc;
    p = stpcpy(p, tail);
    *len = (size_t)(p - b);
    return b;
}

static void phase_a(long long product, long long lot)
{
    /* valid JSON that is not an integer in 1..1e9: 400 naming the field */
    static const char *const quantities[] = {"1.5",
                                             "1e3",
                                             "1E3",
                                             "\"3\"",
                                             "9223372036854775808",
                                             "-9223372036854775809",
                                             "18446744073709551616",
                                             "1.0",
                                             "true",
                                             "false",
                                             "null",
                                             "[]",
                                             "{}",
                                             "\"\"",
                                             "1e400",
                                             "-0",
                                             "0",
                                             "-1",
                                             "1000000001",
                                             "2e9",
                                             "0.0000001e7",
                                             "1e-0",
                                             "[1]",
                                             "{\"n\":1}",
                                             NULL};
    /* not JSON at all: 400 malformed JSON (no field to name) */
    static const char *const malformed[] = {"3.",  ".5",       "+3",        "03",    "0x10",
                                            "NaN", "Infinity", "-Infinity", "1_000", "\xd9\xa3",
                                            "1 2", "--1",      "'3'",       "",      NULL};
    static const char *const bad_utf8[] = {"\xff",        "\xc0\xaf",         "\xed\xa0\x80",
                                           "abc\xe2\x82", "\xf4\x90\x80\x80", "\xe0\x80\xaf",
                                           NULL};
    struct rl_client c;
    char body[4096], path[256];
    const char *ct[2] = {"Content-Type: text/plain", NULL};
    size_t len;
    char *big;
    int i;

    rl_client_init(&c, token);

    /* depth */
    {
        struct acase k = {"JSON depth 33", 400, NULL};

        big = repeat("{\"lines\":", "[", 33, "1", "]", 33, "}", &len);
        expect(&c, &k, "POST", "/api/orders/", big, len, NULL);
        free(big);
        k.name = "JSON depth 10,000 (arrays)";
        big = repeat("", "[", 10000, "", "]", 10000, "", &len);
        expect(&c, &k, "POST", "/api/orders/", big, len, NULL);
        free(big);
        k.name = "JSON depth 10,000 (objects)";
        big = repeat("", "{\"a\":", 10000, "1", "}", 10000, "", &len);
        expect(&c, &k, "POST", "/api/orders/", big, len, NULL);
        free(big);
        k.name = "JSON depth 250,000, unclosed (fits the body limit)";
        big = repeat("", "[", 250000, "", "", 0, "", &len);
        expect(&c, &k, "POST", "/api/orders/", big, len, NULL);
        free(big);
        k.name = "JSON depth 300,000 (over the body limit)";
        k.want = 413;
        big = repeat("", "[", 300000, "", "]", 300000, "", &len);
        expect(&c, &k, "POST", "/api/orders/", big, len, NULL);
        free(big);
    }
    /* every non-integer form of a quantity */
    for (i = 0; quantities[i]; i++) {
        struct acase k = {quantities[i], 400, "lines[0].quantity"};

        snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":%s}]}", product,
                 quantities[i]);
        expect(&c, &k, "POST", "/api/orders/", body, strlen(body), NULL);
    }
    for (i = 0; malformed[i]; i++) {
        struct acase k = {malformed[i], 400, NULL};

        snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":%s}]}", product,
                 malformed[i]);
        expect(&c, &k, "POST", "/api/orders/", body, strlen(body), NULL);
    }
    {
        struct acase k = {"receipt quantity 1.5", 400, "quantity"};

        snprintf(body, sizeof body,
                 "{\"product_id\":%lld,\"warehouse_id\":1,\"lot_code\":\"X\","
                 "\"expires_on\":\"2031-01-01\",\"quantity\":1.5}",
                 product);
        expect(&c, &k, "POST", "/api/lots/", body, strlen(body), NULL);
        k.name = "adjust delta 0";
        k.field = "delta";
        snprintf(path, sizeof path, "/api/lots/%lld/adjust/", lot);
        expect(&c, &k, "POST", path, "{\"delta\":0,\"reason\":\"x\"}", 24, NULL);
        k.name = "adjust delta \"5\"";
        expect(&c, &k, "POST", path, "{\"delta\":\"5\",\"reason\":\"x\"}", 26, NULL);
        k.name = "query limit=1e3";
        k.field = "limit";
        expect(&c, &k, "GET", "/api/products/?limit=1e3", NULL, 0, NULL);
        k.name = "query after=-1";
        k.field = "after";
        expect(&c, &k, "GET", "/api/products/?after=-1", NULL, 0, NULL);
        k.name = "query unknown parameter";
        k.field = "debug";
        expect(&c, &k, "GET", "/api/products/?debug=1", NULL, 0, NULL);
    }
    /* duplicate keys */
    {
        struct acase k = {"duplicate top-level key", 400, NULL};

        snprintf(
            body, sizeof body,
            "{\"lines\":[{\"product_id\":%lld,\"quantity\":1}],\"lines\":[{\"product_id\":%lld,"
            "\"quantity\":100000}]}",
            product, product);
        expect(&c, &k, "POST", "/api/orders/", body, strlen(body), NULL);
        k.name = "duplicate key in a line";
        snprintf(body, sizeof body,
                 "{\"lines\":[{\"product_id\":%lld,\"quantity\":1,\"quantity\":2}]}", product);
        expect(&c, &k, "POST", "/api/orders/", body, strlen(body), NULL);
        k.name = "duplicate sku";
        expect(&c, &k, "POST", "/api/products/", "{\"sku\":\"A1\",\"name\":\"a\",\"sku\":\"A2\"}",
               37, NULL);
    }
    /* unknown and mass-assignment fields */
    {
        static const char *const order_extra[] = {"\"status\":\"shipped\"",
                                                  "\"id\":1",
                                                  "\"created_by\":1",
                                                  "\"fefo_compliant\":true",
                                                  "\"reserved_until\":\"2030-01-01\"",
                                                  NULL};
        static const char *const line_extra[] = {"\"allocations\":[]", "\"lot_id\":1",
                                                 "\"price\":0", "\"line\":7", NULL};
        struct acase k = {NULL, 400, NULL};

        for (i = 0; order_extra[i]; i++) {
            k.name = order_extra[i];
            snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1}],%s}",
                     product, order_extra[i]);
            expect(&c, &k, "POST", "/api/orders/", body, strlen(body), NULL);
        }
        for (i = 0; line_extra[i]; i++) {
            k.name = line_extra[i];
            snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1,%s}]}",
                     product, line_extra[i]);
            expect(&c, &k, "POST", "/api/orders/", body, strlen(body), NULL);
        }
        k.name = "product create with id";
        expect(&c, &k, "POST", "/api/products/", "{\"sku\":\"MA1\",\"name\":\"a\",\"id\":1}", 32,
               NULL);
        k.name = "product create with created_at";
        expect(&c, &k, "POST", "/api/products/",
               "{\"sku\":\"MA2\",\"name\":\"a\",\"created_at\":\"2020-01-01\"}", 50, NULL);
        k.name = "lot receive with reserved";
        snprintf(body, sizeof body,
                 "{\"product_id\":%lld,\"warehouse_id\":1,\"lot_code\":\"MA3\","
                 "\"expires_on\":\"2031-01-01\",\"quantity\":5,\"reserved\":5}",
                 product);
        expect(&c, &k, "POST", "/api/lots/", body, strlen(body), NULL);
        k.name = "lot PATCH on_hand";
        snprintf(path, sizeof path, "/api/lots/%lld/", lot);
        expect(&c, &k, "PATCH", path, "{\"on_hand\":1000000}", 19, NULL);
        k.name = "product PATCH sku";
        snprintf(path, sizeof path, "/api/products/%lld/", product);
        expect(&c, &k, "PATCH", path, "{\"sku\":\"CHANGED\"}", 17, NULL);
        k.name = "login with is_superuser";
        expect(&c, &k, "POST", "/api/auth/token/",
               "{\"username\":\"x\",\"password\":\"y\",\"is_superuser\":true}", 53, NULL);
    }
    /* invalid UTF-8 */
    for (i = 0; bad_utf8[i]; i++) {
        struct acase k = {"invalid UTF-8 in name", 400, NULL};

        snprintf(body, sizeof body, "{\"sku\":\"U8-%d\",\"name\":\"x%sx\"}", i, bad_utf8[i]);
        expect(&c, &k, "POST", "/api/products/", body, strlen(body), NULL);
        k.name = "invalid UTF-8 in a key";
        snprintf(body, sizeof body, "{\"s%sku\":\"U8-%d\",\"name\":\"x\"}", bad_utf8[i], i);
        expect(&c, &k, "POST", "/api/products/", body, strlen(body), NULL);
    }
    /* media type, empty, garbage */
    {
        struct acase k = {"text/plain body", 415, NULL};

        expect(&c, &k, "POST", "/api/products/", "{\"sku\":\"T\",\"name\":\"t\"}", 22, ct);
        k.want = 400;
        k.name = "trailing garbage";
        expect(&c, &k, "POST", "/api/products/", "{\"sku\":\"T\",\"name\":\"t\"} x", 24, NULL);
        k.name = "comment";
        expect(&c, &k, "POST", "/api/products/", "{/*c*/\"sku\":\"T\",\"name\":\"t\"}", 27, NULL);
        k.name = "NUL byte";
        expect(&c, &k, "POST", "/api/products/", "{\"sku\":\"T\0\",\"name\":\"t\"}", 23, NULL);
        k.name = "lone surrogate escape";
        expect(&c, &k, "POST", "/api/products/", "{\"sku\":\"T\",\"name\":\"\\ud800\"}", 27, NULL);
    }
    /* oversized body and headers */
    {
        struct acase k = {"body over BFF_MAX_BODY", 413, NULL};
        char *hdr;
        const char *h1[2] = {NULL, NULL};
        const char **many;

        big = repeat("{\"sku\":\"BIG\",\"name\":\"", "x", 300000, "\"}", "", 0, "", &len);
        expect(&c, &k, "POST", "/api/products/", big, len, NULL);
        free(big);
        k.want = 400;
        k.name = "one 9 KB header";
        hdr = repeat("X-Big: ", "y", 9000, "", "", 0, "", &len);
        h1[0] = hdr;
        expect(&c, &k, "GET", "/api/products/", NULL, 0, h1);
        free(hdr);
        k.name = "40 headers of 1 KB";
        k.want = 0;
        many = calloc(41, sizeof *many);
        hdr = repeat("X-Many: ", "z", 1000, "", "", 0, "", &len);
        for (i = 0; i < 40; i++)
            many[i] = hdr;
        expect(&c, &k, "GET", "/api/products/", NULL, 0, many);
        free(hdr);
        free(many);
        k.want = 401;
        k.name = "10 KB bearer token";
        hdr = repeat("Authorization: Bearer ", "t", 7000, "", "", 0, "", &len);
        {
            struct rl_client anon;

            rl_client_init(&anon, NULL);
            h1[0] = hdr;
            k.want = 0;
            expect(&anon, &k, "GET", "/api/products/", NULL, 0, h1);
            k.name = "bearer token with invalid UTF-8";
            h1[0] = "Authorization: Bearer \xff\xfe\xc0";
            expect(&anon, &k, "GET", "/api/products/", NULL, 0, h1);
            rl_client_free(&anon);
        }
        free(hdr);
    }
    /* path traversal: never a 5xx, never a file from outside */
    {
        static const char *const paths[] = {"/api/products/../../../../etc/passwd",
                                            "/api/products/%2e%2e/%2e%2e/etc/passwd",
                                            "/..%2f..%2f..%2fetc%2fpasswd",
                                            "/../../../../etc/passwd",
                                            "/static/../../../../etc/passwd",
                                            "/api/products/1%00/",
                                            "/api/products/1/../../../",
                                            "/%2e%2e%2f%2e%2e%2fetc/passwd",
                                            "/api/lots/..%5c..%5cwindows",
                                            "/api/./products/",
                                            "/.env",
                                            "/.git/config",
                                            "/api/products/1;DROP%20TABLE%20products/",
                                            "/api/products/?q=%00",
                                            "/api/products/1%2F..%2F2/",
                                            NULL};

        for (i = 0; paths[i]; i++) {
            struct rl_resp r;
            long st = hsend(&c, "GET", paths[i], NULL, 0, NULL, &r);

            a_cases++;
            if (st > 0 && st < 500 && strstr(r.body, "root:") == NULL &&
                strstr(r.body, "[core]") == NULL)
                a_ok++;
            else {
                unexpected++;
                fprintf(stderr, "hostile A: traversal %s -> %ld %.200s\n", paths[i], st, r.body);
            }
            rl_resp_free(&r);
        }
    }
    rl_client_free(&c);
}

/* ------------------------------------------------------------ phase C */

struct base {
    const char *method, *path, *body;
};

static const struct base bases[] = {
    {"POST", "/api/orders/",
     "{\"external_ref\":\"rl-mutation\",\"hold_seconds\":60,\"lines\":[{\"sku\":\"RLNOSUCH-a1\","
     "\"quantity\":2,\"min_shelf_life_days\":0},{\"sku\":\"RLNOSUCH-b2\",\"quantity\":1}]}"},
    {"PATCH", "/api/products/999999999/",
     "{\"name\":\"x\",\"active\":true,\"min_shelf_life_days\":3,\"reorder_point\":5}"},
    {"PATCH", "/api/lots/999999999/", "{\"status\":\"quarantined\"}"},
    {"POST", "/api/lots/999999999/adjust/", "{\"delta\":-5,\"reason\":\"cycle count\"}"},
    {"POST", "/api/orders/999999999/ship/",
     "{\"picks\":[{\"line\":1,\"lot_id\":5,\"quantity\":2},{\"line\":2,\"lot_id\":6,\"quantity\":1}"
     "]}"},
    {"POST", "/api/orders/999999999/cancel/", "{}"},
    {"POST", "/api/orders/999999999/confirm/", ""},
    {"GET", "/api/products/?q=abc&active=true&limit=5&after=3", NULL},
    {"GET", "/api/lots/?product=1&status=available&expiring_within_days=30&limit=2", NULL},
    {"GET", "/api/orders/?status=reserved&limit=10&after=1", NULL},
    {"GET", "/api/products/1/stock/?warehouse=1", NULL},
};
#define NBASES (sizeof bases / sizeof bases[0])

static const char *const tokens[] = {
    "{",   "}",       "[",        "]",    "\"",        ",",       ":",     "\\",
    "\\u", "\\ud800", "0",        "-",    "e",         ".",       "1e309", "9223372036854775808",
    "-1",  "null",    "true",     "\xff", "\xc0\x80",  "\x00",    " ",     "\"\":",
    "%",   "%00",     "&",        "=",    "&&",        "?",       "#",     "/",
    "'",   "'--",     "[[[[[[[[", "]]]]", "{\"a\":1}", "\"x\":1,"};

static char *mutate(uint64_t *seed, const char *in, size_t inlen, size_t *outlen)
{
    size_t cap = inlen * 2 + 8192, n = inlen;
    char *b = malloc(cap);
    int k, rounds = (int)rl_rand_range(seed, 1, 4);

    memcpy(b, in, inlen);
    for (k = 0; k < rounds; k++) {
        size_t pos = n ? (size_t)rl_rand_range(seed, 0, (long)n) : 0;

        switch (rl_rand_range(seed, 0, 7)) {
        case 0: /* flip a byte */
            if (n)
                b[pos < n ? pos : n - 1] = (char)rl_rand(seed);
            break;
        case 1: /* delete a span */
            if (n) {
                size_t l = (size_t)rl_rand_range(seed, 1, 8);

                if (pos >= n)
                    pos = n - 1;
                if (pos + l > n)
                    l = n - pos;
                memmove(b + pos, b + pos + l, n - pos - l);
                n -= l;
            }
            break;
        case 2: /* insert a token */
        case 3: {
            const char *t = tokens[rl_rand_range(seed, 0, sizeof tokens / sizeof tokens[0] - 1)];
            size_t l = strlen(t) ? strlen(t) : 1; /* "\x00" is one NUL */

            if (n + l < cap) {
                memmove(b + pos + l, b + pos, n - pos);
                memcpy(b + pos, t, l);
                n += l;
            }
            break;
        }
        case 4: /* duplicate a span */
            if (n) {
                size_t l = (size_t)rl_rand_range(seed, 1, 40);

                if (pos >= n)
                    pos = n - 1;
                if (pos + l > n)
                    l = n - pos;
                if (n + l < cap) {
                    memmove(b + pos + l, b + pos, n - pos);
                    n += l;
                }
            }
            break;
        case 5: /* truncate */
            n = pos;
            break;
        case 6: /* swap two bytes */
            if (n > 1) {
                size_t q = (size_t)rl_rand_range(seed, 0, (long)n - 1);
                char t;

                if (pos >= n)
                    pos = n - 1;
                t = b[pos];
                b[pos] = b[q];
                b[q] = t;
            }
            break;
        default: /* a long run of one byte */
            if (n + 3000 < cap) {
                size_t l = (size_t)rl_rand_range(seed, 100, 3000);

                memmove(b + pos + l, b + pos, n - pos);
                memset(b + pos, "a[{\"9"[rl_rand_range(seed, 0, 4)], l);
                n += l;
            }
            break;
        }
    }
    *outlen = n;
    return b;
}

static struct {
    long per_thread, sent, answered2xx;
} mc;

static void *mutator(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg * 6364136223846793005ULL + 1442695040888963407ULL;
    struct rl_client c;
    long i;

    rl_client_init(&c, token);
    c.timeout_ms = 20000;
    for (i = 0; i < mc.per_thread; i++) {
        const struct base *b = &bases[rl_rand_range(&seed, 0, NBASES - 1)];
        size_t len;
        long st;

        if (b->body != NULL) {
            char *m = mutate(&seed, b->body, strlen(b->body), &len);

            st = hsend(&c, b->method, b->path, m, len, NULL, NULL);
            free(m);
        } else {
            /* mutate the query string; keep it a valid URL for libcurl */
            const char *q = strchr(b->path, '?');
            size_t pl = q ? (size_t)(q - b->path) : strlen(b->path), j, o = 0;
            char *m = mutate(&seed, q ? q : "?", q ? strlen(q) : 1, &len);
            char *url = malloc(pl + len * 3 + 2);

            memcpy(url, b->path, pl);
            o = pl;
            for (j = 0; j < len; j++) {
                unsigned char ch = (unsigned char)m[j];

                if (ch > 0x20 && ch < 0x7f && ch != '#' && ch != ' ')
                    url[o++] = (char)ch;
                else
                    o += (size_t)sprintf(url + o, "%%%02X", ch);
            }
            url[o] = '\0';
            st = hsend(&c, "GET", url, NULL, 0, NULL, NULL);
            free(m);
            free(url);
        }
        __atomic_add_fetch(&mc.sent, 1, __ATOMIC_RELAXED);
        if (st >= 200 && st < 300 && strcmp(b->method, "GET") != 0) {
            __atomic_add_fetch(&mc.answered2xx, 1, __ATOMIC_RELAXED);
            fprintf(stderr, "hostile C: a mutated %s %s was accepted (%ld)\n", b->method, b->path,
                    st);
        }
    }
    rl_client_free(&c);
    return NULL;
}

/* ------------------------------------------------------------ phase B */

static const char *const sqlish[] = {"' OR '1'='1",
                                     "'; DROP TABLE products; --",
                                     "\\\" OR 1=1 --",
                                     "1; SELECT pg_sleep(5)",
                                     "../../../../etc/passwd",
                                     "..\\\\..\\\\windows",
                                     "%00",
                                     "%27%20OR%201%3D1",
                                     "${jndi:ldap://x}",
                                     "<script>alert(1)</script>",
                                     "$1",
                                     "\\u0000",
                                     "Robert'); DROP TABLE orders;--",
                                     "1' AND sleep(5)#",
                                     "admin'--",
                                     "' UNION SELECT password_hash FROM users --",
                                     NULL};

static long b_sent, b_accepted, b_verbatim_bad, b_slow;

/* JSON-escape-free strings above are already JSON-ready. */
static void phase_b(long long product, long long lot, long long wh)
{
    struct rl_client c;
    char body[2048], path[512], tag[48];
    int i;

    rl_client_init(&c, token);
    for (i = 0; sqlish[i]; i++) {
        const char *s = sqlish[i];
        struct rl_resp r;
        long st;
        int j;

        rl_tag(tag, sizeof tag);
        /* product: sku (pattern: mostly 400) and name (stored as is) */
        snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"x\"}", s);
        hsend(&c, "POST", "/api/products/", body, strlen(body), NULL, NULL);
        snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"%s\"}", tag, s);
        st = hsend(&c, "POST", "/api/products/", body, strlen(body), NULL, &r);
        b_sent += 2;
        if (st == 201) {
            yajl_val v = rl_json(r.body), g;
            long long id = rl_jint(v, "id", NULL);
            struct rl_resp r2;
            char *want = NULL;

            b_accepted++;
            /* what we sent, as JSON decodes it */
            snprintf(body, sizeof body, "{\"s\":\"%s\"}", s);
            g = rl_json(body);
            want = strdup(rl_jstr(g, "s", NULL) ? rl_jstr(g, "s", NULL) : "");
            yajl_tree_free(g);
            snprintf(path, sizeof path, "/api/products/%lld/", id);
            hsend(&c, "GET", path, NULL, 0, NULL, &r2);
            g = rl_json(r2.body);
            if (!rl_jstr(g, "name", NULL) || strcmp(rl_jstr(g, "name", NULL), want) != 0) {
                b_verbatim_bad++;
                fprintf(stderr, "hostile B: name %s came back as %.200s\n", s, r2.body);
            }
            yajl_tree_free(g);
            yajl_tree_free(v);
            free(want);
            rl_resp_free(&r2);
        }
        rl_resp_free(&r);
        /* warehouse code and name, lot code */
        snprintf(body, sizeof body, "{\"code\":\"%s\",\"name\":\"%s\"}", s, s);
        hsend(&c, "POST", "/api/warehouses/", body, strlen(body), NULL, NULL);
        snprintf(body, sizeof body,
                 "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"%s\","
                 "\"expires_on\":\"2031-01-01\",\"quantity\":1}",
                 product, wh, s);
        hsend(&c, "POST", "/api/lots/", body, strlen(body), NULL, NULL);
        /* order: external_ref, line sku */
        snprintf(body, sizeof body,
                 "{\"external_ref\":\"%s-%s\",\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}", s,
                 tag, product);
        if (hsend(&c, "POST", "/api/orders/", body, strlen(body), NULL, NULL) == 201)
            b_accepted++;
        snprintf(body, sizeof body, "{\"lines\":[{\"sku\":\"%s\",\"quantity\":1}]}", s);
        hsend(&c, "POST", "/api/orders/", body, strlen(body), NULL, NULL);
        /* adjust reason */
        snprintf(path, sizeof path, "/api/lots/%lld/adjust/", lot);
        snprintf(body, sizeof body, "{\"delta\":1,\"reason\":\"%s\"}", s);
        if (hsend(&c, "POST", path, body, strlen(body), NULL, NULL) == 200)
            b_accepted++;
        /* login */
        {
            struct rl_client anon;

            rl_client_init(&anon, NULL);
            snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", s, s);
            hsend(&anon, "POST", "/api/auth/token/", body, strlen(body), NULL, NULL);
            rl_client_free(&anon);
        }
        /* query strings, url-encoded, and headers */
        {
            char enc[512];
            size_t o = 0;
            const char *p;
            const char *hdr[3];
            char h1[600], h2[600];
            static const char *const params[] = {"q", "status", "after", "limit", "active", NULL};

            for (p = s; *p && o + 4 < sizeof enc; p++)
                o += (size_t)snprintf(enc + o, sizeof enc - o, "%%%02X", (unsigned char)*p);
            enc[o] = '\0';
            for (j = 0; params[j]; j++) {
                double t0 = rl_now_ms();

                snprintf(path, sizeof path, "/api/products/?%s=%s", params[j], enc);
                hsend(&c, "GET", path, NULL, 0, NULL, NULL);
                if (rl_now_ms() - t0 > 2000)
                    b_slow++;
                b_sent++;
            }
            snprintf(path, sizeof path, "/api/orders/?status=%s", enc);
            hsend(&c, "GET", path, NULL, 0, NULL, NULL);
            snprintf(h1, sizeof h1, "Idempotency-Key: %s", s);
            snprintf(h2, sizeof h2, "X-Request-Id: %s", s);
            hdr[0] = h1;
            hdr[1] = h2;
            hdr[2] = NULL;
            snprintf(body, sizeof body, "{\"lines\":[{\"product_id\":%lld,\"quantity\":1}]}",
                     product);
            hsend(&c, "POST", "/api/orders/", body, strlen(body), hdr, NULL);
            b_sent += 8;
        }
    }
    rl_client_free(&c);
}

/* ------------------------------------------------------------------ main */

int rl_cmd_hostile(int argc, char **argv)
{
    long mutations = rl_opt_int(argc, argv, "--mutations", 10000);
    int threads = (int)rl_opt_int(argc, argv, "--clients", 4);
    int only_mutations = rl_flag(argc, argv, "--mutations-only");
    char tag[64], code[96], *sum0, *sum1;
    struct rl_client c;
    long long wh, product, lot, tables0, tables1;
    pthread_t t[64];
    long i;

    if (threads > 64)
        threads = 64;
    S = rl_opt(argc, argv, "--scenario", S);
    token = rl_token(NULL, NULL);
    rl_client_init(&c, token);
    rl_tag(tag, sizeof tag);
    wh = rl_mk_warehouse(&c, tag);
    product = rl_mk_product(&c, tag);
    snprintf(code, sizeof code, "%s-a", tag);
    lot = rl_mk_lot(&c, product, wh, code, 60, 1000000);
    rl_client_free(&c);
    tables0 = rl_sql_int("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");

    sum0 = checksum();
    if (!only_mutations) {
        printf("%s: phase A, crafted inputs\n", S);
        phase_a(product, lot);
    }
    printf("%s: phase C, %ld random mutations of requests that cannot succeed\n", S, mutations);
    fflush(stdout);
    mc.per_thread = mutations / threads;
    for (i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, mutator, (void *)i);
    for (i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    sum1 = checksum();
    if (only_mutations) {
        rl_figure(S, "mutations: 5xx / transport errors", "0", fivexx + transport == 0,
                  "%ld / %ld of %ld", fivexx, transport, mc.sent);
        return rl_failures() ? 1 : 0;
    }
    printf("%s: phase B, SQL-looking strings and traversal in every string field\n", S);
    fflush(stdout);
    phase_b(product, lot, wh);
    tables1 = rl_sql_int("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");

    rl_figure(S, "crafted cases refused as expected (4xx JSON)", "all", a_ok == a_cases,
              "%ld of %ld", a_ok, a_cases);
    rl_figure(S, "random mutations sent", "10,000", mc.sent >= 10000 || mutations < 10000, "%ld",
              mc.sent);
    rl_figure(S, "mutated writes accepted", "0", mc.answered2xx == 0, "%ld", mc.answered2xx);
    rl_figure(S, "database checksum after A + C", "unchanged", strcmp(sum0, sum1) == 0, "%s",
              strcmp(sum0, sum1) == 0 ? "unchanged" : "CHANGED");
    rl_figure(S, "SQL-looking strings sent (B)", "-", -1, "%ld (%ld accepted)", b_sent, b_accepted);
    rl_figure(S, "accepted strings not stored verbatim", "0", b_verbatim_bad == 0, "%ld",
              b_verbatim_bad);
    rl_figure(S, "injected sleeps that ran (> 2 s)", "0", b_slow == 0, "%ld", b_slow);
    rl_figure(S, "tables dropped", "0", tables0 == tables1, "%lld", tables0 - tables1);
    rl_figure(S, "5xx answers", "0", fivexx == 0, "%ld", fivexx);
    rl_figure(S, "transport errors (connection dropped)", "0", transport == 0, "%ld", transport);
    free(sum0);
    free(sum1);
    return rl_failures() ? 1 : 0;
}
