/*
 * h_orders.c — FEFO reservations and their lifecycle (SPEC §4 Orders).
 *
 * Each request is one function call in schema/0004_fefo.sql, inside the
 * transaction dispatch.c opened (with Idempotency-Key handling and whole-
 * transaction retries on deadlock/serialization/lock timeout).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers.h"
#include "reply.h"

static const struct bff_field line_fields[] = {
    {"product_id", BFF_F_INT, 0, 1, INT64_MAX, 0, NULL},
    {"sku", BFF_F_CODE, 0, 1, 64, 0, NULL},
    {"quantity", BFF_F_INT, BFF_F_REQUIRED, 1, 1000000000, 0, NULL},
    {"min_shelf_life_days", BFF_F_INT, 0, 0, 36500, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
const struct bff_field bff_order_create_fields[] = {
    {"external_ref", BFF_F_STRING, BFF_F_NULLABLE, 1, 100, 0, NULL},
    {"warehouse_id", BFF_F_INT, BFF_F_NULLABLE, 1, INT64_MAX, 0, NULL},
    {"hold_seconds", BFF_F_INT, 0, 1, 86400, 0, NULL},
    {"lines", BFF_F_ARRAY, BFF_F_REQUIRED, 1, 100, BFF_F_OBJECT, line_fields},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
static const struct bff_field pick_fields[] = {
    {"line", BFF_F_INT, BFF_F_REQUIRED, 1, 100, 0, NULL},
    {"lot_id", BFF_F_INT, BFF_F_REQUIRED, 1, INT64_MAX, 0, NULL},
    {"quantity", BFF_F_INT, BFF_F_REQUIRED, 1, 1000000000, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
const struct bff_field bff_order_ship_fields[] = {
    {"picks", BFF_F_ARRAY, 0, 1, 1000, BFF_F_OBJECT, pick_fields},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
const struct bff_field bff_order_list_query[] = {
    BFF_Q_PAGE,
    {"status", BFF_F_STRING, 0, 1, 20, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

static struct bff_stmt create = {
    "orders_create",
    "SELECT status, body, products FROM bff_order_create($1, $2, $3, $4, $5)", 5, 0};
static struct bff_stmt get_order = {
    "orders_get", "SELECT bff_order_json($1)", 1, 0};
static struct bff_stmt list_orders = {
    "orders_list",
    "SELECT bff_order_json(o.id), o.id FROM orders o"
    " WHERE o.id > $1 AND ($2::text IS NULL OR"
    "   (CASE WHEN o.status = 'reserved' AND o.reserved_until <= now() THEN 'expired'"
    "         ELSE o.status END) = $2)"
    " ORDER BY o.id LIMIT $3",
    3, 0};
static struct bff_stmt confirm = {
    "orders_confirm", "SELECT bff_order_confirm($1, $2), NULL::bigint[]", 2, 0};
static struct bff_stmt cancel = {
    "orders_cancel", "SELECT body, products FROM bff_order_cancel($1, $2)", 2, 0};
static struct bff_stmt ship = {
    "orders_ship", "SELECT body, products FROM bff_order_ship($1, $2, $3)", 3, 0};

static int is_order_status(const char *s)
{
    static const char *ok[] = {"reserved", "confirmed", "shipped", "cancelled", "expired", NULL};
    int i;

    for (i = 0; ok[i]; i++)
        if (strcmp(ok[i], s) == 0)
            return 1;
    return 0;
}

/* Invalidate the stock of every product id in a bigint[] literal "{1,2}". */
static void invalidate_products(struct bff_req *rq, const char *arr)
{
    const char *p = arr;

    while (p && *p) {
        char *end;
        long long id;

        while (*p && (*p < '0' || *p > '9'))
            p++;
        if (!*p)
            break;
        id = strtoll(p, &end, 10);
        bff_req_invalidate(rq, BFF_INVAL_STOCK, bff_i64(rq->a, id));
        p = end;
    }
}

/*
 * The lines as the JSON the reservation function takes, checking what a
 * field table cannot: exactly one of product_id and sku per line.
 */
static int lines_json(struct bff_req *rq, struct bff_resp *rs, const char **out)
{
    const struct bff_json *lines = bff_json_get(rq->json, "lines");
    struct bff_buf b = BFF_BUF_INIT;
    struct bff_jw w;
    size_t i;

    bff_jw_init(&w, &b);
    bff_jw_arr(&w);
    for (i = 0; i < lines->len; i++) {
        const struct bff_json *l = lines->items[i];
        const struct bff_json *pid = bff_json_get(l, "product_id"), *sku = bff_json_get(l, "sku"),
                              *q = bff_json_get(l, "quantity"),
                              *shelf = bff_json_get(l, "min_shelf_life_days");

        if ((pid != NULL) == (sku != NULL)) {
            bff_buf_free(&b);
            return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST,
                                 bff_arena_sprintf(rq->a, "lines[%zu]", i),
                                 "each line needs exactly one of product_id and sku");
        }
        bff_jw_obj(&w);
        if (pid)
            bff_jw_kint(&w, "product_id", pid->i);
        else
            bff_jw_kstr(&w, "sku", sku->s);
        bff_jw_kint(&w, "quantity", q->i);
        if (shelf)
            bff_jw_kint(&w, "min_shelf_life_days", shelf->i);
        bff_jw_end(&w);
    }
    bff_jw_end(&w);
    *out = bff_arena_strndup(rq->a, b.data, b.len);
    bff_buf_free(&b);
    return 0;
}

int h_orders_create(struct bff_req *rq, struct bff_resp *rs)
{
    const struct bff_json *hold = bff_json_get(rq->json, "hold_seconds");
    const char *lines = NULL, *p[5];
    struct bff_error e;
    PGresult *r;
    int status;

    if ((status = lines_json(rq, rs, &lines)) != 0)
        return status;
    p[0] = bff_i64(rq->a, rq->who.user_id);
    p[1] = bff_member_text(rq, "external_ref");
    p[2] = bff_member_text(rq, "warehouse_id");
    p[3] = hold ? hold->num : bff_i64(rq->a, rq->ctx->cfg->reservation_hold);
    p[4] = lines;
    bff_error_clear(&e);
    if ((r = bff_db_query(&rq->ctx->db, rq->a, &create, p, &e)) == NULL) {
        if (strcmp(e.sqlstate, "23505") == 0)   /* external_ref raced */
            return bff_resp_fail(rq, rs, BFF_E_CONFLICT, "external_ref",
                                 "an order with external_ref \"%s\" already exists", p[1]);
        return bff_resp_error(rq, rs, &e);
    }
    status = (int)bff_db_int(r, 0, 0);
    if (status == 409) {
        /* insufficient_stock: the error shape plus the shortages */
        const char *body = PQgetvalue(r, 0, 1);
        const char *arr = strchr(body, '[');

        bff_buf_reset(rs->body);
        bff_jw_init(&rs->w, rs->body);
        bff_jw_obj(&rs->w);
        bff_jw_kobj(&rs->w, "error");
        bff_jw_kstr(&rs->w, "code", BFF_E_INSUFFICIENT);
        bff_jw_kstr(&rs->w, "message", "not enough eligible stock for every line; nothing was reserved");
        bff_jw_kstr(&rs->w, "request_id", rq->request_id);
        bff_jw_key(&rs->w, "shortages");
        bff_jw_raw(&rs->w, arr, strlen(arr) - 1);   /* {"shortages" : [...]} → [...] */
        bff_jw_end(&rs->w);
        bff_jw_end(&rs->w);
        return 409;
    }
    invalidate_products(rq, PQgetvalue(r, 0, 2));
    return bff_reply_value(rs, r, 1, 201);
}

int h_orders_get(struct bff_req *rq, struct bff_resp *rs)
{
    return bff_reply_get(rq, rs, &get_order, "order");
}

int h_orders_list(struct bff_req *rq, struct bff_resp *rs)
{
    int64_t limit = bff_query_int(&rq->query, "limit", BFF_PAGE_DEFAULT);
    const char *status = bff_query_get(&rq->query, "status");
    const char *p[3] = {bff_i64(rq->a, bff_query_int(&rq->query, "after", 0)), status,
                        bff_i64(rq->a, limit + 1)};

    if (status && !is_order_status(status))
        return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST, "status",
                             "status must be reserved, confirmed, shipped, cancelled or expired");
    return bff_reply_list(rq, rs, &list_orders, p, limit);
}

/* One transition function returning (body, products). */
static int transition(struct bff_req *rq, struct bff_resp *rs, struct bff_stmt *st,
                      const char *const *p)
{
    struct bff_error e;
    PGresult *r;

    bff_error_clear(&e);
    if ((r = bff_db_query(&rq->ctx->db, rq->a, st, p, &e)) == NULL)
        return bff_resp_error(rq, rs, &e);
    if (!PQgetisnull(r, 0, 1))
        invalidate_products(rq, PQgetvalue(r, 0, 1));
    return bff_reply_value(rs, r, 0, 200);
}

int h_orders_confirm(struct bff_req *rq, struct bff_resp *rs)
{
    const char *p[2] = {bff_i64(rq->a, rq->params[0]), bff_i64(rq->a, rq->who.user_id)};

    return transition(rq, rs, &confirm, p);
}

int h_orders_cancel(struct bff_req *rq, struct bff_resp *rs)
{
    const char *p[2] = {bff_i64(rq->a, rq->params[0]), bff_i64(rq->a, rq->who.user_id)};

    return transition(rq, rs, &cancel, p);
}

int h_orders_ship(struct bff_req *rq, struct bff_resp *rs)
{
    const struct bff_json *picks = rq->json ? bff_json_get(rq->json, "picks") : NULL;
    const char *p[3] = {bff_i64(rq->a, rq->params[0]), bff_i64(rq->a, rq->who.user_id), NULL};

    if (picks) {
        struct bff_buf b = BFF_BUF_INIT;
        struct bff_jw w;
        size_t i;

        bff_jw_init(&w, &b);
        bff_jw_arr(&w);
        for (i = 0; i < picks->len; i++) {
            bff_jw_obj(&w);
            bff_jw_kint(&w, "line", bff_json_get(picks->items[i], "line")->i);
            bff_jw_kint(&w, "lot_id", bff_json_get(picks->items[i], "lot_id")->i);
            bff_jw_kint(&w, "quantity", bff_json_get(picks->items[i], "quantity")->i);
            bff_jw_end(&w);
        }
        bff_jw_end(&w);
        p[2] = bff_arena_strndup(rq->a, b.data, b.len);
        bff_buf_free(&b);
    }
    return transition(rq, rs, &ship, p);
}
