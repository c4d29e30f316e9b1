/*
 * query.h — the query string, parsed and validated like a JSON body.
 *
 * bff_query_parse() splits and URL-decodes QUERY_STRING into arena strings;
 * bff_query_validate() checks every parameter against the same struct
 * bff_field tables JSON bodies use (STRING, CODE, INT, BOOL, DATE), so an
 * unknown or bad parameter is a 400 "bad_request" whose field is the
 * parameter's name. Handlers then read values with the typed getters.
 */
#ifndef BFF_QUERY_H
#define BFF_QUERY_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "error.h"
#include "json.h"

/* More parameters than this is a 400 (no route takes more than a few). */
#define BFF_QUERY_MAX_PARAMS 64

struct bff_query {
    size_t n;
    const char **keys; /* arena strings, URL-decoded, valid UTF-8, unique */
    const char **vals; /* arena strings, URL-decoded ("" for "k=" or "k") */
};

/*
 * Parse a raw QUERY_STRING ("a=1&b=x%20y"; NULL or "" is no parameters)
 * into out, all memory in a. '+' is a space; "k" without '=' has the value
 * ""; empty pieces ("a=1&&b=2", a trailing '&') are skipped. 0, or -1 with e
 * ("bad_request") for bad percent-encoding, a NUL or invalid UTF-8 after
 * decoding, an empty name, a duplicate name or more than
 * BFF_QUERY_MAX_PARAMS parameters; e->field is the parameter's name, or
 * "query" when no name can be given.
 */
int bff_query_parse(struct bff_arena *a, const char *qs, struct bff_query *out,
                    struct bff_error *e);

/*
 * Check every parameter against fields (a {NULL}-terminated table; types
 * STRING, CODE, INT, BOOL ("true"/"false"), DATE, with the same bounds and
 * messages as bff_json_validate). 0, or -1 with e ("bad_request", field =
 * the name): "unknown query parameter", "is required", or the value's fault.
 */
int bff_query_validate(const struct bff_query *q, const struct bff_field *fields,
                       struct bff_error *e);

/* The decoded value of key (borrowed from the arena), or NULL when absent. */
const char *bff_query_get(const struct bff_query *q, const char *key);

/* Typed getters, for after bff_query_validate: the value, or def when the
 * parameter is absent (or, unvalidated, not a valid int/bool). */
int64_t bff_query_int(const struct bff_query *q, const char *key, int64_t def);
int bff_query_bool(const struct bff_query *q, const char *key, int def);

#endif
