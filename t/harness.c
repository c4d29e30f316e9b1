/*
 * harness.c — see harness.h.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <libpq-fe.h>
#include <sodium.h>

const char *t_env(const char *name)
{
    const char *v = getenv(name);

    if (v == NULL || *v == '\0')
        ck_abort_msg("%s is not set: run the suite through `scripts/dev test`, "
                     "which starts the test stack", name);
    return v;
}

size_t t_collect(char *data, size_t size, size_t nmemb, void *arg)
{
    struct t_sink *s = arg;
    size_t n = size * nmemb;
    char *p = realloc(s->p, s->n + n + 1);

    if (p == NULL)
        return 0;
    memcpy(p + s->n, data, n);
    s->n += n;
    p[s->n] = '\0';
    s->p = p;
    return n;
}

int t_http(const char *method, const char *path, const char *const *headers,
           const char *body, size_t len, struct http_resp *out)
{
    struct t_sink b = {NULL, 0}, h = {NULL, 0};
    struct curl_slist *hl = NULL;
    char url[2048];
    int has_ct = 0;
    CURLcode rc;
    CURL *c;

    memset(out, 0, sizeof *out);
    snprintf(url, sizeof url, "%s%s", t_env("BFF_TEST_HTTP_URL"), path);
    c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    for (; headers && *headers; headers++) {
        if (strncasecmp(*headers, "Content-Type:", 13) == 0)
            has_ct = 1;
        hl = curl_slist_append(hl, *headers);
    }
    if (body && !has_ct)
        hl = curl_slist_append(hl, "Content-Type: application/json");
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, t_collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, t_collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    } else if (strcmp(method, "GET") == 0) {
        curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    }
    rc = curl_easy_perform(c);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &out->seconds);
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    out->body = b.p ? b.p : calloc(1, 1);
    out->len = b.n;
    out->headers = h.p ? h.p : calloc(1, 1);
    out->json = yajl_tree_parse(out->body, NULL, 0);
    return 0;
}

int t_get(const char *path, struct http_resp *out)
{
    return t_http("GET", path, NULL, NULL, 0, out);
}

int t_post(const char *path, const char *json, struct http_resp *out)
{
    return t_http("POST", path, NULL, json, strlen(json), out);
}

void t_resp_free(struct http_resp *r)
{
    free(r->body);
    free(r->headers);
    if (r->json)
        yajl_tree_free(r->json);
    memset(r, 0, sizeof *r);
}

char *t_header(const struct http_resp *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->headers;

    while (p && *p) {
        const char *eol = strstr(p, "\r\n");
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);

        if (ll > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;

            while (*v == ' ')
                v++;
            return strndup(v, ll - (size_t)(v - p));
        }
        p = eol ? eol + 2 : NULL;
    }
    return NULL;
}

static yajl_val vget(yajl_val v, va_list ap)
{
    const char *k;

    while (v && (k = va_arg(ap, const char *)) != NULL) {
        const char *path[2] = {k, NULL};

        v = yajl_tree_get(v, path, yajl_t_any);
    }
    return v;
}

yajl_val t_jget(yajl_val v, ...)
{
    va_list ap;

    va_start(ap, v);
    v = vget(v, ap);
    va_end(ap);
    return v;
}

const char *t_jstr(yajl_val v, ...)
{
    va_list ap;

    va_start(ap, v);
    v = vget(v, ap);
    va_end(ap);
    return YAJL_IS_STRING(v) ? YAJL_GET_STRING(v) : NULL;
}

long long t_jint(yajl_val v, int *ok, ...)
{
    va_list ap;

    va_start(ap, ok);
    v = vget(v, ap);
    va_end(ap);
    *ok = v != NULL && YAJL_IS_INTEGER(v);
    return *ok ? YAJL_GET_INTEGER(v) : 0;
}

void t_assert_error(const struct http_resp *r, long status, const char *code)
{
    const char *got, *rid;
    char *ct;

    ck_assert_msg(r->status == status, "status %ld, want %ld; body: %s", r->status, status,
                  r->body);
    ck_assert_msg(r->json != NULL, "error body is not JSON: %s", r->body);
    got = t_jstr(r->json, "error", "code", NULL);
    ck_assert_msg(got && strcmp(got, code) == 0, "error code %s, want %s; body: %s",
                  got ? got : "(none)", code, r->body);
    ck_assert_msg(t_jstr(r->json, "error", "message", NULL) != NULL, "no message: %s", r->body);
    rid = t_jstr(r->json, "error", "request_id", NULL);
    ck_assert_msg(rid && *rid, "no request_id: %s", r->body);
    ct = t_header(r, "Content-Type");
    ck_assert_msg(ct && strncmp(ct, "application/json", 16) == 0, "Content-Type %s",
                  ct ? ct : "(none)");
    free(ct);
}

int t_stackctl(const char *action, const char *service, const char *const *env)
{
    char cmd[4096];
    size_t n;

    n = (size_t)snprintf(cmd, sizeof cmd, "env");
    for (; env && *env && n < sizeof cmd; env++)
        n += (size_t)snprintf(cmd + n, sizeof cmd - n, " '%s'", *env);
    if (n < sizeof cmd)
        snprintf(cmd + n, sizeof cmd - n, " '%s' '%s' %s %s >&2", t_env("BFF_TEST_STACKCTL"),
                 t_env("BFF_TEST_STATE"), action, service);
    return system(cmd) == 0 ? 0 : -1;
}

int t_wait_status(const char *path, long status, int ms)
{
    struct timespec ts = {0, 100 * 1000 * 1000};
    int waited;

    for (waited = 0; waited <= ms; waited += 100) {
        struct http_resp r;

        t_get(path, &r);
        if (r.status == status) {
            t_resp_free(&r);
            return 0;
        }
        t_resp_free(&r);
        nanosleep(&ts, NULL);
    }
    return -1;
}

int t_free_port(void)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;

    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    port = ntohs(sa.sin_port);
    close(fd);
    return port;
}

static PGconn *test_db(void)
{
    static PGconn *c;

    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        if (c)
            PQfinish(c);
        c = PQconnectdb(t_env("BFF_TEST_DATABASE_URL"));
        ck_assert_msg(PQstatus(c) == CONNECTION_OK, "test database: %s", PQerrorMessage(c));
    }
    return c;
}

char *t_sql(const char *sql)
{
    PGresult *r = PQexec(test_db(), sql);
    ExecStatusType st = PQresultStatus(r);
    char *v = NULL;

    ck_assert_msg(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK, "%s: %s", sql,
                  PQresultErrorMessage(r));
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
        v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

const char *t_token(const char *perms, long long *user_id)
{
    static char token[48];
    static unsigned seq;
    unsigned char raw[32], h[crypto_hash_sha256_BYTES];
    char hex[65], sql[2048], name[64];
    char *uid;
    const char *p;

    ck_assert_int_ge(sodium_init(), 0);
    randombytes_buf(raw, sizeof raw);
    memcpy(token, "bff_", 4);
    sodium_bin2base64(token + 4, sizeof token - 4, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    crypto_hash_sha256(h, (unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    snprintf(name, sizeof name, "t%d_%u_%u", (int)getpid(), ++seq, randombytes_random());
    snprintf(sql, sizeof sql,
             "INSERT INTO users (username, password_hash, is_superuser) VALUES ('%s', "
             "'$argon2id$v=19$m=65536,t=2,p=1$unusable', %s) RETURNING id",
             name, strcmp(perms, "*") == 0 ? "true" : "false");
    uid = t_sql(sql);
    for (p = perms; strcmp(perms, "*") != 0 && *p;) {
        size_t n = strcspn(p, " ");

        if (n > 0) {
            snprintf(sql, sizeof sql,
                     "INSERT INTO user_permissions (user_id, permission) VALUES (%s, '%.*s')", uid,
                     (int)n, p);
            free(t_sql(sql));
        }
        p += n;
        p += strspn(p, " ");
    }
    snprintf(sql, sizeof sql,
             "INSERT INTO api_tokens (user_id, name, token_hash, expires_at) "
             "VALUES (%s, 'test', decode('%s', 'hex'), now() + interval '1 day')",
             uid, hex);
    free(t_sql(sql));
    if (user_id)
        *user_id = atoll(uid);
    free(uid);
    return token;
}

const char *t_auth(const char *token)
{
    static char h[128];

    snprintf(h, sizeof h, "Authorization: Bearer %s", token);
    return h;
}

char *t_slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t n = 0, cap = 0, got;

    if (f == NULL)
        return strdup("");
    do {
        if (cap - n < 4096) {
            cap += 65536;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

void t_ctl(struct t_ctl *r, const char *input, const char *envs, const char *fmt, ...)
{
    char args[4096], cmd[8192], in[] = "/tmp/bffctl-in.XXXXXX", out[] = "/tmp/bffctl-out.XXXXXX",
                                err[] = "/tmp/bffctl-err.XXXXXX";
    int fi = mkstemp(in), fo = mkstemp(out), fe = mkstemp(err), st;
    va_list ap;

    ck_assert(fi >= 0 && fo >= 0 && fe >= 0);
    if (input)
        ck_assert_int_eq(write(fi, input, strlen(input)), (int)strlen(input));
    close(fi);
    close(fo);
    close(fe);
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof cmd,
             "set -a; . '%s/env'; set +a; unset BFF_SUPERUSER_PASSWORD BFF_USER_PASSWORD "
             "BFF_ENV_FILE BFF_NGINX_CONF; set -a; %s; set +a; exec '%s/ctl/bffctl' %s <'%s' >'%s' "
             "2>'%s'",
             t_env("BFF_TEST_STATE"), envs ? envs : ":", t_env("BFF_TEST_BUILDDIR"), args, in, out,
             err);
    st = system(cmd);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r->out = t_slurp(out);
    r->err = t_slurp(err);
    unlink(in);
    unlink(out);
    unlink(err);
}

void t_ctl_free(struct t_ctl *r)
{
    free(r->out);
    free(r->err);
}

static pid_t sink_pid;

int t_sink_start(const char *opt, const char *val)
{
    char port_s[16], path[4096];
    int port = t_free_port(), i, mute = strcmp(opt, "--mode") == 0 && strcmp(val, "mute") == 0;

    snprintf(port_s, sizeof port_s, "%d", port);
    snprintf(path, sizeof path, "%s/t/smtp-sink", t_env("BFF_TEST_BUILDDIR"));
    sink_pid = fork();
    ck_assert_int_ge(sink_pid, 0);
    if (sink_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        execl(path, "smtp-sink", "--port", port_s, opt, val, (char *)NULL);
        _exit(127);
    }
    for (i = 0; i < 50; i++) { /* wait until it listens */
        char cmd[256];

        /* a mute sink is not probed: the probe would take its one
         * connection; it gets 600 ms to start */
        if (mute && i > 5)
            break;
        snprintf(cmd, sizeof cmd, "bash -c 'exec 3<>/dev/tcp/127.0.0.1/%d' 2>/dev/null", port);
        if (!mute && system(cmd) == 0)
            break;
        usleep(100 * 1000);
    }
    return port;
}

void t_sink_stop(void)
{
    if (sink_pid > 0) {
        kill(sink_pid, SIGKILL);
        waitpid(sink_pid, NULL, 0);
        sink_pid = 0;
    }
}
