/*
 * metrics_web.h — bff-fcgi's side of the metrics segment (lib/metrics.h):
 * which slot a request counts under, and the figures shared by
 * /api/metrics/system/ and the dashboard.
 *
 * Slots, in this order: one per row of the route table; one "HEAD pattern"
 * per GET row (HEAD is served by GET routes but counted apart); one
 * "METHOD (unmatched)" per method for requests that matched no route
 * (404, 405). A request that matched a route counts under it whatever its
 * status.
 */
#ifndef BFF_METRICS_WEB_H
#define BFF_METRICS_WEB_H

#include <stdint.h>

#include "jsonw.h"
#include "request.h"

/* Open (create or attach) ctx->cfg->metrics_shm into ctx->metrics. 0, or
 * -1 after logging why: bff-fcgi then serves without request metrics. */
int bff_web_metrics_open(struct bff_ctx *ctx);
void bff_web_metrics_close(struct bff_ctx *ctx);

/* Count rq (answered `status` after dur_us) and publish the process's
 * cache and database counters. Called once per request by the accept
 * loop, after the response is written. */
void bff_web_metrics_record(struct bff_req *rq, int status, int64_t dur_us);

/* The slot rq counts under (see above). */
int bff_web_metrics_slot(const struct bff_req *rq);

/* Write the /api/metrics/system/ object into w. 0, or -1 with e when the
 * database could not be asked. */
int bff_web_write_system(struct bff_req *rq, struct bff_jw *w, struct bff_error *e);

#endif
