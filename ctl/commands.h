/*
 * commands.h — bffctl's subcommands (Django's manage.py, `celery inspect`).
 *
 * bffctl.c holds the one table, read like a menu:
 *     {"migrate", cmd_migrate, "apply pending schema migrations", "[--check]\n..."},
 * Adding a command is: a file ctl/cmd_NAME.c defining the handler, its
 * prototype below, one entry in the table, and the file in ctl/Makefile.am.
 *
 * A handler runs after bffctl has loaded the configuration (bff_cfg) and
 * opened the log; argv[0] is the command's name. `--help`/`-h` among its
 * arguments is answered from the table by bffctl and never reaches it.
 * It returns the exit status: 0 success, 1 failure, 2 usage error — after
 * printing exactly one line on stderr for 1 and 2 (bffctl_fail,
 * bffctl_usage_error). Results go to stdout.
 */
#ifndef BFFCTL_COMMANDS_H
#define BFFCTL_COMMANDS_H

#include "db.h"

struct bffctl_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary; /* one line, for `bffctl --help` */
    const char *usage;   /* after "usage: bffctl NAME ": synopsis, then
                              option lines, for `bffctl NAME --help` */
};

/* Print "bffctl: CMD: <message>" on stderr; return 1. */
int bffctl_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "bffctl: CMD: <message> (see 'bffctl CMD --help')"; return 2. */
int bffctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Connect db to BFF_DATABASE_URL (application_name "bffctl"). 0, or 1 after
 * printing "bffctl: CMD: database unavailable: ...". Close with bff_db_close. */
int bffctl_db_open(const char *cmd, struct bff_db *db);

/*
 * Option "--name VALUE" or "--name=VALUE" at argv[*i]: 1 and *val (advancing
 * *i past a separate value), 0 when argv[*i] is another option, -1 when the
 * value is missing.
 */
int bffctl_opt(int argc, char **argv, int *i, const char *name, const char **val);

/* One per file. */
int cmd_migrate(int argc, char **argv);        /* cmd_migrate.c */
int cmd_showmigrations(int argc, char **argv); /* cmd_migrate.c */
int cmd_check(int argc, char **argv);          /* cmd_check.c */
int cmd_diffsettings(int argc, char **argv);   /* cmd_settings.c */
int cmd_createsuperuser(int argc, char **argv); /* cmd_user.c */
int cmd_user(int argc, char **argv);           /* cmd_user.c */
int cmd_token(int argc, char **argv);          /* cmd_token.c */
int cmd_clearsessions(int argc, char **argv);  /* cmd_sessions.c */
int cmd_cache(int argc, char **argv);          /* cmd_cache.c */
int cmd_verify(int argc, char **argv);         /* cmd_verify.c */
int cmd_seed_demo(int argc, char **argv);      /* cmd_seed.c */
int cmd_queue(int argc, char **argv);          /* cmd_queue.c */
int cmd_report(int argc, char **argv);         /* cmd_report.c */

#endif
