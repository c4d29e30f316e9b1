/*
 * cache.c — Redis cache-aside (see cache.h for the contract).
 *
 * The rule everywhere: a failure is a miss. Any context error or missing
 * reply frees the context and starts a 1 s back-off during which no call
 * dials Redis, so a dead or frozen Redis costs a request at most one
 * timeout (connect ≤ redis_connect_timeout_ms, or one command ≤
 * redis_timeout_ms) and then nothing until the back-off ends. An error
 * *reply* (WRONGTYPE, ...) is a miss too but keeps the connection: Redis
 * answered, it is alive.
 */
#include "cache.h"

#include <errno.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "log.h"
#include "util.h"

#define BACKOFF_MS 1000
#define SCAN_COUNT "500"

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv;

    if (ms <= 0)
        ms = 1;
    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

void bff_cache_init(struct bff_cache *c, const struct bff_config *cfg)
{
    memset(c, 0, sizeof *c);
    c->cfg = cfg;
    c->enabled = cfg != NULL && cfg->redis_url != NULL && cfg->redis_url[0] != '\0';
}

void bff_cache_close(struct bff_cache *c)
{
    if (c->rc != NULL) {
        redisFree(c->rc);
        c->rc = NULL;
    }
}

int bff_cache_enabled(const struct bff_cache *c)
{
    return c->enabled;
}

/*
 * Give up on the connection: free it, count the error, start the back-off.
 * retry_at_ms != 0 doubles as "in an outage", so the operator gets one log
 * line when Redis goes away and one when it is back, not one per request.
 */
static void drop(struct bff_cache *c, const char *why)
{
    if (c->rc != NULL) {
        redisFree(c->rc);
        c->rc = NULL;
    }
    c->errors++;
    if (c->retry_at_ms == 0)
        bff_log_warn(NULL, "cache unavailable; falling back to the database", "error", why);
    c->retry_at_ms = bff_now_ms() + BACKOFF_MS;
}

/*
 * A write to a socket Redis has closed raises SIGPIPE, which would kill the
 * process. Block it around each command and swallow one we caused (libpq
 * does the same), so no program has to remember to ignore it.
 */
struct sigpipe_guard {
    sigset_t old;
    int was_pending;
};

static void sigpipe_block(struct sigpipe_guard *g)
{
    sigset_t set, pend;

    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &g->old);
    sigpending(&pend);
    g->was_pending = sigismember(&pend, SIGPIPE);
}

static void sigpipe_restore(struct sigpipe_guard *g, int failed)
{
    if (failed && !g->was_pending) {
        sigset_t set, pend;
        struct timespec zero = {0, 0};

        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        sigpending(&pend);
        if (sigismember(&pend, SIGPIPE))
            sigtimedwait(&set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* One command on the live context. NULL reply → context dropped, and why
 * (if non-NULL, >= 128 bytes) says why. The caller frees a non-NULL reply. */
static redisReply *command(struct bff_cache *c, int argc, const char **argv, const size_t *lens,
                           char *why)
{
    struct sigpipe_guard g;
    redisReply *r;
    char buf[128];

    if (c->pipe_ignored) {
        r = redisCommandArgv(c->rc, argc, argv, lens);
    } else {
        sigpipe_block(&g);
        r = redisCommandArgv(c->rc, argc, argv, lens);
        sigpipe_restore(&g, r == NULL);
    }
    if (r == NULL) {
        /* A blocking hiredis read that hits SO_RCVTIMEO reports EAGAIN. */
        if (c->rc->err == REDIS_ERR_IO && strcmp(c->rc->errstr, strerror(EAGAIN)) == 0)
            snprintf(buf, sizeof buf, "%.16s: timeout after %d ms", argv[0],
                     c->cfg->redis_timeout_ms);
        else
            snprintf(buf, sizeof buf, "%.16s: %.100s", argv[0],
                     c->rc->errstr[0] ? c->rc->errstr : "no reply");
        drop(c, buf); /* frees c->rc: buf, not errstr */
        if (why != NULL)
            snprintf(why, 128, "%s", buf);
    } else if (c->retry_at_ms != 0) {
        /* Back only once Redis answers: a frozen server still accepts
         * connections. */
        bff_log_info(NULL, "cache reconnected");
        c->retry_at_ms = 0;
    }
    return r;
}

/*
 * Make sure there is a live context. 0, or -1 (back-off running, or the
 * connect/SELECT failed — which starts a new back-off). force skips the
 * back-off check (health checks report what is true now). retry_at_ms is
 * only checked while there is no context, and cleared by the first reply.
 */
static int connect_cache(struct bff_cache *c, int force, struct bff_error *e)
{
    const struct bff_config *cfg = c->cfg;
    struct timeval ctv, ttv;
    redisContext *rc;

    if (!c->enabled)
        return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "cache not configured");
    if (c->rc != NULL)
        return 0;
    if (!force && c->retry_at_ms != 0 && bff_now_ms() < c->retry_at_ms)
        return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "cache unavailable (reconnect back-off)");

    ctv = ms_to_tv(cfg->redis_connect_timeout_ms);
    ttv = ms_to_tv(cfg->redis_timeout_ms);
    if (cfg->redis_port == 0)
        rc = redisConnectUnixWithTimeout(cfg->redis_host, ctv);
    else
        rc = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, ctv);
    if (rc == NULL || rc->err) {
        char why[160];

        snprintf(why, sizeof why, "connect: %s", rc ? rc->errstr : "out of memory");
        if (rc != NULL)
            redisFree(rc);
        drop(c, why);
        return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "%s", why);
    }
    /* hiredis 0.14: connect's timeout does not bound commands. */
    if (redisSetTimeout(rc, ttv) != REDIS_OK) {
        redisFree(rc);
        drop(c, "cannot set command timeout");
        return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "cannot set command timeout");
    }
    c->rc = rc;
    {
        /* bff-fcgi ignores SIGPIPE: then the guard's three syscalls per
         * command buy nothing (a write to a closed socket is EPIPE). */
        struct sigaction sa;

        c->pipe_ignored = sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
    }
    if (cfg->redis_db != 0) {
        char db[16];
        const char *argv[2] = {"SELECT", db};
        size_t lens[2];
        redisReply *r;
        char why[160];

        snprintf(db, sizeof db, "%d", cfg->redis_db);
        lens[0] = 6;
        lens[1] = strlen(db);
        r = command(c, 2, argv, lens, why);
        if (r == NULL)
            return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "%s", why);
        if (r->type != REDIS_REPLY_STATUS) {
            snprintf(why, sizeof why, "SELECT %s: %s", db,
                     r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            freeReplyObject(r);
            drop(c, why);
            return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "%s", why);
        }
        freeReplyObject(r);
    }
    if (c->on_connect != NULL) {
        c->on_connect(c, c->on_connect_arg);
        if (c->rc == NULL)
            return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "cache lost while reconnecting");
    }
    return 0;
}

char *bff_cache_get(struct bff_cache *c, struct bff_arena *a, const char *key, size_t *len)
{
    const char *argv[2] = {"GET", key};
    size_t lens[2] = {3, strlen(key)};
    redisReply *r;
    char *val = NULL;

    if (!c->enabled)
        return NULL;
    if (connect_cache(c, 0, NULL) < 0) {
        c->misses++;
        return NULL;
    }
    r = command(c, 2, argv, lens, NULL);
    if (r == NULL) {
        c->misses++;
        return NULL;
    }
    if (r->type == REDIS_REPLY_STRING) {
        val = bff_arena_strndup(a, r->str, r->len);
        if (len != NULL)
            *len = r->len;
        c->hits++;
    } else {
        if (r->type != REDIS_REPLY_NIL)
            c->errors++;
        c->misses++;
    }
    freeReplyObject(r);
    return val;
}

static char *element_value(struct bff_cache *c, struct bff_arena *a, const redisReply *r,
                           size_t *len)
{
    if (r != NULL && r->type == REDIS_REPLY_STRING) {
        if (len != NULL)
            *len = r->len;
        c->hits++;
        return bff_arena_strndup(a, r->str, r->len);
    }
    if (r != NULL && r->type != REDIS_REPLY_NIL)
        c->errors++;
    c->misses++;
    return NULL;
}

void bff_cache_get2(struct bff_cache *c, struct bff_arena *a, const char *key1, char **val1,
                    size_t *len1, const char *key2, char **val2, size_t *len2)
{
    const char *argv[3] = {"MGET", key1, key2};
    size_t lens[3] = {4, strlen(key1), strlen(key2)};
    redisReply *r;

    *val1 = *val2 = NULL;
    if (!c->enabled)
        return;
    if (connect_cache(c, 0, NULL) < 0) {
        c->misses += 2;
        return;
    }
    r = command(c, 3, argv, lens, NULL);
    if (r == NULL) {
        c->misses += 2;
        return;
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        *val1 = element_value(c, a, r->element[0], len1);
        *val2 = element_value(c, a, r->element[1], len2);
    } else {
        c->errors++;
        c->misses += 2;
    }
    freeReplyObject(r);
}

int bff_cache_set(struct bff_cache *c, const char *key, const char *val, size_t len, int ttl)
{
    char ttls[16];
    const char *argv[5] = {"SET", key, val, "EX", ttls};
    size_t lens[5];
    redisReply *r;
    int rc;

    if (!c->enabled)
        return 0;
    if (ttl <= 0) /* an entry without expiry could outlive any mistake */
        return -1;
    if (connect_cache(c, 0, NULL) < 0)
        return -1;
    snprintf(ttls, sizeof ttls, "%d", ttl);
    lens[0] = 3;
    lens[1] = strlen(key);
    lens[2] = len;
    lens[3] = 2;
    lens[4] = strlen(ttls);
    r = command(c, 5, argv, lens, NULL);
    if (r == NULL)
        return -1;
    rc = r->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (rc < 0)
        c->errors++;
    freeReplyObject(r);
    return rc;
}

int bff_cache_del(struct bff_cache *c, const char *key)
{
    const char *argv[2] = {"UNLINK", key};
    size_t lens[2] = {6, strlen(key)};
    redisReply *r;
    int rc;

    if (!c->enabled)
        return 0;
    if (connect_cache(c, 0, NULL) < 0)
        return -1;
    r = command(c, 2, argv, lens, NULL);
    if (r == NULL)
        return -1;
    rc = r->type == REDIS_REPLY_INTEGER ? 0 : -1;
    if (rc < 0)
        c->errors++;
    freeReplyObject(r);
    return rc;
}

/* UNLINK the n keys of a SCAN page; number removed, or -1. */
static long unlink_keys(struct bff_cache *c, redisReply *keys)
{
    const char **argv;
    size_t *lens;
    redisReply *r;
    long n = -1;
    size_t i;

    if (keys->elements == 0)
        return 0;
    argv = malloc((keys->elements + 1) * sizeof *argv);
    lens = malloc((keys->elements + 1) * sizeof *lens);
    if (argv == NULL || lens == NULL)
        goto out;
    argv[0] = "UNLINK";
    lens[0] = 6;
    for (i = 0; i < keys->elements; i++) {
        if (keys->element[i]->type != REDIS_REPLY_STRING)
            goto out;
        argv[i + 1] = keys->element[i]->str;
        lens[i + 1] = keys->element[i]->len;
    }
    r = command(c, (int)keys->elements + 1, argv, lens, NULL);
    if (r != NULL) {
        if (r->type == REDIS_REPLY_INTEGER)
            n = (long)r->integer;
        freeReplyObject(r);
    }
out:
    free(argv);
    free(lens);
    return n;
}

/*
 * Walk the keyspace with SCAN cursor MATCH pattern COUNT 500 and UNLINK each
 * page's keys (never KEYS: it blocks Redis for the whole keyspace). Keys
 * added during the walk may be missed; keys present throughout are not
 * (SCAN's guarantee). Returns the number deleted, or -1 on any failure —
 * possibly after deleting some: the caller records the pattern for replay.
 */
long bff_cache_del_pattern(struct bff_cache *c, const char *pattern)
{
    char cursor[32] = "0";
    long total = 0;

    if (!c->enabled)
        return 0;
    if (connect_cache(c, 0, NULL) < 0)
        return -1;
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", pattern, "COUNT", SCAN_COUNT};
        size_t lens[6] = {4, strlen(cursor), 5, strlen(pattern), 5, strlen(SCAN_COUNT)};
        redisReply *r = command(c, 6, argv, lens, NULL);
        long n;

        if (r == NULL)
            return -1;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING || r->element[0]->len >= sizeof cursor ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            c->errors++;
            freeReplyObject(r);
            return -1;
        }
        memcpy(cursor, r->element[0]->str, r->element[0]->len);
        cursor[r->element[0]->len] = '\0';
        n = unlink_keys(c, r->element[1]);
        freeReplyObject(r);
        if (n < 0)
            return -1;
        total += n;
    } while (strcmp(cursor, "0") != 0);
    return total;
}

int bff_cache_ping(struct bff_cache *c, struct bff_error *e)
{
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    redisReply *r;
    char why[128];
    int ok;

    if (connect_cache(c, 1, e) < 0)
        return -1;
    r = command(c, 1, argv, lens, why);
    if (r == NULL)
        return bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "%s", why);
    ok = r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (!ok)
        bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "PING: %s",
                      r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
    freeReplyObject(r);
    return ok ? 0 : -1;
}

/*
 * Stock entries are tagged per product: every stock:{id}:warehouse:{w} key
 * is also a member of the set stock:{id}:keys, so a write drops exactly the
 * product's entries with one round trip — no SCAN over the keyspace on the
 * write path. Each is one Lua script, atomic on the Redis side.
 */
static const char set_tagged_lua[] = "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]);"
                                     "redis.call('SADD', KEYS[2], KEYS[1]);"
                                     "redis.call('EXPIRE', KEYS[2], ARGV[2]);"
                                     "return 1";
static const char del_tagged_lua[] =
    "local m = redis.call('SMEMBERS', KEYS[1]);"
    "for i = 1, #m, 500 do redis.call('UNLINK', unpack(m, i, math.min(i + 499, #m))) end;"
    "redis.call('UNLINK', KEYS[1]);"
    "return #m";

static void stock_tag(char *tag, size_t n, const char *product_id)
{
    snprintf(tag, n, "stock:%s:keys", product_id);
}

int bff_cache_set_stock(struct bff_cache *c, const char *product_id, const char *key,
                        const char *val, size_t len, int ttl)
{
    char tag[64], ttls[16];
    const char *argv[7];
    size_t lens[7];
    redisReply *r;
    int ok;

    if (!c->enabled || connect_cache(c, 0, NULL) < 0)
        return -1;
    stock_tag(tag, sizeof tag, product_id);
    snprintf(ttls, sizeof ttls, "%d", ttl);
    argv[0] = "EVAL";
    argv[1] = set_tagged_lua;
    argv[2] = "2";
    argv[3] = key;
    argv[4] = tag;
    argv[5] = val;
    argv[6] = ttls;
    lens[0] = 4;
    lens[1] = sizeof set_tagged_lua - 1;
    lens[2] = 1;
    lens[3] = strlen(key);
    lens[4] = strlen(tag);
    lens[5] = len;
    lens[6] = strlen(ttls);
    if ((r = command(c, 7, argv, lens, NULL)) == NULL)
        return -1;
    ok = r->type == REDIS_REPLY_INTEGER;
    if (!ok)
        c->errors++;
    freeReplyObject(r);
    return ok ? 0 : -1;
}

long bff_cache_del_stock(struct bff_cache *c, const char *product_id)
{
    char tag[64];
    const char *argv[4];
    size_t lens[4];
    redisReply *r;
    long n = -1;

    if (!c->enabled)
        return 0;
    if (connect_cache(c, 0, NULL) < 0)
        return -1;
    stock_tag(tag, sizeof tag, product_id);
    argv[0] = "EVAL";
    argv[1] = del_tagged_lua;
    argv[2] = "1";
    argv[3] = tag;
    lens[0] = 4;
    lens[1] = sizeof del_tagged_lua - 1;
    lens[2] = 1;
    lens[3] = strlen(tag);
    if ((r = command(c, 4, argv, lens, NULL)) == NULL)
        return -1;
    if (r->type == REDIS_REPLY_INTEGER)
        n = (long)r->integer;
    else
        c->errors++;
    freeReplyObject(r);
    return n;
}
