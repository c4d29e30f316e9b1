/*
 * cmd_seed.c — `bffctl seed-demo [--products N] [--warehouses W]
 * [--lots-per-product L]`: realistic demo data, fast.
 *
 * Warehouses DEMO-WH1..W; products DEMO-000001..N (Spanish perishables, a
 * fifth with a minimum shelf life of 3..14 days, reorder points 10..200);
 * L lots per product over the warehouses with spread expiries: about 3 %
 * already past their date (stored expired, as a receipt would), 10 %
 * within a week, the rest 2 weeks to a year out, 1 % quarantined. Every
 * lot has its `receive` row in the movement ledger (and a quarantined one
 * its status change), so `bffctl verify` stays clean.
 *
 * Set-based: one statement per batch of BATCH products inserts products,
 * lots, ledger rows and status changes together; each batch commits, and
 * a progress line on stderr counts them. 10,000 products x 5 lots take a
 * few seconds.
 *
 * Idempotent: it adds the demo products that do not exist yet (by SKU),
 * each with its lots, and never touches an existing product, its lots or
 * anything else — so running it again adds nothing, a larger --products
 * adds the rest, and no cached entry can go stale.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "util.h"

#define BATCH 2000

static struct bff_stmt warehouses = {
    "seed_warehouses",
    "WITH names(name, n) AS (SELECT * FROM unnest(ARRAY['Madrid Central', 'Barcelona Norte',"
    "    'Valencia Puerto', 'Sevilla Sur', 'Bilbao Ría', 'Zaragoza Logística',"
    "    'Málaga Costa', 'Vigo Atlántico']) WITH ORDINALITY AS t(name, n))"
    " INSERT INTO warehouses (code, name)"
    " SELECT 'DEMO-WH' || w, coalesce((SELECT name FROM names WHERE n = w), 'Almacén ' || w)"
    "   FROM generate_series(1, $1::int) AS w"
    " ON CONFLICT (code) DO NOTHING",
    1, 0};
static struct bff_stmt warehouse_ids = {
    "seed_warehouse_ids",
    "SELECT array_agg(id ORDER BY substr(code, 8)::int)::text FROM warehouses"
    " WHERE code ~ '^DEMO-WH[0-9]+$' AND substr(code, 8)::int <= $1::int",
    1, 0};

/*
 * One batch: products $1..$2 that do not exist yet, $3 lots each over
 * warehouses $4 (bigint[]). Returns (products added, lots added).
 */
static struct bff_stmt batch = {
    "seed_batch",
    "WITH new_p AS ("
    "  INSERT INTO products (sku, name, min_shelf_life_days, reorder_point)"
    "  SELECT 'DEMO-' || lpad(i::text, 6, '0'),"
    "         format('%s %s %s',"
    "           (ARRAY['Leche entera', 'Leche desnatada', 'Yogur natural', 'Yogur griego',"
    "                  'Queso fresco', 'Queso curado', 'Mantequilla', 'Nata para cocinar',"
    "                  'Zumo de naranja', 'Gazpacho', 'Hummus', 'Pan de molde',"
    "                  'Jamón cocido', 'Pechuga de pavo', 'Huevos camperos', 'Tofu', 'Kéfir',"
    "                  'Salmón ahumado', 'Ensalada preparada', 'Tortilla de patata'])[1 + i % 20],"
    "           (ARRAY['eco', 'sin lactosa', 'light', 'familiar', 'bio', 'premium',"
    "                  'de granja', 'gourmet'])[1 + (i / 20) % 8],"
    "           (ARRAY['125 g', '250 g', '500 g', '1 kg', '1 L', '6 ud'])[1 + (i / 160) % 6]),"
    "         CASE WHEN i % 5 = 0 THEN 3 + i % 12 ELSE 0 END,"
    "         10 * (1 + (i * 37) % 20)"
    "    FROM generate_series($1::int, $2::int) AS i"
    "  ON CONFLICT (sku) DO NOTHING"
    "  RETURNING id, sku),"
    " plan AS ("
    "  SELECT p.id AS product_id, k,"
    "         ($4::bigint[])[1 + (p.i + k) % cardinality($4::bigint[])] AS warehouse_id,"
    "         (p.i * 7919 + k * 104729) % 1000 AS r,"
    "         10 + (p.i * 31 + k * 17) % 490 AS qty, p.i"
    "    FROM (SELECT id, substr(sku, 6)::int AS i FROM new_p) p"
    "   CROSS JOIN generate_series(1, $3::int) AS k),"
    " dated AS ("
    "  SELECT *, current_date + CASE WHEN r < 30 THEN -(1 + r % 20)"
    "                                WHEN r < 130 THEN 1 + r % 7"
    "                                ELSE 14 + (r * 13 + i) % 350 END AS expires_on"
    "    FROM plan),"
    " new_l AS ("
    "  INSERT INTO lots (product_id, warehouse_id, lot_code, expires_on, on_hand, status)"
    "  SELECT product_id, warehouse_id, 'L' || to_char(expires_on, 'YYMMDD') || '-' || k,"
    "         expires_on, qty,"
    "         CASE WHEN expires_on <= current_date THEN 'expired'"
    "              WHEN r >= 990 THEN 'quarantined' ELSE 'available' END"
    "    FROM dated"
    "  ON CONFLICT (product_id, warehouse_id, lot_code) DO NOTHING"
    "  RETURNING id, product_id, on_hand, status),"
    " mv AS ("
    "  INSERT INTO movements (lot_id, kind, on_hand_delta, reason)"
    "  SELECT id, 'receive', on_hand, 'seed-demo' FROM new_l),"
    " st AS ("
    "  INSERT INTO lot_status_changes (lot_id, status)"
    "  SELECT id, 'quarantined' FROM new_l WHERE status = 'quarantined')"
    " SELECT (SELECT count(*) FROM new_p), (SELECT count(*) FROM new_l)",
    4, 0};
static struct bff_stmt totals = {
    "seed_totals",
    "SELECT count(*), count(*) FILTER (WHERE l.status = 'expired'),"
    "       count(*) FILTER (WHERE l.status = 'quarantined'),"
    "       count(*) FILTER (WHERE l.status = 'available'"
    "                        AND l.expires_on <= current_date + 7),"
    "       count(DISTINCT l.warehouse_id)"
    "  FROM lots l JOIN products p ON p.id = l.product_id WHERE p.sku LIKE 'DEMO-%'",
    0, 0};

/* --name VALUE as a bounded integer; 0, or the usage error's status. */
static int int_opt(const char *cmd, int argc, char **argv, int *i, int64_t min, int64_t max,
                   int64_t *out)
{
    const char *name = argv[*i];

    if (*i + 1 >= argc)
        return bffctl_usage_error(cmd, "%s needs a value", name);
    if (bff_parse_int64(argv[++*i], min, max, out) != 0)
        return bffctl_usage_error(cmd, "%s must be an integer from %" PRId64 " to %" PRId64, name,
                                  min, max);
    return 0;
}

/* Run st in its own transaction; the result, or NULL with e. */
static PGresult *run(struct bff_db *db, struct bff_stmt *st, const char *const *p,
                     struct bff_error *e)
{
    PGresult *r;

    if (bff_db_begin(db, e) != 0)
        return NULL;
    if ((r = bff_db_exec(db, st, p, e)) == NULL) {
        bff_db_rollback(db);
        return NULL;
    }
    if (bff_db_commit(db, e) != 0) {
        PQclear(r);
        return NULL;
    }
    return r;
}

int cmd_seed_demo(int argc, char **argv)
{
    int64_t nprod = 1000, nwh = 3, nlots = 5, from, added_p = 0, added_l = 0;
    char a[24], b[24], c[24], w[24], *wids = NULL;
    const char *p[4] = {a, b, c, NULL};
    struct bff_error e;
    struct bff_db db;
    PGresult *r;
    int i, rc;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--products") == 0)
            rc = int_opt(argv[0], argc, argv, &i, 1, 999999, &nprod);
        else if (strcmp(argv[i], "--warehouses") == 0)
            rc = int_opt(argv[0], argc, argv, &i, 1, 50, &nwh);
        else if (strcmp(argv[i], "--lots-per-product") == 0)
            rc = int_opt(argv[0], argc, argv, &i, 1, 50, &nlots);
        else
            rc = bffctl_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
        if (rc != 0)
            return rc;
    }
    if (bffctl_db_open(argv[0], &db) != 0)
        return 1;
    bff_error_clear(&e);
    snprintf(w, sizeof w, "%" PRId64, nwh);
    p[0] = w;
    if ((r = run(&db, &warehouses, p, &e)) == NULL)
        goto fail;
    PQclear(r);
    if ((r = bff_db_exec(&db, &warehouse_ids, p, &e)) == NULL)
        goto fail;
    wids = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);

    p[0] = a;
    p[3] = wids;
    snprintf(c, sizeof c, "%" PRId64, nlots);
    for (from = 1; from <= nprod; from += BATCH) {
        int64_t to = from + BATCH - 1 < nprod ? from + BATCH - 1 : nprod;

        snprintf(a, sizeof a, "%" PRId64, from);
        snprintf(b, sizeof b, "%" PRId64, to);
        if ((r = run(&db, &batch, p, &e)) == NULL)
            goto fail;
        added_p += bff_db_int(r, 0, 0);
        added_l += bff_db_int(r, 0, 1);
        PQclear(r);
        fprintf(stderr, "\rseed-demo: %" PRId64 "/%" PRId64 " products", to, nprod);
        fflush(stderr);
    }
    fputc('\n', stderr);
    if (bff_db_exec_sql(&db, "ANALYZE products; ANALYZE lots; ANALYZE movements", &e) != 0)
        goto fail;
    if ((r = bff_db_exec(&db, &totals, NULL, &e)) == NULL)
        goto fail;
    printf("seed-demo: added %" PRId64 " products and %" PRId64 " lots; demo data now has %s "
           "lots in %s warehouses (%s expired, %s quarantined, %s expiring within 7 days)\n",
           added_p, added_l, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 4), PQgetvalue(r, 0, 1),
           PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
    PQclear(r);
    free(wids);
    bff_db_close(&db);
    return 0;
fail:
    free(wids);
    bff_db_close(&db);
    return bffctl_fail(argv[0], "%s", e.msg);
}
