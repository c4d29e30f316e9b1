/*
 * outbox.c — see outbox.h.
 */
#include "outbox.h"

#include <stdio.h>

#include "log.h"

static struct bff_stmt record = {
    "outbox_record", "INSERT INTO cache_invalidations (key, is_pattern) VALUES ($1, $2)", 2, 0};
/* An outage under write load records the same key or pattern thousands of
 * times (every order records its product's stock pattern): replay each
 * once, then drop every record of it up to the newest one replayed. */
static struct bff_stmt pending = {
    "outbox_pending",
    "SELECT max(id), key, is_pattern FROM cache_invalidations GROUP BY key, is_pattern"
    " ORDER BY 1 LIMIT $1", 1, 0};
static struct bff_stmt done = {
    "outbox_done",
    "DELETE FROM cache_invalidations WHERE key = $2 AND is_pattern = $3 AND id <= $1", 3, 0};

/* Record an invalidation for the worker to replay. */
static int record_invalidation(struct bff_db *db, const char *key, int is_pattern)
{
    const char *params[2] = {key, is_pattern ? "t" : "f"};
    struct bff_error e;
    PGresult *r;

    bff_error_clear(&e);
    if ((r = bff_db_exec(db, &record, params, &e)) == NULL) {
        bff_log_error(NULL, "cache invalidation lost: Redis and PostgreSQL both failed",
                      "key", key, "detail", e.msg);
        return -1;
    }
    PQclear(r);
    bff_log_warn(NULL, "cache unreachable: invalidation recorded for replay", "key", key);
    return 0;
}

int bff_invalidate(struct bff_db *db, struct bff_cache *c, const char *key, int is_pattern)
{
    if (!bff_cache_enabled(c))
        return 0;
    if (is_pattern ? bff_cache_del_pattern(c, key) >= 0 : bff_cache_del(c, key) == 0)
        return 0;
    return record_invalidation(db, key, is_pattern);
}

int bff_invalidate_stock(struct bff_db *db, struct bff_cache *c, const char *product_id)
{
    char pattern[64];

    if (!bff_cache_enabled(c) || bff_cache_del_stock(c, product_id) >= 0)
        return 0;
    /* the replay goes by SCAN pattern: slow, but only after an outage */
    snprintf(pattern, sizeof pattern, "stock:%s:warehouse:*", product_id);
    return record_invalidation(db, pattern, 1);
}

long bff_invalidations_replay(struct bff_db *db, struct bff_cache *c, int limit)
{
    char lim[16];
    const char *params[1] = {lim};
    struct bff_error e;
    long n = 0;
    PGresult *r;
    int i;

    if (!bff_cache_enabled(c))
        return 0;
    snprintf(lim, sizeof lim, "%d", limit);
    bff_error_clear(&e);
    if ((r = bff_db_exec(db, &pending, params, &e)) == NULL)
        return -1;
    for (i = 0; i < PQntuples(r); i++) {
        const char *key = PQgetvalue(r, i, 1), *id = PQgetvalue(r, i, 0);
        int pat = PQgetvalue(r, i, 2)[0] == 't';
        const char *p1[3] = {id, key, pat ? "t" : "f"};
        PGresult *d;

        if (pat ? bff_cache_del_pattern(c, key) < 0 : bff_cache_del(c, key) != 0) {
            PQclear(r);
            return -1;
        }
        if ((d = bff_db_exec(db, &done, p1, &e)) == NULL) {
            PQclear(r);
            return -1;
        }
        PQclear(d);
        n++;
    }
    PQclear(r);
    return n;
}
