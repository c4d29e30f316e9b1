/*
 * config.c — every BFF_* setting, declared once as data.
 *
 * The table drives loading, `bffctl diffsettings` and the docs: one row per
 * variable with its default, type and bounds. A value that does not parse is
 * an error naming the variable; nothing falls back silently.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct bff_config bff_cfg;

enum kind { K_STR, K_INT, K_I64, K_LEVEL, K_ENV, K_REDIS, K_SMTP };

struct row {
    const char *name;
    const char *def;
    enum kind kind;
    size_t off;
    int64_t min, max;
    int secret;
    const char *help;
};

#define OFF(f) offsetof(struct bff_config, f)

static const struct row rows[] = {
    {"BFF_DATABASE_URL", "dbname=bff", K_STR, OFF(database_url), 0, 0, 1,
     "libpq conninfo or URI of the PostgreSQL database"},
    {"BFF_REDIS_URL", "", K_REDIS, OFF(redis_url), 0, 0, 1,
     "redis://host:port/db or unix:///path.sock?db=N; empty = no cache"},
    {"BFF_CACHE_TTL", "300", K_INT, OFF(cache_ttl), 1, 86400 * 30, 0,
     "seconds a cached product/stock entry lives"},
    {"BFF_METRICS_CACHE_TTL", "30", K_INT, OFF(metrics_cache_ttl), 1, 86400, 0,
     "seconds metrics:* entries live"},
    {"BFF_RESERVATION_HOLD", "0", K_INT, OFF(reservation_hold), 0, 86400 * 365, 0,
     "default hold in seconds for orders without hold_seconds; 0 = no deadline"},
    {"BFF_SMTP_URL", "", K_SMTP, OFF(smtp_url), 0, 0, 0,
     "smtp://host:port for alerts and the SMTP health check; empty = not configured"},
    {"BFF_ALERT_EMAIL", "", K_STR, OFF(alert_email), 0, 0, 0,
     "recipient of low-stock alerts and monthly reports"},
    {"BFF_LOG_FILE", "", K_STR, OFF(log_file), 0, 0, 0,
     "application log (JSON lines); empty = stderr"},
    {"BFF_ERROR_LOG_FILE", "", K_STR, OFF(error_log_file), 0, 0, 0,
     "error-level lines are also written here; empty = none"},
    {"BFF_LOG_LEVEL", "info", K_LEVEL, OFF(log_level), 0, 0, 0, "debug|info|warn|error"},
    {"BFF_MAX_BODY", "262144", K_I64, OFF(max_body), 1, 64 * 1024 * 1024, 0,
     "largest accepted request body in bytes (413 beyond)"},
    {"BFF_ENV", "development", K_ENV, OFF(env), 0, 0, 0, "development|production"},
    {"BFF_METRICS_SHM", "/bff-metrics", K_STR, OFF(metrics_shm), 0, 0, 0,
     "name of the shared-memory segment holding request metrics"},
    {"BFF_HEALTH_TIMEOUT_MS", "2000", K_INT, OFF(health_timeout_ms), 10, 60000, 0,
     "per-check timeout of /health/"},
    {"BFF_STATEMENT_TIMEOUT_MS", "5000", K_INT, OFF(statement_timeout_ms), 10, 600000, 0,
     "PostgreSQL statement_timeout"},
    {"BFF_LOCK_TIMEOUT_MS", "2000", K_INT, OFF(lock_timeout_ms), 10, 600000, 0,
     "PostgreSQL lock_timeout (must be below the statement timeout)"},
    {"BFF_IDLE_TX_TIMEOUT_MS", "10000", K_INT, OFF(idle_tx_timeout_ms), 100, 3600000, 0,
     "PostgreSQL idle_in_transaction_session_timeout"},
    {"BFF_REDIS_CONNECT_TIMEOUT_MS", "50", K_INT, OFF(redis_connect_timeout_ms), 1, 50, 0,
     "Redis connect timeout (at most 50 ms)"},
    {"BFF_REDIS_TIMEOUT_MS", "100", K_INT, OFF(redis_timeout_ms), 1, 100, 0,
     "Redis per-command timeout (at most 100 ms)"},
    {"BFF_STOP_GRACE_MS", "35000", K_INT, OFF(stop_grace_ms), 100, 600000, 0,
     "how long a bff-fcgi worker told to stop may finish its request before its master SIGKILLs it"},
    {NULL, NULL, K_STR, 0, 0, 0, 0, NULL},
};

/* The i-th setting (for diffsettings), or NULL past the end. */
const struct bff_setting *bff_setting(size_t i, struct bff_setting *out)
{
    if (i >= sizeof rows / sizeof rows[0] - 1)
        return NULL;
    out->name = rows[i].name;
    out->def = rows[i].def;
    out->secret = rows[i].secret;
    out->help = rows[i].help;
    return out;
}

/* "host:port" (port required, 1..65535) into host/port. */
static int parse_hostport(const char *s, size_t slen, char *host, size_t hostsz, int *port)
{
    const char *colon = NULL;
    char tmp[16];
    int64_t p;
    size_t i, hl;

    for (i = 0; i < slen; i++)
        if (s[i] == ':')
            colon = s + i;
    if (colon == NULL || colon == s)
        return -1;
    hl = (size_t)(colon - s);
    if (hl >= hostsz || slen - hl - 1 == 0 || slen - hl - 1 >= sizeof tmp)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    memcpy(tmp, colon + 1, slen - hl - 1);
    tmp[slen - hl - 1] = '\0';
    if (bff_parse_int64(tmp, 1, 65535, &p) != 0)
        return -1;
    *port = (int)p;
    return 0;
}

/*
 * redis://host:port[/db] or unix:///path/to.sock[?db=N]. Fills redis_host,
 * redis_port (0 for a socket) and redis_db.
 */
static int parse_redis(struct bff_config *c, const char *v)
{
    int64_t db = 0;

    c->redis_db = 0;
    if (strncmp(v, "redis://", 8) == 0) {
        const char *hp = v + 8, *slash = strchr(hp, '/');
        size_t hl = slash ? (size_t)(slash - hp) : strlen(hp);

        if (parse_hostport(hp, hl, c->redis_host, sizeof c->redis_host, &c->redis_port) != 0)
            return -1;
        if (slash && slash[1] != '\0' && bff_parse_int64(slash + 1, 0, 15, &db) != 0)
            return -1;
    } else if (strncmp(v, "unix://", 7) == 0) {
        const char *path = v + 7, *q = strchr(path, '?');
        size_t pl = q ? (size_t)(q - path) : strlen(path);

        if (pl == 0 || pl >= sizeof c->redis_host || path[0] != '/')
            return -1;
        memcpy(c->redis_host, path, pl);
        c->redis_host[pl] = '\0';
        c->redis_port = 0;
        if (q && (strncmp(q, "?db=", 4) != 0 || bff_parse_int64(q + 4, 0, 15, &db) != 0))
            return -1;
    } else {
        return -1;
    }
    c->redis_db = (int)db;
    return 0;
}

static int parse_smtp(struct bff_config *c, const char *v)
{
    if (strncmp(v, "smtp://", 7) != 0)
        return -1;
    v += 7;
    return parse_hostport(v, strcspn(v, "/"), c->smtp_host, sizeof c->smtp_host,
                          &c->smtp_port);
}

static int load_row(struct bff_config *c, const struct row *r, const char *v,
                    struct bff_error *e)
{
    char *base = (char *)c;
    int64_t n;

    switch (r->kind) {
    case K_STR:
        *(const char **)(base + r->off) = v;
        return 0;
    case K_INT:
    case K_I64:
        if (bff_parse_int64(v, r->min, r->max, &n) != 0)
            return bff_error_set(e, BFF_E_INTERNAL, r->name,
                                 "%s: \"%s\" is not an integer between %lld and %lld",
                                 r->name, v, (long long)r->min, (long long)r->max);
        if (r->kind == K_INT)
            *(int *)(base + r->off) = (int)n;
        else
            *(int64_t *)(base + r->off) = n;
        return 0;
    case K_LEVEL: {
        static const char *names[] = {"debug", "info", "warn", "error"};
        int i;

        for (i = 0; i < 4; i++)
            if (strcmp(v, names[i]) == 0) {
                c->log_level = (enum bff_log_level)i;
                return 0;
            }
        return bff_error_set(e, BFF_E_INTERNAL, r->name,
                             "%s: \"%s\" is not one of debug|info|warn|error", r->name, v);
    }
    case K_ENV:
        if (strcmp(v, "development") == 0)
            c->env = BFF_ENV_DEVELOPMENT;
        else if (strcmp(v, "production") == 0)
            c->env = BFF_ENV_PRODUCTION;
        else
            return bff_error_set(e, BFF_E_INTERNAL, r->name,
                                 "%s: \"%s\" is not development|production", r->name, v);
        return 0;
    case K_REDIS:
        c->redis_url = v;
        if (*v && parse_redis(c, v) != 0)
            return bff_error_set(e, BFF_E_INTERNAL, r->name,
                                 "%s: \"%s\" is not redis://host:port[/db] or "
                                 "unix:///path[?db=N]", r->name, v);
        return 0;
    case K_SMTP:
        c->smtp_url = v;
        if (*v && parse_smtp(c, v) != 0)
            return bff_error_set(e, BFF_E_INTERNAL, r->name,
                                 "%s: \"%s\" is not smtp://host:port", r->name, v);
        return 0;
    }
    return 0;
}

/*
 * Load every setting: the environment's value when set (even empty, for
 * strings that may legitimately be empty), else the default. Also checks
 * the timeout ladder of SPEC §4, which a mistyped pair would silently break.
 */
int bff_config_load(struct bff_config *c, struct bff_error *e)
{
    const struct row *r;

    memset(c, 0, sizeof *c);
    for (r = rows; r->name; r++) {
        const char *v = getenv(r->name);

        if (v == NULL)
            v = r->def;
        if (load_row(c, r, v, e) != 0)
            return -1;
    }
    if (c->lock_timeout_ms >= c->statement_timeout_ms)
        return bff_error_set(e, BFF_E_INTERNAL, "BFF_LOCK_TIMEOUT_MS",
                             "BFF_LOCK_TIMEOUT_MS (%d) must be below BFF_STATEMENT_TIMEOUT_MS (%d)",
                             c->lock_timeout_ms, c->statement_timeout_ms);
    return 0;
}
