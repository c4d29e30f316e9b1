/*
 * json.h — strict JSON reader over yajl, with input declared as data.
 *
 * bff_json_parse() drives yajl's event parser (not yajl_tree, which has no
 * depth limit and frees recursively) and builds an arena tree, refusing:
 * depth > max_depth, duplicate keys, comments, trailing garbage, invalid
 * UTF-8 (strict: no overlong forms or surrogates), unpaired surrogate
 * escapes ("\ud800"), "\u0000" and NUL bytes, and empty input. Numbers
 * keep their source text; `is_int` is set only for a plain decimal integer
 * that fits int64 (not 1.5, 1e3, 1.0, 2^63; "-0" is the integer 0).
 *
 * bff_json_validate() checks an object against a field table: unknown
 * fields, missing required ones, wrong types and out-of-range values are
 * errors whose e->field is the JSON path ("lines[0].quantity") and whose
 * code is "bad_request".
 */
#ifndef BFF_JSON_H
#define BFF_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "error.h"

#define BFF_JSON_MAX_DEPTH 32

enum bff_json_type {
    BFF_JSON_NULL,
    BFF_JSON_BOOL,
    BFF_JSON_NUMBER,
    BFF_JSON_STRING,
    BFF_JSON_ARRAY,
    BFF_JSON_OBJECT
};

struct bff_json {
    enum bff_json_type type;
    int b;                   /* BOOL */
    const char *num;         /* NUMBER: source text (arena) */
    int is_int;              /* NUMBER: a decimal integer that fits int64 */
    int64_t i;               /* NUMBER with is_int */
    const char *s;           /* STRING: arena, NUL-terminated, valid UTF-8 */
    size_t len;              /* STRING: bytes; ARRAY/OBJECT: element count */
    struct bff_json **items; /* ARRAY items / OBJECT values, len of them */
    const char **keys;       /* OBJECT keys, len of them */
};

/* Parse text[0..len). 0 and *out, or -1 with e (code "bad_request"; msg
 * says what is wrong, e.g. "JSON nesting deeper than 32"). All memory in a. */
int bff_json_parse(struct bff_arena *a, const char *text, size_t len, int max_depth,
                   struct bff_json **out, struct bff_error *e);

/* Member of an object by key, or NULL (also when obj is not an object). */
const struct bff_json *bff_json_get(const struct bff_json *obj, const char *key);

enum bff_ftype {
    BFF_F_STRING,  /* min..max = length in UTF-8 characters */
    BFF_F_CODE,    /* 1..max chars of [A-Za-z0-9._-] (SKU, lot code) */
    BFF_F_INT,     /* integer in min..max (no 1.5, 1e3, "3", 2^63) */
    BFF_F_BOOL,
    BFF_F_DATE,    /* "YYYY-MM-DD", a real calendar date */
    BFF_F_OBJECT,  /* validated against sub */
    BFF_F_ARRAY    /* min..max elements, each of item type (objects: sub) */
};

#define BFF_F_REQUIRED 0x1
#define BFF_F_NULLABLE 0x2   /* JSON null is accepted */
#define BFF_F_NONZERO  0x4   /* INT: 0 refused (adjust delta) */

struct bff_field {
    const char *name;
    enum bff_ftype type;
    unsigned flags;
    int64_t min, max;
    enum bff_ftype item;               /* ARRAY element type */
    const struct bff_field *sub;       /* OBJECT fields, or ARRAY of OBJECT;
                                          ARRAY of scalars: sub[0], when
                                          given, bounds each item */
};
/* Tables end with {NULL}. */

/* Validate v (must be an object) against fields; `path` prefixes field
 * names in errors ("" at the top, "lines[2]" inside). 0 or -1 with e. */
int bff_json_validate(const struct bff_json *v, const struct bff_field *fields,
                      const char *path, struct bff_error *e);

/* Count UTF-8 characters in a valid UTF-8 string. */
size_t bff_utf8_chars(const char *s, size_t len);

/*
 * Length of the well-formed UTF-8 sequence at p[0..n) (1..4), or 0 when it
 * is not one: overlong forms, surrogates (U+D800..DFFF) and code points
 * above U+10FFFF are refused, as RFC 3629 requires.
 */
size_t bff_utf8_seq(const unsigned char *p, size_t n);
/* 1 when s[0..len) is well-formed UTF-8 (see bff_utf8_seq), else 0. */
int bff_utf8_valid(const char *s, size_t len);
/* The longest prefix of s[0..len) that is at most max bytes and does not
 * cut a UTF-8 character (for truncating names into messages). */
size_t bff_utf8_prefix(const char *s, size_t len, size_t max);

/* 1 when s[0..len) is "YYYY-MM-DD", a real calendar date in years
 * 0001..9999 (leap years per the Gregorian rule), else 0. */
int bff_valid_date(const char *s, size_t len);

/*
 * Check one scalar against f, naming `path` in errors, so JSON bodies and
 * query strings refuse the same values with the same messages.
 * bff_field_check_str: s[0..len) (valid UTF-8) as f->type STRING, CODE or
 * DATE. bff_field_check_int: v against f->min..f->max and BFF_F_NONZERO.
 * 0, or -1 with e ("bad_request", field = path).
 * For STRING, CODE and ARRAY a max of 0 means "no upper bound".
 */
int bff_field_check_str(const struct bff_field *f, const char *s, size_t len,
                        const char *path, struct bff_error *e);
int bff_field_check_int(const struct bff_field *f, int64_t v, const char *path,
                        struct bff_error *e);

#endif
