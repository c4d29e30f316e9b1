/*
 * cache_admin.h — the operator's view of the cache: what bffctl cache and
 * POST /api/admin/cache/invalidate/ need beyond cache-aside (SPEC §4 Cache
 * admin, §7). Unlike cache.h, failures are reported, not turned into
 * misses: an operator asked, and must hear that Redis did not answer.
 *
 * bff owns the Redis database named by BFF_REDIS_URL (/db): "clear" removes
 * every key of that database — with SCAN + UNLINK, so the count is exact
 * and Redis never blocks — and never touches another database (no
 * FLUSHALL, no FLUSHDB).
 */
#ifndef BFF_CACHE_ADMIN_H
#define BFF_CACHE_ADMIN_H

#include "cache.h"
#include "error.h"

struct bff_cache_stats {
    long long keys;             /* DBSIZE of bff's database */
    long long used_memory;      /* INFO memory: used_memory (bytes) */
    char used_memory_human[32]; /* INFO memory: used_memory_human */
    long long keyspace_hits;    /* INFO stats (server-wide, since Redis started) */
    long long keyspace_misses;
    long long evicted_keys;
    char redis_version[32];
};

/* INFO + DBSIZE. 0, or -1 with e ("unavailable" when Redis cannot be
 * reached, "not_found" when no cache is configured). */
int bff_cache_stats(struct bff_cache *c, struct bff_cache_stats *out, struct bff_error *e);
/* UNLINK one key: 1 deleted, 0 absent, -1 with e. */
long bff_cache_unlink(struct bff_cache *c, const char *key, struct bff_error *e);
/* TTL of key into *ttl: seconds, -1 for no expiry, -2 when absent. 0 or -1 with e. */
int bff_cache_ttl(struct bff_cache *c, const char *key, long long *ttl, struct bff_error *e);
/* Delete every key matching pattern (SCAN + UNLINK): count, or -1 with e. */
long bff_cache_invalidate(struct bff_cache *c, const char *pattern, struct bff_error *e);
/* Delete every key of bff's database: count, or -1 with e. */
long bff_cache_clear(struct bff_cache *c, struct bff_error *e);

#endif
