/*
 * report.h — the monthly report (SPEC §6 monthly_report, `bffctl report
 * monthly`): orders created/shipped/cancelled/expired, units shipped, FEFO
 * efficiency, lots expired and top products of one calendar month (UTC),
 * computed by bff_report_monthly_json() (schema/0007_jobs.sql) and stored
 * in `reports`, one row per month.
 */
#ifndef BFF_REPORT_H
#define BFF_REPORT_H

#include <time.h>

#include "arena.h"
#include "db.h"
#include "error.h"

struct bff_report {
    char month[8];             /* "YYYY-MM" */
    const char *json;          /* arena: the stored figures (jsonb as text) */
    const char *text;          /* arena: the same for people (e-mail body, bffctl) */
    const char *computed_at;   /* arena, ISO 8601 UTC */
    const char *emailed_at;    /* arena; NULL until e-mailed */
};

/* 1 when s is "YYYY-MM" with a year 2000..9999 and month 01..12. */
int bff_report_month_valid(const char *s);
/* The month before month ("2026-01" -> "2025-12") into out (8 bytes). */
void bff_report_month_before(const char *month, char *out);
/* The month before the one containing t (UTC) into out (8 bytes). */
void bff_report_previous_month(time_t t, char *out);

/*
 * Compute the report of month ("YYYY-MM"), store it (a recomputation that
 * finds the same figures changes nothing) and return it in *out.
 * 0, or -1 with e ("bad_request" for a malformed month).
 */
int bff_report_monthly(struct bff_db *db, struct bff_arena *a, const char *month,
                       struct bff_report *out, struct bff_error *e);

/* Record that month's report was e-mailed: 1 now, 0 when it already was
 * (or there is no report), -1 with e. */
int bff_report_mark_emailed(struct bff_db *db, const char *month, struct bff_error *e);

#endif
