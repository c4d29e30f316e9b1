/*
 * h_admin.c — POST /api/admin/cache/invalidate/ (SPEC §4 Cache admin;
 * permission `admin`).
 *
 * Body: exactly one of {"pattern":"product:*"} (SCAN MATCH + UNLINK, never
 * KEYS), {"key":"stock:123:warehouse:1"} (UNLINK) or {"all":true} (every
 * key of bff's Redis database, by SCAN + UNLINK: bff owns that database, and
 * the count stays exact — see lib/cache_admin.h). Answers {"deleted":N}.
 *
 * Without a configured cache: {"deleted":0}. With Redis configured but not
 * answering, the invalidation is recorded in PostgreSQL for the worker to
 * replay (SPEC §5) and the answer is 202 {"deleted":0,"pending_replay":true}:
 * accepted, not yet done.
 */
#include <string.h>

#include "cache_admin.h"
#include "handlers.h"
#include "log.h"
#include "outbox.h"
#include "reply.h"

const struct bff_field bff_cache_invalidate_fields[] = {
    {"pattern", BFF_F_STRING, 0, 1, 1024, 0, NULL},
    {"key", BFF_F_STRING, 0, 1, 1024, 0, NULL},
    {"all", BFF_F_BOOL, 0, 0, 0, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL},
};

int h_admin_cache_invalidate(struct bff_req *rq, struct bff_resp *rs)
{
    struct bff_ctx *ctx = rq->ctx;
    const struct bff_json *pattern = bff_json_get(rq->json, "pattern");
    const struct bff_json *key = bff_json_get(rq->json, "key");
    const struct bff_json *all = bff_json_get(rq->json, "all");
    const char *what;
    struct bff_error e;
    long n;
    int is_pattern = 1;

    if ((pattern != NULL) + (key != NULL) + (all != NULL) != 1)
        return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST, NULL,
                             "give exactly one of \"pattern\", \"key\" or \"all\"");
    if (all != NULL && !all->b)
        return bff_resp_fail(rq, rs, BFF_E_BAD_REQUEST, "all",
                             "\"all\" must be true (omit it to name a pattern or key)");
    if (!bff_cache_enabled(&ctx->cache)) {
        n = 0;
        goto out;
    }
    bff_error_clear(&e);
    if (key != NULL) {
        what = key->s;
        is_pattern = 0;
        n = bff_cache_unlink(&ctx->cache, what, &e);
    } else if (pattern != NULL) {
        what = pattern->s;
        n = bff_cache_invalidate(&ctx->cache, what, &e);
    } else {
        what = "*";
        n = bff_cache_clear(&ctx->cache, &e);
    }
    if (n < 0) {
        /* Redis did not answer: record it for replay, in this request's
         * transaction (run_write commits it with the 202). */
        if (bff_invalidate(&ctx->db, &ctx->cache, what, is_pattern) < 0)
            return bff_resp_fail(rq, rs, BFF_E_UNAVAILABLE, NULL, "cache unreachable: %s", e.msg);
        bff_jw_obj(&rs->w);
        bff_jw_kint(&rs->w, "deleted", 0);
        bff_jw_kbool(&rs->w, "pending_replay", 1);
        bff_jw_end(&rs->w);
        return 202;
    }
    bff_log_info(rq->request_id, "cache invalidated by admin", is_pattern ? "pattern" : "key", what,
                 "#deleted", bff_i64(rq->a, n), "#user_id", bff_i64(rq->a, rq->who.user_id));
out:
    bff_jw_obj(&rs->w);
    bff_jw_kint(&rs->w, "deleted", n);
    bff_jw_end(&rs->w);
    return 200;
}
