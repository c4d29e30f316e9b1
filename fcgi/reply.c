/*
 * reply.c — see reply.h.
 */
#include "reply.h"

#include <inttypes.h>
#include <stdlib.h>

int bff_reply_raw(struct bff_resp *rs, const char *json, size_t len, int status)
{
    bff_buf_reset(rs->body);
    bff_buf_append(rs->body, json, len);
    return status;
}

int bff_reply_value(struct bff_resp *rs, const PGresult *r, int col, int status)
{
    return bff_reply_raw(rs, PQgetvalue(r, 0, col), (size_t)PQgetlength(r, 0, col), status);
}

int bff_reply_page(struct bff_resp *rs, const PGresult *r, int json_col, int id_col,
                   int64_t limit)
{
    int n = PQntuples(r), i, shown = n > limit ? (int)limit : n;

    bff_jw_obj(&rs->w);
    bff_jw_karr(&rs->w, "items");
    for (i = 0; i < shown; i++)
        bff_jw_raw(&rs->w, PQgetvalue(r, i, json_col), (size_t)PQgetlength(r, i, json_col));
    bff_jw_end(&rs->w);
    if (n > limit)
        bff_jw_kint(&rs->w, "next_after", strtoll(PQgetvalue(r, shown - 1, id_col), NULL, 10));
    else
        bff_jw_knull(&rs->w, "next_after");
    bff_jw_end(&rs->w);
    return 200;
}

const char *bff_i64(struct bff_arena *a, int64_t v)
{
    return bff_arena_sprintf(a, "%" PRId64, v);
}

int bff_not_found(struct bff_req *rq, struct bff_resp *rs, const char *what, int64_t id)
{
    return bff_resp_fail(rq, rs, BFF_E_NOT_FOUND, NULL, "%s %" PRId64 " does not exist", what, id);
}

PGresult *bff_req_query(struct bff_req *rq, struct bff_resp *rs, struct bff_stmt *st,
                        const char *const *params, int *status)
{
    struct bff_error e;
    PGresult *r;

    bff_error_clear(&e);
    if ((r = bff_db_query(&rq->ctx->db, rq->a, st, params, &e)) == NULL)
        *status = bff_resp_error(rq, rs, &e);
    return r;
}

int bff_reply_get(struct bff_req *rq, struct bff_resp *rs, struct bff_stmt *st,
                  const char *what)
{
    const char *p[1] = {bff_i64(rq->a, rq->params[0])};
    PGresult *r;
    int status;

    if ((r = bff_req_query(rq, rs, st, p, &status)) == NULL)
        return status;
    if (PQntuples(r) == 0 || PQgetisnull(r, 0, 0))
        return bff_not_found(rq, rs, what, rq->params[0]);
    return bff_reply_value(rs, r, 0, 200);
}

int bff_reply_list(struct bff_req *rq, struct bff_resp *rs, struct bff_stmt *st,
                   const char *const *params, int64_t limit)
{
    PGresult *r;
    int status;

    if ((r = bff_req_query(rq, rs, st, params, &status)) == NULL)
        return status;
    return bff_reply_page(rs, r, 0, 1, limit);
}
