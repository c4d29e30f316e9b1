/*
 * cmd_sessions.c — `bffctl clearsessions` (manage.py clearsessions): drop
 * API tokens that can no longer authenticate and old idempotency keys.
 *
 * Deleted (lib/sessions.h, shared with the worker's daily clear_sessions
 * job): tokens past their expiry; revoked tokens once revoked for more than
 * 30 days (kept that long so `token list` still shows recent revocations to
 * whoever investigates them); Idempotency-Key records older than 48 hours
 * (SPEC §4 keeps them at least 24 h). Nothing deleted can authenticate, so
 * no cache entry needs dropping: a cached token:{hash} carries its expiry
 * and a revoked token's entry was dropped at revocation. Running it twice
 * deletes nothing more.
 */
#include <inttypes.h>
#include <stdio.h>

#include "commands.h"
#include "sessions.h"

/* Prints "tokens: N deleted ..." and "idempotency_keys: N deleted ...". */
int cmd_clearsessions(int argc, char **argv)
{
    int64_t tokens = 0, keys = 0;
    struct bff_error e;
    struct bff_db db;
    int rc;

    if (argc > 1)
        return bffctl_usage_error(argv[0], "unexpected argument '%s'", argv[1]);
    if (bffctl_db_open(argv[0], &db) != 0)
        return 1;
    bff_error_clear(&e);
    rc = bff_clear_sessions(&db, &tokens, &keys, &e);
    bff_db_close(&db);
    if (rc != 0)
        return bffctl_fail(argv[0], "%s", e.msg);
    printf("tokens: %" PRId64 " deleted (expired, or revoked more than %s ago)\n", tokens,
           BFF_SESSIONS_REVOKED_KEEP);
    printf("idempotency_keys: %" PRId64 " deleted (older than %s)\n", keys, BFF_SESSIONS_IDEM_KEEP);
    return 0;
}
