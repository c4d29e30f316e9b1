/*
 * inv.h — helpers of the inventory end-to-end suites (check_e2e_catalog,
 * check_e2e_fefo, check_e2e_orders, check_e2e_race): a token per test,
 * authenticated requests, and fixtures made through the API with names
 * unique to the run (pid + counter), so suites never see each other's data.
 *
 * Every helper fails the test on an unexpected answer; strings returned are
 * static or malloc'd as stated.
 */
#ifndef BFF_T_INV_H
#define BFF_T_INV_H

#include <stddef.h>

#include "harness.h"

/* A fresh token (t_token perms, "*" = superuser) used by the inv_ requests
 * that follow in this process. Returns it (static). */
const char *inv_login(const char *perms);

/* method path [json body] with the current token (and an Idempotency-Key
 * when key is non-NULL). */
void inv_req(const char *method, const char *path, const char *body, const char *key,
             struct http_resp *r);
/* Same with a printf-formatted body; NULL fmt = no body. */
void inv_reqf(const char *method, const char *path, struct http_resp *r, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* current_date + days in the database's clock, "YYYY-MM-DD" (ring of
 * static buffers: up to 8 live at once). */
const char *inv_date(int days);

/* A unique code "<prefix><pid>-<n>" (ring of static buffers). */
const char *inv_code(const char *prefix);

/* Fixtures through the API; each asserts 201 and returns the new id. */
long long inv_product(int min_shelf_life_days);
long long inv_warehouse(void);
/* Receive qty of product into wh expiring current_date + days. */
long long inv_lot(long long product, long long wh, int days, long long qty);

/* A lot's column (on_hand, reserved, ...) read from the database. */
long long inv_lot_col(long long lot, const char *col);
/* A SQL integer (first value of the first row). */
long long inv_sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Rows in bff_violations. */
long long inv_violations(void);

/* JSON access. */
yajl_val inv_at(yajl_val arr, size_t i); /* NULL when out of range */
size_t inv_len(yajl_val arr);            /* 0 when not an array */
/* The integer at the path, failing the test when absent. */
long long inv_int(yajl_val v, ...);

/* Assert the status, printing the body otherwise. */
void inv_expect(const struct http_resp *r, long status);

/* GET /api/products/{id}/stock/ (body malloc'd via the response). */
void inv_stock(long long product, struct http_resp *r);
/* GET /api/orders/{id}/ into r, which must be 200. */
void inv_order(long long id, struct http_resp *r);

/* The test Redis (BFF_TEST_REDIS_URL): does key exist; drop key. */
int inv_redis_exists(const char *key);
void inv_redis_del(const char *key);

/* Run ctl/bffctl (BFF_TEST_BUILDDIR) with args against the test database;
 * its stdout in out (malloc'd, may be NULL). Returns the exit status. */
int inv_bffctl(const char *args, char **out);

#endif
