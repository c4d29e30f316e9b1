/*
 * main.c — bff-fcgi: the FastCGI accept loop.
 *
 * spawn-fcgi hands us the listening unix socket as fd 0. Each iteration
 * accepts one request, fills struct bff_req from the FastCGI params, runs
 * the dispatcher and writes the response; the request's arena is reset at
 * the top of the next iteration (one free per request). SIGTERM/SIGINT let
 * the request in flight finish, then the process exits 0. Connections are
 * accepted by accept.c, not by libfcgi (accept.h says why).
 */
#include <fcgiapp.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accept.h"
#include "cache.h"
#include "config.h"
#include "db.h"
#include "dispatch.h"
#include "errors.h"
#include "routes.h"
#include "log.h"
#include "master.h"
#include "metrics_web.h"
#include "outbox.h"
#include "util.h"

/* Requests slower than this are logged at warn level (the runbook's
 * "Response Time" normal threshold). */
#define SLOW_MS 200

static volatile sig_atomic_t stopping;

/*
 * SIGTERM/SIGINT: finish the request in flight, then exit. The signals stay
 * blocked except while the worker waits for work (accept.h), so the handler
 * runs only then: it sets the flag and the wait returns.
 */
static void on_term(int sig)
{
    (void)sig;
    stopping = 1;
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

/*
 * Read the body into the arena. CONTENT_LENGTH over the limit is refused
 * without reading (the dispatcher answers 413 from body_len); a body that
 * ends early is treated as what arrived.
 */
static void read_body(FCGX_Request *fr, struct bff_req *rq, int64_t max)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", fr->envp);
    int64_t n = 0;
    char *p;
    int got;

    if (cl == NULL || *cl == '\0' || bff_parse_int64(cl, 0, INT64_MAX, &n) != 0 || n == 0)
        return;
    if (n > max) {
        rq->body_len = (size_t)n;   /* too large: never read */
        rq->body = "";
        return;
    }
    p = bff_arena_alloc(rq->a, (size_t)n + 1);
    got = FCGX_GetStr(p, (int)n, fr->in);
    p[got > 0 ? got : 0] = '\0';
    rq->body = p;
    rq->body_len = got > 0 ? (size_t)got : 0;
}

/*
 * Every new Redis connection (after start or an outage), before its first
 * command: replay the invalidations recorded in PostgreSQL while Redis was
 * away, so an entry cached before a change made during the outage is never
 * read once Redis is back (SPEC §5; the worker's periodic replay is the
 * backstop for processes that saw no outage). One SELECT per connect. Not
 * inside a transaction: a failed replay statement would abort it.
 */
static void replay_on_connect(struct bff_cache *c, void *arg)
{
    struct bff_ctx *ctx = arg;

    if (!ctx->db.in_tx)
        bff_invalidations_replay(&ctx->db, c, 1000);
}

static void write_response(FCGX_Request *fr, struct bff_req *rq, struct bff_resp *rs,
                           int status)
{
    char head[1024];
    int n;

    /* snprintf, not FCGX_FPrintF: libfcgi's printf knows no %zu (STYLE). */
    n = snprintf(head, sizeof head,
                 "Status: %d %s\r\n"
                 "Content-Type: %s\r\n"
                 "Content-Length: %zu\r\n"
                 "Cache-Control: no-store\r\n"
                 "X-Request-Id: %s\r\n",
                 status, bff_status_text(status),
                 rs->content_type ? rs->content_type : "application/json; charset=utf-8",
                 rs->body->len, rq->request_id);
    if (rs->allow)
        n += snprintf(head + n, sizeof head - (size_t)n, "Allow: %s\r\n", rs->allow);
    if (rs->retry_after > 0)
        n += snprintf(head + n, sizeof head - (size_t)n, "Retry-After: %d\r\n", rs->retry_after);
    if (rs->www_authenticate)
        n += snprintf(head + n, sizeof head - (size_t)n, "WWW-Authenticate: Bearer\r\n");
    if (rs->location)
        n += snprintf(head + n, sizeof head - (size_t)n, "Location: %s\r\n", rs->location);
    n += snprintf(head + n, sizeof head - (size_t)n, "\r\n");
    FCGX_PutStr(head, n, fr->out);
    if (rs->body->len && strcmp(rq->method, "HEAD") != 0)
        FCGX_PutStr(rs->body->data, (int)rs->body->len, fr->out);
}

static const char *param(FCGX_Request *fr, const char *name)
{
    return FCGX_GetParam(name, fr->envp);
}

static void serve(struct bff_ctx *ctx, FCGX_Request *fr)
{
    struct bff_req rq;
    struct bff_resp rs;
    const char *path;
    int64_t sql_us, dur_us;
    int status;

    bff_req_begin(ctx, &rq, &rs);
    rq.method = param(fr, "REQUEST_METHOD");
    path = param(fr, "DOCUMENT_URI");
    if (path == NULL)
        path = param(fr, "SCRIPT_NAME");
    rq.path = path ? path : "/";
    rq.method = rq.method ? rq.method : "GET";
    rq.query_string = param(fr, "QUERY_STRING");
    if (rq.query_string == NULL)
        rq.query_string = "";
    rq.content_type = param(fr, "CONTENT_TYPE");
    rq.authorization = param(fr, "HTTP_AUTHORIZATION");
    rq.idempotency_key = param(fr, "HTTP_IDEMPOTENCY_KEY");
    rq.remote_addr = param(fr, "REMOTE_ADDR");
    rq.request_id = bff_request_id(rq.a, param(fr, "HTTP_X_REQUEST_ID"));
    read_body(fr, &rq, ctx->cfg->max_body);

    sql_us = ctx->db.sql_us;
    status = bff_dispatch(&rq, &rs);
    write_response(fr, &rq, &rs, status);
    dur_us = bff_now_us() - rq.start_us;
    bff_web_metrics_record(&rq, status, dur_us);
    /*
     * One line per request: errors (5xx) also go to the error log, slow
     * requests (> SLOW_MS) are warnings with their SQL time. Never the query
     * string, headers or body: they may hold tokens or passwords.
     */
    {
        enum bff_log_level lvl = status >= 500              ? BFF_LOG_ERROR
                                 : dur_us > SLOW_MS * 1000 ? BFF_LOG_WARN
                                                           : BFF_LOG_INFO;

        if (bff_log_enabled(lvl)) {
            char st[16], dur[32], sql[32], uid[24];

            snprintf(st, sizeof st, "%d", status);
            snprintf(dur, sizeof dur, "%.3f", (double)dur_us / 1000.0);
            snprintf(sql, sizeof sql, "%.3f", (double)(ctx->db.sql_us - sql_us) / 1000.0);
            snprintf(uid, sizeof uid, "%" PRId64, rq.who.user_id);
            bff_log(lvl, rq.request_id, lvl == BFF_LOG_WARN ? "slow request" : "request",
                    "method", rq.method, "path", rq.path, "route",
                    rq.route ? rq.route->pattern : "", "#status", st, "#duration_ms", dur,
                    "#sql_ms", sql, "#user_id", rq.who.user_id ? uid : "null",
                    (char *)NULL);
        }
    }
}

int main(int argc, char **argv)
{
    struct bff_config cfg;
    struct bff_error e;
    struct bff_ctx ctx;
    struct bff_acceptor acc;
    FCGX_Request fr;
    int rc;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: spawn-fcgi -s SOCKET -F N -- bff-fcgi\n"
               "       spawn-fcgi -s SOCKET -F 1 -- bff-fcgi --workers N\n"
               "FastCGI application of bff; configured by BFF_* environment variables\n"
               "(see `bffctl diffsettings`). Serves on the socket passed as fd 0.\n"
               "--workers N: a master that forks N workers, respawns any that dies,\n"
               "stops them gracefully on SIGTERM and restarts them gracefully on SIGHUP.\n");
        return 0;
    }
    /* --workers N: this process supervises N workers (master.h); a worker
     * comes back here with -1 and serves. */
    if ((rc = bff_master(argc, argv)) >= 0)
        return rc;
    bff_error_clear(&e);
    if (bff_config_load(&cfg, &e) != 0 || bff_log_open(&cfg, &e) != 0) {
        fprintf(stderr, "bff-fcgi: %s\n", e.msg);
        return 2;
    }
    bff_cfg = cfg;
    memset(&ctx, 0, sizeof ctx);
    ctx.cfg = &bff_cfg;
    ctx.arena = bff_arena_new();
    bff_db_init(&ctx.db, &bff_cfg, bff_cfg.database_url);
    /* A frozen PostgreSQL answers nothing, not even statement_timeout's
     * cancel: give up one second after the server would have (503), well
     * before nginx's 30 s 504. */
    ctx.db.reply_timeout_ms = bff_cfg.statement_timeout_ms + 1000;
    bff_cache_init(&ctx.cache, &bff_cfg);
    ctx.cache.on_connect = replay_on_connect;
    ctx.cache.on_connect_arg = &ctx;
    bff_web_metrics_open(&ctx); /* without it we serve, unmeasured */

    install_signals();
    if (FCGX_Init() != 0) {
        fprintf(stderr, "bff-fcgi: FCGX_Init failed\n");
        return 2;
    }
    if (bff_acceptor_open(&acc, 0, &e) != 0) {
        bff_log_error(NULL, "bff-fcgi cannot serve", "error", e.msg);
        fprintf(stderr, "bff-fcgi: %s\n", e.msg);
        return 2;
    }
    /* Listen socket -1: only bff_accept_next accepts (accept.h). */
    FCGX_InitRequest(&fr, -1, 0);
    bff_log_info(NULL, "bff-fcgi started", "version", PACKAGE_VERSION);
    while (bff_accept_next(&acc, &fr, &stopping) == 0) {
        serve(&ctx, &fr);
        FCGX_Finish_r(&fr);
    }
    bff_acceptor_close(&acc);
    bff_log_info(NULL, "bff-fcgi stopping");
    bff_web_metrics_close(&ctx);
    bff_cache_close(&ctx.cache);
    bff_db_close(&ctx.db);
    bff_arena_free(ctx.arena);
    bff_buf_free(&ctx.body);
    bff_log_close();
    return 0;
}
