/*
 * bffctl.c — the admin CLI: find the command in the table, answer --help,
 * load the configuration, run the handler, exit with its status.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "error.h"
#include "log.h"

static const struct bffctl_cmd commands[] = {
    {"migrate", cmd_migrate, "apply pending schema migrations",
     "[--check]\n"
     "  --check   change nothing: print the pending migrations, exit 1 if any"},
    {"showmigrations", cmd_showmigrations, "list migrations: [X] applied, [ ] pending", ""},
    {NULL, NULL, NULL, NULL},
};

static void vfail(const char *cmd, const char *fmt, va_list ap, const char *tail)
{
    char msg[1024];

    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0'; /* one line, whatever the message */
    if (cmd != NULL)
        fprintf(stderr, "bffctl: %s: %s%s\n", cmd, msg, tail ? tail : "");
    else
        fprintf(stderr, "bffctl: %s%s\n", msg, tail ? tail : "");
}

int bffctl_fail(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vfail(cmd, fmt, ap, NULL);
    va_end(ap);
    return 1;
}

int bffctl_usage_error(const char *cmd, const char *fmt, ...)
{
    char tail[128];
    va_list ap;

    snprintf(tail, sizeof tail, " (see 'bffctl %s --help')", cmd);
    va_start(ap, fmt);
    vfail(cmd, fmt, ap, tail);
    va_end(ap);
    return 2;
}

int bffctl_db_open(const char *cmd, struct bff_db *db)
{
    struct bff_error e;

    bff_error_clear(&e);
    bff_db_init(db, &bff_cfg, bff_cfg.database_url);
    bff_db_set_application_name(db, "bffctl");
    if (bff_db_ensure(db, &e) < 0)
        return bffctl_fail(cmd, "database unavailable: %s", e.msg);
    return 0;
}

static void list_commands(FILE *f)
{
    const struct bffctl_cmd *c;

    fputs("usage: bffctl COMMAND [ARGS...]\n"
          "       bffctl COMMAND --help\n\n"
          "Commands:\n",
          f);
    for (c = commands; c->name != NULL; c++)
        fprintf(f, "  %-16s %s\n", c->name, c->summary);
    fputs("\nSettings come from the BFF_* environment (see `bffctl diffsettings`).\n", f);
}

static int is_help(const char *a)
{
    return strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0;
}

int main(int argc, char **argv)
{
    const struct bffctl_cmd *c;
    struct bff_error e;
    int i;

    if (argc < 2) {
        bffctl_fail(NULL, "missing command (see 'bffctl --help')");
        return 2;
    }
    if (is_help(argv[1])) {
        list_commands(stdout);
        return 0;
    }
    for (c = commands; c->name != NULL; c++)
        if (strcmp(c->name, argv[1]) == 0)
            break;
    if (c->name == NULL) {
        bffctl_fail(NULL, "unknown command '%s' (see 'bffctl --help')", argv[1]);
        return 2;
    }
    for (i = 2; i < argc; i++) {
        if (is_help(argv[i])) {
            printf("usage: bffctl %s%s%s\n\n%s\n", c->name, c->usage[0] ? " " : "", c->usage,
                   c->summary);
            return 0;
        }
    }

    bff_error_clear(&e);
    if (bff_config_load(&bff_cfg, &e) < 0)
        return bffctl_fail(c->name, "%s", e.msg);
    if (bff_log_open(&bff_cfg, &e) < 0)
        return bffctl_fail(c->name, "%s", e.msg);
    /*
     * bffctl reports a failure itself, in one line on stderr. When the log
     * is stderr too, libbff's own lines ("database unavailable") would say
     * it a second time, as JSON: keep them for a log file only.
     */
    if (bff_cfg.log_file == NULL || bff_cfg.log_file[0] == '\0')
        bff_log_set_level((enum bff_log_level)(BFF_LOG_ERROR + 1));
    return c->run(argc - 1, argv + 1);
}
