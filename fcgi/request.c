/*
 * request.c — request-scoped helpers shared by handlers.
 */
#include "request.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

int64_t bff_req_param(const struct bff_req *rq, int i)
{
    return i < rq->nparams ? rq->params[i] : 0;
}

void bff_req_invalidate(struct bff_req *rq, int kind, const char *key)
{
    int i;

    for (i = 0; i < rq->ninval; i++)
        if (rq->inval[i].kind == kind && strcmp(rq->inval[i].key, key) == 0)
            return;
    if (rq->ninval == (int)(sizeof rq->inval / sizeof rq->inval[0])) {
        /* More than a request should ever touch: drop every stock entry
         * rather than leave one stale. */
        rq->inval[0].kind = BFF_INVAL_PATTERN;
        rq->inval[0].key = "stock:*";
        rq->ninval = 1;
        bff_log_warn(rq->request_id, "too many cache invalidations; clearing stock:*");
        return;
    }
    rq->inval[rq->ninval].kind = kind;
    rq->inval[rq->ninval].key = bff_arena_strdup(rq->a, key);
    rq->ninval++;
}
