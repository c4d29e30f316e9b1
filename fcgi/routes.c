/*
 * routes.c — the menu. One line per endpoint; the dispatcher refuses
 * (404, 405, 401/403, 413/415, malformed JSON) before a handler runs.
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#include "handlers.h"

#define PUB BFF_R_PUBLIC
#define BODY BFF_R_BODY

/* permission shorthands */
#define P_R "products.read"
#define P_W "products.write"
#define S_R "stock.read"
#define S_W "stock.write"
#define O_R "orders.read"
#define O_W "orders.write"
#define M_R "metrics.read"

const struct bff_route bff_routes[] = {
    /* method  pattern                        handler            perm  flags  body  query */
    {"GET",  "/health/",                      h_health,          NULL, PUB, NULL, NULL},
    {"GET",  "/health/database/",             h_health_database, NULL, PUB, NULL, NULL},
    {"GET",  "/health/cache/",                h_health_cache,    NULL, PUB, NULL, NULL},
    {"GET",  "/health/smtp/",                 h_health_smtp,     NULL, PUB, NULL, NULL},
    /* login: no transaction of its own, no Idempotency-Key (no user yet) */
    {"POST", "/api/auth/token/",              h_auth_token,      NULL, PUB | BODY | BFF_R_NOTX,
     bff_login_fields, NULL},

    {"GET",  "/api/products/",                h_products_list,   P_R, 0, NULL, bff_product_list_query},
    {"POST", "/api/products/",                h_products_create, P_W, BODY, bff_product_create_fields, NULL},
    {"GET",  "/api/products/{id}/",           h_products_get,    P_R, 0, NULL, NULL},
    {"PATCH","/api/products/{id}/",           h_products_patch,  P_W, BODY, bff_product_patch_fields, NULL},
    {"GET",  "/api/products/{id}/stock/",     h_products_stock,  S_R, 0, NULL, bff_stock_query},

    {"GET",  "/api/warehouses/",              h_warehouses_list, P_R, 0, NULL, bff_warehouse_list_query},
    {"POST", "/api/warehouses/",              h_warehouses_create, P_W, BODY, bff_warehouse_create_fields, NULL},
    {"GET",  "/api/warehouses/{id}/",         h_warehouses_get,  P_R, 0, NULL, NULL},

    {"GET",  "/api/lots/",                    h_lots_list,       S_R, 0, NULL, bff_lot_list_query},
    {"POST", "/api/lots/",                    h_lots_receive,    S_W, BODY, bff_lot_receive_fields, NULL},
    {"GET",  "/api/lots/{id}/",               h_lots_get,        S_R, 0, NULL, NULL},
    {"PATCH","/api/lots/{id}/",               h_lots_patch,      S_W, BODY, bff_lot_patch_fields, NULL},
    {"POST", "/api/lots/{id}/adjust/",        h_lots_adjust,     S_W, BODY, bff_lot_adjust_fields, NULL},

    {"GET",  "/api/orders/",                  h_orders_list,     O_R, 0, NULL, bff_order_list_query},
    {"POST", "/api/orders/",                  h_orders_create,   O_W, BODY, bff_order_create_fields, NULL},
    {"GET",  "/api/orders/{id}/",             h_orders_get,      O_R, 0, NULL, NULL},
    {"POST", "/api/orders/{id}/confirm/",     h_orders_confirm,  O_W, 0, NULL, NULL},
    {"POST", "/api/orders/{id}/cancel/",      h_orders_cancel,   O_W, 0, NULL, NULL},
    /* picks are optional: an empty body ships the allocations */
    {"POST", "/api/orders/{id}/ship/",        h_orders_ship,     O_W, BODY | BFF_R_OPTBODY,
     bff_order_ship_fields, NULL},

    {"GET",  "/api/metrics/stock/",           h_metrics_stock,   M_R, 0, NULL, NULL},
    {"GET",  "/api/metrics/orders/",          h_metrics_orders,  M_R, 0, NULL, NULL},
    {"GET",  "/api/metrics/fefo/",            h_metrics_fefo,    M_R, 0, NULL, bff_metrics_fefo_query},
    {"GET",  "/api/metrics/system/",          h_metrics_system,  M_R, 0, NULL, NULL},
    {"GET",  "/api/metrics/performance/",     h_metrics_performance, M_R, 0, NULL, NULL},
    {"GET",  "/api/bff/dashboard/",           h_dashboard,       M_R, 0, NULL, NULL},
    /* Prometheus scrape: public in the app, nginx admits loopback only */
    {"GET",  "/metrics",                      h_metrics_prometheus, NULL, PUB, NULL, NULL},
    {"POST", "/api/admin/cache/invalidate/",  h_admin_cache_invalidate, "admin", BODY,
     bff_cache_invalidate_fields, NULL},
    {NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

/*
 * Match path against pattern segment by segment. "{id}" takes a positive
 * decimal int64 without leading zeros; a trailing '/' on either side is
 * optional. Returns 1 on match, filling params.
 */
int bff_pattern_match(const char *pat, const char *path, int64_t *params, int *np)
{
    int n = 0;

    for (;;) {
        /* the path may add the slash a slash-less pattern lacks, never more */
        if (*pat == '\0' && (*path == '\0' || (path[0] == '/' && path[1] == '\0' &&
                                                 pat[-1] != '/')))
            break;
        if (*path == '\0' && pat[0] == '/' && pat[1] == '\0')
            break;
        if (pat[0] == '{') {
            const char *close = strchr(pat, '}');
            int64_t v = 0;

            if (*path < '1' || *path > '9' || n >= BFF_MAX_PATH_PARAMS)
                return 0;
            while (*path >= '0' && *path <= '9') {
                int d = *path - '0';

                if (v > (INT64_MAX - d) / 10)
                    return 0;
                v = v * 10 + d;
                path++;
            }
            params[n++] = v;
            pat = close + 1;
            continue;
        }
        if (*pat != *path)
            return 0;
        pat++;
        path++;
    }
    *np = n;
    return 1;
}

enum bff_match bff_route_match(const char *method, const char *path,
                               const struct bff_route **out, int64_t *params,
                               int *nparams, char *allow, size_t allowsz)
{
    const struct bff_route *r;
    int path_seen = 0;
    size_t used = 0;

    if (allowsz)
        allow[0] = '\0';
    for (r = bff_routes; r->method; r++) {
        int64_t p[BFF_MAX_PATH_PARAMS];
        int np = 0;

        if (!bff_pattern_match(r->pattern, path, p, &np))
            continue;
        /* HEAD is GET without the body (curl -I in the runbook) */
        if (strcmp(r->method, method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(r->method, "GET") == 0)) {
            *out = r;
            memcpy(params, p, sizeof p);
            *nparams = np;
            return BFF_MATCH_OK;
        }
        path_seen = 1;
        if (used < allowsz && !strstr(allow, r->method)) {
            int w = snprintf(allow + used, allowsz - used, "%s%s", used ? ", " : "", r->method);

            if (w > 0)
                used += (size_t)w;
        }
    }
    return path_seen ? BFF_MATCH_NOMETHOD : BFF_MATCH_NOPATH;
}
