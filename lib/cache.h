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
    /* Called on every new connection before its first command (borrowed;
     * NULL = none). bff-fcgi replays the invalidations recorded while
     * Redis was away here, so no entry older than a change made during an
     * outage is read once Redis is back. If it drops the context, the
     * caller's command counts as a failure. */
    void (*on_connect)(struct bff_cache *c, void *arg);
    void *on_connect_arg;
    uint64_t hits, misses, errors;  /* this process's counters */
    int pipe_ignored;          /* SIGPIPE was SIG_IGN at connect: no guard */
};

void bff_cache_init(struct bff_cache *c, const struct bff_config *cfg);
void bff_cache_close(struct bff_cache *c);
int bff_cache_enabled(const struct bff_cache *c);

/* Value of key as an arena string (len in *len when non-NULL), or NULL on
 * miss, cache disabled or any failure. */
char *bff_cache_get(struct bff_cache *c, struct bff_arena *a, const char *key, size_t *len);
/* Both keys in one round trip (MGET): each value as an arena string or NULL
 * (miss, cache disabled, failure); lengths in len1/len2 when non-NULL.
 * Counts a hit or a miss per key, like two bff_cache_get calls. */
void bff_cache_get2(struct bff_cache *c, struct bff_arena *a, const char *key1, char **val1,
                    size_t *len1, const char *key2, char **val2, size_t *len2);
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
