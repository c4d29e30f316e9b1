/*
 * outbox.h — cache invalidation that survives a Redis outage (SPEC §5).
 *
 * Writers call bff_invalidate after their transaction commits. When Redis
 * cannot be reached the key (or pattern) is written to cache_invalidations,
 * and the worker replays it when Redis is back, so no stale entry outlives
 * the outage. Without a configured cache there is nothing to invalidate.
 */
#ifndef BFF_OUTBOX_H
#define BFF_OUTBOX_H

#include "cache.h"
#include "db.h"

/* Delete key (is_pattern: SCAN pattern) now, or record it for replay.
 * 0, or -1 when neither worked (logged). */
int bff_invalidate(struct bff_db *db, struct bff_cache *c, const char *key, int is_pattern);

/* Drop every stock:{product_id}:warehouse:* entry now, or record the
 * pattern for replay. */
int bff_invalidate_stock(struct bff_db *db, struct bff_cache *c, const char *product_id);

/* Replay recorded invalidations while Redis answers; returns how many were
 * replayed, or -1 when Redis or PostgreSQL failed. Idempotent. */
long bff_invalidations_replay(struct bff_db *db, struct bff_cache *c, int limit);

#endif
