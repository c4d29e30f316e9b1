/*
 * dispatch.h — from a filled struct bff_req to a status and a body.
 */
#ifndef BFF_DISPATCH_H
#define BFF_DISPATCH_H

#include "request.h"

/*
 * Route, refuse, then serve (Redis's processCommand): 404 unknown path,
 * 405 (+Allow) wrong method, 413 body over BFF_MAX_BODY, 415 body that is
 * not JSON, 400 malformed JSON / unknown field / bad query parameter,
 * 401/403 (auth) — each answered here, in one place. Only a request that
 * may be served reaches the handler. Returns the HTTP status; the body is
 * in rs->body.
 */
int bff_dispatch(struct bff_req *rq, struct bff_resp *rs);

/* Prepare rq/rs for a new request on ctx (resets the arena and body). */
void bff_req_begin(struct bff_ctx *ctx, struct bff_req *rq, struct bff_resp *rs);

/* The client's X-Request-Id when sane (1..128 of [A-Za-z0-9._-]), else a
 * fresh one: an arena string. */
const char *bff_request_id(struct bff_arena *a, const char *client);

#endif
