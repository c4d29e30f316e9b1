/*
 * h_products.c — products and their stock (SPEC §4 Products).
 *
 * GET /api/products/{id}/ and /stock/ are cache-aside: product:{id} and
 * stock:{id}:warehouse:{wid|all} hold the response bodies; writes drop them
 * after commit (dispatch.c).
 */
#include <stdio.h>
#include <string.h>

#include "handlers.h"
#include "reply.h"

/* Field tables (what each body and query may hold). */
const struct bff_field bff_product_create_fields[] = {
    {"sku", BFF_F_CODE, BFF_F_REQUIRED, 1, 64, 0, NULL},
    {"name", BFF_F_STRING, BFF_F_REQUIRED, 1, 200, 0, NULL},
    {"min_shelf_life_days", BFF_F_INT, 0, 0, 36500, 0, NULL},
    {"reorder_point", BFF_F_INT, 0, 0, 1000000000000LL, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
const struct bff_field bff_product_patch_fields[] = {
    {"name", BFF_F_STRING, 0, 1, 200, 0, NULL},
    {"active", BFF_F_BOOL, 0, 0, 0, 0, NULL},
    {"min_shelf_life_days", BFF_F_INT, 0, 0, 36500, 0, NULL},
    {"reorder_point", BFF_F_INT, 0, 0, 1000000000000LL, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
const struct bff_field bff_product_list_query[] = {
    BFF_Q_PAGE,
    {"q", BFF_F_STRING, 0, 1, 200, 0, NULL},
    {"active", BFF_F_BOOL, 0, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};
const struct bff_field bff_stock_query[] = {
    {"warehouse", BFF_F_INT, 0, 1, INT64_MAX, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

static struct bff_stmt list_products = {
    "products_list",
    "SELECT bff_product_json(p), p.id FROM products p"
    " WHERE p.id > $1"
    "   AND ($2::text IS NULL OR lower(p.sku) LIKE lower(bff_like_escape($2)) || '%'"
    "        OR p.name ILIKE '%' || bff_like_escape($2) || '%')"
    "   AND ($3::boolean IS NULL OR p.active = $3)"
    " ORDER BY p.id LIMIT $4",
    4, 0};
static struct bff_stmt insert_product = {
    "products_insert",
    "INSERT INTO products (sku, name, min_shelf_life_days, reorder_point)"
    " VALUES ($1, $2, coalesce($3::integer, 0), coalesce($4::bigint, 0))"
    " RETURNING bff_product_json(products), id",
    4, 0};
static struct bff_stmt get_product = {
    "products_get", "SELECT bff_product_json(p) FROM products p WHERE p.id = $1", 1, 0};
static struct bff_stmt patch_product = {
    "products_patch",
    "UPDATE products SET name = coalesce($2, name), active = coalesce($3::boolean, active),"
    "       min_shelf_life_days = coalesce($4::integer, min_shelf_life_days),"
    "       reorder_point = coalesce($5::bigint, reorder_point), updated_at = now()"
    " WHERE id = $1 RETURNING bff_product_json(products)",
    5, 0};
static struct bff_stmt product_stock = {
    "products_stock",
    "SELECT bff_stock_json($1, $2),"
    "       $2::bigint IS NULL OR EXISTS (SELECT 1 FROM warehouses WHERE id = $2)",
    2, 0};

/* A JSON member as statement text: NULL when absent. */
static const char *member_text(struct bff_req *rq, const char *name)
{
    const struct bff_json *v = bff_json_get(rq->json, name);

    if (v == NULL || v->type == BFF_JSON_NULL)
        return NULL;
    switch (v->type) {
    case BFF_JSON_STRING:
        return v->s;
    case BFF_JSON_NUMBER:
        return v->num;
    case BFF_JSON_BOOL:
        return v->b ? "true" : "false";
    default:
        return NULL;
    }
}

const char *bff_member_text(struct bff_req *rq, const char *name)
{
    return member_text(rq, name);
}

int h_products_list(struct bff_req *rq, struct bff_resp *rs)
{
    int64_t limit = bff_query_int(&rq->query, "limit", BFF_PAGE_DEFAULT);
    const char *active = bff_query_get(&rq->query, "active");
    const char *p[4] = {bff_i64(rq->a, bff_query_int(&rq->query, "after", 0)),
                        bff_query_get(&rq->query, "q"), active, bff_i64(rq->a, limit + 1)};
    return bff_reply_list(rq, rs, &list_products, p, limit);
}

int h_products_create(struct bff_req *rq, struct bff_resp *rs)
{
    const char *p[4] = {member_text(rq, "sku"), member_text(rq, "name"),
                        member_text(rq, "min_shelf_life_days"), member_text(rq, "reorder_point")};
    struct bff_error e;
    PGresult *r;

    bff_error_clear(&e);
    if ((r = bff_db_query(&rq->ctx->db, rq->a, &insert_product, p, &e)) == NULL) {
        if (strcmp(e.sqlstate, "23505") == 0)
            return bff_resp_fail(rq, rs, BFF_E_CONFLICT, "sku",
                                 "a product with sku \"%s\" already exists", p[0]);
        return bff_resp_error(rq, rs, &e);
    }
    rs->location = bff_arena_sprintf(rq->a, "/api/products/%s/", PQgetvalue(r, 0, 1));
    return bff_reply_value(rs, r, 0, 201);
}

int h_products_get(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_ctx *ctx = rq->ctx;
    const char *id = bff_i64(rq->a, rq->params[0]);
    const char *key = bff_arena_sprintf(rq->a, "product:%s", id);
    const char *p[1] = {id};
    size_t len;
    char *hit;
    PGresult *r;
    int status;

    if ((hit = bff_cache_get(&ctx->cache, rq->a, key, &len)) != NULL)
        return bff_reply_raw(rs, hit, len, 200);
    if ((r = bff_req_query(rq, rs, &get_product, p, &status)) == NULL)
        return status;
    if (PQntuples(r) == 0)
        return bff_not_found(rq, rs, "product", rq->params[0]);
    bff_cache_set(&ctx->cache, key, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0),
                  ctx->cfg->cache_ttl);
    return bff_reply_value(rs, r, 0, 200);
}

int h_products_patch(struct bff_req *rq, struct bff_resp *rs)
{
    const char *id = bff_i64(rq->a, rq->params[0]);
    const char *p[5] = {id, member_text(rq, "name"), member_text(rq, "active"),
                        member_text(rq, "min_shelf_life_days"), member_text(rq, "reorder_point")};
    PGresult *r;
    int status;

    if ((r = bff_req_query(rq, rs, &patch_product, p, &status)) == NULL)
        return status;
    if (PQntuples(r) == 0)
        return bff_not_found(rq, rs, "product", rq->params[0]);
    bff_req_invalidate(rq, BFF_INVAL_KEY, bff_arena_sprintf(rq->a, "product:%s", id));
    bff_req_invalidate(rq, BFF_INVAL_STOCK, id);
    return bff_reply_value(rs, r, 0, 200);
}

int h_products_stock(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_ctx *ctx = rq->ctx;
    const char *id = bff_i64(rq->a, rq->params[0]);
    const char *wh = bff_query_get(&rq->query, "warehouse");
    const char *key = bff_arena_sprintf(rq->a, "stock:%s:warehouse:%s", id, wh ? wh : "all");
    const char *p[2] = {id, wh};
    size_t len;
    char *hit;
    PGresult *r;
    int status;

    if ((hit = bff_cache_get(&ctx->cache, rq->a, key, &len)) != NULL)
        return bff_reply_raw(rs, hit, len, 200);
    if ((r = bff_req_query(rq, rs, &product_stock, p, &status)) == NULL)
        return status;
    if (PQgetisnull(r, 0, 0))
        return bff_not_found(rq, rs, "product", rq->params[0]);
    if (PQgetvalue(r, 0, 1)[0] != 't')
        return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST, "warehouse",
                             "warehouse %s does not exist", wh);
    bff_cache_set_stock(&ctx->cache, id, key, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0),
                        ctx->cfg->cache_ttl);
    return bff_reply_value(rs, r, 0, 200);
}
