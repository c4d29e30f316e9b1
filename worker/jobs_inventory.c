/*
 * jobs_inventory.c — the jobs that keep stock honest: holds that ran out,
 * lots past their date, the low-stock alert, warm stock metrics.
 */
#include <stdio.h>
#include <string.h>

#include "jsonw.h"
#include "log.h"
#include "mail.h"
#include "metrics_biz.h"
#include "worker.h"

/* Orders per call of bff_job_expire_reservations; a job loops until done. */
#define HOLD_BATCH 500
#define MAX_BATCHES 200
/* Products listed in one alert e-mail. */
#define ALERT_MAX 500

static struct bff_stmt st_expire_holds = {
    "job_expire_holds",
    "SELECT expired, products::text FROM bff_job_expire_reservations($1::int)", 1, 0};
static struct bff_stmt st_expire_lots = {
    "job_expire_lots", "SELECT expired, products::text FROM bff_job_expire_lots()", 0, 0};

/*
 * Products whose free stock (units of lots that are available and not past
 * their date, minus reserved: the `available` of /api/products/{id}/stock/)
 * is under their reorder point; active products with a reorder point only.
 */
static struct bff_stmt st_low_stock = {
    "job_low_stock",
    "SELECT p.id, p.sku, p.name, p.reorder_point, coalesce(s.available, 0),"
    "       count(*) OVER (), bff_ts(now())"
    "  FROM products p"
    "  LEFT JOIN (SELECT product_id, sum(on_hand - reserved) AS available FROM lots"
    "              WHERE status = 'available' AND expires_on > current_date"
    "              GROUP BY product_id) s ON s.product_id = p.id"
    " WHERE p.active AND p.reorder_point > 0 AND coalesce(s.available, 0) < p.reorder_point"
    " ORDER BY p.sku LIMIT $1::int",
    1, 0};

/* Run an expiry function returning (expired, products[]) `batches` times at
 * most, until it expires less than `batch`; total into *total. */
static int expire_loop(struct bff_job_ctx *ctx, struct bff_stmt *st, int batch, int batches,
                       int64_t *total, struct bff_error *e)
{
    char lim[16];
    const char *p[1] = {lim};
    int i;

    snprintf(lim, sizeof lim, "%d", batch);
    *total = 0;
    for (i = 0; i < batches; i++) {
        PGresult *r = bff_db_exec(ctx->db, st, p, e);
        int64_t n;

        if (r == NULL)
            return BFF_JOB_FAILED;
        n = bff_db_int(r, 0, 0);
        bff_job_invalidate_stock_array(ctx, PQgetvalue(r, 0, 1));
        PQclear(r);
        *total += n;
        if (n < batch)
            break;
    }
    return 0;
}

/* expire_reservations (every minute): reserved orders past reserved_until
 * become expired and release their stock. */
int job_expire_reservations(struct bff_job_ctx *ctx, struct bff_error *e)
{
    int64_t n;

    if (expire_loop(ctx, &st_expire_holds, HOLD_BATCH, MAX_BATCHES, &n, e) < 0)
        return BFF_JOB_FAILED;
    bff_buf_printf(ctx->result, "{\"expired_orders\":%lld,\"products\":%d}", (long long)n,
                   ctx->nstock);
    return 0;
}

/* expire_lots (hourly): lots past their date become expired (ledger
 * 'expire'); open allocations on them move to other lots, FEFO. */
int job_expire_lots(struct bff_job_ctx *ctx, struct bff_error *e)
{
    int64_t n;

    /* one call does every lot: INT_MAX as the "batch" stops the loop */
    if (expire_loop(ctx, &st_expire_lots, 0x7fffffff, 1, &n, e) < 0)
        return BFF_JOB_FAILED;
    bff_buf_printf(ctx->result, "{\"expired_lots\":%lld,\"products\":%d}", (long long)n,
                   ctx->nstock);
    return 0;
}

/* refresh_metrics (every 30 s): recompute metrics:stock and store it for
 * BFF_METRICS_CACHE_TTL, so /api/metrics/stock/ is a cache hit. */
int job_refresh_metrics(struct bff_job_ctx *ctx, struct bff_error *e)
{
    if (!bff_cache_enabled(ctx->cache)) {
        bff_buf_puts(ctx->result, "{\"cached\":false,\"reason\":\"cache not configured\"}");
        return 0;
    }
    if (bff_metrics_stock_refresh(ctx->db, ctx->cache, ctx->a, ctx->cfg->metrics_cache_ttl, e) < 0)
        return BFF_JOB_FAILED;
    bff_buf_printf(ctx->result, "{\"cached\":true,\"key\":\"%s\",\"ttl\":%d}",
                   BFF_METRICS_STOCK_KEY, ctx->cfg->metrics_cache_ttl);
    return 0;
}

/*
 * low_stock_alert (hourly): one e-mail to BFF_ALERT_EMAIL listing every
 * product whose available stock is under its reorder point; nothing when
 * there is none. bff-beat's slot key makes it once per hour; without SMTP
 * configured the job is done with "emailed": false and a warning.
 */
int job_low_stock_alert(struct bff_job_ctx *ctx, struct bff_error *e)
{
    struct bff_buf body = BFF_BUF_INIT;
    char lim[16], subject[160];
    const char *p[1] = {lim};
    PGresult *r;
    int i, n;
    int64_t total;
    int rc = 0;

    snprintf(lim, sizeof lim, "%d", ALERT_MAX);
    if ((r = bff_db_exec(ctx->db, &st_low_stock, p, e)) == NULL)
        return BFF_JOB_FAILED;
    n = PQntuples(r);
    total = n > 0 ? bff_db_int(r, 0, 5) : 0;
    if (n == 0) {
        PQclear(r);
        bff_buf_puts(ctx->result, "{\"low_products\":0,\"emailed\":false}");
        return 0;
    }
    bff_buf_printf(&body, "%lld product(s) under their reorder point, as of %s:\n\n",
                   (long long)total, PQgetvalue(r, 0, 6));
    bff_buf_printf(&body, "%-24s %12s %14s  %s\n", "SKU", "available", "reorder point", "name");
    for (i = 0; i < n; i++)
        bff_buf_printf(&body, "%-24s %12s %14s  %s\n", PQgetvalue(r, i, 1), PQgetvalue(r, i, 4),
                       PQgetvalue(r, i, 3), PQgetvalue(r, i, 2));
    if (total > n)
        bff_buf_printf(&body, "... and %lld more (GET /api/products/ to see them all)\n",
                       (long long)(total - n));
    bff_buf_puts(&body, "\nAvailable: units of lots that are available and within their date,"
                        " minus reserved.\n-- \nbff-worker low_stock_alert\n");
    PQclear(r);

    if (!bff_mail_configured(ctx->cfg)) {
        bff_log_warn(NULL, "low stock: e-mail not sent, BFF_SMTP_URL or BFF_ALERT_EMAIL unset",
                     "#low_products", bff_arena_sprintf(ctx->a, "%lld", (long long)total));
        bff_buf_printf(ctx->result,
                       "{\"low_products\":%lld,\"emailed\":false,\"reason\":\"smtp not configured\"}",
                       (long long)total);
        goto out;
    }
    snprintf(subject, sizeof subject, "[bff] Low stock: %lld product(s) under reorder point",
             (long long)total);
    if (bff_mail_send(ctx->cfg, ctx->cfg->alert_email, subject, bff_buf_cstr(&body), e) < 0) {
        rc = BFF_JOB_FAILED;
        goto out;
    }
    bff_buf_printf(ctx->result, "{\"low_products\":%lld,\"emailed\":true}", (long long)total);
out:
    bff_buf_free(&body);
    return rc;
}
