/*
 * config.h — settings from the environment (SPEC §3).
 *
 * bff_config_load() reads every BFF_* variable once at startup. A malformed
 * value is an error naming the variable (e.msg = "BFF_CACHE_TTL: ..."),
 * never a silent default. Strings point into the environment or static
 * storage: borrowed for the life of the process.
 */
#ifndef BFF_CONFIG_H
#define BFF_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum bff_log_level { BFF_LOG_DEBUG, BFF_LOG_INFO, BFF_LOG_WARN, BFF_LOG_ERROR };
enum bff_env { BFF_ENV_DEVELOPMENT, BFF_ENV_PRODUCTION };

struct bff_config {
    const char *database_url;      /* BFF_DATABASE_URL, libpq conninfo/URI */
    const char *redis_url;         /* BFF_REDIS_URL; "" = no cache */
    char redis_host[256];          /*   parsed from redis_url: host or socket path */
    int redis_port;                /*   0 when redis_host is a unix socket */
    int redis_db;
    int cache_ttl;                 /* BFF_CACHE_TTL, s, default 300 */
    int metrics_cache_ttl;         /* BFF_METRICS_CACHE_TTL, s, default 30 */
    int reservation_hold;          /* BFF_RESERVATION_HOLD, s, 0 = none */
    const char *smtp_url;          /* BFF_SMTP_URL; "" = not configured */
    char smtp_host[256];
    int smtp_port;
    const char *alert_email;       /* BFF_ALERT_EMAIL */
    const char *log_file;          /* BFF_LOG_FILE; "" = stderr */
    const char *error_log_file;    /* BFF_ERROR_LOG_FILE; "" = none */
    enum bff_log_level log_level;  /* BFF_LOG_LEVEL, default info */
    int64_t max_body;              /* BFF_MAX_BODY, bytes, default 262144 */
    enum bff_env env;              /* BFF_ENV, default development */
    const char *metrics_shm;       /* BFF_METRICS_SHM, default "/bff-metrics" */
    int health_timeout_ms;         /* BFF_HEALTH_TIMEOUT_MS, default 2000 */
    int statement_timeout_ms;      /* BFF_STATEMENT_TIMEOUT_MS, default 5000 */
    int lock_timeout_ms;           /* BFF_LOCK_TIMEOUT_MS, default 2000 */
    int idle_tx_timeout_ms;        /* BFF_IDLE_TX_TIMEOUT_MS, default 10000 */
    int redis_connect_timeout_ms;  /* BFF_REDIS_CONNECT_TIMEOUT_MS, default 50 */
    int redis_timeout_ms;          /* BFF_REDIS_TIMEOUT_MS, default 100 */
    int stop_grace_ms;             /* BFF_STOP_GRACE_MS, default 35000 */
};

/* One description per setting, for `bffctl diffsettings` and docs. */
struct bff_setting {
    const char *name;       /* "BFF_CACHE_TTL" */
    const char *def;        /* default as text */
    int secret;             /* mask the value when printing */
    const char *help;
};
/* Fill out with the i-th setting and return it, or NULL past the end. */
const struct bff_setting *bff_setting(size_t i, struct bff_setting *out);

/* Fill c from the environment; 0, or -1 with e naming the variable. */
int bff_config_load(struct bff_config *c, struct bff_error *e);

/* The process-wide configuration, loaded by each program's main(). */
extern struct bff_config bff_cfg;

#endif
