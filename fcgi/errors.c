/*
 * errors.c — error codes → HTTP statuses, and the error body.
 *
 * lib/ fills struct bff_error with SPEC's wire codes; this is the only place
 * that knows which status each one means.
 */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "request.h"

static const struct {
    const char *code;
    int status;
} codes[] = {
    {BFF_E_BAD_REQUEST, 400},
    {BFF_E_UNAUTHENTICATED, 401},
    {BFF_E_FORBIDDEN, 403},
    {BFF_E_NOT_FOUND, 404},
    {BFF_E_METHOD, 405},
    {BFF_E_CONFLICT, 409},
    {BFF_E_INSUFFICIENT, 409},
    {BFF_E_TOO_LARGE, 413},
    {BFF_E_MEDIA, 415},
    {BFF_E_IDEMPOTENCY, 422},
    {BFF_E_RATE, 429},
    {BFF_E_INTERNAL, 500},
    {BFF_E_UNAVAILABLE, 503},
};

int bff_status_for(const char *code)
{
    size_t i;

    for (i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(codes[i].code, code) == 0)
            return codes[i].status;
    return 500;
}

const char *bff_status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
    }
}

/*
 * Write {"error":{...}} for e. 5xx details never reach the client: they are
 * logged with the request id, and the body says only what kind of failure it
 * was, so an operator can grep the id.
 */
int bff_resp_error(struct bff_req *rq, struct bff_resp *rs, const struct bff_error *e)
{
    int status = bff_status_for(e->code);
    const char *msg = e->msg;

    /* A deadlock, serialization failure or lock timeout: the write loop
     * retries the whole transaction while attempts remain; only the last
     * failure is logged and answered. */
    if (e->sqlstate[0] && bff_db_classify(e->sqlstate) == BFF_DB_RETRY) {
        rs->retry = 1;
        if (rq->attempts_left > 0) {
            bff_log_debug(rq->request_id, "retrying transaction", "sqlstate", e->sqlstate);
            return 503;
        }
    }
    if (status == 500) {
        bff_log_error(rq->request_id, "internal error", "detail", e->msg, "sqlstate",
                      e->sqlstate, "path", rq->path);
        msg = "internal error; the request id is logged";
    } else if (status == 503) {
        bff_log_error(rq->request_id, "service unavailable", "detail", e->msg, "sqlstate",
                      e->sqlstate, "path", rq->path);
        msg = "service temporarily unavailable; retry later";
        if (rs->retry_after == 0)
            rs->retry_after = 1;
    }
    bff_buf_reset(rs->body);
    bff_jw_init(&rs->w, rs->body);
    bff_jw_obj(&rs->w);
    bff_jw_kobj(&rs->w, "error");
    bff_jw_kstr(&rs->w, "code", e->code);
    bff_jw_kstr(&rs->w, "message", msg);
    if (e->field[0] && status < 500)
        bff_jw_kstr(&rs->w, "field", e->field);
    bff_jw_kstr(&rs->w, "request_id", rq->request_id);
    bff_jw_end(&rs->w);
    bff_jw_end(&rs->w);
    return status;
}

int bff_resp_fail(struct bff_req *rq, struct bff_resp *rs, const char *code,
                  const char *field, const char *fmt, ...)
{
    struct bff_error e;
    va_list ap;

    bff_error_clear(&e);
    snprintf(e.code, sizeof e.code, "%s", code);
    snprintf(e.field, sizeof e.field, "%s", field ? field : "");
    va_start(ap, fmt);
    vsnprintf(e.msg, sizeof e.msg, fmt, ap);
    va_end(ap);
    return bff_resp_error(rq, rs, &e);
}
