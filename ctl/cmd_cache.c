/*
 * cmd_cache.c — `bffctl cache stats|clear|invalidate PATTERN|delete KEY|ttl KEY`
 * (SPEC §7; the runbook's cache.clear(), invalidate_pattern(), delete()).
 *
 * stats: Redis INFO and DBSIZE of bff's database, then bff's own cache and
 * database counters from the host's metrics segment (BFF_METRICS_SHM, read
 * only: bffctl never creates it), since it was created and over the last 5
 * minutes. clear deletes every key of bff's Redis database (SCAN + UNLINK,
 * never FLUSHALL); invalidate deletes the keys matching a glob pattern;
 * delete one key; ttl prints the seconds left (-1: no expiry).
 *
 * Redis configured but unreachable is a failure (exit 1); no cache
 * configured is not: there is nothing to clear (stats says so).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cache.h"
#include "cache_admin.h"
#include "commands.h"
#include "config.h"
#include "metrics.h"

static void print_rate(const char *label, uint64_t hits, uint64_t misses)
{
    if (hits + misses == 0)
        printf("  %-26s n/a (no lookups)\n", label);
    else
        printf("  %-26s %.1f%% (%llu hits, %llu misses)\n", label,
               100.0 * (double)hits / (double)(hits + misses), (unsigned long long)hits,
               (unsigned long long)misses);
}

/* bff's counters from the metrics segment (or why there are none). */
static void print_segment(void)
{
    struct bff_error e;
    struct bff_metrics *m;
    uint64_t total[BFF_MX_NCOUNTERS], last[BFF_MX_NCOUNTERS];
    int64_t now = (int64_t)time(NULL);
    time_t since;
    char when[32];

    bff_error_clear(&e);
    printf("bff (metrics segment %s):\n", bff_cfg.metrics_shm);
    if ((m = bff_metrics_attach(bff_cfg.metrics_shm, &e)) == NULL) {
        printf("  %s\n", e.msg);
        return;
    }
    bff_metrics_counters(m, 0, now, total);
    bff_metrics_counters(m, BFF_MX_WINDOW, now, last);
    since = (time_t)bff_metrics_created(m);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&since));
    printf("  %-26s %s\n", "counting since", when);
    print_rate("hit rate (since start)", total[BFF_MX_CACHE_HITS], total[BFF_MX_CACHE_MISSES]);
    print_rate("hit rate (last 5 min)", last[BFF_MX_CACHE_HITS], last[BFF_MX_CACHE_MISSES]);
    printf("  %-26s %llu\n", "database errors", (unsigned long long)total[BFF_MX_DB_ERRORS]);
    bff_metrics_close(m);
}

static int stats(struct bff_cache *c)
{
    struct bff_cache_stats s;
    struct bff_error e;
    int rc = 0;

    bff_error_clear(&e);
    if (!bff_cache_enabled(c)) {
        printf("redis: not configured (BFF_REDIS_URL is empty)\n");
    } else if (bff_cache_stats(c, &s, &e) < 0) {
        printf("redis: %s\n", bff_cfg.redis_url);
        rc = -1;
    } else {
        printf("redis: %s (version %s)\n", bff_cfg.redis_url, s.redis_version);
        printf("  %-26s %lld\n", "keys", s.keys);
        printf("  %-26s %lld bytes (%s)\n", "memory used", s.used_memory, s.used_memory_human);
        printf("  %-26s %lld\n", "evicted keys", s.evicted_keys);
        print_rate("hit rate (server, INFO)", (uint64_t)(s.keyspace_hits > 0 ? s.keyspace_hits : 0),
                   (uint64_t)(s.keyspace_misses > 0 ? s.keyspace_misses : 0));
    }
    print_segment();
    if (rc < 0)
        return bffctl_fail("cache", "redis unavailable: %s", e.msg);
    return 0;
}

int cmd_cache(int argc, char **argv)
{
    struct bff_cache c;
    struct bff_error e;
    const char *sub = argc > 1 ? argv[1] : NULL;
    int need_arg, rc = 0;
    long n = 0;

    if (sub == NULL)
        return bffctl_usage_error("cache",
                                  "missing subcommand (stats|clear|invalidate|delete|ttl)");
    need_arg =
        strcmp(sub, "invalidate") == 0 || strcmp(sub, "delete") == 0 || strcmp(sub, "ttl") == 0;
    if (!need_arg && strcmp(sub, "stats") != 0 && strcmp(sub, "clear") != 0)
        return bffctl_usage_error("cache", "unknown subcommand '%s'", sub);
    if (need_arg && argc != 3)
        return bffctl_usage_error("cache", "%s takes exactly one argument", sub);
    if (!need_arg && argc != 2)
        return bffctl_usage_error("cache", "%s takes no arguments", sub);
    if (need_arg && argv[2][0] == '\0')
        return bffctl_usage_error("cache", "%s: empty argument", sub);

    signal(SIGPIPE, SIG_IGN); /* a Redis that closes on us is an error, not a death */
    bff_cache_init(&c, &bff_cfg);
    if (strcmp(sub, "stats") == 0) {
        rc = stats(&c);
        bff_cache_close(&c);
        return rc;
    }
    if (!bff_cache_enabled(&c)) {
        bff_cache_close(&c);
        if (strcmp(sub, "ttl") == 0)
            return bffctl_fail("cache", "no cache configured (BFF_REDIS_URL is empty)");
        printf("No cache configured (BFF_REDIS_URL is empty): nothing deleted.\n");
        return 0;
    }
    bff_error_clear(&e);
    if (strcmp(sub, "ttl") == 0) {
        long long ttl;

        if (bff_cache_ttl(&c, argv[2], &ttl, &e) < 0)
            rc = bffctl_fail("cache", "%s", e.msg);
        else if (ttl == -2)
            rc = bffctl_fail("cache", "no such key: %s", argv[2]);
        else
            printf("%lld\n", ttl);
        bff_cache_close(&c);
        return rc;
    }
    if (strcmp(sub, "clear") == 0)
        n = bff_cache_clear(&c, &e);
    else if (strcmp(sub, "invalidate") == 0)
        n = bff_cache_invalidate(&c, argv[2], &e);
    else
        n = bff_cache_unlink(&c, argv[2], &e);
    bff_cache_close(&c);
    if (n < 0)
        return bffctl_fail("cache", "%s", e.msg);
    printf("Deleted %ld key%s.\n", n, n == 1 ? "" : "s");
    return 0;
}
