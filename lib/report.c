/*
 * report.c — see report.h.
 */
#include "report.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "json.h"

static struct bff_stmt st_store = {
    "report_store",
    "INSERT INTO reports (month, data) VALUES ($1::date, bff_report_monthly_json($1::date)) "
    "ON CONFLICT (month) DO UPDATE SET data = EXCLUDED.data, computed_at = now()"
    " WHERE reports.data IS DISTINCT FROM EXCLUDED.data",
    1, 0};
static struct bff_stmt st_get = {
    "report_get",
    "SELECT data::text, bff_ts(computed_at), bff_ts(emailed_at) FROM reports"
    " WHERE month = $1::date",
    1, 0};
static struct bff_stmt st_emailed = {
    "report_emailed",
    "UPDATE reports SET emailed_at = now() WHERE month = $1::date AND emailed_at IS NULL", 1, 0};

int bff_report_month_valid(const char *s)
{
    int i;

    if (s == NULL || strlen(s) != 7 || s[4] != '-')
        return 0;
    for (i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return 0;
    if (s[0] < '2')
        return 0;
    return (s[5] == '0' && s[6] >= '1') || (s[5] == '1' && s[6] <= '2');
}

void bff_report_month_before(const char *month, char *out)
{
    int y = 0, m = 0;

    sscanf(month, "%4d-%2d", &y, &m);
    if (--m == 0) {
        m = 12;
        y--;
    }
    snprintf(out, 8, "%04d-%02d", y, m);
}

void bff_report_previous_month(time_t t, char *out)
{
    struct tm tm;
    char cur[16];

    gmtime_r(&t, &tm);
    snprintf(cur, sizeof cur, "%04d-%02d", tm.tm_year + 1900, tm.tm_mon + 1);
    bff_report_month_before(cur, out);
}

static const char *num(const struct bff_json *o, const char *k)
{
    const struct bff_json *v = bff_json_get(o, k);

    if (v == NULL || v->type == BFF_JSON_NULL)
        return "n/a";
    return v->type == BFF_JSON_NUMBER ? v->num : v->type == BFF_JSON_STRING ? v->s : "?";
}

/* The figures as a few lines of text. */
static const char *render(struct bff_arena *a, const char *json)
{
    struct bff_buf b = BFF_BUF_INIT;
    struct bff_json *d;
    const struct bff_json *top;
    struct bff_error e;
    const char *out;
    size_t i;

    if (bff_json_parse(a, json, strlen(json), BFF_JSON_MAX_DEPTH, &d, &e) < 0)
        return bff_arena_strdup(a, json);
    bff_buf_printf(&b, "bff monthly report for %s (UTC)\n\n", num(d, "month"));
    bff_buf_printf(&b, "Orders created:      %s\n", num(d, "orders_created"));
    bff_buf_printf(&b, "Orders shipped:      %s\n", num(d, "orders_shipped"));
    bff_buf_printf(&b, "Orders cancelled:    %s\n", num(d, "orders_cancelled"));
    bff_buf_printf(&b, "Orders expired:      %s\n", num(d, "orders_expired"));
    bff_buf_printf(&b, "Units shipped:       %s\n", num(d, "units_shipped"));
    if (strcmp(num(d, "fefo_efficiency_pct"), "n/a") == 0)
        bff_buf_puts(&b, "FEFO efficiency:     n/a (no orders shipped)\n");
    else
        bff_buf_printf(&b, "FEFO efficiency:     %s %% (%s of %s shipped orders compliant)\n",
                       num(d, "fefo_efficiency_pct"), num(d, "fefo_compliant_orders"),
                       num(d, "orders_shipped"));
    bff_buf_printf(&b, "Lots expired:        %s\n", num(d, "lots_expired"));
    top = bff_json_get(d, "top_products");
    bff_buf_puts(&b, "\nTop products by units shipped:\n");
    if (top == NULL || top->type != BFF_JSON_ARRAY || top->len == 0)
        bff_buf_puts(&b, "  (none shipped)\n");
    for (i = 0; top && top->type == BFF_JSON_ARRAY && i < top->len; i++) {
        const struct bff_json *p = top->items[i];

        bff_buf_printf(&b, "  %2zu. %-20s %-40s %s units\n", i + 1, num(p, "sku"), num(p, "name"),
                       num(p, "units_shipped"));
    }
    out = bff_arena_strdup(a, bff_buf_cstr(&b));
    bff_buf_free(&b);
    return out;
}

int bff_report_monthly(struct bff_db *db, struct bff_arena *a, const char *month,
                       struct bff_report *out, struct bff_error *e)
{
    char day[16];
    const char *p[1] = {day};
    PGresult *r;

    memset(out, 0, sizeof *out);
    if (!bff_report_month_valid(month))
        return bff_error_set(e, BFF_E_BAD_REQUEST, "month", "month must be YYYY-MM, not '%s'",
                             month ? month : "");
    snprintf(out->month, sizeof out->month, "%s", month);
    snprintf(day, sizeof day, "%s-01", month);
    if ((r = bff_db_exec(db, &st_store, p, e)) == NULL)
        return -1;
    PQclear(r);
    if ((r = bff_db_exec(db, &st_get, p, e)) == NULL)
        return -1;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "report %s vanished after storing it",
                             month);
    }
    out->json = bff_db_str(a, r, 0, 0);
    out->computed_at = bff_db_str(a, r, 0, 1);
    out->emailed_at = bff_db_str(a, r, 0, 2);
    PQclear(r);
    out->text = render(a, out->json);
    return 0;
}

int bff_report_mark_emailed(struct bff_db *db, const char *month, struct bff_error *e)
{
    char day[16];
    const char *p[1] = {day};
    PGresult *r;
    int n;

    snprintf(day, sizeof day, "%s-01", month);
    if ((r = bff_db_exec(db, &st_emailed, p, e)) == NULL)
        return -1;
    n = strcmp(PQcmdTuples(r), "1") == 0;
    PQclear(r);
    return n;
}
