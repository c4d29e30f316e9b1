/*
 * check_e2e_auth.c — authentication and authorization through the real
 * path (nginx → spawn-fcgi pool → bff-fcgi → PostgreSQL/Redis):
 *
 *   - an auth matrix generated from the route table itself (bff_routes[]):
 *     every non-public route × {no header, malformed headers, garbage,
 *     expired, revoked, inactive user, user lacking the permission, token
 *     scoped away from it, sufficient token}, so a route added later is
 *     covered without touching this file;
 *   - login (POST /api/auth/token/): success, same answer and about the same
 *     time for unknown users and wrong passwords, bad bodies, nginx's rate
 *     limit (JSON 429);
 *   - permission and token changes by bffctl take effect on the next request
 *     with Redis up (the cached entries are dropped);
 *   - tokens never echoed, secrets and hashes never logged;
 *   - mass assignment refused; the edge (nginx) limits and headers.
 *
 * Login requests go out from a fresh random 127.x.y.z each, so the login
 * rate limit (per client address) never couples tests to each other or to
 * other suites.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <check.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <regex.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "harness.h"
#include "routes.h"

#define BIG_ID "9000000000000000000"

/* ------------------------------------------------------------ helpers */

/* A name no other test (or earlier run) uses. */
static const char *uniq(const char *prefix)
{
    static char buf[8][96];
    static unsigned n;
    char *b = buf[n++ % 8];

    snprintf(b, sizeof buf[0], "%s%d_%u_%u", prefix, (int)getpid(), n, randombytes_random());
    return b;
}

/* A random loopback source address other than 127.0.0.1. */
static const char *fresh_src(void)
{
    static char ip[32];

    snprintf(ip, sizeof ip, "127.%u.%u.%u", 10 + randombytes_uniform(240),
             1 + randombytes_uniform(250), 1 + randombytes_uniform(250));
    return ip;
}

/* An easy handle for method path body from source address src. */
static CURL *easy(const char *src, const char *method, const char *path, const char *body,
                  struct curl_slist **hl, struct t_sink *b, struct t_sink *h)
{
    const char *base = t_env("BFF_TEST_HTTP_URL");
    size_t n = strlen(base) + strlen(path) + 1;
    char *url = malloc(n);
    CURL *c = curl_easy_init();

    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_nonnull(url);
    snprintf(url, n, "%s%s", base, path);
    *hl = curl_slist_append(*hl, "Content-Type: application/json");
    *hl = curl_slist_append(*hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url); /* libcurl keeps a copy */
    free(url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, t_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, t_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_INTERFACE, src);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
    return c;
}

static void fill(struct http_resp *out, CURL *c, struct t_sink *b, struct t_sink *h)
{
    memset(out, 0, sizeof *out);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &out->seconds);
    out->body = b->p ? b->p : calloc(1, 1);
    out->len = b->n;
    out->headers = h->p ? h->p : calloc(1, 1);
    out->json = yajl_tree_parse(out->body, NULL, 0);
}

/* method path body from source address src (NULL: a fresh one). */
static void http_from(const char *src, const char *method, const char *path, const char *body,
                      struct http_resp *out)
{
    struct t_sink b = {NULL, 0}, h = {NULL, 0};
    struct curl_slist *hl = NULL;
    CURL *c = easy(src ? src : fresh_src(), method, path, body, &hl, &b, &h);
    CURLcode rc = curl_easy_perform(c);

    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    fill(out, c, &b, &h);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
}

/* POST /api/auth/token/ {"username":u,"password":p} from a fresh address. */
static void login(const char *u, const char *p, struct http_resp *out)
{
    char body[1024];

    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"%s\"}", u, p);
    http_from(NULL, "POST", "/api/auth/token/", body, out);
}

/* GET path with a bearer token; the status. */
static long get_with(const char *path, const char *token)
{
    const char *h[] = {t_auth(token), NULL};
    struct http_resp r;
    long st;

    t_http("GET", path, h, NULL, 0, &r);
    st = r.status;
    t_resp_free(&r);
    return st;
}

/* A user with a password and perms, made by bffctl; its id. */
static long long make_user(const char *name, const char *password, const char *perms)
{
    char env[256], sql[256], *id;
    struct t_ctl r;
    long long v;

    snprintf(env, sizeof env, "BFF_USER_PASSWORD='%s'", password);
    t_ctl(&r, NULL, env, "user create --username %s %s", name, perms);
    ck_assert_msg(r.status == 0, "user create: %d %s", r.status, r.err);
    t_ctl_free(&r);
    snprintf(sql, sizeof sql, "SELECT id FROM users WHERE username = '%s'", name);
    id = t_sql(sql);
    ck_assert_ptr_nonnull(id);
    v = atoll(id);
    free(id);
    return v;
}

/* A token made by bffctl (malloc'd). */
static char *make_token(const char *user, const char *name, const char *extra)
{
    struct t_ctl r;
    char *t;

    t_ctl(&r, NULL, NULL, "token create --user %s --name %s %s", user, name, extra ? extra : "");
    ck_assert_msg(r.status == 0, "token create: %d %s", r.status, r.err);
    ck_assert_int_eq(strlen(r.out), BFF_TOKEN_LEN + 1);
    t = strndup(r.out, BFF_TOKEN_LEN);
    t_ctl_free(&r);
    return t;
}

/* Redis connection to the test stack's server. */
static redisContext *redis(void)
{
    const char *url = t_env("BFF_TEST_REDIS_URL");
    char host[128];
    int port;
    redisContext *c;

    ck_assert_int_eq(sscanf(url, "redis://%127[^:]:%d", host, &port), 2);
    c = redisConnect(host, port);
    ck_assert_msg(c && !c->err, "redis %s", url);
    return c;
}

static int redis_exists(redisContext *c, const char *key)
{
    redisReply *r = redisCommand(c, "EXISTS %s", key);
    int v;

    ck_assert_ptr_nonnull(r);
    v = r->type == REDIS_REPLY_INTEGER && r->integer == 1;
    freeReplyObject(r);
    return v;
}

static void token_key(const char *token, char *key, size_t n)
{
    char hex[65];

    bff_token_hash_hex(token, hex);
    snprintf(key, n, "token:%s", hex);
}

/* ------------------------------------------------------------ matrix */

#define NPERMS 8

struct perm_tokens {
    char sufficient[BFF_TOKEN_LEN + 1]; /* user holds exactly this permission */
    char lacking[BFF_TOKEN_LEN + 1];    /* user holds every other one */
    char scoped_out[BFF_TOKEN_LEN + 1]; /* superuser, token scoped to the others */
    int made;
};

/* Space-separated permission names, all but `skip` (a bit; 0 = none). */
static void perms_but(unsigned skip, char *out, size_t n, int sql_array)
{
    size_t o = 0;
    int i;

    out[0] = '\0';
    for (i = 0; i < NPERMS; i++) {
        if ((1u << i) == skip)
            continue;
        if (sql_array)
            o += (size_t)snprintf(out + o, n - o, "%s'%s'", o ? "," : "", bff_perm_name(1u << i));
        else
            o += (size_t)snprintf(out + o, n - o, "%s%s", o ? " " : "", bff_perm_name(1u << i));
    }
}

static void make_perm_tokens(struct perm_tokens *pt, unsigned bit)
{
    char perms[256], sql[512];
    long long uid;

    snprintf(pt->sufficient, sizeof pt->sufficient, "%s", t_token(bff_perm_name(bit), NULL));
    perms_but(bit, perms, sizeof perms, 0);
    snprintf(pt->lacking, sizeof pt->lacking, "%s", t_token(perms, NULL));
    snprintf(pt->scoped_out, sizeof pt->scoped_out, "%s", t_token("*", &uid));
    perms_but(bit, perms, sizeof perms, 1);
    snprintf(sql, sizeof sql, "UPDATE api_tokens SET scopes = ARRAY[%s] WHERE user_id = %lld",
             perms, uid);
    free(t_sql(sql));
    pt->made = 1;
}

/* {id} → a positive id no row has. */
static void concrete_path(const char *pattern, char *out, size_t n)
{
    size_t o = 0;
    const char *p;

    for (p = pattern; *p && o + 1 < n;) {
        if (*p == '{') {
            o += (size_t)snprintf(out + o, n - o, "%s", BIG_ID);
            p = strchr(p, '}') + 1;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static void assert_401(const struct http_resp *r, const char *what)
{
    char *wa;

    ck_assert_msg(r->status == 401, "%s: status %ld, want 401: %s", what, r->status, r->body);
    t_assert_error(r, 401, "unauthenticated");
    wa = t_header(r, "WWW-Authenticate");
    ck_assert_msg(wa && strncmp(wa, "Bearer", 6) == 0, "%s: WWW-Authenticate %s", what,
                  wa ? wa : "(none)");
    free(wa);
}

static void assert_not_echoed(const struct http_resp *r, const char *token, const char *what)
{
    if (token && *token)
        ck_assert_msg(strstr(r->body, token) == NULL && strstr(r->headers, token) == NULL,
                      "%s: the response echoes the token: %s", what, r->body);
}

START_TEST(matrix_from_route_table)
{
    static struct perm_tokens pt[NPERMS];
    char expired[BFF_TOKEN_LEN + 1], revoked[BFF_TOKEN_LEN + 1], inactive[BFF_TOKEN_LEN + 1];
    char unknown[BFF_TOKEN_LEN + 1], sql[256], path[512], what[640];
    const struct bff_route *rt;
    long long uid;
    int nroutes = 0;

    ck_assert_int_ge(sodium_init(), 0);
    /* superusers, so that nothing but the token's state refuses them */
    snprintf(expired, sizeof expired, "%s", t_token("*", &uid));
    snprintf(sql, sizeof sql,
             "UPDATE api_tokens SET created_at = now() - interval '2 days',"
             " expires_at = now() - interval '1 second' WHERE user_id = %lld",
             uid);
    free(t_sql(sql));
    snprintf(revoked, sizeof revoked, "%s", t_token("*", &uid));
    snprintf(sql, sizeof sql, "UPDATE api_tokens SET revoked_at = now() WHERE user_id = %lld", uid);
    free(t_sql(sql));
    snprintf(inactive, sizeof inactive, "%s", t_token("*", &uid));
    snprintf(sql, sizeof sql, "UPDATE users SET is_active = false WHERE id = %lld", uid);
    free(t_sql(sql));
    {
        /* well-formed, never issued */
        unsigned char raw[32];

        randombytes_buf(raw, sizeof raw);
        memcpy(unknown, "bff_", 4);
        sodium_bin2base64(unknown + 4, sizeof unknown - 4, raw, sizeof raw,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    }

    for (rt = bff_routes; rt->method; rt++) {
        unsigned bit;
        struct perm_tokens *p;
        int i;
        const char *bad_headers[] = {
            NULL, /* no Authorization at all */
            "Authorization: Basic YWRtaW46YWRtaW4xMjM0NQ==",
            "Authorization: Bearer",
            "Authorization: Bearer ",
            "Authorization: Token abc",
            "Authorization: Bearer not-a-token",
            "Authorization: bff_abc",
        };
        const char *bad_tokens[] = {unknown, expired, revoked, inactive};
        const char *bad_names[] = {"unknown token", "expired token", "revoked token",
                                   "token of an inactive user"};

        if (rt->flags & BFF_R_PUBLIC)
            continue;
        nroutes++;
        bit = bff_perm_bit(rt->perm);
        ck_assert_msg(bit != 0, "%s %s: permission '%s' is not a known permission", rt->method,
                      rt->pattern, rt->perm ? rt->perm : "(null)");
        p = &pt[__builtin_ctz(bit)];
        if (!p->made)
            make_perm_tokens(p, bit);
        concrete_path(rt->pattern, path, sizeof path);

        for (i = 0; i < (int)(sizeof bad_headers / sizeof bad_headers[0]); i++) {
            const char *h[] = {bad_headers[i], NULL};
            struct http_resp r;

            snprintf(what, sizeof what, "%s %s [%s]", rt->method, path,
                     bad_headers[i] ? bad_headers[i] : "no Authorization");
            t_http(rt->method, path, h, NULL, 0, &r);
            assert_401(&r, what);
            t_resp_free(&r);
        }
        for (i = 0; i < 4; i++) {
            const char *h[] = {t_auth(bad_tokens[i]), NULL};
            struct http_resp r;

            snprintf(what, sizeof what, "%s %s [%s]", rt->method, path, bad_names[i]);
            t_http(rt->method, path, h, NULL, 0, &r);
            assert_401(&r, what);
            assert_not_echoed(&r, bad_tokens[i], what);
            t_resp_free(&r);
        }
        {
            const char *cases[] = {p->lacking, p->scoped_out};
            const char *names[] = {"user lacks the permission", "token scoped without it"};

            for (i = 0; i < 2; i++) {
                const char *h[] = {t_auth(cases[i]), NULL};
                struct http_resp r;

                snprintf(what, sizeof what, "%s %s [%s]", rt->method, path, names[i]);
                t_http(rt->method, path, h, NULL, 0, &r);
                ck_assert_msg(r.status == 403, "%s: status %ld, want 403: %s", what, r.status,
                              r.body);
                t_assert_error(&r, 403, "forbidden");
                assert_not_echoed(&r, cases[i], what);
                t_resp_free(&r);
            }
        }
        {
            const char *h[] = {t_auth(p->sufficient), NULL};
            struct http_resp r;

            snprintf(what, sizeof what, "%s %s [sufficient token]", rt->method, path);
            t_http(rt->method, path, h, NULL, 0, &r);
            ck_assert_msg(r.status != 401 && r.status != 403 && r.status < 500 && r.status >= 200,
                          "%s: status %ld: %s", what, r.status, r.body);
            assert_not_echoed(&r, p->sufficient, what);
            t_resp_free(&r);
        }
    }
    /* the table really was walked: SPEC §4 has well over a dozen API routes */
    ck_assert_int_ge(nroutes, 15);
}
END_TEST

/* A superuser's unscoped token passes every permission check. */
START_TEST(superuser_passes_every_route)
{
    char tok[BFF_TOKEN_LEN + 1], path[512];
    const struct bff_route *rt;

    snprintf(tok, sizeof tok, "%s", t_token("*", NULL));
    for (rt = bff_routes; rt->method; rt++) {
        const char *h[] = {t_auth(tok), NULL};
        struct http_resp r;

        if (rt->flags & BFF_R_PUBLIC)
            continue;
        concrete_path(rt->pattern, path, sizeof path);
        t_http(rt->method, path, h, NULL, 0, &r);
        ck_assert_msg(r.status != 401 && r.status != 403 && r.status < 500, "%s %s: %ld %s",
                      rt->method, path, r.status, r.body);
        t_resp_free(&r);
    }
}
END_TEST

/* ------------------------------------------------------------- login */

static time_t parse_utc(const char *s)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    ck_assert_msg(strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) != NULL, "not a timestamp: %s", s);
    return timegm(&tm);
}

START_TEST(login_success)
{
    const char *user = uniq("login"), *pw = "pw-auth-suite-Correct-1";
    struct http_resp r;
    const char *tok, *exp;
    char *cc;
    long long days30 = 30LL * 86400;
    time_t now = time(NULL), e;

    make_user(user, pw, "--perm products.read");
    login(user, pw, &r);
    ck_assert_msg(r.status == 200, "login: %ld %s", r.status, r.body);
    tok = t_jstr(r.json, "token", NULL);
    exp = t_jstr(r.json, "expires_at", NULL);
    ck_assert_ptr_nonnull(tok);
    ck_assert_ptr_nonnull(exp);
    ck_assert_int_eq(strlen(tok), BFF_TOKEN_LEN);
    ck_assert_int_eq(strncmp(tok, "bff_", 4), 0);
    e = parse_utc(exp);
    ck_assert_msg(e > now + days30 - 3600 && e < now + days30 + 3600, "expires_at %s", exp);
    cc = t_header(&r, "Cache-Control");
    ck_assert_msg(cc && strstr(cc, "no-store"), "login response Cache-Control: %s",
                  cc ? cc : "(none)");
    free(cc);
    ck_assert_int_eq(get_with("/api/products/", tok), 200);
    ck_assert_int_eq(get_with("/api/orders/", tok), 403);
    t_resp_free(&r);
}
END_TEST

START_TEST(login_failures_look_alike)
{
    const char *user = uniq("victim"), *pw = "pw-auth-suite-Right-2";
    const char *msg_wrong, *msg_unknown;
    struct http_resp w, u;
    double t_wrong = 0, t_unknown = 0;
    int i;

    make_user(user, pw, "");
    for (i = 0; i < 3; i++) {
        login(user, "pw-auth-suite-Wrong-2", &w);
        login(uniq("nobody"), "pw-auth-suite-Wrong-2", &u);
        assert_401(&w, "wrong password");
        assert_401(&u, "unknown user");
        msg_wrong = t_jstr(w.json, "error", "message", NULL);
        msg_unknown = t_jstr(u.json, "error", "message", NULL);
        ck_assert_str_eq(msg_wrong, msg_unknown);
        ck_assert_ptr_null(t_jget(w.json, "error", "field", NULL));
        ck_assert_ptr_null(t_jget(u.json, "error", "field", NULL));
        t_wrong += w.seconds;
        t_unknown += u.seconds;
        t_resp_free(&w);
        t_resp_free(&u);
    }
    /* argon2id runs both ways: an unknown name is not visibly faster */
    ck_assert_msg(t_unknown >= 0.5 * t_wrong, "unknown user %.3fs vs wrong password %.3fs",
                  t_unknown, t_wrong);
    /* and an inactive user's right password is refused the same way */
    {
        char sql[256];

        snprintf(sql, sizeof sql, "UPDATE users SET is_active = false WHERE username = '%s'", user);
        free(t_sql(sql));
        login(user, pw, &w);
        assert_401(&w, "inactive user");
        ck_assert_str_eq(t_jstr(w.json, "error", "message", NULL), "invalid username or password");
        t_resp_free(&w);
    }
}
END_TEST

START_TEST(login_bad_bodies)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"username\":\"a\",", NULL},
        {"{\"username\":\"a\",\"password\":\"b\",\"remember\":true}", "remember"},
        {"{\"username\":\"a\"}", "password"},
        {"{\"username\":1,\"password\":\"b\"}", "username"},
        {"{\"username\":\"a\",\"password\":\"b\",\"is_superuser\":true}", "is_superuser"},
        {"[\"a\",\"b\"]", NULL},
    };
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct http_resp r;

        http_from(NULL, "POST", "/api/auth/token/", cases[i].body, &r);
        t_assert_error(&r, 400, "bad_request");
        if (cases[i].field)
            ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), cases[i].field);
        t_resp_free(&r);
    }
}
END_TEST

/* 20 login attempts at once from one address: nginx lets 10 through (1 +
 * burst 9) and answers the rest 429 in the SPEC's JSON error shape. */
START_TEST(login_rate_limited)
{
    enum { N = 20 };
    struct t_sink b[N], h[N];
    struct curl_slist *hl[N];
    CURL *c[N];
    CURLM *m = curl_multi_init();
    const char *src = fresh_src();
    int i, running = 0, limited = 0, other = 0;
    char body[256];

    snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"pw-auth-suite-Burst\"}",
             uniq("burst"));
    for (i = 0; i < N; i++) {
        memset(&b[i], 0, sizeof b[i]);
        memset(&h[i], 0, sizeof h[i]);
        hl[i] = NULL;
        c[i] = easy(src, "POST", "/api/auth/token/", body, &hl[i], &b[i], &h[i]);
        curl_multi_add_handle(m, c[i]);
    }
    do {
        curl_multi_perform(m, &running);
        if (running)
            curl_multi_wait(m, NULL, 0, 100, NULL);
    } while (running);
    for (i = 0; i < N; i++) {
        struct http_resp r;

        fill(&r, c[i], &b[i], &h[i]);
        if (r.status == 429) {
            char *ra = t_header(&r, "Retry-After");

            t_assert_error(&r, 429, "rate_limited");
            ck_assert_ptr_nonnull(ra);
            free(ra);
            limited++;
        } else {
            ck_assert_msg(r.status == 401, "attempt %d: %ld %s", i, r.status, r.body);
            other++;
        }
        t_resp_free(&r);
        curl_multi_remove_handle(m, c[i]);
        curl_easy_cleanup(c[i]);
        curl_slist_free_all(hl[i]);
    }
    curl_multi_cleanup(m);
    ck_assert_msg(other <= 10 && limited >= N - 10, "%d limited, %d answered", limited, other);
    ck_assert_int_ge(other, 1);
}
END_TEST

/* ------------------------------------------- changes take effect at once */

START_TEST(revocations_take_effect_at_once)
{
    const char *user = uniq("rev"), *name = "cli";
    char key[128], tkey[128];
    redisContext *rc = redis();
    long long uid =
        make_user(user, "pw-auth-suite-Rev-3", "--perm products.read --perm stock.read");
    char *tok = make_token(user, name, NULL);
    struct t_ctl r;

    /* twice: the first use refreshes last_used_at and drops token:{hash} */
    ck_assert_int_eq(get_with("/api/products/", tok), 200);
    ck_assert_int_eq(get_with("/api/products/", tok), 200);
    snprintf(key, sizeof key, "user:%lld:permissions", uid);
    token_key(tok, tkey, sizeof tkey);
    /* both are cached: without invalidation the changes below would not show */
    ck_assert_msg(redis_exists(rc, key), "%s not cached", key);
    ck_assert_msg(redis_exists(rc, tkey), "%s not cached", tkey);

    t_ctl(&r, NULL, NULL, "user revoke %s products.read", user);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);
    ck_assert_int_eq(get_with("/api/products/", tok), 403);
    ck_assert_int_eq(get_with("/api/lots/", tok), 200);

    t_ctl(&r, NULL, NULL, "user grant %s products.read", user);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);
    ck_assert_int_eq(get_with("/api/products/", tok), 200);

    t_ctl(&r, NULL, NULL, "user deactivate %s", user);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);
    ck_assert_int_eq(get_with("/api/products/", tok), 401);
    t_ctl(&r, NULL, NULL, "user activate %s", user);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);
    ck_assert_int_eq(get_with("/api/products/", tok), 200);
    ck_assert_int_eq(get_with("/api/products/", tok), 200);
    ck_assert_msg(redis_exists(rc, tkey), "%s not cached again", tkey);

    t_ctl(&r, NULL, NULL, "token revoke --user %s --name %s", user, name);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);
    ck_assert_msg(!redis_exists(rc, tkey), "%s still cached after revoke", tkey);
    ck_assert_int_eq(get_with("/api/products/", tok), 401);
    ck_assert_int_eq(get_with("/api/products/", tok), 401);
    free(tok);
    redisFree(rc);
}
END_TEST

/* A token scoped at creation gets scopes ∩ the user's permissions. */
START_TEST(scoped_token_from_bffctl)
{
    const char *user = uniq("scoped");
    char *tok;

    make_user(user, "pw-auth-suite-Scope-4", "--perm products.read --perm orders.read");
    tok = make_token(user, "ro", "--perm orders.read");
    ck_assert_int_eq(get_with("/api/orders/", tok), 200);
    ck_assert_int_eq(get_with("/api/products/", tok), 403);
    free(tok);
}
END_TEST

/* ------------------------------------------------------ never echoed */

START_TEST(tokens_and_secrets_never_leak)
{
    const char *user = uniq("leak"), *pw = "pw-auth-suite-Leak-5";
    const char *paths[] = {"/api/products/", "/api/products/" BIG_ID "/",
                           "/api/nowhere/",  "/api/orders/?status=bogus",
                           "/health/",       NULL};
    const char *logs[] = {"BFF_LOG_FILE", "BFF_ERROR_LOG_FILE"};
    const char *files[] = {"nginx-access.log", "nginx-error.log", "fcgi-stderr.log"};
    char *good, garbage[BFF_TOKEN_LEN + 1];
    struct timespec ts = {1, 300 * 1000 * 1000};
    regex_t re;
    int i, j;

    make_user(user, pw, "--perm orders.read");
    good = make_token(user, "leak", NULL);
    snprintf(garbage, sizeof garbage, "%s", good);
    garbage[10] = garbage[10] == 'A' ? 'B' : 'A'; /* one character off */
    for (i = 0; paths[i]; i++) {
        const char *toks[] = {good, garbage, "bff_short", NULL};

        for (j = 0; toks[j]; j++) {
            const char *h[] = {t_auth(toks[j]), NULL};
            struct http_resp r;

            t_http("GET", paths[i], h, NULL, 0, &r);
            assert_not_echoed(&r, toks[j], paths[i]);
            t_resp_free(&r);
            t_http("POST", paths[i], h, "{\"x\":1}", 7, &r);
            assert_not_echoed(&r, toks[j], paths[i]);
            t_resp_free(&r);
        }
    }
    {
        struct http_resp r;

        login(user, "pw-auth-suite-WrongLeak-5", &r);
        ck_assert_int_eq(r.status, 401);
        ck_assert_ptr_null(strstr(r.body, "pw-auth-suite"));
        t_resp_free(&r);
        login(user, pw, &r);
        ck_assert_int_eq(r.status, 200);
        t_resp_free(&r);
    }

    /* nginx flushes its access log buffer every second */
    nanosleep(&ts, NULL);
    ck_assert_int_eq(regcomp(&re, "bff_[A-Za-z0-9_-]{43}", REG_EXTENDED | REG_NOSUB), 0);
    for (i = 0; i < 5; i++) {
        char path[1024], *text;

        if (i < 2)
            snprintf(path, sizeof path, "%s", t_env(logs[i]));
        else
            snprintf(path, sizeof path, "%s/log/%s", t_env("BFF_TEST_STATE"), files[i - 2]);
        if (access(path, R_OK) != 0)
            continue;
        text = t_slurp(path);
        ck_assert_msg(regexec(&re, text, 0, NULL, 0) != 0, "%s contains a token", path);
        ck_assert_msg(strstr(text, "$argon2id$") == NULL, "%s contains a password hash", path);
        ck_assert_msg(strstr(text, "pw-auth-suite") == NULL, "%s contains a password", path);
        free(text);
    }
    regfree(&re);
    free(good);
}
END_TEST

/* --------------------------------------------------- mass assignment */

static long long create_id(const char *path, const char *body, const char *tok)
{
    const char *h[] = {t_auth(tok), NULL};
    struct http_resp r;
    long long id;
    int ok;

    t_http("POST", path, h, body, strlen(body), &r);
    ck_assert_msg(r.status == 201, "POST %s: %ld %s", path, r.status, r.body);
    id = t_jint(r.json, &ok, "id", NULL);
    ck_assert(ok);
    t_resp_free(&r);
    return id;
}

static void assert_field_refused(const char *method, const char *path, const char *body,
                                 const char *field, const char *tok)
{
    const char *h[] = {t_auth(tok), NULL};
    struct http_resp r;

    t_http(method, path, h, body, strlen(body), &r);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_msg(t_jstr(r.json, "error", "field", NULL) &&
                      strcmp(t_jstr(r.json, "error", "field", NULL), field) == 0,
                  "%s %s %s: field %s", method, path, body, r.body);
    t_resp_free(&r);
}

START_TEST(mass_assignment_refused)
{
    char tok[BFF_TOKEN_LEN + 1], body[512], path[128], sku[64], *n;
    long long pid, wid;
    const char *lot_extra[] = {"\"reserved\":5", "\"on_hand\":999", "\"status\":\"available\"",
                               "\"id\":1", NULL};
    const char *lot_field[] = {"reserved", "on_hand", "status", "id"};
    int i;

    snprintf(tok, sizeof tok, "%s", t_token("*", NULL));
    snprintf(sku, sizeof sku, "%s", uniq("MA-"));
    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"Mass\",\"id\":4242}", sku);
    assert_field_refused("POST", "/api/products/", body, "id", tok);
    snprintf(body, sizeof body,
             "{\"sku\":\"%s\",\"name\":\"Mass\",\"created_at\":\"2020-01-01T00:00:00Z\"}", sku);
    assert_field_refused("POST", "/api/products/", body, "created_at", tok);
    /* nothing was created by the refused requests */
    snprintf(body, sizeof body, "SELECT count(*) FROM products WHERE sku = '%s'", sku);
    n = t_sql(body);
    ck_assert_str_eq(n, "0");
    free(n);

    snprintf(body, sizeof body, "{\"sku\":\"%s\",\"name\":\"Mass\"}", sku);
    pid = create_id("/api/products/", body, tok);
    snprintf(path, sizeof path, "/api/products/%lld/", pid);
    assert_field_refused("PATCH", path, "{\"sku\":\"OTHER\"}", "sku", tok);
    assert_field_refused("PATCH", path, "{\"name\":\"ok\",\"reserved\":3}", "reserved", tok);
    assert_field_refused("PATCH", path, "{\"updated_at\":\"2020-01-01T00:00:00Z\"}", "updated_at",
                         tok);

    snprintf(body, sizeof body, "{\"code\":\"%s\",\"name\":\"Mass WH\"}", uniq("MW-"));
    wid = create_id("/api/warehouses/", body, tok);
    for (i = 0; lot_extra[i]; i++) {
        snprintf(body, sizeof body,
                 "{\"product_id\":%lld,\"warehouse_id\":%lld,\"lot_code\":\"L1\","
                 "\"expires_on\":\"2099-01-01\",\"quantity\":10,%s}",
                 pid, wid, lot_extra[i]);
        assert_field_refused("POST", "/api/lots/", body, lot_field[i], tok);
    }
    snprintf(body, sizeof body, "SELECT count(*) FROM lots WHERE product_id = %lld", pid);
    n = t_sql(body);
    ck_assert_str_eq(n, "0");
    free(n);
}
END_TEST

/* ------------------------------------------------------------- edge */

static void assert_security_headers(const struct http_resp *r, const char *what)
{
    static const char *want[][2] = {{"X-Content-Type-Options", "nosniff"},
                                    {"X-Frame-Options", "DENY"},
                                    {"Referrer-Policy", "no-referrer"},
                                    {"Content-Security-Policy", "frame-ancestors 'none'"},
                                    {"Server", "nginx"}};
    size_t i;

    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        char *v = t_header(r, want[i][0]);

        ck_assert_msg(v && strstr(v, want[i][1]), "%s: %s: %s", what, want[i][0], v ? v : "(none)");
        if (strcmp(want[i][0], "Server") == 0)
            ck_assert_msg(strcmp(v, "nginx") == 0, "%s: Server tells a version: %s", what, v);
        free(v);
    }
}

START_TEST(edge_headers_and_limits)
{
    size_t big = 16 * 1024, i;
    char *hdr = malloc(big + 32), *uri = malloc(9000);
    const char *h1[] = {hdr, NULL};
    const char *many[201];
    char(*lines)[256] = malloc(200 * sizeof *lines);
    struct http_resp r;

    /* the API's own answers and nginx's own errors carry the same headers */
    t_get("/api/products/", &r);
    assert_401(&r, "anonymous");
    assert_security_headers(&r, "API 401");
    t_resp_free(&r);

    /* one 16 KB header: over large_client_header_buffers → 400, in JSON */
    memcpy(hdr, "X-Big: ", 7);
    memset(hdr + 7, 'a', big);
    hdr[7 + big] = '\0';
    t_http("GET", "/health/", h1, NULL, 0, &r);
    t_assert_error(&r, 400, "bad_request");
    assert_security_headers(&r, "header too large");
    t_resp_free(&r);

    /* 200 headers of 200 bytes (40 KB in all) → 400, in JSON */
    for (i = 0; i < 200; i++) {
        snprintf(lines[i], sizeof lines[i], "X-H%zu: %0200d", i, 7);
        many[i] = lines[i];
    }
    many[200] = NULL;
    t_http("GET", "/health/", many, NULL, 0, &r);
    t_assert_error(&r, 400, "bad_request");
    t_resp_free(&r);

    /* a 9 KB request line → 414, in JSON */
    memcpy(uri, "/api/", 5);
    memset(uri + 5, 'a', 8990);
    uri[8995] = '\0';
    http_from("127.0.0.1", "GET", uri, NULL, &r);
    ck_assert_msg(r.status == 414, "long URI: %ld", r.status);
    ck_assert_ptr_nonnull(t_jstr(r.json, "error", "code", NULL));
    t_resp_free(&r);

    /* a login body over client_max_body_size → 413 JSON, before the app */
    {
        size_t n = (size_t)atoll(t_env("BFF_MAX_BODY")) + 1024;
        char *body = malloc(n + 64);

        snprintf(body, n + 64, "{\"username\":\"a\",\"password\":\"%0*d\"}", (int)n, 1);
        http_from(NULL, "POST", "/api/auth/token/", body, &r);
        t_assert_error(&r, 413, "payload_too_large");
        t_resp_free(&r);
        free(body);
    }

    /* /metrics is for 127.0.0.1 and ::1 only: another address gets 403 JSON */
    http_from("127.0.0.9", "GET", "/metrics", NULL, &r);
    t_assert_error(&r, 403, "forbidden");
    t_resp_free(&r);

    free(hdr);
    free(uri);
    free(lines);
}
END_TEST

static Suite *make_e2e_auth_suite(void)
{
    Suite *s = suite_create("e2e_auth");
    TCase *matrix = tcase_create("matrix"), *core = tcase_create("core"),
          *limits = tcase_create("limits");

    tcase_add_test(matrix, matrix_from_route_table);
    tcase_add_test(matrix, superuser_passes_every_route);
    tcase_add_test(core, login_success);
    tcase_add_test(core, login_failures_look_alike);
    tcase_add_test(core, login_bad_bodies);
    tcase_add_test(core, revocations_take_effect_at_once);
    tcase_add_test(core, scoped_token_from_bffctl);
    tcase_add_test(core, mass_assignment_refused);
    tcase_add_test(limits, login_rate_limited);
    tcase_add_test(limits, edge_headers_and_limits);
    /* last: scans the logs after everything above ran */
    tcase_add_test(limits, tokens_and_secrets_never_leak);
    tcase_set_timeout(matrix, 120);
    tcase_set_timeout(core, 120);
    tcase_set_timeout(limits, 120);
    suite_add_tcase(s, matrix);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_e2e_auth_suite());
    int failed;

    if (sodium_init() < 0)
        return 1;
    curl_global_init(CURL_GLOBAL_ALL);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
