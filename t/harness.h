/*
 * harness.h — what the end-to-end suites share: an HTTP client through the
 * real nginx (libcurl), JSON access (yajl_tree is fine for trusted test
 * data), the test stack's variables and control script.
 *
 * Every helper that needs a BFF_TEST_* variable fails the test when it is
 * missing: a missing server is a failure, never a skip.
 */
#ifndef BFF_HARNESS_H
#define BFF_HARNESS_H

#include <stddef.h>
#include <yajl/yajl_tree.h>

struct http_resp {
    long status;
    char *body;          /* NUL-terminated */
    size_t len;
    char *headers;       /* raw header block */
    double seconds;      /* total time */
    yajl_val json;       /* parsed body, NULL when not JSON */
};

/* A growing NUL-terminated buffer and the libcurl write/header callback
 * that fills it (for suites that drive curl themselves). */
struct t_sink {
    char *p;
    size_t n;
};
size_t t_collect(char *data, size_t size, size_t nmemb, void *arg);

/* The value of a BFF_TEST_* variable; fails the test when unset. */
const char *t_env(const char *name);

/*
 * method path [body] with extra header lines ("Name: value", NULL-ended).
 * A body is sent as application/json unless a Content-Type header is given.
 * Returns 0, or fails the test on a transport error.
 */
int t_http(const char *method, const char *path, const char *const *headers,
           const char *body, size_t len, struct http_resp *out);
/* Shorthands. */
int t_get(const char *path, struct http_resp *out);
int t_post(const char *path, const char *json, struct http_resp *out);
void t_resp_free(struct http_resp *r);

/* Value of a response header (case-insensitive), malloc'd, or NULL. */
char *t_header(const struct http_resp *r, const char *name);

/* JSON lookups: path components ending in NULL. NULL when absent/mistyped. */
const char *t_jstr(yajl_val v, ...);
long long t_jint(yajl_val v, int *ok, ...);
yajl_val t_jget(yajl_val v, ...);

/* Assert r is the SPEC error shape with this status and code. */
void t_assert_error(const struct http_resp *r, long status, const char *code);

/* Run `$BFF_TEST_STACKCTL $BFF_TEST_STATE action service` with extra env
 * assignments (e.g. "BFF_SMTP_URL=smtp://127.0.0.1:2525", NULL-ended). 0 ok. */
int t_stackctl(const char *action, const char *service, const char *const *env);

/* Wait until GET path answers `status` (up to ms); 0 when it did. */
int t_wait_status(const char *path, long status, int ms);

/* A free loopback TCP port. */
int t_free_port(void);

/* t/smtp-sink on a free port, started with `OPT VAL` (--mode ok|bad|mute,
 * or --dir DIR to save messages); waits until it listens and returns the
 * port. One sink at a time; t_sink_stop kills it (no-op when none). */
int t_sink_start(const char *opt, const char *val);
void t_sink_stop(void);

/* What `bffctl ARGS` did: exit status, stdout and stderr (malloc'd). */
struct t_ctl {
    int status;
    char *out, *err;
};

/*
 * Run `bffctl ARGS` (printf-style) with the stack's env file, then `envs`
 * (shell assignments, may be NULL; the password and check-path variables
 * are unset first), with `input` on stdin (NULL: empty).
 */
void t_ctl(struct t_ctl *r, const char *input, const char *envs, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void t_ctl_free(struct t_ctl *r);

/* A whole file as a malloc'd string ("" when it cannot be read). */
char *t_slurp(const char *path);

#endif

/*
 * A fresh user holding `perms` (space-separated permission names, or "*"
 * for a superuser) and a token for it, created straight in the test
 * database. Returns the token (static storage, overwritten by the next
 * call); *user_id when non-NULL. For the auth suite's own tokens use bffctl.
 */
const char *t_token(const char *perms, long long *user_id);
/* "Authorization: Bearer <token>" for t_http's header list (static). */
const char *t_auth(const char *token);

/* Run SQL on the test database; returns the first value of the first row
 * (malloc'd, NULL when no row), failing the test on an error. */
char *t_sql(const char *sql);
