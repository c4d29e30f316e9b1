/*
 * routes.h — the route table: one row per endpoint of SPEC §4.
 */
#ifndef BFF_ROUTES_H
#define BFF_ROUTES_H

#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "request.h"

/* Route flags. */
#define BFF_R_PUBLIC   0x01   /* no Authorization needed (/health/, login, /metrics) */
#define BFF_R_BODY     0x02   /* takes a JSON object body, validated by `body` */
#define BFF_R_NOTX     0x04   /* a POST that runs no transaction (login) */
#define BFF_R_OPTBODY  0x08   /* with BFF_R_BODY: an empty body is fine too */

struct bff_route {
    const char *method;                /* "GET", "POST", "PATCH" */
    const char *pattern;               /* "/api/products/{id}/"; {id} = positive int64 */
    bff_handler handler;
    const char *perm;                  /* permission needed, NULL with BFF_R_PUBLIC */
    unsigned flags;
    const struct bff_field *body;      /* accepted body fields (BFF_R_BODY) */
    const struct bff_field *query;     /* accepted query parameters; NULL = none */
};

/* The table, ending with a {NULL} sentinel. */
extern const struct bff_route bff_routes[];

/* Match one pattern ("/api/orders/{id}/ship/") against a path; 1 and the
 * {id} values in params[0..*np), or 0. params holds BFF_MAX_PATH_PARAMS. */
int bff_pattern_match(const char *pat, const char *path, int64_t *params, int *np);

enum bff_match { BFF_MATCH_OK, BFF_MATCH_NOPATH, BFF_MATCH_NOMETHOD };

/*
 * Find the route for method + path. A path matches a pattern with or
 * without its trailing slash. On OK, *out and params/nparams are set; on
 * NOMETHOD, allow holds the methods the path does answer ("GET, PATCH").
 */
enum bff_match bff_route_match(const char *method, const char *path,
                               const struct bff_route **out, int64_t *params,
                               int *nparams, char *allow, size_t allowsz);

#endif
