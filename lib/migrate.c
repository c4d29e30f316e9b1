/*
 * migrate.c — apply schema/NNNN_*.sql in order (see migrate.h).
 */
#include "migrate.h"

#include <stdio.h>
#include <string.h>

#include "arena.h"

#define STR(x) #x
#define XSTR(x) STR(x)
#define LOCK_SQL(fn) "SELECT " fn "(" XSTR(BFF_MIGRATE_LOCK_KEY) ")"

/* The ledger of applied migrations. The runner owns it (it must exist before
 * the first migration can be recorded), so no migration file creates it. */
static const char create_ledger[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                    " name text PRIMARY KEY,"
                                    " applied_at timestamptz NOT NULL DEFAULT now())";

/* Relative to search_path, like the unqualified names in the migrations. */
static struct bff_stmt st_ledger_exists = {
    "bff_migrate_ledger_exists", "SELECT to_regclass('schema_migrations') IS NOT NULL", 0, 0};
static struct bff_stmt st_applied = {
    "bff_migrate_applied",
    "SELECT name, to_char(applied_at AT TIME ZONE 'UTC',"
    " 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM schema_migrations ORDER BY name",
    0, 0};
static struct bff_stmt st_record = {"bff_migrate_record",
                                    "INSERT INTO schema_migrations (name) VALUES ($1)", 1, 0};

struct applied {
    const char **name, **at; /* arena */
    int *seen;
    int n;
};

/* Read schema_migrations into ap (empty when the ledger does not exist). */
static int load_applied(struct bff_db *db, struct bff_arena *a, struct applied *ap,
                        struct bff_error *e)
{
    PGresult *r;
    int i, exists;

    memset(ap, 0, sizeof *ap);
    r = bff_db_query(db, a, &st_ledger_exists, NULL, e);
    if (r == NULL)
        return -1;
    exists = bff_db_bool(r, 0, 0);
    if (!exists)
        return 0;
    r = bff_db_query(db, a, &st_applied, NULL, e);
    if (r == NULL)
        return -1;
    ap->n = PQntuples(r);
    ap->name = bff_arena_calloc(a, sizeof *ap->name * (size_t)(ap->n + 1));
    ap->at = bff_arena_calloc(a, sizeof *ap->at * (size_t)(ap->n + 1));
    ap->seen = bff_arena_calloc(a, sizeof *ap->seen * (size_t)(ap->n + 1));
    for (i = 0; i < ap->n; i++) {
        ap->name[i] = bff_db_str(a, r, i, 0);
        ap->at[i] = bff_db_str(a, r, i, 1);
    }
    return 0;
}

/* Index of name in ap, or -1. Linear: there are tens of migrations. */
static int find_applied(const struct applied *ap, const char *name)
{
    int i;

    for (i = 0; i < ap->n; i++)
        if (strcmp(ap->name[i], name) == 0)
            return i;
    return -1;
}

/* Prefix e->msg with the migration's name: "0002_orders: syntax error ...". */
static int blame(struct bff_error *e, const char *name)
{
    char msg[sizeof e->msg];

    if (e == NULL)
        return -1;
    snprintf(msg, sizeof msg, "%.64s: %.440s", name, e->msg);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    return -1;
}

/* One migration and its ledger row in one transaction. */
static int apply_one(struct bff_db *db, const struct bff_migration *m, struct bff_error *e)
{
    const char *params[1] = {m->name};
    PGresult *r;

    if (bff_db_begin(db, e) < 0)
        return -1;
    if (bff_db_exec_sql(db, m->sql, e) < 0)
        goto fail;
    r = bff_db_exec(db, &st_record, params, e);
    if (r == NULL)
        goto fail;
    PQclear(r);
    if (bff_db_commit(db, e) < 0)
        return -1;
    return 0;
fail:
    bff_db_rollback(db);
    return -1;
}

int bff_migrate(struct bff_db *db, const struct bff_migration *list, int check_only,
                void (*report)(const char *name, void *arg), void *arg, int *count,
                struct bff_error *e)
{
    struct bff_arena *a = bff_arena_new();
    const struct bff_migration *m;
    struct applied ap;
    struct bff_error ignored;
    unsigned gen = 0;
    int n = 0, rc = -1, locked = 0;

    if (check_only) {
        if (load_applied(db, a, &ap, e) < 0)
            goto out;
        for (m = list; m->name != NULL; m++) {
            if (find_applied(&ap, m->name) >= 0)
                continue;
            if (report != NULL)
                report(m->name, arg);
            n++;
        }
        rc = 0;
        goto out;
    }

    /*
     * Waiting for another runner may take as long as its migrations do, and
     * a migration (an index build) may outlast the app's statement_timeout:
     * lift both for the wait, keep lock_timeout for the migrations so DDL
     * queued behind live traffic fails instead of stalling every request.
     * The advisory lock belongs to this session: if the connection is ever
     * replaced (db->gen changes), the lock is gone and we stop.
     */
    if (bff_db_exec_sql(db, "SET statement_timeout = 0; SET lock_timeout = 0", e) < 0)
        goto out;
    gen = db->gen;
    if (bff_db_exec_sql(db, LOCK_SQL("pg_advisory_lock"), e) < 0)
        goto out;
    if (db->gen != gen) {
        bff_error_set(e, BFF_E_UNAVAILABLE, NULL,
                      "connection lost while taking the migration lock");
        goto out;
    }
    locked = 1;
    if (bff_db_exec_sql(db, "RESET lock_timeout", e) < 0 ||
        bff_db_exec_sql(db, create_ledger, e) < 0 || load_applied(db, a, &ap, e) < 0)
        goto out;
    for (m = list; m->name != NULL; m++) {
        if (find_applied(&ap, m->name) >= 0)
            continue;
        if (db->gen != gen) {
            bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "connection lost during migrate");
            blame(e, m->name);
            goto out;
        }
        if (apply_one(db, m, e) < 0) {
            blame(e, m->name);
            goto out;
        }
        n++;
        if (report != NULL)
            report(m->name, arg);
    }
    rc = 0;
out:
    if (locked && db->conn != NULL && db->gen == gen) {
        bff_error_clear(&ignored);
        bff_db_exec_sql(db, LOCK_SQL("pg_advisory_unlock"), &ignored);
    }
    if (gen != 0 && db->conn != NULL && db->gen == gen) {
        bff_error_clear(&ignored);
        bff_db_exec_sql(db, "RESET statement_timeout; RESET lock_timeout", &ignored);
    }
    if (count != NULL)
        *count = n;
    bff_arena_free(a);
    return rc;
}

int bff_migrate_status(struct bff_db *db, const struct bff_migration *list,
                       void (*each)(const char *name, const char *applied_at, int known, void *arg),
                       void *arg, struct bff_error *e)
{
    struct bff_arena *a = bff_arena_new();
    const struct bff_migration *m;
    struct applied ap;
    int i, rc = -1;

    if (load_applied(db, a, &ap, e) < 0)
        goto out;
    for (m = list; m->name != NULL; m++) {
        i = find_applied(&ap, m->name);
        if (i >= 0)
            ap.seen[i] = 1;
        each(m->name, i >= 0 ? ap.at[i] : NULL, 1, arg);
    }
    for (i = 0; i < ap.n; i++)
        if (!ap.seen[i])
            each(ap.name[i], ap.at[i], 0, arg);
    rc = 0;
out:
    bff_arena_free(a);
    return rc;
}
