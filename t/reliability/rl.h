/*
 * rl.h — what the reliability load generators share (issue 9): an HTTP
 * client through the real nginx (one libcurl easy handle per thread, kept
 * alive), the test database (libpq), tokens minted in SQL, fixtures created
 * through the API, latency statistics and the figures every scenario
 * reports.
 *
 * Everything talks to loopback only: BFF_TEST_HTTP_URL and
 * BFF_TEST_DATABASE_URL of the stack `scripts/dev test --reliability`
 * started. A missing variable ends the program (exit 2): a missing server
 * is a failure, never a skip.
 */
#ifndef BFF_RL_H
#define BFF_RL_H

#include <curl/curl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_tree.h>

/* ------------------------------------------------------------------ HTTP */

struct rl_resp {
    long status; /* 0: transport error (err says which) */
    char *body;  /* NUL-terminated, malloc'd */
    size_t len;
    char *headers; /* raw header block, malloc'd */
    size_t hlen;
    double ms; /* total time */
    char err[CURL_ERROR_SIZE];
};

struct rl_client {
    CURL *h;
    char auth[160];  /* "Authorization: Bearer ..." or "" */
    long timeout_ms; /* whole request; default 35 s (> nginx's 30 s) */
};

void rl_client_init(struct rl_client *c, const char *token);
void rl_client_free(struct rl_client *c);
/*
 * method path [body, len] with extra header lines (NULL-ended, may be
 * NULL). A body goes as application/json unless a Content-Type is among
 * the headers. Fills r (caller frees with rl_resp_free); returns 0, or -1
 * on a transport error (r->status 0).
 */
int rl_http(struct rl_client *c, const char *method, const char *path, const char *body, size_t len,
            const char *const *headers, struct rl_resp *r);
void rl_resp_free(struct rl_resp *r);
/* Value of a response header (case-insensitive) into buf; NULL if absent. */
const char *rl_header(const struct rl_resp *r, const char *name, char *buf, size_t n);
/* r is an error in the SPEC shape: JSON, {"error":{"code":...}}; code
 * copied to buf when non-NULL. */
int rl_is_json_error(const struct rl_resp *r, char *code, size_t n);

/* ------------------------------------------------------------------ JSON */

yajl_val rl_json(const char *text);                            /* NULL if not JSON */
long long rl_jint(yajl_val v, const char *k1, const char *k2); /* -1 absent */
const char *rl_jstr(yajl_val v, const char *k1, const char *k2);

/* ------------------------------------------------------------ database */

/* One connection per thread that calls it (thread-local). Dies on error. */
PGconn *rl_db(void);
/* Run SQL (printf-formatted: test data only, never user input); the first
 * value of the first row as a malloc'd string, NULL when no row. Dies on
 * an SQL error. */
char *rl_sql(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
long long rl_sql_int(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A fresh superuser (or a user with `perms`, space separated) and a token,
 * straight in SQL; returns a malloc'd token, *uid when non-NULL. */
char *rl_token(const char *perms, long long *uid);

/* --------------------------------------------------------------- fixtures */

/* Create through the API (dies unless 201/200): returns the new id. */
long long rl_mk_warehouse(struct rl_client *c, const char *code);
long long rl_mk_product(struct rl_client *c, const char *sku);
long long rl_mk_lot(struct rl_client *c, long long product, long long warehouse, const char *code,
                    int expires_in_days, long long qty);

/* ------------------------------------------------------------ statistics */

struct rl_lat {
    pthread_mutex_t mu;
    double *v;
    size_t n, cap;
};
void rl_lat_init(struct rl_lat *l);
void rl_lat_add(struct rl_lat *l, double ms);
double rl_lat_pct(struct rl_lat *l, double p); /* sorts; 0 when empty */
void rl_lat_free(struct rl_lat *l);

/* ---------------------------------------------------------------- figures */

/*
 * One figure of a scenario: printed, and appended as a TSV line
 * "scenario<TAB>figure<TAB>value<TAB>expected<TAB>PASS|FAIL|INFO" to
 * $RL_RESULTS when set. ok: 1 pass, 0 fail, -1 informational. Returns ok
 * (so callers can fold failures).
 */
int rl_figure(const char *scenario, const char *name, const char *expected, int ok, const char *fmt,
              ...) __attribute__((format(printf, 5, 6)));
/* Failures reported so far (the exit status of a subcommand). */
int rl_failures(void);

/* ------------------------------------------------------------------ misc */

double rl_now_ms(void);
void rl_sleep_ms(long ms);
/* Per-thread xorshift; seed once per thread. */
uint64_t rl_rand(uint64_t *s);
long rl_rand_range(uint64_t *s, long lo, long hi); /* inclusive */
void rl_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
const char *rl_env(const char *name); /* dies when unset */
/* A short unique tag for fixture names: RL<pid><counter>. */
const char *rl_tag(char *buf, size_t n);

/* "--name value" options: the value, or def. Integers die when malformed. */
const char *rl_opt(int argc, char **argv, const char *name, const char *def);
long rl_opt_int(int argc, char **argv, const char *name, long def);
int rl_flag(int argc, char **argv, const char *name);

#endif
