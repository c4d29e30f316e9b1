/*
 * cache.h — cache-aside reads in Redis (SPEC §5), hiredis.
 *
 * A cache failure is a miss: every call degrades to "not cached" and the
 * request goes on against PostgreSQL. Connect is bounded by
 * BFF_REDIS_CONNECT_TIMEOUT_MS (≤ 50 ms), each command by BFF_REDIS_TIMEOUT_MS
 * (≤ 100 ms, set with redisSetTimeout — hiredis 0.14 does not bound commands
 * otherwise). A context that errs or times out is freed and not rebuilt for a
 * back-off (1 s), so a frozen Redis costs each request at most one timeout.
 * With BFF_REDIS_URL empty the cache is disabled: every get misses without
 * counting, every write is a no-op success.
 */
#ifndef BFF_CACHE_H
#define BFF_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "error.h"

struct redisContext;

struct bff_cache {
    struct redisContext *rc;   /* NULL when disconnected */
    const struct bff_config *cfg;
    int enabled;               /* BFF_REDIS_URL non-empty */
    int64_t retry_at_ms;       /* no reconnect before this (back-off) */
    uint64_t hits, misses, errors;  /* this process's counters */
};

void bff_cache_init(struct bff_cache *c, const struct bff_config *cfg);
void bff_cache_close(struct bff_cache *c);
int bff_cache_enabled(const struct bff_cache *c);

/* Value of key as an arena string (len in *len when non-NULL), or NULL on
 * miss, cache disabled or any failure. */
char *bff_cache_get(struct bff_cache *c, struct bff_arena *a, const char *key, size_t *len);
/* SET key val EX ttl. 0, or -1 on failure (ignored by cache-aside readers). */
int bff_cache_set(struct bff_cache *c, const char *key, const char *val, size_t len, int ttl);
/* UNLINK key. 0 when deleted or absent (or cache disabled); -1 when Redis
 * could not be reached — the caller records the invalidation for replay. */
int bff_cache_del(struct bff_cache *c, const char *key);
/* SCAN MATCH pattern + UNLINK (never KEYS). Number deleted, or -1. */
long bff_cache_del_pattern(struct bff_cache *c, const char *pattern);
/* Stock entries, tagged per product (see cache.c): SET key with the tag
 * stock:{product}:keys; and drop every tagged entry of a product (count,
 * or -1 when Redis could not be reached). */
int bff_cache_set_stock(struct bff_cache *c, const char *product_id, const char *key,
                        const char *val, size_t len, int ttl);
long bff_cache_del_stock(struct bff_cache *c, const char *product_id);
/* PING with the configured timeouts; 0 ok, -1 with e. For health checks:
 * it dials even during the back-off, so /health/ reports what is true now
 * (at most one connect + one command timeout). */
int bff_cache_ping(struct bff_cache *c, struct bff_error *e);

#endif
