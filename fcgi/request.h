/*
 * request.h — what a handler sees and what it writes.
 *
 * The request layer (main.c + dispatch.c) fills struct bff_req from FastCGI
 * params, reads and parses the body, and only then calls the handler. A
 * handler has one signature (lwan's):
 *     int h_x(struct bff_req *rq, struct bff_resp *rs);
 * It returns the HTTP status and writes its JSON body into rs->body (a
 * buffer it does not own). Only the request layer writes headers.
 */
#ifndef BFF_REQUEST_H
#define BFF_REQUEST_H

#include <stdint.h>

#include "arena.h"
#include "auth.h"
#include "buf.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "json.h"
#include "jsonw.h"
#include "query.h"

#define BFF_MAX_PATH_PARAMS 4

struct bff_metrics;

/* Process-lifetime state (STYLE: one struct bff_ctx), built before the
 * accept loop, never in the arena. */
struct bff_ctx {
    const struct bff_config *cfg;
    struct bff_db db;
    struct bff_cache cache;
    struct bff_buf body;       /* response body, reused across requests */
    struct bff_arena *arena;   /* per request, reset after each */
    struct bff_metrics *metrics; /* shared-memory request metrics; NULL when
                                    the segment could not be opened */
};

struct bff_route;

struct bff_req {
    struct bff_ctx *ctx;
    struct bff_arena *a;           /* == ctx->arena */
    const char *method;            /* "GET", ... */
    const char *path;              /* decoded path without query */
    const char *query_string;      /* raw, "" when none */
    struct bff_query query;        /* parsed query parameters */
    const char *request_id;        /* the client's if sane, else generated */
    const char *content_type;      /* may be NULL */
    const char *authorization;     /* may be NULL */
    const char *idempotency_key;   /* may be NULL */
    const char *remote_addr;
    const char *body;              /* raw body (NUL-terminated), may be NULL */
    size_t body_len;
    struct bff_json *json;         /* parsed body for routes that take one */
    const struct bff_route *route; /* matched route */
    int64_t params[BFF_MAX_PATH_PARAMS];  /* {id} path parameters, in order */
    int nparams;
    struct bff_principal who;      /* authenticated caller (user_id 0: none) */
    int64_t start_us;
    int attempts_left;             /* whole-transaction retries still allowed */
    int ninval;                    /* cache keys to invalidate after commit */
    struct {
        const char *key;
        int kind;                  /* BFF_INVAL_KEY, BFF_INVAL_PATTERN, BFF_INVAL_STOCK */
    } inval[32];
};

#define BFF_INVAL_KEY 0
#define BFF_INVAL_PATTERN 1
#define BFF_INVAL_STOCK 2         /* key = product id: every stock:{id}:warehouse:* */

struct bff_resp {
    struct bff_buf *body;          /* == &ctx->body */
    struct bff_jw w;               /* writer over body, ready to use */
    const char *allow;             /* Allow header for 405 */
    int retry_after;               /* Retry-After seconds for 503, 0 = none */
    const char *location;          /* Location for 201, may be NULL */
    int retry;                     /* the error was a retryable database conflict */
    int replayed;                  /* an Idempotency-Key replay */
    int www_authenticate;          /* add WWW-Authenticate: Bearer (401) */
    const char *content_type;      /* NULL: application/json; charset=utf-8 */
};

/* Invalidate a cache key (or every stock entry of a product) once the
 * request's transaction has committed; kept in the request, so work that
 * rolls back invalidates nothing. */
void bff_req_invalidate(struct bff_req *rq, int kind, const char *key);

/* The i-th {id} path parameter (0-based), or 0 when absent. */
int64_t bff_req_param(const struct bff_req *rq, int i);

typedef int (*bff_handler)(struct bff_req *rq, struct bff_resp *rs);

/*
 * Write the SPEC error body {"error":{"code","message","field"?,
 * "request_id"}} for e into rs and return the HTTP status for e->code.
 * Internal codes ("internal", "unavailable") get a generic message; the
 * detail goes to the error log with the request id.
 */
int bff_resp_error(struct bff_req *rq, struct bff_resp *rs, const struct bff_error *e);
/* Shorthand: build the error from code/field/message and respond. */
int bff_resp_fail(struct bff_req *rq, struct bff_resp *rs, const char *code,
                  const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

#endif
