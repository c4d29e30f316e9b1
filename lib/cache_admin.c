/*
 * cache_admin.c — see cache_admin.h.
 *
 * These run a handful of commands on the context that cache.c keeps
 * (bff_cache_ping dials it, even during a back-off, with the configured
 * timeouts). A command without a reply drops the context, as cache.c does,
 * so the next cache-aside call dials again.
 */
#include "cache_admin.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int not_configured(struct bff_error *e)
{
    return bff_error_set(e, BFF_E_NOT_FOUND, NULL, "no cache configured (BFF_REDIS_URL is empty)");
}

static int ready(struct bff_cache *c, struct bff_error *e)
{
    if (!bff_cache_enabled(c))
        return not_configured(e);
    return bff_cache_ping(c, e); /* connects when needed; "unavailable" on failure */
}

/* One command; NULL with e when Redis did not answer or answered an error. */
static redisReply *cmd(struct bff_cache *c, int argc, const char **argv, struct bff_error *e)
{
    redisReply *r = redisCommandArgv(c->rc, argc, argv, NULL);

    if (r == NULL) {
        bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "%s: %s", argv[0],
                      c->rc->errstr[0] ? c->rc->errstr : "no reply");
        redisFree(c->rc);
        c->rc = NULL;
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        bff_error_set(e, BFF_E_INTERNAL, NULL, "%s: %s", argv[0], r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* "name:value" line of an INFO reply, copied into out (n bytes). */
static int info_field(const char *info, const char *name, char *out, size_t n)
{
    size_t len = strlen(name);
    const char *p = info;

    while ((p = strstr(p, name)) != NULL) {
        if ((p == info || p[-1] == '\n') && p[len] == ':') {
            size_t k = strcspn(p + len + 1, "\r\n");

            if (k >= n)
                k = n - 1;
            memcpy(out, p + len + 1, k);
            out[k] = '\0';
            return 0;
        }
        p += len;
    }
    out[0] = '\0';
    return -1;
}

static long long info_ll(const char *info, const char *name)
{
    char v[64];

    if (info_field(info, name, v, sizeof v) < 0)
        return -1;
    return strtoll(v, NULL, 10);
}

int bff_cache_stats(struct bff_cache *c, struct bff_cache_stats *out, struct bff_error *e)
{
    const char *info_argv[1] = {"INFO"}, *size_argv[1] = {"DBSIZE"};
    redisReply *r;

    memset(out, 0, sizeof *out);
    if (ready(c, e) < 0)
        return -1;
    if ((r = cmd(c, 1, info_argv, e)) == NULL)
        return -1;
    if (r->type == REDIS_REPLY_STRING) {
        out->used_memory = info_ll(r->str, "used_memory");
        info_field(r->str, "used_memory_human", out->used_memory_human,
                   sizeof out->used_memory_human);
        out->keyspace_hits = info_ll(r->str, "keyspace_hits");
        out->keyspace_misses = info_ll(r->str, "keyspace_misses");
        out->evicted_keys = info_ll(r->str, "evicted_keys");
        info_field(r->str, "redis_version", out->redis_version, sizeof out->redis_version);
    }
    freeReplyObject(r);
    if ((r = cmd(c, 1, size_argv, e)) == NULL)
        return -1;
    out->keys = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return 0;
}

long bff_cache_unlink(struct bff_cache *c, const char *key, struct bff_error *e)
{
    const char *argv[2] = {"UNLINK", key};
    redisReply *r;
    long n;

    if (ready(c, e) < 0)
        return -1;
    if ((r = cmd(c, 2, argv, e)) == NULL)
        return -1;
    n = r->type == REDIS_REPLY_INTEGER ? (long)r->integer : 0;
    freeReplyObject(r);
    return n;
}

int bff_cache_ttl(struct bff_cache *c, const char *key, long long *ttl, struct bff_error *e)
{
    const char *argv[2] = {"TTL", key};
    redisReply *r;

    if (ready(c, e) < 0)
        return -1;
    if ((r = cmd(c, 2, argv, e)) == NULL)
        return -1;
    if (r->type != REDIS_REPLY_INTEGER) {
        freeReplyObject(r);
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "TTL: unexpected reply");
    }
    *ttl = r->integer;
    freeReplyObject(r);
    return 0;
}

long bff_cache_invalidate(struct bff_cache *c, const char *pattern, struct bff_error *e)
{
    long n;

    if (ready(c, e) < 0)
        return -1;
    if ((n = bff_cache_del_pattern(c, pattern)) < 0)
        bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "SCAN/UNLINK %s failed", pattern);
    return n;
}

long bff_cache_clear(struct bff_cache *c, struct bff_error *e)
{
    return bff_cache_invalidate(c, "*", e);
}
