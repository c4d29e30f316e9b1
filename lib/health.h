/*
 * health.h — the component checks behind /health/ (SPEC §4 Health).
 *
 * Each check is bounded by timeout_ms and never hangs. status is "ok",
 * "down" or "not_configured"; error is "" unless down.
 */
#ifndef BFF_HEALTH_H
#define BFF_HEALTH_H

#include <stdint.h>

#include "cache.h"
#include "config.h"
#include "db.h"

struct bff_check {
    const char *status;   /* static string */
    int64_t latency_ms;
    char error[256];
};

void bff_health_database(struct bff_db *db, int timeout_ms, struct bff_check *out);
void bff_health_cache(struct bff_cache *c, struct bff_check *out);
/* Connects to BFF_SMTP_URL, reads the 220 greeting, EHLO, QUIT. */
void bff_health_smtp(const struct bff_config *cfg, int timeout_ms, struct bff_check *out);

#endif
