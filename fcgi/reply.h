/*
 * reply.h — the few shapes every handler answers with.
 */
#ifndef BFF_REPLY_H
#define BFF_REPLY_H

#include <stdint.h>

#include "request.h"

/* Default and largest page size of every list (SPEC §4 Lists). */
#define BFF_PAGE_DEFAULT 50
#define BFF_PAGE_MAX 200

/* Query fields every list accepts; list tables start with these two. */
#define BFF_Q_PAGE                                                   \
    {"limit", BFF_F_INT, 0, 1, BFF_PAGE_MAX, 0, NULL},                \
    {"after", BFF_F_INT, 0, 0, INT64_MAX, 0, NULL}

/* Body = the JSON text in column col of row 0; returns status. */
int bff_reply_value(struct bff_resp *rs, const PGresult *r, int col, int status);
/* Body = raw JSON text; returns status. */
int bff_reply_raw(struct bff_resp *rs, const char *json, size_t len, int status);

/*
 * {"items":[...],"next_after":id|null} from rows whose json_col holds an
 * item and id_col its id, fetched with LIMIT limit + 1: a row past the
 * limit means more may follow.
 */
int bff_reply_page(struct bff_resp *rs, const PGresult *r, int json_col, int id_col,
                   int64_t limit);

/*
 * Run a declared statement for a handler: the result (cleared with the
 * arena), or NULL after writing the error response, whose status is then
 * in *status.
 */
PGresult *bff_req_query(struct bff_req *rq, struct bff_resp *rs, struct bff_stmt *st,
                        const char *const *params, int *status);

/* GET one resource: st takes the {id} path parameter and returns its JSON
 * in column 0 (no row or NULL: 404 "<what> <id> does not exist"). */
int bff_reply_get(struct bff_req *rq, struct bff_resp *rs, struct bff_stmt *st,
                  const char *what);

/* A list page: st returns (item json, id) rows under LIMIT limit + 1. */
int bff_reply_list(struct bff_req *rq, struct bff_resp *rs, struct bff_stmt *st,
                   const char *const *params, int64_t limit);

/* Decimal text of v in the arena (statement parameters). */
const char *bff_i64(struct bff_arena *a, int64_t v);

/* 404 naming what is missing. */
int bff_not_found(struct bff_req *rq, struct bff_resp *rs, const char *what, int64_t id);

#endif
