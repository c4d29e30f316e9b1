/*
 * dispatch.c — the dispatcher refuses, handlers decide.
 */
#include "dispatch.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <sodium.h>

#include "auth.h"
#include "log.h"
#include "outbox.h"
#include "routes.h"
#include "util.h"

/* Whole-transaction attempts for deadlocks, serialization failures and lock
 * timeouts before the client gets a 503 (SPEC §4 Timeouts). */
#define WRITE_ATTEMPTS 5
/* ... and no new attempt once this much of the request has gone by: the
 * app must answer (503) before nginx's fastcgi_read_timeout (30 s) would
 * (the timeout ladder of SPEC §4; lock_timeout 2 s x 5 attempts fits). */
#define WRITE_BUDGET_US (12 * 1000000LL)

/* Another whole-transaction attempt is allowed. */
static int may_retry(const struct bff_req *rq)
{
    return rq->attempts_left > 0 && bff_now_us() - rq->start_us < WRITE_BUDGET_US;
}

void bff_req_begin(struct bff_ctx *ctx, struct bff_req *rq, struct bff_resp *rs)
{
    bff_arena_reset(ctx->arena);
    bff_buf_reset(&ctx->body);
    memset(rq, 0, sizeof *rq);
    memset(rs, 0, sizeof *rs);
    rq->ctx = ctx;
    rq->a = ctx->arena;
    rq->query_string = "";
    rq->start_us = bff_now_us();
    rs->body = &ctx->body;
    bff_jw_init(&rs->w, rs->body);
}

/*
 * Request ids: the client's when sane, else pid-seeded counter ids that are
 * unique across the pool without a syscall per request.
 */
const char *bff_request_id(struct bff_arena *a, const char *client)
{
    static uint64_t seed, counter;

    if (client && bff_is_code(client, 128))
        return client;
    if (seed == 0) {
        if (bff_random_bytes(&seed, sizeof seed) != 0 || seed == 0)
            seed = (uint64_t)getpid() << 32 | (uint64_t)bff_now_us();
    }
    counter++;
    return bff_arena_sprintf(a, "%016" PRIx64 "%08" PRIx64, seed, counter & 0xffffffffu);
}

/* "application/json" with optional parameters (; charset=utf-8). */
static int is_json_type(const char *ct)
{
    size_t n = strlen("application/json");

    if (ct == NULL || strncasecmp(ct, "application/json", n) != 0)
        return 0;
    return ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ';
}

/* A body made only of whitespace counts as no body. */
static int body_empty(const struct bff_req *rq)
{
    size_t i;

    for (i = 0; i < rq->body_len; i++)
        if (!strchr(" \t\r\n", rq->body[i]))
            return 0;
    return 1;
}

/* Body checks for the matched route: size, media type, JSON, fields. */
static int check_body(struct bff_req *rq, struct bff_resp *rs)
{
    const struct bff_route *r = rq->route;
    struct bff_error e;

    bff_error_clear(&e);
    if ((int64_t)rq->body_len > rq->ctx->cfg->max_body)
        return bff_resp_fail(rq, rs, BFF_E_TOO_LARGE, NULL,
                             "request body exceeds %" PRId64 " bytes",
                             rq->ctx->cfg->max_body);
    if (!(r->flags & BFF_R_BODY)) {
        /* Routes without a body accept none, or an empty object. */
        if (body_empty(rq))
            return 0;
        if (!is_json_type(rq->content_type))
            return bff_resp_fail(rq, rs, BFF_E_MEDIA, NULL,
                                 "Content-Type must be application/json");
        if (bff_json_parse(rq->a, rq->body, rq->body_len, BFF_JSON_MAX_DEPTH, &rq->json, &e))
            return bff_resp_error(rq, rs, &e);
        if (rq->json->type != BFF_JSON_OBJECT || rq->json->len != 0)
            return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST, rq->json->type == BFF_JSON_OBJECT
                                 ? rq->json->keys[0] : NULL,
                                 "this endpoint takes no body fields");
        return 0;
    }
    if (body_empty(rq)) {
        if (r->flags & BFF_R_OPTBODY)
            return 0;
        return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST, NULL, "a JSON object body is required");
    }
    if (!is_json_type(rq->content_type))
        return bff_resp_fail(rq, rs, BFF_E_MEDIA, NULL, "Content-Type must be application/json");
    if (bff_json_parse(rq->a, rq->body, rq->body_len, BFF_JSON_MAX_DEPTH, &rq->json, &e))
        return bff_resp_error(rq, rs, &e);
    if (rq->json->type != BFF_JSON_OBJECT)
        return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST, NULL, "the body must be a JSON object");
    if (bff_json_validate(rq->json, r->body, "", &e))
        return bff_resp_error(rq, rs, &e);
    return 0;
}

/*
 * Authorization: Bearer <token> → rq->who, then the route's permission.
 * 401 for a missing/unknown/expired/revoked token, 403 for a token without
 * the permission, 503 when the database cannot say.
 */
static int authenticate(struct bff_req *rq, struct bff_resp *rs)
{
    const char *h = rq->authorization;
    struct bff_error e;
    unsigned need;

    if (rq->route->flags & BFF_R_PUBLIC)
        return 0;
    bff_error_clear(&e);
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0 || h[7] == '\0') {
        rs->www_authenticate = 1;
        return bff_resp_fail(rq, rs, BFF_E_UNAUTHENTICATED, NULL,
                             "an Authorization: Bearer <token> header is required");
    }
    for (h += 7; *h == ' '; h++)
        ;
    if (bff_auth_token(&rq->ctx->db, &rq->ctx->cache, rq->a, h, &rq->who, &e) != 0) {
        rs->www_authenticate = strcmp(e.code, BFF_E_UNAUTHENTICATED) == 0;
        return bff_resp_error(rq, rs, &e);
    }
    need = bff_perm_bit(rq->route->perm);
    if ((rq->who.perms & need) != need)
        return bff_resp_fail(rq, rs, BFF_E_FORBIDDEN, NULL, "this token lacks the %s permission",
                             rq->route->perm);
    return 0;
}

/* Idempotency-Key: 1..255 printable ASCII. */
static int key_ok(const char *k)
{
    size_t n = 0;

    for (; k[n]; n++)
        if (k[n] < 0x20 || k[n] > 0x7e || n >= 255)
            return 0;
    return n > 0;
}

static struct bff_stmt idem_lock = {
    "idem_lock", "SELECT pg_try_advisory_xact_lock(hashtextextended($1 || ':' || $2, 42))", 2, 0};
static struct bff_stmt idem_get = {
    "idem_get",
    "SELECT method, path, encode(body_hash, 'hex'), status, response FROM idempotency_keys"
    " WHERE user_id = $1 AND key = $2",
    2, 0};
static struct bff_stmt idem_put = {
    "idem_put",
    "INSERT INTO idempotency_keys (user_id, key, method, path, body_hash, status, response)"
    " VALUES ($1, $2, $3, $4, decode($5, 'hex'), $6, $7)",
    7, 0};

struct idem {
    const char *key;
    char user[24];
    char hash[65];
};

/*
 * Inside the open transaction: take the key's lock and look it up.
 * Returns 0 to go on (first use), or an HTTP status already answered:
 * 409 while another request holds the key, 422 for another route/body,
 * or the stored response replayed.
 */
static int idem_begin(struct bff_req *rq, struct bff_resp *rs, struct idem *id,
                      struct bff_error *e)
{
    const char *p2[2] = {id->user, id->key};
    PGresult *r;

    if ((r = bff_db_query(&rq->ctx->db, rq->a, &idem_lock, p2, e)) == NULL)
        return bff_resp_error(rq, rs, e);
    if (PQgetvalue(r, 0, 0)[0] != 't')
        return bff_resp_fail(rq, rs, BFF_E_CONFLICT, "Idempotency-Key",
                             "a request with this Idempotency-Key is still in progress");
    if ((r = bff_db_query(&rq->ctx->db, rq->a, &idem_get, p2, e)) == NULL)
        return bff_resp_error(rq, rs, e);
    if (PQntuples(r) == 0)
        return 0;
    if (strcmp(PQgetvalue(r, 0, 0), rq->method) || strcmp(PQgetvalue(r, 0, 1), rq->path) ||
        strcmp(PQgetvalue(r, 0, 2), id->hash))
        return bff_resp_fail(rq, rs, BFF_E_IDEMPOTENCY, "Idempotency-Key",
                             "this Idempotency-Key was used for a different request");
    bff_buf_reset(rs->body);
    bff_buf_append(rs->body, PQgetvalue(r, 0, 4), (size_t)PQgetlength(r, 0, 4));
    rs->replayed = 1;
    return (int)bff_db_int(r, 0, 3);
}

static int idem_store(struct bff_req *rq, struct idem *id, int status, struct bff_error *e)
{
    char st[8];
    const char *p[7] = {id->user, id->key, rq->method, rq->path, id->hash, st, bff_buf_cstr(&rq->ctx->body)};
    PGresult *r;

    snprintf(st, sizeof st, "%d", status);
    if ((r = bff_db_query(&rq->ctx->db, rq->a, &idem_put, p, e)) == NULL)
        return -1;
    return 0;
}

/* After commit: drop what the request changed from the cache. */
static void invalidate(struct bff_req *rq)
{
    struct bff_ctx *ctx = rq->ctx;
    int i;

    for (i = 0; i < rq->ninval; i++) {
        const char *k = rq->inval[i].key;

        switch (rq->inval[i].kind) {
        case BFF_INVAL_KEY:
            bff_invalidate(&ctx->db, &ctx->cache, k, 0);
            break;
        case BFF_INVAL_PATTERN:
            bff_invalidate(&ctx->db, &ctx->cache, k, 1);
            break;
        case BFF_INVAL_STOCK:
            bff_invalidate_stock(&ctx->db, &ctx->cache, k);
            break;
        }
    }
}

/* The body checks, then the handler. Inside a write's transaction, so that
 * a refused body is stored under its Idempotency-Key like any other 4xx. */
static int serve(struct bff_req *rq, struct bff_resp *rs)
{
    int status = check_body(rq, rs);

    return status != 0 ? status : rq->route->handler(rq, rs);
}

/*
 * A write runs in one transaction: BEGIN, [Idempotency-Key lock + lookup,
 * SAVEPOINT], handler, [store the response], COMMIT, then invalidate the
 * cache. A 4xx rolls the work back (to the savepoint, so the key still
 * records the answer); a 5xx rolls everything back and is not stored, so a
 * retry runs again. Deadlocks, serialization failures and lock timeouts
 * retry the whole transaction a bounded number of times, then answer 503.
 */
static int run_write(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_db *db = &rq->ctx->db;
    struct idem id, *idp = NULL;
    struct bff_error e;
    int status;

    bff_error_clear(&e);
    if (rq->idempotency_key && rq->who.user_id && strcmp(rq->method, "POST") == 0) {
        if (!key_ok(rq->idempotency_key))
            return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST, "Idempotency-Key",
                                 "Idempotency-Key must be 1..255 printable ASCII characters");
        idp = &id;
        id.key = rq->idempotency_key;
        snprintf(id.user, sizeof id.user, "%" PRId64, rq->who.user_id);
        {
            unsigned char h[crypto_hash_sha256_BYTES];

            crypto_hash_sha256(h, (const unsigned char *)(rq->body ? rq->body : ""),
                               rq->body ? rq->body_len : 0);
            sodium_bin2hex(id.hash, sizeof id.hash, h, sizeof h);
        }
    }
    for (rq->attempts_left = WRITE_ATTEMPTS - 1;; rq->attempts_left--) {
        rq->ninval = 0;
        rs->retry = 0;
        bff_buf_reset(rs->body);
        bff_jw_init(&rs->w, rs->body);
        if (bff_db_ensure(db, &e) != 0 || bff_db_begin(db, &e) != 0)
            return bff_resp_error(rq, rs, &e);
        if (idp) {
            if ((status = idem_begin(rq, rs, idp, &e)) != 0) {
                bff_db_rollback(db);
                return status;
            }
            if (bff_db_exec_sql(db, "SAVEPOINT work", &e) != 0) {
                bff_db_rollback(db);
                return bff_resp_error(rq, rs, &e);
            }
        }
        status = serve(rq, rs);
        if (status >= 500) {
            bff_db_rollback(db);
            if (rs->retry && may_retry(rq))
                continue;
            return status;
        }
        if (status >= 400 && idp) {
            if (bff_db_exec_sql(db, "ROLLBACK TO SAVEPOINT work", &e) != 0) {
                bff_db_rollback(db);
                return bff_resp_error(rq, rs, &e);
            }
            rq->ninval = 0;
        } else if (status >= 400) {
            bff_db_rollback(db);
            return status;
        }
        if (idp && idem_store(rq, idp, status, &e) != 0) {
            bff_db_rollback(db);
            if (bff_db_error_class(&e) == BFF_DB_RETRY && may_retry(rq))
                continue;
            return bff_resp_error(rq, rs, &e);
        }
        if (bff_db_commit(db, &e) != 0) {
            if (bff_db_error_class(&e) == BFF_DB_RETRY && may_retry(rq))
                continue;
            return bff_resp_error(rq, rs, &e);
        }
        invalidate(rq);
        return status;
    }
}

int bff_dispatch(struct bff_req *rq, struct bff_resp *rs)
{
    static const struct bff_field no_params[] = {{NULL, 0, 0, 0, 0, 0, NULL}};
    char allow[64];
    struct bff_error e;
    int status;

    bff_error_clear(&e);
    switch (bff_route_match(rq->method, rq->path, &rq->route, rq->params, &rq->nparams,
                            allow, sizeof allow)) {
    case BFF_MATCH_NOPATH:
        return bff_resp_fail(rq, rs, BFF_E_NOT_FOUND, NULL, "no such resource: %s", rq->path);
    case BFF_MATCH_NOMETHOD:
        rs->allow = bff_arena_strdup(rq->a, allow);
        return bff_resp_fail(rq, rs, BFF_E_METHOD, NULL, "method %s not allowed; use %s",
                             rq->method, allow);
    case BFF_MATCH_OK:
        break;
    }
    if ((status = authenticate(rq, rs)) != 0)
        return status;
    if (bff_query_parse(rq->a, rq->query_string, &rq->query, &e) ||
        bff_query_validate(&rq->query, rq->route->query ? rq->route->query : no_params, &e))
        return bff_resp_error(rq, rs, &e);
    if (strcmp(rq->route->method, "GET") != 0 && !(rq->route->flags & BFF_R_NOTX))
        return run_write(rq, rs);
    return serve(rq, rs);
}
