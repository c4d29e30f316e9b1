/*
 * query.c — QUERY_STRING parsing and validation (see query.h).
 */
#include "query.h"

#include <string.h>

#include "util.h"

/* e->field for a parameter name, cut at a character boundary to fit. */
static const char *field_name(char *buf, size_t size, const char *key)
{
    size_t k = bff_utf8_prefix(key, strlen(key), size - 1);

    memcpy(buf, key, k);
    buf[k] = '\0';
    return buf;
}

static int fail(struct bff_error *e, const char *key, const char *msg)
{
    char f[sizeof e->field];

    return bff_error_set(e, BFF_E_BAD_REQUEST, key ? field_name(f, sizeof f, key) : "query", "%s",
                         msg);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* s[0..n) URL-decoded ('+' is a space) into an arena string, its length
 * in *len; NULL when a '%' is not followed by two hex digits. */
static char *decode(struct bff_arena *a, const char *s, size_t n, size_t *len)
{
    char *out = bff_arena_alloc(a, n + 1), *d = out;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '+') {
            *d++ = ' ';
        } else if (s[i] == '%') {
            int hi, lo;

            if (i + 2 >= n)
                return NULL;
            if ((hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
                return NULL;
            *d++ = (char)(hi * 16 + lo);
            i += 2;
        } else {
            *d++ = s[i];
        }
    }
    *d = '\0';
    *len = (size_t)(d - out);
    return out;
}

/* Decoded text must be a C string of valid UTF-8; NULL or why not. */
static const char *text_fault(const char *s, size_t len)
{
    if (memchr(s, '\0', len) != NULL)
        return "must not contain NUL (%00)";
    if (!bff_utf8_valid(s, len))
        return "must be valid UTF-8";
    return NULL;
}

/*
 * Split qs on '&', each piece on its first '=', and decode both halves.
 * 0, or -1 with e ("bad_request", field = the name or "query").
 */
int bff_query_parse(struct bff_arena *a, const char *qs, struct bff_query *out, struct bff_error *e)
{
    const char *p = qs, *amp, *end, *eq, *why;
    size_t pieces = 1, i, klen, vlen;
    char *key, *val;

    out->n = 0;
    out->keys = out->vals = NULL;
    if (qs == NULL || *qs == '\0')
        return 0;
    for (amp = qs; (amp = strchr(amp, '&')) != NULL; amp++)
        pieces++;
    if (pieces > BFF_QUERY_MAX_PARAMS)
        pieces = BFF_QUERY_MAX_PARAMS;
    out->keys = bff_arena_alloc(a, pieces * sizeof *out->keys);
    out->vals = bff_arena_alloc(a, pieces * sizeof *out->vals);

    for (;; p = amp + 1) {
        amp = strchr(p, '&');
        end = amp ? amp : p + strlen(p);
        if (end == p) { /* "a=1&&b=2", trailing '&' */
            if (amp == NULL)
                break;
            continue;
        }
        eq = memchr(p, '=', (size_t)(end - p));
        if (eq == p)
            return fail(e, NULL, "empty query parameter name");
        if ((key = decode(a, p, (size_t)((eq ? eq : end) - p), &klen)) == NULL)
            return fail(e, NULL, "bad percent-encoding in a query parameter name");
        if (text_fault(key, klen) != NULL)
            return fail(e, NULL, "query parameter name must be valid UTF-8 without NUL");
        if (eq == NULL) {
            val = "";
            vlen = 0;
        } else if ((val = decode(a, eq + 1, (size_t)(end - eq - 1), &vlen)) == NULL) {
            return fail(e, key, "bad percent-encoding");
        }
        if ((why = text_fault(val, vlen)) != NULL)
            return fail(e, key, why);
        for (i = 0; i < out->n; i++)
            if (strcmp(out->keys[i], key) == 0)
                return fail(e, key, "duplicate query parameter");
        if (out->n == BFF_QUERY_MAX_PARAMS)
            return fail(e, NULL, "too many query parameters");
        out->keys[out->n] = key;
        out->vals[out->n] = val;
        out->n++;
        if (amp == NULL)
            break;
    }
    return 0;
}

/* One value against its field: the JSON validator's rules and messages. */
static int check_param(const struct bff_field *f, const char *key, const char *v,
                       struct bff_error *e)
{
    char name[sizeof e->field];
    int64_t x;

    field_name(name, sizeof name, key);
    switch (f->type) {
    case BFF_F_STRING:
    case BFF_F_CODE:
    case BFF_F_DATE:
        return bff_field_check_str(f, v, strlen(v), name, e);
    case BFF_F_INT:
        if (bff_parse_int64(v, INT64_MIN, INT64_MAX, &x) != 0)
            return bff_error_set(e, BFF_E_BAD_REQUEST, name, "must be an integer");
        return bff_field_check_int(f, x, name, e);
    case BFF_F_BOOL:
        if (strcmp(v, "true") != 0 && strcmp(v, "false") != 0)
            return bff_error_set(e, BFF_E_BAD_REQUEST, name, "must be true or false");
        return 0;
    case BFF_F_OBJECT:
    case BFF_F_ARRAY:
        break;
    }
    return bff_error_set(e, BFF_E_INTERNAL, name, "field type %d cannot be a query parameter",
                         (int)f->type);
}

/*
 * Every parameter must be in fields and hold a valid value; every REQUIRED
 * field must be present. 0, or -1 with e (400 "bad_request", field = name).
 */
int bff_query_validate(const struct bff_query *q, const struct bff_field *fields,
                       struct bff_error *e)
{
    const struct bff_field *f;
    size_t i;

    for (i = 0; i < q->n; i++) {
        for (f = fields; f->name; f++)
            if (strcmp(f->name, q->keys[i]) == 0)
                break;
        if (f->name == NULL)
            return fail(e, q->keys[i], "unknown query parameter");
        if (check_param(f, q->keys[i], q->vals[i], e))
            return -1;
    }
    for (f = fields; f->name; f++)
        if ((f->flags & BFF_F_REQUIRED) && bff_query_get(q, f->name) == NULL)
            return fail(e, f->name, "is required");
    return 0;
}

const char *bff_query_get(const struct bff_query *q, const char *key)
{
    size_t i;

    for (i = 0; i < q->n; i++)
        if (strcmp(q->keys[i], key) == 0)
            return q->vals[i];
    return NULL;
}

int64_t bff_query_int(const struct bff_query *q, const char *key, int64_t def)
{
    const char *v = bff_query_get(q, key);
    int64_t x;

    if (v == NULL || bff_parse_int64(v, INT64_MIN, INT64_MAX, &x) != 0)
        return def;
    return x;
}

int bff_query_bool(const struct bff_query *q, const char *key, int def)
{
    const char *v = bff_query_get(q, key);

    if (v == NULL)
        return def;
    if (strcmp(v, "true") == 0)
        return 1;
    if (strcmp(v, "false") == 0)
        return 0;
    return def;
}
