/*
 * migrate.h — schema migrations (`bffctl migrate`, Django's manage.py migrate).
 *
 * Migrations are the files schema/NNNN_name.sql, compiled into libbff by
 * scripts/embed-schema as bff_migrations[] (sorted by name), so a binary
 * always carries the schema it expects. Each pending migration runs in its
 * own transaction together with its schema_migrations row: it is applied
 * whole or not at all. Concurrent runners (two deploys, a deploy and
 * `scripts/dev up`) are serialized by a session advisory lock.
 *
 * A migration file must not contain BEGIN/COMMIT, nor statements that cannot
 * run inside a transaction block (CREATE INDEX CONCURRENTLY, VACUUM).
 */
#ifndef BFF_MIGRATE_H
#define BFF_MIGRATE_H

#include "db.h"
#include "error.h"

struct bff_migration {
    const char *name; /* "0001_init" (file name without .sql) */
    const char *sql;
};

/* Generated from the files in schema/; ends with {NULL, NULL}. */
extern const struct bff_migration bff_migrations[];

/* pg_advisory_lock key that serializes runners ("bffmigr" in ASCII). */
#define BFF_MIGRATE_LOCK_KEY 27697137825965938

/*
 * Apply the migrations of list (sorted; ends with a NULL name) that are not
 * in schema_migrations, in order, creating schema_migrations if missing.
 * report(name, arg) runs after each migration commits (may be NULL).
 * With check_only nothing is changed: report runs for each pending one.
 * *count (may be NULL) gets the number applied, or pending with check_only.
 * 0, or -1 with e ("unavailable" when the database cannot be reached;
 * otherwise e->msg starts with the failing migration's name). Migrations
 * applied before a failure stay applied.
 */
int bff_migrate(struct bff_db *db, const struct bff_migration *list, int check_only,
                void (*report)(const char *name, void *arg), void *arg, int *count,
                struct bff_error *e);

/*
 * For `bffctl showmigrations`: each(name, applied_at, arg) for every migration
 * of list, in order (applied_at is NULL when pending, else a UTC timestamp
 * string), then for each applied migration that list does not know
 * (a database migrated by a newer release), with known = 0.
 * 0, or -1 with e. Changes nothing.
 */
int bff_migrate_status(struct bff_db *db, const struct bff_migration *list,
                       void (*each)(const char *name, const char *applied_at, int known, void *arg),
                       void *arg, struct bff_error *e);

#endif
