/*
 * cmd_verify.c — `bffctl verify`: the invariants of SPEC §4 checked in the
 * database, plus the FEFO checks of open orders, read from the views of
 * schema/0006_reads.sql:
 *
 *   bff_violations       0 <= reserved <= on_hand; a lot's reserved = its
 *                        open allocations = its ledger's reserved sum; its
 *                        on_hand = its ledger sum; open lines fully
 *                        allocated; allocations of the line's product;
 *                        shipped lines fully shipped.
 *   bff_fefo_violations  every open reservation was right when it was made
 *                        (lot eligible, line rule and warehouse kept, FEFO
 *                        order), replayed from the ledger.
 *   bff_warnings         allowed but worth a look: allocations stuck on a
 *                        lot quarantine/expiry could not move them from,
 *                        reserved orders past their hold.
 *
 * All three run in one REPEATABLE READ snapshot, so a busy system gives a
 * consistent report. Each finding is one line on stdout, then a summary;
 * exit 1 when anything is violated (warnings alone exit 0).
 * docs/database.md explains each check.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"

static struct bff_stmt violations = {
    "verify_violations", "SELECT kind, subject, detail FROM bff_violations ORDER BY kind, subject",
    0, 0};
static struct bff_stmt fefo = {
    "verify_fefo", "SELECT kind, subject, detail FROM bff_fefo_violations ORDER BY kind, subject",
    0, 0};
static struct bff_stmt warnings = {
    "verify_warnings", "SELECT kind, subject, detail FROM bff_warnings ORDER BY kind, subject", 0,
    0};
static struct bff_stmt scope = {
    "verify_scope",
    "SELECT (SELECT count(*) FROM lots),"
    "       (SELECT count(*) FROM orders WHERE status IN ('reserved', 'confirmed')),"
    "       (SELECT count(*) FROM movements)",
    0, 0};

/* Print every row of st as "<label> kind subject: detail"; count in *n. */
static int report(struct bff_db *db, struct bff_stmt *st, const char *label, long *n,
                  struct bff_error *e)
{
    PGresult *r = bff_db_exec(db, st, NULL, e);
    int i;

    if (r == NULL)
        return -1;
    for (i = 0; i < PQntuples(r); i++)
        printf("%s %s %s: %s\n", label, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               PQgetvalue(r, i, 2));
    *n += PQntuples(r);
    PQclear(r);
    return 0;
}

int cmd_verify(int argc, char **argv)
{
    long bad = 0, warn = 0;
    struct bff_error e;
    struct bff_db db;
    PGresult *r;
    int rc = -1;

    if (argc > 1)
        return bffctl_usage_error(argv[0], "unexpected argument '%s'", argv[1]);
    if (bffctl_db_open(argv[0], &db) != 0)
        return 1;
    bff_error_clear(&e);
    /* one snapshot for every check; no statement timeout on a big ledger */
    if (bff_db_begin(&db, &e) != 0 ||
        bff_db_exec_sql(&db,
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;"
                        " SET LOCAL statement_timeout = 0",
                        &e) != 0)
        goto out;
    if (report(&db, &violations, "VIOLATION", &bad, &e) != 0 ||
        report(&db, &fefo, "VIOLATION", &bad, &e) != 0 ||
        report(&db, &warnings, "warning", &warn, &e) != 0)
        goto out;
    if ((r = bff_db_exec(&db, &scope, NULL, &e)) == NULL)
        goto out;
    printf("verify: %ld violation%s, %ld warning%s (%s lots, %s open orders, %s ledger rows)\n",
           bad, bad == 1 ? "" : "s", warn, warn == 1 ? "" : "s", PQgetvalue(r, 0, 0),
           PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2));
    PQclear(r);
    rc = 0;
out:
    bff_db_rollback(&db);
    bff_db_close(&db);
    if (rc != 0)
        return bffctl_fail(argv[0], "%s", e.msg);
    if (bad > 0)
        return bffctl_fail(argv[0], "%ld invariant violation%s", bad, bad == 1 ? "" : "s");
    return 0;
}
