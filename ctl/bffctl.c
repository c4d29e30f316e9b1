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
    {"diffsettings", cmd_diffsettings, "print every BFF_* setting; ### marks non-defaults",
     "[--all | --changed]\n"
     "  NAME=value per setting, in the order of lib/config.c; a value that differs\n"
     "  from the default ends with '  ###'; secrets print as ********.\n"
     "  --all      every setting (the default)\n"
     "  --changed  only the settings that differ from their default"},
    {"check", cmd_check, "inspect configuration and database; --deploy: production checks",
     "[--deploy] [--env-file F] [--nginx-conf F] [--fcgi-unit F]\n"
     "  --deploy        also check what a production host needs (BFF_ENV, log level,\n"
     "                  database TLS/password, env file mode, nginx, spawn-fcgi)\n"
     "  --env-file F    env file whose mode to check (default $BFF_ENV_FILE)\n"
     "  --nginx-conf F  nginx config to check for exposed /metrics or FastCGI\n"
     "                  (default $BFF_NGINX_CONF)\n"
     "  --fcgi-unit F   systemd unit or script running spawn-fcgi\n"
     "Prints 'ERROR bff.E...'/'WARNING bff.W...' lines; exit 1 on any ERROR.\n"
     "Codes are listed in docs/security.md."},
    {"createsuperuser", cmd_createsuperuser, "create a superuser (password from stdin)",
     "--username U\n"
     "  Password: $BFF_SUPERUSER_PASSWORD, else one line on stdin (asked twice,\n"
     "  without echo, on a terminal); at least 8 characters. An existing user is\n"
     "  an error (exit 1): change a password with 'bffctl user set-password U'."},
    {"user", cmd_user, "create users, grant/revoke permissions, list users",
     "create --username U [--perm P]... [--superuser] [--no-password]\n"
     "       bffctl user grant|revoke U P...\n"
     "       bffctl user list\n"
     "       bffctl user activate|deactivate U\n"
     "       bffctl user set-password U\n"
     "  Permissions: products.read products.write stock.read stock.write\n"
     "  orders.read orders.write metrics.read admin (superusers hold all).\n"
     "  Passwords: $BFF_USER_PASSWORD, else one line on stdin. --no-password: an\n"
     "  API-only user that cannot log in; give it tokens with 'bffctl token create'.\n"
     "  Changes take effect at the next request (the cached permissions are dropped)."},
    {"token", cmd_token, "create, revoke and list API tokens",
     "create --user U --name N [--perm P]... [--expires-days D]\n"
     "       bffctl token revoke --user U --name N | bffctl token revoke ID\n"
     "       bffctl token list [--user U]\n"
     "  create prints only the token (shown once; stored as a hash). --perm narrows\n"
     "  the token to P (U must hold it); default: all of U's permissions.\n"
     "  --expires-days 1..3650, default 30. Names are unique per user.\n"
     "  revoke takes effect at the next request, Redis or not."},
    {"clearsessions", cmd_clearsessions,
     "delete expired tokens, old revoked tokens and idempotency keys",
     "\n"
     "  Deletes tokens past their expiry, tokens revoked more than 30 days ago and\n"
     "  Idempotency-Key records older than 48 hours; prints how many of each."},
    {"cache", cmd_cache, "cache statistics, clear, invalidate by pattern, delete, ttl",
     "stats | clear | invalidate PATTERN | delete KEY | ttl KEY\n"
     "  stats            Redis keys, memory and hit rate (INFO), and bff's own cache\n"
     "                   hit rate and database errors from the metrics segment\n"
     "  clear            delete every key of bff's Redis database (SCAN + UNLINK)\n"
     "  invalidate PAT   delete the keys matching a glob pattern (\"product:*\")\n"
     "  delete KEY       delete one key (\"stock:123:warehouse:1\")\n"
     "  ttl KEY          seconds the key has left; -1: no expiry (exit 1 if absent)"},
    {"verify", cmd_verify, "check every stock invariant and the FEFO order of open orders",
     "\n"
     "  Prints one line per finding: 'VIOLATION kind subject: detail' for a broken\n"
     "  invariant (lot reserved vs on_hand, allocations and the ledger; open orders'\n"
     "  reservations replayed from the ledger: lot eligible, line rule, FEFO order),\n"
     "  'warning ...' for allowed states worth a look (allocations stuck on a\n"
     "  quarantined or expired lot, holds the expiry job has not released), then a\n"
     "  summary. Exit 1 when anything is violated. See docs/database.md."},
    {"seed-demo", cmd_seed_demo, "load demo warehouses, products and lots (idempotent)",
     "[--products N] [--warehouses W] [--lots-per-product L]\n"
     "  --products N          DEMO-000001..N, 1..999999 (default 1000)\n"
     "  --warehouses W        DEMO-WH1..W, 1..50 (default 3)\n"
     "  --lots-per-product L  lots of each new product, 1..50 (default 5): spread\n"
     "                        expiries, a few already expired or short-dated\n"
     "  Adds the demo products that do not exist yet, with their lots; never\n"
     "  changes existing rows (running it again adds nothing). Progress on stderr."},
    {"queue", cmd_queue, "inspect and manage the job queue (celery inspect/purge/call)",
     "stats|active|pending|scheduled|dead\n"
     "       bffctl queue retry ID | purge [--kind K]\n"
     "       bffctl queue enqueue KIND [--payload JSON] [--queue Q] [--delay S]\n"
     "  stats      jobs by status and kind, oldest due job, connected workers/beats\n"
     "  active     running jobs: worker, start, lease      (celery inspect active)\n"
     "  pending    due jobs no worker has taken yet        (celery inspect reserved)\n"
     "  scheduled  jobs waiting for a later run, and the beat schedule with each\n"
     "             entry's next slot and last job          (celery inspect scheduled)\n"
     "  dead       jobs that used up their attempts (newest first)\n"
     "  retry ID   run a dead job again with fresh attempts, or a waiting retry now\n"
     "  purge      delete queued jobs, of kind K only with --kind; prints the count\n"
     "             (celery purge)\n"
     "  enqueue    enqueue a job of a production kind; prints its id (celery call)\n"
     "  Kinds: expire_reservations expire_lots replay_cache_invalidations\n"
     "  refresh_metrics low_stock_alert clear_sessions monthly_report prune_jobs\n"
     "  (docs/worker.md)."},
    {"report", cmd_report, "compute, store and print a report",
     "monthly [--month YYYY-MM] [--json]\n"
     "  --month   the month (UTC), default last month\n"
     "  --json    print the stored figures as JSON\n"
     "  The monthly_report job stores the same report and e-mails it once."},
    {NULL, NULL, NULL, NULL},
};

int bffctl_opt(int argc, char **argv, int *i, const char *name, const char **val)
{
    size_t n = strlen(name);

    if (strncmp(argv[*i], name, n) != 0)
        return 0;
    if (argv[*i][n] == '=') {
        *val = argv[*i] + n + 1;
        return 1;
    }
    if (argv[*i][n] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *val = argv[++*i];
    return 1;
}

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
