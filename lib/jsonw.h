/*
 * jsonw.h — a streaming JSON writer into a bff_buf.
 *
 * Commas are tracked per nesting level, so handlers write values in order
 * and never think about separators:
 *     bff_jw_obj(w); bff_jw_kint(w, "id", 7); bff_jw_kstr(w, "sku", s);
 *     bff_jw_end(w);
 * Strings are escaped per RFC 8259 (control characters as \u00XX, '"', '\\');
 * valid UTF-8 passes through. The writer never allocates beyond the buf.
 */
#ifndef BFF_JSONW_H
#define BFF_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define BFF_JW_MAX_DEPTH 64

struct bff_jw {
    struct bff_buf *b;
    int depth;
    unsigned char count[BFF_JW_MAX_DEPTH];   /* values written per level (saturates) */
    char close[BFF_JW_MAX_DEPTH];            /* '}' or ']' */
    int after_key;                           /* a key was written; next value is its */
};

void bff_jw_init(struct bff_jw *w, struct bff_buf *b);
void bff_jw_obj(struct bff_jw *w);      /* { */
void bff_jw_arr(struct bff_jw *w);      /* [ */
void bff_jw_end(struct bff_jw *w);      /* } or ] for the innermost */
void bff_jw_key(struct bff_jw *w, const char *k);
void bff_jw_str(struct bff_jw *w, const char *s);        /* NULL writes null */
void bff_jw_strn(struct bff_jw *w, const char *s, size_t n);
void bff_jw_int(struct bff_jw *w, int64_t v);
void bff_jw_double(struct bff_jw *w, double v, int decimals);
void bff_jw_bool(struct bff_jw *w, int v);
void bff_jw_null(struct bff_jw *w);
void bff_jw_raw(struct bff_jw *w, const char *json, size_t n);  /* pre-rendered value */

/* key + value shorthands */
void bff_jw_kstr(struct bff_jw *w, const char *k, const char *s);
void bff_jw_kint(struct bff_jw *w, const char *k, int64_t v);
void bff_jw_kbool(struct bff_jw *w, const char *k, int v);
void bff_jw_knull(struct bff_jw *w, const char *k);
void bff_jw_kobj(struct bff_jw *w, const char *k);
void bff_jw_karr(struct bff_jw *w, const char *k);

/* Append s JSON-escaped (without quotes) to b. */
void bff_json_escape(struct bff_buf *b, const char *s, size_t n);

#endif
