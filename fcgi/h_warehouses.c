/*
 * h_warehouses.c — warehouses (SPEC §4 Warehouses).
 */
#include <string.h>

#include "handlers.h"
#include "reply.h"

const struct bff_field bff_warehouse_create_fields[] = {
    {"code", BFF_F_CODE, BFF_F_REQUIRED, 1, 64, 0, NULL},
    {"name", BFF_F_STRING, BFF_F_REQUIRED, 1, 200, 0, NULL},
    {"active", BFF_F_BOOL, 0, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
const struct bff_field bff_warehouse_list_query[] = {
    BFF_Q_PAGE,
    {NULL, 0, 0, 0, 0, 0, NULL},
};

static struct bff_stmt list_warehouses = {
    "warehouses_list",
    "SELECT bff_warehouse_json(w), w.id FROM warehouses w WHERE w.id > $1 ORDER BY w.id LIMIT $2",
    2, 0};
static struct bff_stmt insert_warehouse = {
    "warehouses_insert",
    "INSERT INTO warehouses (code, name, active) VALUES ($1, $2, coalesce($3::boolean, true))"
    " RETURNING bff_warehouse_json(warehouses), id",
    3, 0};
static struct bff_stmt get_warehouse = {
    "warehouses_get", "SELECT bff_warehouse_json(w) FROM warehouses w WHERE w.id = $1", 1, 0};

int h_warehouses_list(struct bff_req *rq, struct bff_resp *rs)
{
    int64_t limit = bff_query_int(&rq->query, "limit", BFF_PAGE_DEFAULT);
    const char *p[2] = {bff_i64(rq->a, bff_query_int(&rq->query, "after", 0)),
                        bff_i64(rq->a, limit + 1)};
    return bff_reply_list(rq, rs, &list_warehouses, p, limit);
}

int h_warehouses_create(struct bff_req *rq, struct bff_resp *rs)
{
    const char *p[3] = {bff_member_text(rq, "code"), bff_member_text(rq, "name"),
                        bff_member_text(rq, "active")};
    struct bff_error e;
    PGresult *r;

    bff_error_clear(&e);
    if ((r = bff_db_query(&rq->ctx->db, rq->a, &insert_warehouse, p, &e)) == NULL) {
        if (strcmp(e.sqlstate, "23505") == 0)
            return bff_resp_fail(rq, rs, BFF_E_CONFLICT, "code",
                                 "a warehouse with code \"%s\" already exists", p[0]);
        return bff_resp_error(rq, rs, &e);
    }
    rs->location = bff_arena_sprintf(rq->a, "/api/warehouses/%s/", PQgetvalue(r, 0, 1));
    return bff_reply_value(rs, r, 0, 201);
}

int h_warehouses_get(struct bff_req *rq, struct bff_resp *rs)
{
    return bff_reply_get(rq, rs, &get_warehouse, "warehouse");
}
