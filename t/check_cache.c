/*
 * check_cache.c — the Redis cache layer and the cache and SMTP health
 * checks.
 *
 * "core" runs against the test stack's Redis (BFF_TEST_REDIS_URL); each test
 * uses keys under its own prefix and removes them. "limits" starts its own
 * throwaway redis-server on a free port (and unix socket) so it can freeze
 * (SIGSTOP), kill and restart it without disturbing the shared stack; the
 * server dies with the test process (PR_SET_PDEATHSIG) even if a test fails.
 */
#include <arpa/inet.h>
#include <check.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "cache.h"
#include "config.h"
#include "harness.h"
#include "health.h"
#include "util.h"

static struct bff_config cfg;
static struct bff_cache cache;
static struct bff_arena *arena;
static redisContext *raw; /* a plain hiredis connection for inspection */
static char prefix[64];   /* "t:<pid>:<n>:" */

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

static void base_cfg(void)
{
    memset(&cfg, 0, sizeof cfg);
    cfg.redis_url = "";
    cfg.smtp_url = "";
    cfg.redis_connect_timeout_ms = 50;
    cfg.redis_timeout_ms = 100;
    cfg.health_timeout_ms = 2000;
}

/* cfg from a redis://host:port/db URL. */
static void cfg_from_url(const char *url)
{
    const char *p = url, *colon, *slash;
    size_t hl;

    ck_assert_msg(strncmp(p, "redis://", 8) == 0, "BFF_TEST_REDIS_URL is not redis://...: %s", url);
    p += 8;
    colon = strchr(p, ':');
    ck_assert_msg(colon != NULL, "BFF_TEST_REDIS_URL has no port: %s", url);
    hl = (size_t)(colon - p);
    ck_assert_uint_lt(hl, sizeof cfg.redis_host);
    memcpy(cfg.redis_host, p, hl);
    cfg.redis_host[hl] = '\0';
    cfg.redis_port = (int)strtol(colon + 1, NULL, 10);
    slash = strchr(colon, '/');
    cfg.redis_db = slash ? (int)strtol(slash + 1, NULL, 10) : 0;
    cfg.redis_url = url;
}

static redisReply *raw_cmd(const char *fmt, const char *arg)
{
    redisReply *r = redisCommand(raw, fmt, arg);

    ck_assert_msg(r != NULL, "raw redis: %s", raw->errstr);
    return r;
}

static long long raw_int(const char *fmt, const char *arg)
{
    redisReply *r = raw_cmd(fmt, arg);
    long long v;

    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    v = r->integer;
    freeReplyObject(r);
    return v;
}

static void raw_connect(void)
{
    struct timeval tv = {2, 0};
    char db[16];

    raw = cfg.redis_port ? redisConnectWithTimeout(cfg.redis_host, cfg.redis_port, tv)
                         : redisConnectUnixWithTimeout(cfg.redis_host, tv);
    ck_assert_msg(raw != NULL && !raw->err, "cannot connect to Redis at %s:%d: %s", cfg.redis_host,
                  cfg.redis_port, raw ? raw->errstr : "oom");
    snprintf(db, sizeof db, "%d", cfg.redis_db);
    freeReplyObject(raw_cmd("SELECT %s", db));
}

/* Delete every key under prefix (the test's own). */
static void raw_cleanup(void)
{
    char pat[80];
    char cursor[32] = "0";

    snprintf(pat, sizeof pat, "%s*", prefix);
    do {
        redisReply *r = redisCommand(raw, "SCAN %s MATCH %s COUNT 1000", cursor, pat);
        size_t i;

        if (r == NULL)
            return;
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        for (i = 0; i < r->element[1]->elements; i++)
            freeReplyObject(redisCommand(raw, "DEL %s", r->element[1]->element[i]->str));
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
}

static void setup_core(void)
{
    static int seq;

    base_cfg();
    cfg_from_url(t_env("BFF_TEST_REDIS_URL"));
    snprintf(prefix, sizeof prefix, "t:%ld:%d:", (long)getpid(), ++seq);
    raw_connect();
    bff_cache_init(&cache, &cfg);
    arena = bff_arena_new();
}

static void teardown_core(void)
{
    if (raw != NULL) {
        raw_cleanup();
        redisFree(raw);
        raw = NULL;
    }
    bff_cache_close(&cache);
    bff_arena_free(arena);
    arena = NULL;
}

static const char *key(const char *suffix)
{
    return bff_arena_sprintf(arena, "%s%s", prefix, suffix);
}

/* ---- core: the shared Redis ------------------------------------------ */

START_TEST(set_get_del)
{
    size_t len = 0;
    char *v;

    ck_assert_int_eq(bff_cache_enabled(&cache), 1);
    ck_assert_ptr_null(bff_cache_get(&cache, arena, key("a"), NULL));
    ck_assert_uint_eq(cache.misses, 1);
    ck_assert_int_eq(bff_cache_set(&cache, key("a"), "{\"id\":1}", 8, 60), 0);
    v = bff_cache_get(&cache, arena, key("a"), &len);
    ck_assert_ptr_nonnull(v);
    ck_assert_str_eq(v, "{\"id\":1}");
    ck_assert_uint_eq(len, 8);
    ck_assert_uint_eq(cache.hits, 1);
    ck_assert_int_eq(bff_cache_del(&cache, key("a")), 0);
    ck_assert_int_eq(bff_cache_del(&cache, key("a")), 0); /* absent is fine */
    ck_assert_ptr_null(bff_cache_get(&cache, arena, key("a"), NULL));
    ck_assert_uint_eq(cache.misses, 2);
    ck_assert_uint_eq(cache.errors, 0);
}
END_TEST

/* Keys and values go as argv (binary-safe, never through a format): a value
 * with NUL bytes and a key with % and spaces round-trip. */
START_TEST(binary_safe)
{
    static const char val[] = {'a', '\0', 'b', '%', 's'};
    const char *k = key("odd %s key");
    size_t len = 0;
    char *v;

    ck_assert_int_eq(bff_cache_set(&cache, k, val, sizeof val, 60), 0);
    v = bff_cache_get(&cache, arena, k, &len);
    ck_assert_ptr_nonnull(v);
    ck_assert_uint_eq(len, sizeof val);
    ck_assert_mem_eq(v, val, sizeof val);
}
END_TEST

START_TEST(ttl_is_set_and_honoured)
{
    long long ttl;

    ck_assert_int_eq(bff_cache_set(&cache, key("t"), "x", 1, 7), 0);
    ttl = raw_int("TTL %s", key("t"));
    ck_assert_int_ge(ttl, 1);
    ck_assert_int_le(ttl, 7);
    ck_assert_int_eq(bff_cache_set(&cache, key("t1"), "x", 1, 1), 0);
    ck_assert_ptr_nonnull(bff_cache_get(&cache, arena, key("t1"), NULL));
    sleep_ms(1300);
    ck_assert_ptr_null(bff_cache_get(&cache, arena, key("t1"), NULL));
    /* no entry without an expiry */
    ck_assert_int_eq(bff_cache_set(&cache, key("t0"), "x", 1, 0), -1);
    ck_assert_int_eq(raw_int("EXISTS %s", key("t0")), 0);
}
END_TEST

/* 1200 matching keys force several SCAN pages (COUNT 500); neighbours that
 * do not match the pattern survive. */
START_TEST(del_pattern_exactly_the_matches)
{
    int i, n = 1200;
    long deleted;
    char pat[96];

    for (i = 0; i < n; i++)
        redisAppendCommand(raw, "SET %sp:%d v", prefix, i);
    for (i = 0; i < 30; i++)
        redisAppendCommand(raw, "SET %sq:%d v", prefix, i);
    redisAppendCommand(raw, "SET %spx v", prefix);
    redisAppendCommand(raw, "SET %sp v", prefix);
    for (i = 0; i < n + 32; i++) {
        void *r = NULL;

        ck_assert_int_eq(redisGetReply(raw, &r), REDIS_OK);
        freeReplyObject(r);
    }
    snprintf(pat, sizeof pat, "%sp:*", prefix);
    deleted = bff_cache_del_pattern(&cache, pat);
    ck_assert_int_eq(deleted, n);
    ck_assert_int_eq(raw_int("EXISTS %s", key("p:0")), 0);
    ck_assert_int_eq(raw_int("EXISTS %s", key("p:1199")), 0);
    ck_assert_int_eq(raw_int("EXISTS %s", key("q:0")), 1);
    ck_assert_int_eq(raw_int("EXISTS %s", key("q:29")), 1);
    ck_assert_int_eq(raw_int("EXISTS %s", key("px")), 1);
    ck_assert_int_eq(raw_int("EXISTS %s", key("p")), 1);
    ck_assert_int_eq(bff_cache_del_pattern(&cache, pat), 0);
}
END_TEST

/* A non-zero db is SELECTed on connect: the key lands there, not in 0. */
START_TEST(selects_the_configured_db)
{
    char other[16];

    cfg.redis_db = cfg.redis_db == 0 ? 3 : 0;
    snprintf(other, sizeof other, "%d", cfg.redis_db);
    ck_assert_int_eq(bff_cache_set(&cache, key("db"), "x", 1, 60), 0);
    ck_assert_int_eq(raw_int("EXISTS %s", key("db")), 0);
    freeReplyObject(raw_cmd("SELECT %s", other));
    ck_assert_int_eq(raw_int("EXISTS %s", key("db")), 1);
    raw_cleanup();
}
END_TEST

/* A wrong-type reply is a miss but keeps the connection. */
START_TEST(error_reply_is_a_miss)
{
    redisContext *before;

    freeReplyObject(raw_cmd("LPUSH %s x", key("list")));
    ck_assert_ptr_null(bff_cache_get(&cache, arena, key("list"), NULL));
    before = cache.rc;
    ck_assert_ptr_nonnull(before);
    ck_assert_uint_eq(cache.errors, 1);
    ck_assert_int_eq(cache.retry_at_ms, 0);
    ck_assert_int_eq(bff_cache_set(&cache, key("ok"), "y", 1, 60), 0);
    ck_assert_ptr_eq(cache.rc, before);
}
END_TEST

START_TEST(health_cache_ok)
{
    struct bff_check c;

    bff_health_cache(&cache, &c);
    ck_assert_str_eq(c.status, "ok");
    ck_assert_str_eq(c.error, "");
    ck_assert_int_lt(c.latency_ms, 200);
}
END_TEST

/* BFF_REDIS_URL empty: no cache at all, and nothing is an error. */
START_TEST(disabled_cache)
{
    struct bff_cache off;
    struct bff_check c;
    struct bff_error e;

    base_cfg();
    bff_cache_init(&off, &cfg);
    ck_assert_int_eq(bff_cache_enabled(&off), 0);
    ck_assert_ptr_null(bff_cache_get(&off, arena, "k", NULL));
    ck_assert_int_eq(bff_cache_set(&off, "k", "v", 1, 60), 0);
    ck_assert_int_eq(bff_cache_del(&off, "k"), 0);
    ck_assert_int_eq(bff_cache_del_pattern(&off, "k*"), 0);
    bff_error_clear(&e);
    ck_assert_int_eq(bff_cache_ping(&off, &e), -1);
    ck_assert_uint_eq(off.hits + off.misses + off.errors, 0);
    ck_assert_ptr_null(off.rc);
    bff_health_cache(&off, &c);
    ck_assert_str_eq(c.status, "not_configured");
    ck_assert_int_eq(c.latency_ms, 0);
    bff_cache_close(&off);
}
END_TEST

/* ---- limits: a Redis of our own -------------------------------------- */

static pid_t redis_pid;
static int redis_port;
static char redis_sock[64];

static void kill_redis(void)
{
    int status;

    if (redis_pid > 0) {
        kill(redis_pid, SIGCONT);
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, &status, 0);
    }
    redis_pid = 0;
}

/* Start redis-server on redis_port (+ unix socket) and wait until it
 * answers PING. */
static void start_redis(void)
{
    char port[16];
    int waited;

    snprintf(port, sizeof port, "%d", redis_port);
    redis_pid = fork();
    ck_assert_int_ge(redis_pid, 0);
    if (redis_pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        prctl(PR_SET_PDEATHSIG, SIGKILL); /* dies with the test */
        dup2(null, 1);
        dup2(null, 2);
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1",
               "--unixsocket", redis_sock, "--unixsocketperm", "700", "--save", "", "--appendonly",
               "no", "--dir", "/tmp", (char *)NULL);
        _exit(127);
    }
    for (waited = 0; waited < 5000; waited += 20) {
        struct timeval tv = {0, 200000};
        redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);
        redisReply *r = c && !c->err ? redisCommand(c, "PING") : NULL;
        int up = r != NULL && r->type == REDIS_REPLY_STATUS;
        int status;

        if (r)
            freeReplyObject(r);
        if (c)
            redisFree(c);
        if (up)
            return;
        ck_assert_msg(waitpid(redis_pid, &status, WNOHANG) == 0,
                      "redis-server exited (is it installed? apt-get install redis-server)");
        sleep_ms(20);
    }
    ck_abort_msg("redis-server on port %d did not answer within 5 s", redis_port);
}

static void setup_limits(void)
{
    static int registered;

    if (!registered++)
        atexit(kill_redis);
    base_cfg();
    redis_port = t_free_port();
    snprintf(redis_sock, sizeof redis_sock, "/tmp/check_cache_%ld.sock", (long)getpid());
    snprintf(cfg.redis_host, sizeof cfg.redis_host, "127.0.0.1");
    cfg.redis_port = redis_port;
    cfg.redis_url = "redis://127.0.0.1/0"; /* enabled; host/port as parsed */
    snprintf(prefix, sizeof prefix, "t:%ld:", (long)getpid());
    arena = bff_arena_new();
}

static void teardown_limits(void)
{
    bff_cache_close(&cache);
    kill_redis();
    unlink(redis_sock);
    bff_arena_free(arena);
    arena = NULL;
}

/* Nothing listening: a miss within one connect, then the back-off means the
 * next call does not dial at all (no second error counted). */
START_TEST(closed_port_fast_then_backoff)
{
    struct bff_check c;
    int64_t t0, took;

    bff_cache_init(&cache, &cfg);
    t0 = bff_now_ms();
    ck_assert_ptr_null(bff_cache_get(&cache, arena, "k", NULL));
    took = bff_now_ms() - t0;
    ck_assert_int_lt(took, 200);
    ck_assert_uint_eq(cache.errors, 1);
    ck_assert_uint_eq(cache.misses, 1);
    ck_assert_int_gt(cache.retry_at_ms, bff_now_ms());

    t0 = bff_now_ms();
    ck_assert_ptr_null(bff_cache_get(&cache, arena, "k", NULL));
    ck_assert_int_eq(bff_cache_set(&cache, "k", "v", 1, 60), -1);
    ck_assert_int_eq(bff_cache_del(&cache, "k"), -1); /* caller records it */
    ck_assert_int_eq(bff_cache_del_pattern(&cache, "k*"), -1);
    ck_assert_int_lt(bff_now_ms() - t0, 10);
    ck_assert_uint_eq(cache.errors, 1); /* it did not even try */
    ck_assert_uint_eq(cache.misses, 2);

    bff_health_cache(&cache, &c); /* health looks now, back-off or not */
    ck_assert_str_eq(c.status, "down");
    ck_assert_msg(strstr(c.error, "refused") != NULL, "%s", c.error);
    ck_assert_int_lt(c.latency_ms, 200);
}
END_TEST

/* A frozen Redis (SIGSTOP: the kernel still accepts, nobody answers) costs
 * one command timeout, then nothing during the back-off; once thawed and
 * the back-off over, the cache works again. */
START_TEST(frozen_redis_costs_one_timeout)
{
    struct bff_check c;
    int64_t t0, took;
    size_t len;

    start_redis();
    bff_cache_init(&cache, &cfg);
    ck_assert_int_eq(bff_cache_set(&cache, "k", "v", 1, 60), 0);
    ck_assert_ptr_nonnull(bff_cache_get(&cache, arena, "k", &len));

    ck_assert_int_eq(kill(redis_pid, SIGSTOP), 0);
    t0 = bff_now_ms();
    ck_assert_ptr_null(bff_cache_get(&cache, arena, "k", NULL));
    took = bff_now_ms() - t0;
    t0 = bff_now_ms();
    ck_assert_ptr_null(bff_cache_get(&cache, arena, "k", NULL));
    ck_assert_int_eq(bff_cache_set(&cache, "k", "v", 1, 60), -1);
    ck_assert_int_lt(bff_now_ms() - t0, 10); /* back-off: no dialling */
    bff_health_cache(&cache, &c);
    kill(redis_pid, SIGCONT);

    ck_assert_int_ge(took, 90);
    ck_assert_int_lt(took, 180);
    ck_assert_uint_eq(cache.errors, 2); /* the GET, then the health PING */
    ck_assert_ptr_null(cache.rc);
    ck_assert_str_eq(c.status, "down");
    ck_assert_msg(strstr(c.error, "timeout after 100 ms") != NULL, "%s", c.error);
    ck_assert_int_lt(c.latency_ms, 250);

    sleep_ms(1100);
    ck_assert_ptr_nonnull(bff_cache_get(&cache, arena, "k", &len));
    ck_assert_int_eq(cache.retry_at_ms, 0);
}
END_TEST

/* Redis restarted: the dead connection is noticed, dropped, and rebuilt
 * after the back-off. */
START_TEST(restart_reconnects)
{
    int64_t t0;

    start_redis();
    bff_cache_init(&cache, &cfg);
    ck_assert_int_eq(bff_cache_set(&cache, "k", "v", 1, 60), 0);
    kill_redis();
    t0 = bff_now_ms();
    ck_assert_ptr_null(bff_cache_get(&cache, arena, "k", NULL));
    ck_assert_int_lt(bff_now_ms() - t0, 200);
    ck_assert_uint_ge(cache.errors, 1);
    start_redis();
    sleep_ms(1100);
    ck_assert_int_eq(bff_cache_set(&cache, "k", "w", 1, 60), 0);
    ck_assert_str_eq(bff_cache_get(&cache, arena, "k", NULL), "w");
}
END_TEST

/* redis_port 0: redis_host is a unix socket path. */
START_TEST(unix_socket)
{
    struct bff_check c;

    start_redis();
    snprintf(cfg.redis_host, sizeof cfg.redis_host, "%s", redis_sock);
    cfg.redis_port = 0;
    cfg.redis_db = 2;
    bff_cache_init(&cache, &cfg);
    ck_assert_int_eq(bff_cache_set(&cache, "k", "sock", 4, 60), 0);
    ck_assert_str_eq(bff_cache_get(&cache, arena, "k", NULL), "sock");
    bff_health_cache(&cache, &c);
    ck_assert_str_eq(c.status, "ok");
}
END_TEST

/* ---- SMTP health ----------------------------------------------------- */

static pid_t smtp_pid;

/* A one-connection SMTP peer speaking `greeting`, then `ehlo_reply` to an
 * "EHLO bff" line (exit status 3 if the line was anything else). NULL
 * greeting: accept and say nothing. Returns the port. */
static int smtp_peer(const char *greeting, const char *ehlo_reply)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    smtp_pid = fork();
    ck_assert_int_ge(smtp_pid, 0);
    if (smtp_pid == 0) {
        char line[256];
        size_t n = 0;
        int c;

        prctl(PR_SET_PDEATHSIG, SIGKILL);
        c = accept(fd, NULL, NULL);
        if (c < 0)
            _exit(1);
        if (greeting == NULL) {
            sleep(30);
            _exit(0);
        }
        if (write(c, greeting, strlen(greeting)) < 0 || ehlo_reply == NULL)
            _exit(0);
        while (n + 1 < sizeof line && read(c, line + n, 1) == 1 && line[n] != '\n')
            n++;
        line[n] = '\0';
        if (strcmp(line, "EHLO bff\r") != 0)
            _exit(3);
        if (write(c, ehlo_reply, strlen(ehlo_reply)) < 0)
            _exit(1);
        n = 0;
        while (n + 1 < sizeof line && read(c, line + n, 1) == 1 && line[n] != '\n')
            n++;
        line[n] = '\0';
        _exit(strcmp(line, "QUIT\r") == 0 ? 0 : 4);
    }
    close(fd);
    return ntohs(sa.sin_port);
}

/* The peer's exit status (0: the dialogue went as expected). With wait, give
 * it up to 3 s to finish on its own first. */
static int smtp_peer_end(int wait)
{
    int status = -1, waited;

    for (waited = 0; wait && waited < 3000; waited += 10) {
        if (waitpid(smtp_pid, &status, WNOHANG) == smtp_pid) {
            smtp_pid = 0;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        sleep_ms(10);
    }
    kill(smtp_pid, SIGKILL);
    waitpid(smtp_pid, &status, 0);
    smtp_pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void check_smtp(int port, int timeout_ms, struct bff_check *c)
{
    base_cfg();
    cfg.smtp_url = "smtp://127.0.0.1";
    snprintf(cfg.smtp_host, sizeof cfg.smtp_host, "127.0.0.1");
    cfg.smtp_port = port;
    bff_health_smtp(&cfg, timeout_ms, c);
}

START_TEST(smtp_not_configured)
{
    struct bff_check c;

    base_cfg();
    bff_health_smtp(&cfg, 2000, &c);
    ck_assert_str_eq(c.status, "not_configured");
    ck_assert_str_eq(c.error, "");
}
END_TEST

START_TEST(smtp_refused_is_down_fast)
{
    struct bff_check c;

    check_smtp(t_free_port(), 2000, &c);
    ck_assert_str_eq(c.status, "down");
    ck_assert_str_eq(c.error, "connect: Connection refused");
    ck_assert_int_lt(c.latency_ms, 200);
}
END_TEST

START_TEST(smtp_ok_multiline)
{
    struct bff_check c;

    check_smtp(smtp_peer("220-mx.example ESMTP\r\n220 ready\r\n",
                         "250-mx.example\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
               2000, &c);
    ck_assert_msg(strcmp(c.status, "ok") == 0, "%s: %s", c.status, c.error);
    ck_assert_str_eq(c.error, "");
    ck_assert_int_eq(smtp_peer_end(1), 0); /* it saw EHLO bff, then QUIT */
}
END_TEST

START_TEST(smtp_bad_greeting)
{
    struct bff_check c;

    check_smtp(smtp_peer("554 go away\r\n", NULL), 2000, &c);
    smtp_peer_end(0);
    ck_assert_str_eq(c.status, "down");
    ck_assert_str_eq(c.error, "no 220 greeting: got 554 go away");
}
END_TEST

START_TEST(smtp_ehlo_refused)
{
    struct bff_check c;

    check_smtp(smtp_peer("220 hi\r\n", "502 5.5.1 no EHLO here\r\n"), 2000, &c);
    smtp_peer_end(0);
    ck_assert_str_eq(c.status, "down");
    ck_assert_str_eq(c.error, "EHLO refused: got 502 5.5.1 no EHLO here");
}
END_TEST

/* A peer that accepts and never speaks: bounded by the check's timeout. */
START_TEST(smtp_silent_times_out)
{
    struct bff_check c;

    check_smtp(smtp_peer(NULL, NULL), 300, &c);
    smtp_peer_end(0);
    ck_assert_str_eq(c.status, "down");
    ck_assert_msg(strncmp(c.error, "timeout after 300 ms", 20) == 0, "%s", c.error);
    ck_assert_int_ge(c.latency_ms, 290);
    ck_assert_int_lt(c.latency_ms, 600);
}
END_TEST

static Suite *make_cache_suite(void)
{
    Suite *s = suite_create("cache");
    TCase *core = tcase_create("core");
    TCase *limits = tcase_create("limits");
    TCase *smtp = tcase_create("smtp");

    tcase_add_checked_fixture(core, setup_core, teardown_core);
    tcase_add_checked_fixture(limits, setup_limits, teardown_limits);
    tcase_set_timeout(core, 60);
    tcase_set_timeout(limits, 60);
    tcase_set_timeout(smtp, 30);

    tcase_add_test(core, set_get_del);
    tcase_add_test(core, binary_safe);
    tcase_add_test(core, ttl_is_set_and_honoured);
    tcase_add_test(core, del_pattern_exactly_the_matches);
    tcase_add_test(core, selects_the_configured_db);
    tcase_add_test(core, error_reply_is_a_miss);
    tcase_add_test(core, health_cache_ok);
    tcase_add_test(core, disabled_cache);

    tcase_add_test(limits, closed_port_fast_then_backoff);
    tcase_add_test(limits, frozen_redis_costs_one_timeout);
    tcase_add_test(limits, restart_reconnects);
    tcase_add_test(limits, unix_socket);

    tcase_add_test(smtp, smtp_not_configured);
    tcase_add_test(smtp, smtp_refused_is_down_fast);
    tcase_add_test(smtp, smtp_ok_multiline);
    tcase_add_test(smtp, smtp_bad_greeting);
    tcase_add_test(smtp, smtp_ehlo_refused);
    tcase_add_test(smtp, smtp_silent_times_out);

    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    suite_add_tcase(s, smtp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_cache_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
