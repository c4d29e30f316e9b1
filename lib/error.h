/*
 * error.h — the one error record libbff fills.
 *
 * lib/ never prints, exits or speaks HTTP: a failing function returns -1 and
 * fills a struct bff_error. fcgi/errors.c maps `code` to an HTTP status;
 * bffctl and bff-worker print `msg`.
 */
#ifndef BFF_ERROR_H
#define BFF_ERROR_H

#include <stddef.h>

/* Error codes are SPEC §4's wire codes, so no translation table is needed
 * between lib/ and the response body. */
#define BFF_E_BAD_REQUEST "bad_request"
#define BFF_E_UNAUTHENTICATED "unauthenticated"
#define BFF_E_FORBIDDEN "forbidden"
#define BFF_E_NOT_FOUND "not_found"
#define BFF_E_METHOD "method_not_allowed"
#define BFF_E_CONFLICT "conflict"
#define BFF_E_INSUFFICIENT "insufficient_stock"
#define BFF_E_IDEMPOTENCY "idempotency_conflict"
#define BFF_E_TOO_LARGE "payload_too_large"
#define BFF_E_MEDIA "unsupported_media_type"
#define BFF_E_RATE "rate_limited"
#define BFF_E_INTERNAL "internal"
#define BFF_E_UNAVAILABLE "unavailable"

struct bff_error {
    char code[32];     /* one of BFF_E_*; "" when no error */
    char sqlstate[6];  /* PostgreSQL SQLSTATE when the error came from libpq */
    char field[128];   /* offending field path ("lines[0].quantity"), or "" */
    char msg[512];     /* human message; for internal errors: log only */
};

void bff_error_clear(struct bff_error *e);

/* Fill e (code, field may be NULL) with a printf-style message; returns -1 so
 * callers can write `return bff_error_set(...)`. */
int bff_error_set(struct bff_error *e, const char *code, const char *field,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
