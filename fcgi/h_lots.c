/*
 * h_lots.c — receiving, listing, recall/release and cycle counts
 * (SPEC §4 Lots). The stock-changing work is in schema/0005_lots.sql, one
 * function call per request.
 */
#include <string.h>

#include "handlers.h"
#include "reply.h"

const struct bff_field bff_lot_receive_fields[] = {
    {"product_id", BFF_F_INT, BFF_F_REQUIRED, 1, INT64_MAX, 0, NULL},
    {"warehouse_id", BFF_F_INT, BFF_F_REQUIRED, 1, INT64_MAX, 0, NULL},
    {"lot_code", BFF_F_CODE, BFF_F_REQUIRED, 1, 64, 0, NULL},
    {"expires_on", BFF_F_DATE, BFF_F_REQUIRED, 0, 0, 0, NULL},
    {"quantity", BFF_F_INT, BFF_F_REQUIRED, 1, 1000000000, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
const struct bff_field bff_lot_patch_fields[] = {
    {"status", BFF_F_STRING, BFF_F_REQUIRED, 1, 20, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
const struct bff_field bff_lot_adjust_fields[] = {
    {"delta", BFF_F_INT, BFF_F_REQUIRED | BFF_F_NONZERO, -1000000000, 1000000000, 0, NULL},
    {"reason", BFF_F_STRING, BFF_F_REQUIRED, 1, 200, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
const struct bff_field bff_lot_list_query[] = {
    BFF_Q_PAGE,
    {"product", BFF_F_INT, 0, 1, INT64_MAX, 0, NULL},
    {"warehouse", BFF_F_INT, 0, 1, INT64_MAX, 0, NULL},
    {"status", BFF_F_STRING, 0, 1, 20, 0, NULL},
    {"expiring_within_days", BFF_F_INT, 0, 0, 36500, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

static struct bff_stmt receive = {
    "lots_receive", "SELECT status, body FROM bff_lot_receive($1, $2, $3, $4, $5, $6)", 6, 0};
static struct bff_stmt list_lots = {
    "lots_list",
    "SELECT bff_lot_json(l), l.id FROM lots l"
    " WHERE l.id > $1"
    "   AND ($2::bigint IS NULL OR l.product_id = $2)"
    "   AND ($3::bigint IS NULL OR l.warehouse_id = $3)"
    "   AND ($4::text IS NULL OR bff_lot_status(l) = $4)"
    "   AND ($5::integer IS NULL OR (l.expires_on > current_date"
    "                               AND l.expires_on <= current_date + $5::integer))"
    " ORDER BY l.id LIMIT $6",
    6, 0};
static struct bff_stmt get_lot = {
    "lots_get", "SELECT bff_lot_json(l) FROM lots l WHERE l.id = $1", 1, 0};
static struct bff_stmt set_status = {
    "lots_set_status", "SELECT body, product FROM bff_lot_set_status($1, $2, $3)", 3, 0};
static struct bff_stmt adjust = {
    "lots_adjust", "SELECT body, product FROM bff_lot_adjust($1, $2, $3, $4)", 4, 0};

static int is_status(const char *s)
{
    return strcmp(s, "available") == 0 || strcmp(s, "quarantined") == 0 ||
           strcmp(s, "expired") == 0;
}

int h_lots_receive(struct bff_req *rq, struct bff_resp *rs)
{
    const char *p[6] = {bff_i64(rq->a, rq->who.user_id), bff_member_text(rq, "product_id"),
                        bff_member_text(rq, "warehouse_id"), bff_member_text(rq, "lot_code"),
                        bff_member_text(rq, "expires_on"), bff_member_text(rq, "quantity")};
    PGresult *r;
    int status;

    if ((r = bff_req_query(rq, rs, &receive, p, &status)) == NULL)
        return status;
    bff_req_invalidate(rq, BFF_INVAL_STOCK, p[1]);
    return bff_reply_value(rs, r, 1, (int)bff_db_int(r, 0, 0));
}

int h_lots_list(struct bff_req *rq, struct bff_resp *rs)
{
    int64_t limit = bff_query_int(&rq->query, "limit", BFF_PAGE_DEFAULT);
    const char *status = bff_query_get(&rq->query, "status");
    const char *p[6] = {bff_i64(rq->a, bff_query_int(&rq->query, "after", 0)),
                        bff_query_get(&rq->query, "product"),
                        bff_query_get(&rq->query, "warehouse"), status,
                        bff_query_get(&rq->query, "expiring_within_days"),
                        bff_i64(rq->a, limit + 1)};

    if (status && !is_status(status))
        return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST, "status",
                             "status must be available, quarantined or expired");
    return bff_reply_list(rq, rs, &list_lots, p, limit);
}

int h_lots_get(struct bff_req *rq, struct bff_resp *rs)
{
    return bff_reply_get(rq, rs, &get_lot, "lot");
}

/* Run a lot function returning (body, product) and invalidate its stock. */
static int lot_change(struct bff_req *rq, struct bff_resp *rs, struct bff_stmt *st,
                      const char *const *p)
{
    struct bff_error e;
    PGresult *r;

    bff_error_clear(&e);
    if ((r = bff_db_query(&rq->ctx->db, rq->a, st, p, &e)) == NULL)
        return bff_resp_error(rq, rs, &e);
    bff_req_invalidate(rq, BFF_INVAL_STOCK, PQgetvalue(r, 0, 1));
    return bff_reply_value(rs, r, 0, 200);
}

int h_lots_patch(struct bff_req *rq, struct bff_resp *rs)
{
    const char *status = bff_member_text(rq, "status");
    const char *p[3] = {bff_i64(rq->a, rq->who.user_id), bff_i64(rq->a, rq->params[0]), status};

    if (strcmp(status, "quarantined") != 0 && strcmp(status, "available") != 0)
        return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST, "status",
                             "status must be \"quarantined\" or \"available\"");
    return lot_change(rq, rs, &set_status, p);
}

int h_lots_adjust(struct bff_req *rq, struct bff_resp *rs)
{
    const char *p[4] = {bff_i64(rq->a, rq->who.user_id), bff_i64(rq->a, rq->params[0]),
                        bff_member_text(rq, "delta"), bff_member_text(rq, "reason")};

    return lot_change(rq, rs, &adjust, p);
}
