/*
 * sessions.c — see sessions.h.
 */
#include "sessions.h"

#include "util.h"

static struct bff_stmt del_tokens = {
    "sessions_clear_tokens",
    "DELETE FROM api_tokens WHERE expires_at <= now()"
    " OR revoked_at < now() - interval '" BFF_SESSIONS_REVOKED_KEEP "'",
    0, 0};
static struct bff_stmt del_idem = {
    "sessions_clear_idem",
    "DELETE FROM idempotency_keys WHERE created_at < now() - interval '" BFF_SESSIONS_IDEM_KEEP
    "'",
    0, 0};

/* Run a DELETE; its row count into *n (may be NULL). */
static int delete_count(struct bff_db *db, struct bff_stmt *st, int64_t *n, struct bff_error *e)
{
    PGresult *r = bff_db_exec(db, st, NULL, e);
    int64_t v = 0;

    if (r == NULL)
        return -1;
    bff_parse_int64(PQcmdTuples(r), 0, INT64_MAX, &v);
    PQclear(r);
    if (n != NULL)
        *n = v;
    return 0;
}

int bff_clear_sessions(struct bff_db *db, int64_t *tokens, int64_t *keys, struct bff_error *e)
{
    if (delete_count(db, &del_tokens, tokens, e) < 0)
        return -1;
    return delete_count(db, &del_idem, keys, e);
}
