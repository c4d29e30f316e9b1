/*
 * sessions.h — Django's clearsessions for bff: drop API tokens that can no
 * longer authenticate and old Idempotency-Key records. Shared by the
 * worker's daily clear_sessions job and `bffctl clearsessions`.
 */
#ifndef BFF_SESSIONS_H
#define BFF_SESSIONS_H

#include <stdint.h>

#include "db.h"
#include "error.h"

#define BFF_SESSIONS_REVOKED_KEEP "30 days"  /* revoked tokens stay listed this long */
#define BFF_SESSIONS_IDEM_KEEP "48 hours"    /* SPEC §4: keys kept >= 24 h */

/*
 * Delete tokens past their expiry, tokens revoked more than
 * BFF_SESSIONS_REVOKED_KEEP ago and idempotency keys older than
 * BFF_SESSIONS_IDEM_KEEP; *tokens and *keys (may be NULL) get the counts.
 * Nothing deleted can authenticate, so no cache entry needs dropping.
 * Idempotent. 0, or -1 with e.
 */
int bff_clear_sessions(struct bff_db *db, int64_t *tokens, int64_t *keys, struct bff_error *e);

#endif
