/*
 * jsonw.c — streaming JSON writer into a bff_buf (see jsonw.h).
 *
 * State is one counter per open container: a value written where the
 * counter is non-zero is preceded by ','. A key counts as the element and
 * sets after_key, so its value gets no comma.
 */
#include "jsonw.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void bff_jw_init(struct bff_jw *w, struct bff_buf *b)
{
    w->b = b;
    w->depth = 0;
    w->after_key = 0;
}

/* Write the separator a new element needs, and count it. */
static void sep(struct bff_jw *w)
{
    if (w->after_key) {
        w->after_key = 0;
        return;
    }
    if (w->depth > 0) {
        unsigned char *c = &w->count[w->depth - 1];

        if (*c > 0)
            bff_buf_putc(w->b, ',');
        if (*c < 255)
            (*c)++;
    }
}

static void open_container(struct bff_jw *w, char open, char close)
{
    sep(w);
    if (w->depth >= BFF_JW_MAX_DEPTH) {
        /* Nesting is fixed by handler code, so this is a bug, not input. */
        fputs("bff: JSON writer nested deeper than BFF_JW_MAX_DEPTH\n", stderr);
        abort();
    }
    bff_buf_putc(w->b, open);
    w->count[w->depth] = 0;
    w->close[w->depth] = close;
    w->depth++;
}

void bff_jw_obj(struct bff_jw *w)
{
    open_container(w, '{', '}');
}

void bff_jw_arr(struct bff_jw *w)
{
    open_container(w, '[', ']');
}

void bff_jw_end(struct bff_jw *w)
{
    if (w->depth == 0)
        return;
    w->depth--;
    w->after_key = 0;
    bff_buf_putc(w->b, w->close[w->depth]);
}

void bff_jw_key(struct bff_jw *w, const char *k)
{
    size_t n = strlen(k);

    sep(w);
    bff_buf_reserve(w->b, n + 3);
    bff_buf_putc(w->b, '"');
    bff_json_escape(w->b, k, n);
    bff_buf_append(w->b, "\":", 2);
    w->after_key = 1;
}

void bff_jw_strn(struct bff_jw *w, const char *s, size_t n)
{
    sep(w);
    bff_buf_reserve(w->b, n + 2);
    bff_buf_putc(w->b, '"');
    bff_json_escape(w->b, s, n);
    bff_buf_putc(w->b, '"');
}

void bff_jw_str(struct bff_jw *w, const char *s)
{
    if (s == NULL)
        bff_jw_null(w);
    else
        bff_jw_strn(w, s, strlen(s));
}

void bff_jw_int(struct bff_jw *w, int64_t v)
{
    char tmp[24], *p = tmp + sizeof tmp;
    /* negate in unsigned arithmetic so INT64_MIN works */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--p = '-';
    sep(w);
    bff_buf_append(w->b, p, (size_t)(tmp + sizeof tmp - p));
}

/*
 * v with exactly `decimals` digits after the point (0..17); NaN and
 * infinities, which JSON cannot carry, are written as null. A value that
 * rounds to zero is written without a minus sign ("0.00", not "-0.00").
 */
void bff_jw_double(struct bff_jw *w, double v, int decimals)
{
    char tmp[400];
    const char *p = tmp;
    int n;

    if (!isfinite(v)) {
        bff_jw_null(w);
        return;
    }
    if (decimals < 0)
        decimals = 0;
    if (decimals > 17)
        decimals = 17;
    n = snprintf(tmp, sizeof tmp, "%.*f", decimals, v);
    if (n < 0 || (size_t)n >= sizeof tmp) { /* cannot happen for finite v */
        bff_jw_null(w);
        return;
    }
    if (tmp[0] == '-' && strspn(tmp + 1, "0.") == (size_t)n - 1) {
        p++;
        n--;
    }
    sep(w);
    bff_buf_append(w->b, p, (size_t)n);
}

void bff_jw_bool(struct bff_jw *w, int v)
{
    sep(w);
    if (v)
        bff_buf_append(w->b, "true", 4);
    else
        bff_buf_append(w->b, "false", 5);
}

void bff_jw_null(struct bff_jw *w)
{
    sep(w);
    bff_buf_append(w->b, "null", 4);
}

void bff_jw_raw(struct bff_jw *w, const char *json, size_t n)
{
    sep(w);
    bff_buf_append(w->b, json, n);
}

void bff_jw_kstr(struct bff_jw *w, const char *k, const char *s)
{
    bff_jw_key(w, k);
    bff_jw_str(w, s);
}

void bff_jw_kint(struct bff_jw *w, const char *k, int64_t v)
{
    bff_jw_key(w, k);
    bff_jw_int(w, v);
}

void bff_jw_kbool(struct bff_jw *w, const char *k, int v)
{
    bff_jw_key(w, k);
    bff_jw_bool(w, v);
}

void bff_jw_knull(struct bff_jw *w, const char *k)
{
    bff_jw_key(w, k);
    bff_jw_null(w);
}

void bff_jw_kobj(struct bff_jw *w, const char *k)
{
    bff_jw_key(w, k);
    bff_jw_obj(w);
}

void bff_jw_karr(struct bff_jw *w, const char *k)
{
    bff_jw_key(w, k);
    bff_jw_arr(w);
}

/*
 * Append s[0..n) JSON-escaped: '"', '\\' and control characters escaped
 * (\b \f \n \r \t, else \u00XX), well-formed UTF-8 copied as is, each byte
 * of ill-formed UTF-8 replaced by U+FFFD so the output is always valid
 * JSON text. Runs of bytes that need nothing are copied with one append.
 */
void bff_json_escape(struct bff_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
    const unsigned char *p = (const unsigned char *)s, *end = p + n, *run = p;

    while (p < end) {
        unsigned char c = *p;
        char esc[6];
        size_t k;

        if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0x80 && (k = bff_utf8_seq(p, (size_t)(end - p))) > 0) {
            p += k;
            continue;
        }
        if (p > run)
            bff_buf_append(b, run, (size_t)(p - run));
        if (c >= 0x80) {
            bff_buf_append(b, "\xEF\xBF\xBD", 3);
        } else {
            const char *q = memchr(from, c, sizeof from - 1);

            esc[0] = '\\';
            if (q != NULL) {
                esc[1] = to[q - from];
                k = 2;
            } else {
                esc[1] = 'u';
                esc[2] = '0';
                esc[3] = '0';
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 0xF];
                k = 6;
            }
            bff_buf_append(b, esc, k);
        }
        run = ++p;
    }
    if (p > run)
        bff_buf_append(b, run, (size_t)(p - run));
}
