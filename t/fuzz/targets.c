/*
 * targets.c — the bodies of the fuzz harnesses (see targets.h).
 *
 * Built twice: by clang with -fsanitize=fuzzer,address,undefined into
 * t/fuzz_json, t/fuzz_query and t/fuzz_route (`make fuzz`), and by gcc into
 * check_fuzz_replay, which feeds it the committed corpus in `make check`.
 *
 * Beyond "does not crash", each target checks what the headers promise:
 * a parsed JSON tree is at most 32 deep, its strings are valid UTF-8
 * without NUL and its keys unique, it survives a write (lib/jsonw.c) and
 * re-parse unchanged; a parsed query string has one parameter per
 * non-empty piece and survives re-encoding; a route match is the first
 * row of the table that fits, with {id}s that print back into the path.
 * Every error is "bad_request" with a NUL-terminated, valid UTF-8 field.
 */
#include "targets.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "json.h"
#include "jsonw.h"
#include "query.h"
#include "routes.h"

static struct bff_arena *arena;

static struct bff_arena *the_arena(void)
{
    if (arena == NULL)
        arena = bff_arena_new();
    return arena;
}

void fuzz_targets_free(void)
{
    bff_arena_free(arena);
    arena = NULL;
}

/* A broken invariant: say which, then abort so the fuzzer (or Check's
 * fork) records a crash. */
static void broke(const char *what, const char *file, int line) __attribute__((noreturn));
static void broke(const char *what, const char *file, int line)
{
    fprintf(stderr, "%s:%d: fuzz invariant broken: %s\n", file, line, what);
    abort();
}

#define CHECK(c) ((c) ? (void)0 : broke(#c, __FILE__, __LINE__))

/* A heap copy of data[0..size) plus a NUL, so ASan sees the exact end. */
static char *copy_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* What every refusal of client input must look like. */
static void check_error(const struct bff_error *e, int want_field)
{
    CHECK(memchr(e->code, '\0', sizeof e->code) != NULL);
    CHECK(memchr(e->field, '\0', sizeof e->field) != NULL);
    CHECK(memchr(e->msg, '\0', sizeof e->msg) != NULL);
    CHECK(strcmp(e->code, BFF_E_BAD_REQUEST) == 0);
    CHECK(e->msg[0] != '\0');
    CHECK(bff_utf8_valid(e->field, strlen(e->field)));
    if (want_field)
        CHECK(e->field[0] != '\0');
}

/* ---- JSON ---- */

/* A decimal integer in JSON's grammar: optional '-', digits only. */
static int plain_int(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The tree json.h promises: depth counts open containers (root = 1). */
static void check_tree(const struct bff_json *v, int depth)
{
    size_t i;

    CHECK(v != NULL);
    switch (v->type) {
    case BFF_JSON_NULL:
        return;
    case BFF_JSON_BOOL:
        CHECK(v->b == 0 || v->b == 1);
        return;
    case BFF_JSON_NUMBER: {
        char tmp[32];

        CHECK(v->num != NULL && v->num[0] != '\0');
        if (v->is_int) {
            /* JSON has no leading zeros, so an integer prints back as its
             * source text; "-0" is the integer 0. */
            snprintf(tmp, sizeof tmp, "%" PRId64, v->i);
            CHECK(plain_int(v->num));
            CHECK(strcmp(tmp, v->num) == 0 || (strcmp(v->num, "-0") == 0 && v->i == 0));
        } else {
            CHECK(v->i == 0);
            if (plain_int(v->num)) { /* refused only for being out of range */
                errno = 0;
                (void)strtoll(v->num, NULL, 10);
                CHECK(errno == ERANGE);
            }
        }
        return;
    }
    case BFF_JSON_STRING:
        CHECK(v->s != NULL);
        CHECK(strlen(v->s) == v->len);
        CHECK(bff_utf8_valid(v->s, v->len));
        return;
    case BFF_JSON_ARRAY:
        CHECK(depth <= BFF_JSON_MAX_DEPTH);
        CHECK(v->len == 0 || v->items != NULL);
        for (i = 0; i < v->len; i++)
            check_tree(v->items[i], depth + 1);
        return;
    case BFF_JSON_OBJECT: {
        const char **sorted;

        CHECK(depth <= BFF_JSON_MAX_DEPTH);
        CHECK(v->len == 0 || (v->items != NULL && v->keys != NULL));
        for (i = 0; i < v->len; i++) {
            CHECK(v->keys[i] != NULL);
            CHECK(bff_utf8_valid(v->keys[i], strlen(v->keys[i])));
            check_tree(v->items[i], depth + 1);
        }
        /* unique keys (sorted copy, so 10,000 keys stay cheap) */
        if (v->len > 1) {
            sorted = malloc(v->len * sizeof *sorted);
            if (sorted == NULL)
                abort();
            memcpy(sorted, v->keys, v->len * sizeof *sorted);
            qsort(sorted, v->len, sizeof *sorted, cmp_keys);
            for (i = 1; i < v->len; i++)
                CHECK(strcmp(sorted[i - 1], sorted[i]) != 0);
            free(sorted);
        }
        for (i = 0; i < v->len && i < 32; i++)
            CHECK(bff_json_get(v, v->keys[i]) == v->items[i]);
        CHECK(bff_json_get(v, "\x01 no such key") == NULL);
        return;
    }
    }
    CHECK(!"unknown node type");
}

/* Write v back out with the response writer. */
static void write_tree(struct bff_jw *w, const struct bff_json *v)
{
    size_t i;

    switch (v->type) {
    case BFF_JSON_NULL:
        bff_jw_null(w);
        break;
    case BFF_JSON_BOOL:
        bff_jw_bool(w, v->b);
        break;
    case BFF_JSON_NUMBER:
        if (v->is_int)
            bff_jw_int(w, v->i);
        else
            bff_jw_raw(w, v->num, strlen(v->num));
        break;
    case BFF_JSON_STRING:
        bff_jw_strn(w, v->s, v->len);
        break;
    case BFF_JSON_ARRAY:
        bff_jw_arr(w);
        for (i = 0; i < v->len; i++)
            write_tree(w, v->items[i]);
        bff_jw_end(w);
        break;
    case BFF_JSON_OBJECT:
        bff_jw_obj(w);
        for (i = 0; i < v->len; i++) {
            bff_jw_key(w, v->keys[i]);
            write_tree(w, v->items[i]);
        }
        bff_jw_end(w);
        break;
    }
}

static void check_same(const struct bff_json *a, const struct bff_json *b)
{
    size_t i;

    CHECK(a->type == b->type);
    switch (a->type) {
    case BFF_JSON_NULL:
        break;
    case BFF_JSON_BOOL:
        CHECK(a->b == b->b);
        break;
    case BFF_JSON_NUMBER:
        CHECK(a->is_int == b->is_int);
        if (a->is_int)
            CHECK(a->i == b->i);
        else
            CHECK(strcmp(a->num, b->num) == 0);
        break;
    case BFF_JSON_STRING:
        CHECK(a->len == b->len && memcmp(a->s, b->s, a->len) == 0);
        break;
    case BFF_JSON_ARRAY:
    case BFF_JSON_OBJECT:
        CHECK(a->len == b->len);
        for (i = 0; i < a->len; i++) {
            if (a->type == BFF_JSON_OBJECT)
                CHECK(strcmp(a->keys[i], b->keys[i]) == 0);
            check_same(a->items[i], b->items[i]);
        }
        break;
    }
}

/* A validated object holds only table fields and every required one. */
static void check_valid(const struct bff_json *v, const struct bff_field *fields)
{
    const struct bff_field *f;
    size_t i;

    CHECK(v->type == BFF_JSON_OBJECT);
    for (i = 0; i < v->len; i++) {
        for (f = fields; f->name; f++)
            if (strcmp(f->name, v->keys[i]) == 0)
                break;
        CHECK(f->name != NULL);
    }
    for (f = fields; f->name; f++)
        if (f->flags & BFF_F_REQUIRED)
            CHECK(bff_json_get(v, f->name) != NULL);
}

/* A prefix that nearly fills bff_error.field, ending in 2-byte
 * characters, so every error path below it is cut at a boundary. */
static const char long_prefix[] =
    "orders[12345].lines[67890].sub.sub.sub.sub.sub.sub.sub.sub.sub.sub.sub.sub."
    "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
    "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9"
    "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";

int fuzz_json_one(const uint8_t *data, size_t size)
{
    struct bff_arena *a = the_arena();
    const struct bff_route *r;
    struct bff_json *root = NULL, *again = NULL;
    struct bff_buf out = BFF_BUF_INIT;
    struct bff_jw w;
    struct bff_error e;
    char msg[sizeof e.msg];
    int rc;

    bff_error_clear(&e);
    /* data is passed as is (no NUL after it): the parser takes a length */
    rc = bff_json_parse(a, (const char *)data, size, BFF_JSON_MAX_DEPTH, &root, &e);
    if (rc != 0) {
        CHECK(rc == -1 && root == NULL);
        check_error(&e, 0);
        bff_arena_reset(a);
        return 0;
    }
    CHECK(root != NULL);
    check_tree(root, 1);

    bff_jw_init(&w, &out);
    write_tree(&w, root);
    bff_error_clear(&e);
    CHECK(bff_json_parse(a, out.data, out.len, BFF_JSON_MAX_DEPTH, &again, &e) == 0);
    check_same(root, again);
    bff_buf_free(&out);

    if (root->type == BFF_JSON_OBJECT) {
        for (r = bff_routes; r->method; r++) {
            if (r->body == NULL)
                continue;
            bff_error_clear(&e);
            rc = bff_json_validate(root, r->body, "", &e);
            if (rc == 0)
                check_valid(root, r->body);
            else /* the path names the member (an empty key as "") */
                check_error(&e, 1);
            /* a prefix changes the field path only, never the verdict */
            memcpy(msg, e.msg, sizeof msg);
            bff_error_clear(&e);
            CHECK(bff_json_validate(root, r->body, long_prefix, &e) == rc);
            if (rc != 0) {
                check_error(&e, 1);
                CHECK(strcmp(e.msg, msg) == 0);
            }
        }
    } else {
        for (r = bff_routes; r->body == NULL; r++)
            ;
        bff_error_clear(&e);
        CHECK(bff_json_validate(root, r->body, "", &e) == -1);
        check_error(&e, 0);
    }
    bff_arena_reset(a);
    return 0;
}

/* ---- query string ---- */

/* Non-empty '&'-separated pieces of s: what a successful parse must hold. */
static size_t pieces(const char *s)
{
    size_t n = 0;

    while (*s) {
        size_t k = strcspn(s, "&");

        n += k > 0;
        s += k;
        if (*s == '&')
            s++;
    }
    return n;
}

/* Percent-encode s into b, spaces as '+' when plus is set. */
static void encode(struct bff_buf *b, const char *s, int plus)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            bff_buf_putc(b, (char)c);
        } else if (c == ' ' && plus) {
            bff_buf_putc(b, '+');
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};

            bff_buf_append(b, esc, 3);
        }
    }
}

/* A validated query holds only table parameters, each readable by the
 * typed getters within its bounds. */
static void check_valid_query(const struct bff_query *q, const struct bff_field *fields)
{
    const struct bff_field *f;
    size_t i;

    for (i = 0; i < q->n; i++) {
        for (f = fields; f->name; f++)
            if (strcmp(f->name, q->keys[i]) == 0)
                break;
        CHECK(f->name != NULL);
        if (f->type == BFF_F_INT) {
            int64_t x = bff_query_int(q, f->name, INT64_MIN), y = bff_query_int(q, f->name, 7);

            CHECK(x == y); /* not the default: the value itself */
            CHECK(x >= f->min && x <= f->max);
        } else if (f->type == BFF_F_BOOL) {
            int b = bff_query_bool(q, f->name, -1);

            CHECK(b == 0 || b == 1);
        }
    }
    for (f = fields; f->name; f++)
        if (f->flags & BFF_F_REQUIRED)
            CHECK(bff_query_get(q, f->name) != NULL);
}

int fuzz_query_one(const uint8_t *data, size_t size)
{
    static const struct bff_field no_params[] = {{NULL, 0, 0, 0, 0, 0, NULL}};
    struct bff_arena *a = the_arena();
    char *qs = copy_cstr(data, size);
    const struct bff_route *r;
    struct bff_query q, q2;
    struct bff_buf enc = BFF_BUF_INIT;
    struct bff_error e;
    size_t i, j;

    bff_error_clear(&e);
    if (bff_query_parse(a, qs, &q, &e) != 0) {
        check_error(&e, 1);
        goto out;
    }
    CHECK(q.n <= BFF_QUERY_MAX_PARAMS);
    CHECK(q.n == pieces(qs));
    for (i = 0; i < q.n; i++) {
        CHECK(q.keys[i] != NULL && q.keys[i][0] != '\0' && q.vals[i] != NULL);
        CHECK(bff_utf8_valid(q.keys[i], strlen(q.keys[i])));
        CHECK(bff_utf8_valid(q.vals[i], strlen(q.vals[i])));
        for (j = 0; j < i; j++)
            CHECK(strcmp(q.keys[i], q.keys[j]) != 0);
        CHECK(bff_query_get(&q, q.keys[i]) == q.vals[i]);
    }

    /* Re-encoded (spaces as '+' and as %20 in turn), it parses the same. */
    for (i = 0; i < q.n; i++) {
        if (i > 0)
            bff_buf_putc(&enc, '&');
        encode(&enc, q.keys[i], (int)(i & 1));
        if (q.vals[i][0] != '\0' || (i & 2)) {
            bff_buf_putc(&enc, '=');
            encode(&enc, q.vals[i], (int)(i & 1));
        }
    }
    bff_error_clear(&e);
    CHECK(bff_query_parse(a, bff_buf_cstr(&enc), &q2, &e) == 0);
    CHECK(q2.n == q.n);
    for (i = 0; i < q.n; i++)
        CHECK(strcmp(q.keys[i], q2.keys[i]) == 0 && strcmp(q.vals[i], q2.vals[i]) == 0);
    bff_buf_free(&enc);

    for (r = bff_routes;; r++) {
        const struct bff_field *fields = r->method ? r->query : no_params;

        if (fields != NULL) {
            bff_error_clear(&e);
            if (bff_query_validate(&q, fields, &e) == 0)
                check_valid_query(&q, fields);
            else
                check_error(&e, 1);
        }
        if (r->method == NULL)
            break;
    }
out:
    free(qs);
    bff_arena_reset(a);
    return 0;
}

/* ---- routes ---- */

/* Whether row r serves method: the same method, or HEAD on a GET row
 * (routes.c answers HEAD like GET; the request layer drops the body). */
static int serves(const struct bff_route *r, const char *method)
{
    return strcmp(r->method, method) == 0 ||
           (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0);
}

/* Number of {id} parameters in a pattern. */
static int holes(const char *pat)
{
    int n = 0;

    for (; *pat; pat++)
        n += *pat == '{';
    return n;
}

/* The pattern with its {id}s printed from params (heap; caller frees). */
static char *render(const char *pat, const int64_t *params)
{
    struct bff_buf b = BFF_BUF_INIT;
    int i = 0;

    while (*pat) {
        if (*pat == '{') {
            bff_buf_printf(&b, "%" PRId64, params[i++]);
            pat = strchr(pat, '}') + 1;
        } else {
            bff_buf_putc(&b, *pat++);
        }
    }
    return b.data; /* a pattern is never empty */
}

/* path is the pattern filled in, with or without its trailing '/'. */
static int fits(const char *rendered, const char *path)
{
    size_t n = strlen(rendered), m = strlen(path);

    if (strcmp(rendered, path) == 0)
        return 1;
    if (n > 0 && rendered[n - 1] == '/' && m == n - 1 && strncmp(rendered, path, m) == 0)
        return 1;
    /* a slash-less pattern (/metrics) also answers with one '/' added */
    return n > 0 && rendered[n - 1] != '/' && m == n + 1 && path[n] == '/' &&
           strncmp(rendered, path, n) == 0;
}

int fuzz_route_one(const uint8_t *data, size_t size)
{
    const uint8_t *sp = memchr(data, ' ', size);
    char *method, *path, *allow, *small, want[128];
    const struct bff_route *r, *got = NULL, *first_ok = NULL;
    int64_t *params, *p;
    int np = -1, nmatch = 0, i;
    size_t smallsz = size % 9, used = 0;
    enum bff_match m;

    if (sp != NULL) {
        method = copy_cstr(data, (size_t)(sp - data));
        path = copy_cstr(sp + 1, size - (size_t)(sp - data) - 1);
    } else {
        method = copy_cstr((const uint8_t *)"GET", 3);
        path = copy_cstr(data, size);
    }
    params = calloc(BFF_MAX_PATH_PARAMS, sizeof *params);
    p = calloc(BFF_MAX_PATH_PARAMS, sizeof *p);
    allow = malloc(64);
    small = malloc(smallsz ? smallsz : 1);
    if (params == NULL || p == NULL || allow == NULL || small == NULL)
        abort();

    /* What bff_route_match should say, from bff_pattern_match alone. */
    want[0] = '\0';
    for (r = bff_routes; r->method; r++) {
        int n = -1;

        if (!bff_pattern_match(r->pattern, path, p, &n))
            continue;
        nmatch++;
        CHECK(n >= 0 && n <= BFF_MAX_PATH_PARAMS && n == holes(r->pattern));
        for (i = 0; i < n; i++)
            CHECK(p[i] > 0);
        {
            char *s = render(r->pattern, p);

            CHECK(fits(s, path));
            free(s);
        }
        if (serves(r, method)) {
            if (first_ok == NULL)
                first_ok = r;
        } else if (first_ok == NULL && !strstr(want, r->method)) {
            used += (size_t)snprintf(want + used, sizeof want - used, "%s%s", used ? ", " : "",
                                     r->method);
        }
    }

    m = bff_route_match(method, path, &got, params, &np, allow, 64);
    switch (m) {
    case BFF_MATCH_OK:
        CHECK(first_ok != NULL && got == first_ok);
        CHECK(np >= 0 && np <= BFF_MAX_PATH_PARAMS && np == holes(got->pattern));
        for (i = 0; i < np; i++)
            CHECK(params[i] > 0);
        break;
    case BFF_MATCH_NOMETHOD:
        CHECK(first_ok == NULL && nmatch > 0);
        CHECK(memchr(allow, '\0', 64) != NULL);
        CHECK(allow[0] != '\0');
        CHECK(strcmp(allow, want) == 0);
        break;
    case BFF_MATCH_NOPATH:
        CHECK(nmatch == 0);
        break;
    default:
        CHECK(!"bff_route_match returned no bff_match");
    }

    /* A tight Allow buffer (0..8 bytes) is never overrun and holds a
     * prefix of the full answer. */
    got = NULL;
    CHECK(bff_route_match(method, path, &got, params, &np, small, smallsz) == m);
    if (m == BFF_MATCH_NOMETHOD && smallsz > 0) {
        CHECK(memchr(small, '\0', smallsz) != NULL);
        CHECK(strncmp(small, allow, strlen(small)) == 0);
    }

    free(method);
    free(path);
    free(params);
    free(p);
    free(allow);
    free(small);
    return 0;
}
