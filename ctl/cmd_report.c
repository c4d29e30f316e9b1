/*
 * cmd_report.c — `bffctl report monthly [--month YYYY-MM] [--json]`:
 * compute a month's report now, store it in `reports` (as the
 * monthly_report job does; it is not e-mailed from here) and print it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "report.h"

int cmd_report(int argc, char **argv)
{
    const char *month = NULL;
    char prev[8];
    struct bff_report rep;
    struct bff_arena *a;
    struct bff_error e;
    struct bff_db db;
    int json = 0, i, rc = 0;

    if (argc < 2)
        return bffctl_usage_error(argv[0], "missing report name (monthly)");
    if (strcmp(argv[1], "monthly") != 0)
        return bffctl_usage_error(argv[0], "unknown report '%s'", argv[1]);
    for (i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--month") == 0 && i + 1 < argc)
            month = argv[++i];
        else if (strncmp(argv[i], "--month=", 8) == 0)
            month = argv[i] + 8;
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else
            return bffctl_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
    }
    if (month == NULL) {
        bff_report_previous_month(time(NULL), prev);
        month = prev;
    }
    if (!bff_report_month_valid(month))
        return bffctl_usage_error(argv[0], "--month must be YYYY-MM, not '%s'", month);
    if (bffctl_db_open(argv[0], &db) != 0)
        return 1;
    a = bff_arena_new();
    bff_error_clear(&e);
    if (bff_report_monthly(&db, a, month, &rep, &e) < 0) {
        rc = bffctl_fail(argv[0], "%s", e.msg);
    } else if (json) {
        printf("%s\n", rep.json);
    } else {
        fputs(rep.text, stdout);
        printf("\nStored %s; e-mailed: %s\n", rep.computed_at,
               rep.emailed_at ? rep.emailed_at : "not yet (the monthly_report job does)");
    }
    bff_arena_free(a);
    bff_db_close(&db);
    return rc;
}
