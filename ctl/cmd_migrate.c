/*
 * cmd_migrate.c — `bffctl migrate [--check]` and `bffctl showmigrations`
 * (manage.py migrate / showmigrations).
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "migrate.h"

static void print_applied(const char *name, void *arg)
{
    printf("  Applying %s... OK\n", name);
    fflush(stdout); /* progress, even if a later migration hangs */
}

static void print_pending(const char *name, void *arg)
{
    printf("%s\n", name);
}

/*
 * Apply what is pending; "No migrations to apply." when nothing is. With
 * --check: print the pending names and exit 1 when there are any (a deploy
 * script's "is this database current?").
 */
int cmd_migrate(int argc, char **argv)
{
    struct bff_db db;
    struct bff_error e;
    int check = 0, n = 0, i, rc;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else
            return bffctl_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
    }
    if (bffctl_db_open(argv[0], &db) != 0)
        return 1;
    bff_error_clear(&e);
    rc = bff_migrate(&db, bff_migrations, check, check ? print_pending : print_applied, NULL, &n,
                     &e);
    bff_db_close(&db);
    if (rc < 0) {
        if (strcmp(e.code, BFF_E_UNAVAILABLE) == 0)
            return bffctl_fail(argv[0], "database unavailable: %s", e.msg);
        return bffctl_fail(argv[0], "%s", e.msg);
    }
    if (check && n > 0)
        return bffctl_fail(argv[0], "%d migration%s pending", n, n == 1 ? "" : "s");
    if (n == 0)
        printf("No migrations to apply.\n");
    return 0;
}

static void print_status(const char *name, const char *applied_at, int known, void *arg)
{
    if (!known)
        printf("[?] %s  (applied %s; not in this build)\n", name, applied_at);
    else if (applied_at != NULL)
        printf("[X] %s  (applied %s)\n", name, applied_at);
    else
        printf("[ ] %s\n", name);
}

int cmd_showmigrations(int argc, char **argv)
{
    struct bff_db db;
    struct bff_error e;
    int rc;

    if (argc > 1)
        return bffctl_usage_error(argv[0], "unexpected argument '%s'", argv[1]);
    if (bffctl_db_open(argv[0], &db) != 0)
        return 1;
    bff_error_clear(&e);
    rc = bff_migrate_status(&db, bff_migrations, print_status, NULL, &e);
    bff_db_close(&db);
    if (rc < 0)
        return bffctl_fail(argv[0], "%s", e.msg);
    return 0;
}
