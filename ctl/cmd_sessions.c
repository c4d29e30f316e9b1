/*
 * cmd_sessions.c — `bffctl clearsessions` (manage.py clearsessions): drop
 * API tokens that can no longer authenticate and old idempotency keys.
 *
 * Deleted: tokens past their expiry; revoked tokens once revoked for more
 * than 30 days (kept that long so `token list` still shows recent
 * revocations to whoever investigates them); Idempotency-Key records older
 * than 48 hours (SPEC §4 keeps them at least 24 h). Nothing deleted here can
 * authenticate, so no cache entry needs dropping: a cached token:{hash}
 * carries its expiry and a revoked token's entry was dropped at revocation.
 * Running it twice deletes nothing more.
 */
#include <inttypes.h>
#include <stdio.h>

#include "commands.h"
#include "util.h"

#define REVOKED_KEEP "30 days"
#define IDEM_KEEP "48 hours"

static struct bff_stmt del_tokens = {
    "ctl_clear_tokens",
    "DELETE FROM api_tokens WHERE expires_at <= now()"
    " OR revoked_at < now() - interval '" REVOKED_KEEP "'",
    0, 0};
static struct bff_stmt del_idem = {
    "ctl_clear_idem",
    "DELETE FROM idempotency_keys WHERE created_at < now() - interval '" IDEM_KEEP "'", 0, 0};

/* Prints "tokens: N deleted ..." and "idempotency_keys: N deleted ...". */
int cmd_clearsessions(int argc, char **argv)
{
    struct bff_error e;
    struct bff_db db;
    PGresult *r;
    int64_t tokens = 0, keys = 0;

    if (argc > 1)
        return bffctl_usage_error(argv[0], "unexpected argument '%s'", argv[1]);
    if (bffctl_db_open(argv[0], &db) != 0)
        return 1;
    bff_error_clear(&e);
    if ((r = bff_db_exec(&db, &del_tokens, NULL, &e)) == NULL)
        goto fail;
    bff_parse_int64(PQcmdTuples(r), 0, INT64_MAX, &tokens);
    PQclear(r);
    if ((r = bff_db_exec(&db, &del_idem, NULL, &e)) == NULL)
        goto fail;
    bff_parse_int64(PQcmdTuples(r), 0, INT64_MAX, &keys);
    PQclear(r);
    bff_db_close(&db);
    printf("tokens: %" PRId64 " deleted (expired, or revoked more than %s ago)\n", tokens, REVOKED_KEEP);
    printf("idempotency_keys: %" PRId64 " deleted (older than %s)\n", keys, IDEM_KEEP);
    return 0;
fail:
    bff_db_close(&db);
    return bffctl_fail(argv[0], "%s", e.msg);
}
