/*
 * handlers.h — every handler named in the route table, and the field
 * tables their bodies and queries are validated against.
 * Signature: int h_x(struct bff_req *, struct bff_resp *) → HTTP status.
 */
#ifndef BFF_HANDLERS_H
#define BFF_HANDLERS_H

#include "json.h"
#include "request.h"

/* h_health.c */
int h_health(struct bff_req *rq, struct bff_resp *rs);
int h_health_database(struct bff_req *rq, struct bff_resp *rs);
int h_health_cache(struct bff_req *rq, struct bff_resp *rs);
int h_health_smtp(struct bff_req *rq, struct bff_resp *rs);

/* h_auth.c */
extern const struct bff_field bff_login_fields[];
int h_auth_token(struct bff_req *rq, struct bff_resp *rs);

/* h_products.c */
extern const struct bff_field bff_product_create_fields[], bff_product_patch_fields[],
    bff_product_list_query[], bff_stock_query[];
int h_products_list(struct bff_req *rq, struct bff_resp *rs);
int h_products_create(struct bff_req *rq, struct bff_resp *rs);
int h_products_get(struct bff_req *rq, struct bff_resp *rs);
int h_products_patch(struct bff_req *rq, struct bff_resp *rs);
int h_products_stock(struct bff_req *rq, struct bff_resp *rs);
/* A body member as statement text (strings, numbers' source text,
 * "true"/"false"), or NULL when absent or null. */
const char *bff_member_text(struct bff_req *rq, const char *name);

/* h_warehouses.c */
extern const struct bff_field bff_warehouse_create_fields[], bff_warehouse_list_query[];
int h_warehouses_list(struct bff_req *rq, struct bff_resp *rs);
int h_warehouses_create(struct bff_req *rq, struct bff_resp *rs);
int h_warehouses_get(struct bff_req *rq, struct bff_resp *rs);

/* h_lots.c */
extern const struct bff_field bff_lot_receive_fields[], bff_lot_patch_fields[],
    bff_lot_adjust_fields[], bff_lot_list_query[];
int h_lots_receive(struct bff_req *rq, struct bff_resp *rs);
int h_lots_list(struct bff_req *rq, struct bff_resp *rs);
int h_lots_get(struct bff_req *rq, struct bff_resp *rs);
int h_lots_patch(struct bff_req *rq, struct bff_resp *rs);
int h_lots_adjust(struct bff_req *rq, struct bff_resp *rs);

/* h_orders.c */
extern const struct bff_field bff_order_create_fields[], bff_order_ship_fields[],
    bff_order_list_query[];
int h_orders_create(struct bff_req *rq, struct bff_resp *rs);
int h_orders_list(struct bff_req *rq, struct bff_resp *rs);
int h_orders_get(struct bff_req *rq, struct bff_resp *rs);
int h_orders_confirm(struct bff_req *rq, struct bff_resp *rs);
int h_orders_cancel(struct bff_req *rq, struct bff_resp *rs);
int h_orders_ship(struct bff_req *rq, struct bff_resp *rs);

/* h_metrics.c (SPEC §4 Metrics) */
extern const struct bff_field bff_metrics_fefo_query[];
int h_metrics_stock(struct bff_req *rq, struct bff_resp *rs);
int h_metrics_orders(struct bff_req *rq, struct bff_resp *rs);
int h_metrics_fefo(struct bff_req *rq, struct bff_resp *rs);
int h_metrics_system(struct bff_req *rq, struct bff_resp *rs);
int h_metrics_performance(struct bff_req *rq, struct bff_resp *rs);
int h_metrics_prometheus(struct bff_req *rq, struct bff_resp *rs);

/* h_dashboard.c */
int h_dashboard(struct bff_req *rq, struct bff_resp *rs);

/* h_admin.c (SPEC §4 Cache admin) */
extern const struct bff_field bff_cache_invalidate_fields[];
int h_admin_cache_invalidate(struct bff_req *rq, struct bff_resp *rs);

#endif
