/*
 * json.c — strict JSON reader over yajl's event parser, and the field-table
 * validator (see json.h).
 *
 * The tree is built in the request arena from yajl callbacks, with an
 * explicit stack of open containers sized max_depth: no recursion while
 * parsing and none when freeing (the arena goes in one piece). Validation
 * recurses, but only over a tree that is at most max_depth deep.
 */
#define _GNU_SOURCE /* memmem */
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "util.h"

/* Paths are built at most as long as bff_error.field can hold. */
#define PATHSZ sizeof(((struct bff_error *)0)->field)
/* Names quoted in messages are cut to this many bytes. */
#define QUOTE_MAX 64
/* Objects with more keys than this get a hash set for duplicate checks. */
#define SET_MIN 16

/* ---- UTF-8 ---- */

size_t bff_utf8_seq(const unsigned char *p, size_t n)
{
    unsigned char c, lo = 0x80, hi = 0xBF;
    size_t len, i;

    if (n == 0)
        return 0;
    c = p[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2) /* continuation byte, or overlong C0/C1 */
        return 0;
    if (c < 0xE0) {
        len = 2;
    } else if (c < 0xF0) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c < 0xF5) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

int bff_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, k;

    while (i < len) {
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        if ((k = bff_utf8_seq(p + i, len - i)) == 0)
            return 0;
        i += k;
    }
    return 1;
}

size_t bff_utf8_chars(const char *s, size_t len)
{
    size_t i, n = 0;

    for (i = 0; i < len; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            n++;
    return n;
}

size_t bff_utf8_prefix(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return max;
}

/* ---- paths ("lines[0].quantity") ---- */

/*
 * Append s[0..len) to path[0..n) (a PATHSZ buffer) and return the new
 * length. What does not fit is cut at a character boundary, and the
 * returned length is then PATHSZ - 1 so nothing is appended after a cut.
 */
static size_t path_put(char *path, size_t n, const char *s, size_t len)
{
    size_t room = PATHSZ - 1 - n, k = bff_utf8_prefix(s, len, room);

    memcpy(path + n, s, k);
    path[n + k] = '\0';
    return k < len ? PATHSZ - 1 : n + k;
}

static size_t path_key(char *path, size_t n, const char *k, size_t klen)
{
    if (n > 0)
        n = path_put(path, n, ".", 1);
    return path_put(path, n, k, klen);
}

static size_t path_index(char *path, size_t n, size_t i)
{
    char tmp[32];
    int m = snprintf(tmp, sizeof tmp, "[%zu]", i);

    if ((size_t)m > PATHSZ - 1 - n) /* never half an index */
        return PATHSZ - 1;
    return path_put(path, n, tmp, (size_t)m);
}

/* A name for a message: `"name"`, cut to QUOTE_MAX bytes with "...". */
static const char *quote(char *buf, size_t size, const char *s, size_t len)
{
    size_t k = bff_utf8_prefix(s, len, QUOTE_MAX);

    snprintf(buf, size, "\"%.*s%s\"", (int)k, s, k < len ? "..." : "");
    return buf;
}

/* ---- reader ---- */

struct frame {
    struct bff_json *node; /* the open array or object */
    size_t cap;            /* slots allocated in node->items (and keys) */
    uint32_t *set;         /* key index + 1 by hash, open addressing */
    size_t setcap;         /* power of two, 0 while there is no set */
};

struct parser {
    struct bff_arena *a;
    struct bff_error *e;
    struct frame *st; /* st[0..depth) are the open containers */
    int depth, max_depth;
    struct bff_json *root;
};

/* Where an error is: the value being added, a key of the innermost
 * object, or the innermost container itself. */
enum at { AT_VALUE, AT_KEY, AT_SELF };

static void parse_path(const struct parser *p, enum at at, const char *key, size_t klen, char *path)
{
    size_t n = 0;
    int i;

    path[0] = '\0';
    for (i = 0; i < p->depth; i++) {
        const struct bff_json *c = p->st[i].node;
        int inner = i == p->depth - 1;

        if (inner && at == AT_SELF)
            break;
        if (inner && at == AT_KEY)
            n = path_key(path, n, key, klen);
        else if (c->type == BFF_JSON_OBJECT)
            n = path_key(path, n, c->keys[c->len - 1], strlen(c->keys[c->len - 1]));
        else
            n = path_index(path, n, inner ? c->len : c->len - 1);
    }
}

/* Set e for a value-level problem and return 0 (yajl: cancel the parse). */
static int fail_at(struct parser *p, enum at at, const char *key, size_t klen, const char *msg)
{
    char path[PATHSZ];

    parse_path(p, at, key, klen, path);
    bff_error_set(p->e, BFF_E_BAD_REQUEST, path[0] ? path : NULL, "%s", msg);
    return 0;
}

/* Strings and keys become C strings: no NUL (from "\u0000"), and valid
 * UTF-8 in the strict sense (yajl lets overlong forms and encoded
 * surrogates through). */
static int check_text(struct parser *p, enum at at, const unsigned char *s, size_t n)
{
    if (memchr(s, 0, n) != NULL)
        return fail_at(p, at, NULL, 0, "\\u0000 is not allowed in strings");
    if (!bff_utf8_valid((const char *)s, n))
        return fail_at(p, at, NULL, 0, "invalid UTF-8 in string");
    return 1;
}

static struct bff_json *new_node(struct parser *p, enum bff_json_type t)
{
    struct bff_json *v = bff_arena_calloc(p->a, sizeof *v);

    v->type = t;
    return v;
}

/* Double the slots of the innermost container (arena: the old ones stay). */
static void grow(struct parser *p, struct frame *f)
{
    struct bff_json *c = f->node;
    size_t cap = f->cap ? f->cap * 2 : 4;
    struct bff_json **items = bff_arena_alloc(p->a, cap * sizeof *items);

    if (c->len > 0)
        memcpy(items, c->items, c->len * sizeof *items);
    c->items = items;
    if (c->type == BFF_JSON_OBJECT) {
        const char **keys = bff_arena_alloc(p->a, cap * sizeof *keys);

        if (c->len > 0)
            memcpy(keys, c->keys, c->len * sizeof *keys);
        c->keys = keys;
    }
    f->cap = cap;
}

/* Attach v to the innermost container, or make it the root. */
static void add(struct parser *p, struct bff_json *v)
{
    struct frame *f;

    if (p->depth == 0) {
        p->root = v;
        return;
    }
    f = &p->st[p->depth - 1];
    if (f->node->type == BFF_JSON_ARRAY) {
        if (f->node->len == f->cap)
            grow(p, f);
        f->node->items[f->node->len++] = v;
    } else {
        f->node->items[f->node->len - 1] = v; /* the slot on_key made */
    }
}

static uint32_t hash(const unsigned char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    size_t i;

    for (i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

static int key_eq(const char *a, const unsigned char *k, size_t n)
{
    /* k holds no NUL (check_text), so strncmp stops in time on a short a */
    return strncmp(a, (const char *)k, n) == 0 && a[n] == '\0';
}

static int key_find(const struct frame *f, const unsigned char *k, size_t n)
{
    const struct bff_json *o = f->node;
    size_t i, h, mask;

    if (f->set == NULL) {
        for (i = 0; i < o->len; i++)
            if (key_eq(o->keys[i], k, n))
                return 1;
        return 0;
    }
    mask = f->setcap - 1;
    for (h = hash(k, n) & mask; f->set[h] != 0; h = (h + 1) & mask)
        if (key_eq(o->keys[f->set[h] - 1], k, n))
            return 1;
    return 0;
}

static void set_put(struct frame *f, size_t idx)
{
    const char *k = f->node->keys[idx];
    size_t mask = f->setcap - 1, h = hash((const unsigned char *)k, strlen(k)) & mask;

    while (f->set[h] != 0)
        h = (h + 1) & mask;
    f->set[h] = (uint32_t)idx + 1;
}

/* Index the newest key; past SET_MIN keys, keep the set under half full. */
static void set_add(struct parser *p, struct frame *f)
{
    size_t len = f->node->len, i;

    if (len <= SET_MIN)
        return;
    if (f->set == NULL || len * 2 > f->setcap) {
        f->setcap = 64;
        while (f->setcap < len * 4)
            f->setcap *= 2;
        f->set = bff_arena_calloc(p->a, f->setcap * sizeof *f->set);
        for (i = 0; i < len; i++)
            set_put(f, i);
    } else {
        set_put(f, len - 1);
    }
}

static int on_null(void *ctx)
{
    add(ctx, new_node(ctx, BFF_JSON_NULL));
    return 1;
}

static int on_bool(void *ctx, int b)
{
    struct bff_json *v = new_node(ctx, BFF_JSON_BOOL);

    v->b = b != 0;
    add(ctx, v);
    return 1;
}

/* yajl has already checked the JSON number grammar. */
static int plain_int(const char *s, size_t n)
{
    size_t i = s[0] == '-';

    if (i == n)
        return 0;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static int on_number(void *ctx, const char *s, size_t n)
{
    struct parser *p = ctx;
    struct bff_json *v = new_node(p, BFF_JSON_NUMBER);

    v->num = bff_arena_strndup(p->a, s, n);
    v->is_int = plain_int(s, n) && bff_parse_int64(v->num, INT64_MIN, INT64_MAX, &v->i) == 0;
    if (!v->is_int)
        v->i = 0;
    add(p, v);
    return 1;
}

static int on_string(void *ctx, const unsigned char *s, size_t n)
{
    struct parser *p = ctx;
    struct bff_json *v;

    if (!check_text(p, AT_VALUE, s, n))
        return 0;
    v = new_node(p, BFF_JSON_STRING);
    v->s = bff_arena_strndup(p->a, (const char *)s, n);
    v->len = n;
    add(p, v);
    return 1;
}

static int open_container(struct parser *p, enum bff_json_type t)
{
    struct bff_json *v;
    struct frame *f;

    if (p->depth >= p->max_depth) {
        bff_error_set(p->e, BFF_E_BAD_REQUEST, NULL, "JSON nesting deeper than %d", p->max_depth);
        return 0;
    }
    v = new_node(p, t);
    add(p, v);
    f = &p->st[p->depth++];
    f->node = v;
    f->cap = 0;
    f->set = NULL;
    f->setcap = 0;
    return 1;
}

static int on_start_map(void *ctx)
{
    return open_container(ctx, BFF_JSON_OBJECT);
}

static int on_start_array(void *ctx)
{
    return open_container(ctx, BFF_JSON_ARRAY);
}

static int on_end(void *ctx)
{
    ((struct parser *)ctx)->depth--;
    return 1;
}

static int on_key(void *ctx, const unsigned char *k, size_t n)
{
    struct parser *p = ctx;
    struct frame *f = &p->st[p->depth - 1];
    struct bff_json *o = f->node;

    if (!check_text(p, AT_SELF, k, n))
        return 0;
    if (key_find(f, k, n)) {
        char q[QUOTE_MAX + 8], msg[QUOTE_MAX + 32];

        snprintf(msg, sizeof msg, "duplicate key %s", quote(q, sizeof q, (const char *)k, n));
        return fail_at(p, AT_KEY, (const char *)k, n, msg);
    }
    if (o->len == f->cap)
        grow(p, f);
    o->keys[o->len] = bff_arena_strndup(p->a, (const char *)k, n);
    o->items[o->len] = NULL;
    o->len++;
    set_add(p, f);
    return 1;
}

static const yajl_callbacks callbacks = {on_null,   on_bool,        NULL,         NULL,
                                         on_number, on_string,      on_start_map, on_key,
                                         on_end,    on_start_array, on_end};

/* yajl's messages, said shorter for API clients. */
static const struct {
    const char *yajl, *say;
} yajl_msgs[] = {
    {"premature EOF", "unexpected end of input"},
    {"trailing garbage", "unexpected data after the JSON value"},
    {"comment", "comments are not allowed"},
    {"invalid bytes in UTF8", "invalid UTF-8 in string"},
    {"invalid character inside string", "unescaped control character in string"},
    {"invalid char in json text", "unexpected character"},
    {"invalid string in json text", "unexpected character"},
    {"unallowed token", "unexpected token"},
    {"invalid object key", "object keys must be strings"},
    {"key and value must be separated", "expected ':' after an object key"},
    {"inside map, I expect", "expected ',' or '}'"},
    {"after array element", "expected ',' or ']'"},
    {"malformed number", "malformed number"},
    {"occurs before a character", "invalid escape in string"},
    {"non-hex", "invalid \\u escape in string"},
};

static int yajl_failed(yajl_handle h, const char *text, size_t len, size_t at, struct bff_error *e)
{
    unsigned char *raw = yajl_get_error(h, 0, (const unsigned char *)text, len);
    const char *m = raw ? (const char *)raw : "syntax error", *colon;
    size_t i, n;

    for (i = 0; i < sizeof yajl_msgs / sizeof yajl_msgs[0]; i++)
        if (strstr(m, yajl_msgs[i].yajl) != NULL) {
            bff_error_set(e, BFF_E_BAD_REQUEST, NULL, "malformed JSON: %s at byte %zu",
                          yajl_msgs[i].say, at);
            goto out;
        }
    /* An unknown message: drop "parse error: " and the final ".\n". */
    if ((colon = strstr(m, ": ")) != NULL)
        m = colon + 2;
    n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == '.' || m[n - 1] == ' '))
        n--;
    bff_error_set(e, BFF_E_BAD_REQUEST, NULL, "malformed JSON: %.*s at byte %zu",
                  (int)(n < 120 ? n : 120), m, at);
out:
    if (raw)
        yajl_free_error(h, raw);
    return -1;
}

static long hex4(const char *s, size_t avail)
{
    long v = 0;
    int i;

    if (avail < 4)
        return -1;
    for (i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;

        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/*
 * Find a \u escape that is half of a UTF-16 surrogate pair without its
 * other half. yajl turns a lone high surrogate into '?' and a lone low one
 * into invalid UTF-8, so these are refused before yajl sees them. The scan
 * follows string boundaries exactly for valid JSON; on invalid JSON it may
 * report this instead of the syntax error, which is still a 400.
 */
static int lone_surrogate(const char *s, size_t n, size_t *at)
{
    size_t i = 0;
    int in = 0;

    while (i < n) {
        long u, lo;

        if (!in || s[i] != '\\') {
            if (s[i] == '"')
                in = !in;
            i++;
            continue;
        }
        if (i + 1 >= n || s[i + 1] != 'u') {
            i += 2;
            continue;
        }
        if ((u = hex4(s + i + 2, n - i - 2)) < 0)
            return 0; /* yajl reports the bad escape */
        if (u >= 0xD800 && u <= 0xDBFF) {
            lo = i + 12 <= n && s[i + 6] == '\\' && s[i + 7] == 'u' ? hex4(s + i + 8, n - i - 8)
                                                                    : -1;
            if (lo < 0xDC00 || lo > 0xDFFF) {
                *at = i;
                return 1;
            }
            i += 12;
        } else if (u >= 0xDC00 && u <= 0xDFFF) {
            *at = i;
            return 1;
        } else {
            i += 6;
        }
    }
    return 0;
}

/*
 * Parse text[0..len) into an arena tree (see json.h). Refusals, all
 * "bad_request" (HTTP 400): empty or whitespace-only input, a NUL byte, a
 * lone surrogate escape, anything yajl refuses (syntax, comments, trailing
 * data or a second value, raw invalid UTF-8), nesting deeper than
 * max_depth, duplicate keys, "\u0000" and non-UTF-8 decoded text.
 * Messages name a byte offset (0-based) or, for value-level problems, set
 * e->field to the path.
 */
int bff_json_parse(struct bff_arena *a, const char *text, size_t len, int max_depth,
                   struct bff_json **out, struct bff_error *e)
{
    struct parser p;
    yajl_handle h;
    yajl_status st;
    const char *nul;
    size_t i, at;
    int at_end = 0;

    *out = NULL;
    if (text == NULL)
        len = 0;
    for (i = 0; i < len; i++)
        if (!(text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r'))
            break;
    if (i == len)
        return bff_error_set(e, BFF_E_BAD_REQUEST, NULL, "malformed JSON: empty input");
    if ((nul = memchr(text, '\0', len)) != NULL)
        return bff_error_set(e, BFF_E_BAD_REQUEST, NULL, "malformed JSON: NUL byte at byte %zu",
                             (size_t)(nul - text));
    if (memmem(text, len, "\\u", 2) != NULL && lone_surrogate(text, len, &at))
        return bff_error_set(e, BFF_E_BAD_REQUEST, NULL,
                             "malformed JSON: unpaired surrogate in \\u escape at byte %zu", at);

    memset(&p, 0, sizeof p);
    p.a = a;
    p.e = e;
    p.max_depth = max_depth > 0 ? max_depth : 0;
    p.st = bff_arena_alloc(a, ((size_t)p.max_depth + 1) * sizeof *p.st);
    if ((h = yajl_alloc(&callbacks, NULL, &p)) == NULL)
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "yajl_alloc failed");
    /* yajl's defaults are the strict ones; say so explicitly. */
    yajl_config(h, yajl_allow_comments, 0);
    yajl_config(h, yajl_dont_validate_strings, 0);
    yajl_config(h, yajl_allow_trailing_garbage, 0);
    yajl_config(h, yajl_allow_multiple_values, 0);
    yajl_config(h, yajl_allow_partial_values, 0);

    st = yajl_parse(h, (const unsigned char *)text, len);
    if (st == yajl_status_ok) {
        st = yajl_complete_parse(h);
        at_end = 1;
    }
    if (st == yajl_status_client_canceled) {
        yajl_free(h);
        return -1; /* a callback filled e */
    }
    if (st != yajl_status_ok) {
        at = yajl_get_bytes_consumed(h);
        at = at_end ? len : at > 0 ? at - 1 : 0;
        yajl_failed(h, text, len, at, e);
        yajl_free(h);
        return -1;
    }
    yajl_free(h);
    *out = p.root;
    return 0;
}

const struct bff_json *bff_json_get(const struct bff_json *obj, const char *key)
{
    size_t i;

    if (obj == NULL || obj->type != BFF_JSON_OBJECT)
        return NULL;
    for (i = 0; i < obj->len; i++)
        if (strcmp(obj->keys[i], key) == 0)
            return obj->items[i];
    return NULL;
}

/* ---- validation ---- */

int bff_valid_date(const char *s, size_t len)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, dim, i;

    if (len != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return 0;
    y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    m = (s[5] - '0') * 10 + (s[6] - '0');
    d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return 0;
    dim = mdays[m - 1];
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        dim = 29;
    return d <= dim;
}

static int len_ok(size_t n, int64_t min, int64_t max)
{
    if (min > 0 && n < (uint64_t)min)
        return 0;
    return max <= 0 || n <= (uint64_t)max;
}

/* "must have between 1 and 200 characters" and its one-bound forms. */
static int len_error(struct bff_error *e, const char *path, int64_t min, int64_t max,
                     const char *unit)
{
    const char *f = path && path[0] ? path : NULL;

    if (max <= 0)
        return bff_error_set(e, BFF_E_BAD_REQUEST, f, "must have at least %" PRId64 " %s", min,
                             unit);
    if (min <= 0)
        return bff_error_set(e, BFF_E_BAD_REQUEST, f, "must have at most %" PRId64 " %s", max,
                             unit);
    if (min == max)
        return bff_error_set(e, BFF_E_BAD_REQUEST, f, "must have exactly %" PRId64 " %s", min,
                             unit);
    return bff_error_set(e, BFF_E_BAD_REQUEST, f,
                         "must have between %" PRId64 " and %" PRId64 " %s", min, max, unit);
}

/*
 * STRING: length in characters within min..max; CODE: 1..max characters
 * of [A-Za-z0-9._-]; DATE: a real YYYY-MM-DD date. 0 or -1 (bad_request).
 */
int bff_field_check_str(const struct bff_field *f, const char *s, size_t len, const char *path,
                        struct bff_error *e)
{
    const char *fp = path && path[0] ? path : NULL;
    size_t max;

    switch (f->type) {
    case BFF_F_STRING:
        if (!len_ok(bff_utf8_chars(s, len), f->min, f->max))
            return len_error(e, path, f->min, f->max, "characters");
        return 0;
    case BFF_F_CODE:
        max = f->max > 0 ? (size_t)f->max : SIZE_MAX;
        if (len == 0 || len > max || strlen(s) != len || !bff_is_code(s, max)) {
            if (f->max > 0)
                return bff_error_set(e, BFF_E_BAD_REQUEST, fp,
                                     "must be 1 to %" PRId64 " characters of [A-Za-z0-9._-]",
                                     f->max);
            return bff_error_set(e, BFF_E_BAD_REQUEST, fp,
                                 "must be 1 or more characters of [A-Za-z0-9._-]");
        }
        return 0;
    case BFF_F_DATE:
        if (!bff_valid_date(s, len))
            return bff_error_set(e, BFF_E_BAD_REQUEST, fp, "must be a date (YYYY-MM-DD)");
        return 0;
    default:
        return bff_error_set(e, BFF_E_INTERNAL, fp, "field type %d is not a string type",
                             (int)f->type);
    }
}

/* v within f->min..f->max, and not 0 under BFF_F_NONZERO. */
int bff_field_check_int(const struct bff_field *f, int64_t v, const char *path, struct bff_error *e)
{
    const char *fp = path && path[0] ? path : NULL;

    if (v < f->min || v > f->max)
        return bff_error_set(e, BFF_E_BAD_REQUEST, fp, "must be between %" PRId64 " and %" PRId64,
                             f->min, f->max);
    if ((f->flags & BFF_F_NONZERO) && v == 0)
        return bff_error_set(e, BFF_E_BAD_REQUEST, fp, "must not be 0");
    return 0;
}

static const struct bff_field no_fields[] = {{NULL, 0, 0, 0, 0, 0, NULL}};

static int check_value(const struct bff_json *v, const struct bff_field *f, char *path, size_t n,
                       struct bff_error *e);

/* v must be an object whose members all appear in fields, with every
 * REQUIRED field present. path[0..n) names v. */
static int check_object(const struct bff_json *v, const struct bff_field *fields, char *path,
                        size_t n, struct bff_error *e)
{
    const struct bff_field *f;
    size_t i, m;

    if (v->type != BFF_JSON_OBJECT)
        return bff_error_set(e, BFF_E_BAD_REQUEST, n ? path : NULL,
                             n ? "must be an object" : "expected a JSON object");
    if (fields == NULL)
        fields = no_fields;
    for (i = 0; i < v->len; i++) {
        for (f = fields; f->name; f++)
            if (strcmp(f->name, v->keys[i]) == 0)
                break;
        /* an empty key is named "" so that the error still points at it */
        m = v->keys[i][0] ? path_key(path, n, v->keys[i], strlen(v->keys[i]))
                          : path_key(path, n, "\"\"", 2);
        if (f->name == NULL)
            return bff_error_set(e, BFF_E_BAD_REQUEST, path, "unknown field");
        if (check_value(v->items[i], f, path, m, e))
            return -1;
        path[n] = '\0';
    }
    for (f = fields; f->name; f++)
        if ((f->flags & BFF_F_REQUIRED) && bff_json_get(v, f->name) == NULL) {
            path_key(path, n, f->name, strlen(f->name));
            return bff_error_set(e, BFF_E_BAD_REQUEST, path, "is required");
        }
    return 0;
}

static int check_array(const struct bff_json *v, const struct bff_field *f, char *path, size_t n,
                       struct bff_error *e)
{
    struct bff_field it;
    size_t i, m;

    if (v->type != BFF_JSON_ARRAY)
        return bff_error_set(e, BFF_E_BAD_REQUEST, path, "must be an array");
    if (!len_ok(v->len, f->min, f->max))
        return len_error(e, path, f->min, f->max, "items");
    if (f->item == BFF_F_ARRAY)
        return bff_error_set(e, BFF_E_INTERNAL, path, "arrays of arrays are not supported");
    if (f->item != BFF_F_OBJECT && f->sub != NULL) {
        it = f->sub[0]; /* bounds for each scalar item */
    } else {
        memset(&it, 0, sizeof it);
        it.min = f->item == BFF_F_INT ? INT64_MIN : 0;
        it.max = f->item == BFF_F_INT ? INT64_MAX : 0;
        it.sub = f->sub;
    }
    it.name = f->name;
    it.type = f->item;
    for (i = 0; i < v->len; i++) {
        m = path_index(path, n, i);
        if (check_value(v->items[i], &it, path, m, e))
            return -1;
        path[n] = '\0';
    }
    return 0;
}

/* One value against its field; path[0..n) names it. */
static int check_value(const struct bff_json *v, const struct bff_field *f, char *path, size_t n,
                       struct bff_error *e)
{
    if (v->type == BFF_JSON_NULL)
        return (f->flags & BFF_F_NULLABLE)
                   ? 0
                   : bff_error_set(e, BFF_E_BAD_REQUEST, path, "must not be null");
    switch (f->type) {
    case BFF_F_STRING:
    case BFF_F_CODE:
        if (v->type != BFF_JSON_STRING)
            return bff_error_set(e, BFF_E_BAD_REQUEST, path, "must be a string");
        return bff_field_check_str(f, v->s, v->len, path, e);
    case BFF_F_DATE:
        if (v->type != BFF_JSON_STRING)
            return bff_error_set(e, BFF_E_BAD_REQUEST, path, "must be a date (YYYY-MM-DD)");
        return bff_field_check_str(f, v->s, v->len, path, e);
    case BFF_F_INT:
        if (v->type != BFF_JSON_NUMBER || !v->is_int)
            return bff_error_set(e, BFF_E_BAD_REQUEST, path, "must be an integer");
        return bff_field_check_int(f, v->i, path, e);
    case BFF_F_BOOL:
        if (v->type != BFF_JSON_BOOL)
            return bff_error_set(e, BFF_E_BAD_REQUEST, path, "must be true or false");
        return 0;
    case BFF_F_OBJECT:
        return check_object(v, f->sub, path, n, e);
    case BFF_F_ARRAY:
        return check_array(v, f, path, n, e);
    }
    return bff_error_set(e, BFF_E_INTERNAL, path, "unknown field type %d", (int)f->type);
}

/*
 * Validate object v against fields (see json.h). Members are checked in
 * document order (unknown field, null, type, bounds), then missing
 * REQUIRED fields in table order; the first problem is reported.
 */
int bff_json_validate(const struct bff_json *v, const struct bff_field *fields, const char *path,
                      struct bff_error *e)
{
    char buf[PATHSZ];
    size_t n;

    if (path == NULL)
        path = "";
    buf[0] = '\0';
    n = path_put(buf, 0, path, strlen(path));
    if (v == NULL)
        return bff_error_set(e, BFF_E_BAD_REQUEST, n ? buf : NULL, "expected a JSON object");
    return check_object(v, fields, buf, n, e);
}
