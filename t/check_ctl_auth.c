/*
 * check_ctl_auth.c — bffctl's auth commands against the test stack's
 * database: createsuperuser, user, token, clearsessions and check --deploy.
 * Each runs the real binary ($BFF_TEST_BUILDDIR/ctl/bffctl) with the stack's
 * env file, and asserts on exit status, stdout and the one stderr line.
 */
#include <check.h>
#include <regex.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *uniq(const char *prefix)
{
    static char buf[8][96];
    static unsigned n;
    char *b = buf[n++ % 8];

    snprintf(b, sizeof buf[0], "%s%d_%u_%u", prefix, (int)getpid(), n, randombytes_random());
    return b;
}

/* Exactly one line on stderr, naming the command. */
static void assert_one_err_line(const struct t_ctl *r, const char *cmd, const char *needle)
{
    char prefix[64];
    size_t n = strlen(r->err);

    snprintf(prefix, sizeof prefix, "bffctl: %s: ", cmd);
    ck_assert_msg(n > 0 && r->err[n - 1] == '\n' && strchr(r->err, '\n') == r->err + n - 1,
                  "stderr is not one line: '%s'", r->err);
    ck_assert_msg(strncmp(r->err, prefix, strlen(prefix)) == 0, "stderr: %s", r->err);
    if (needle)
        ck_assert_msg(strstr(r->err, needle), "stderr lacks '%s': %s", needle, r->err);
}

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

START_TEST(createsuperuser_passwords)
{
    const char *u = uniq("su");
    struct t_ctl r;
    char *n, sql[256];

    t_ctl(&r, "short7!\n", NULL, "createsuperuser --username %s", u);
    ck_assert_int_eq(r.status, 1);
    assert_one_err_line(&r, "createsuperuser", "too short");
    ck_assert_str_eq(r.out, "");
    t_ctl_free(&r);

    t_ctl(&r, "\n", NULL, "createsuperuser --username %s", u);
    ck_assert_int_eq(r.status, 1);
    assert_one_err_line(&r, "createsuperuser", "empty");
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "createsuperuser --username %s", u); /* EOF */
    ck_assert_int_eq(r.status, 1);
    assert_one_err_line(&r, "createsuperuser", "BFF_SUPERUSER_PASSWORD");
    t_ctl_free(&r);

    t_ctl(&r, "long enough\n", "BFF_SUPERUSER_PASSWORD=tiny", "createsuperuser --username %s", u);
    ck_assert_int_eq(r.status, 1); /* the variable wins over stdin */
    assert_one_err_line(&r, "createsuperuser", "too short");
    t_ctl_free(&r);

    snprintf(sql, sizeof sql, "SELECT count(*) FROM users WHERE username = '%s'", u);
    n = t_sql(sql);
    ck_assert_str_eq(n, "0");
    free(n);

    t_ctl(&r, NULL, NULL, "createsuperuser");
    ck_assert_int_eq(r.status, 2);
    assert_one_err_line(&r, "createsuperuser", "--username");
    t_ctl_free(&r);

    t_ctl(&r, NULL, "BFF_SUPERUSER_PASSWORD='a fine passphrase'", "createsuperuser --username %s", u);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, u));
    t_ctl_free(&r);
    snprintf(sql, sizeof sql,
             "SELECT is_superuser AND is_active AND password_hash LIKE '$argon2id$%%'"
             " FROM users WHERE username = '%s'",
             u);
    n = t_sql(sql);
    ck_assert_str_eq(n, "t");
    free(n);

    t_ctl(&r, "another passphrase\n", NULL, "createsuperuser --username %s", u);
    ck_assert_int_eq(r.status, 1);
    assert_one_err_line(&r, "createsuperuser", "already exists");
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "createsuperuser --help");
    ck_assert_int_eq(r.status, 0);
    ck_assert_ptr_nonnull(strstr(r.out, "usage: bffctl createsuperuser"));
    t_ctl_free(&r);
}
END_TEST

START_TEST(user_commands)
{
    const char *u = uniq("usr");
    struct t_ctl r;
    char *line;

    t_ctl(&r, NULL, NULL, "user create --username %s --perm products.reed --no-password", u);
    ck_assert_int_eq(r.status, 2);
    assert_one_err_line(&r, "user", "valid: products.read, products.write");
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "user create --username %s --perm products.read --no-password", u);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);
    t_ctl(&r, NULL, NULL, "user create --username %s --no-password", u);
    ck_assert_int_eq(r.status, 1);
    assert_one_err_line(&r, "user", "already exists");
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "user grant %s stock.read orders.read", u);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);
    t_ctl(&r, NULL, NULL, "user revoke %s products.read", u);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);
    t_ctl(&r, NULL, NULL, "user grant %s nope", u);
    ck_assert_int_eq(r.status, 2);
    t_ctl_free(&r);
    t_ctl(&r, NULL, NULL, "user grant %s products.read", uniq("ghost"));
    ck_assert_int_eq(r.status, 1);
    assert_one_err_line(&r, "user", "no user named");
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "user list");
    ck_assert_msg(r.status == 0, "%s", r.err);
    line = strstr(r.out, u);
    ck_assert_ptr_nonnull(line);
    *strchr(line, '\n') = '\0';
    ck_assert_msg(strstr(line, "stock.read,orders.read") && !strstr(line, "products.read"),
                  "user list line: %s", line);
    ck_assert_ptr_null(strstr(r.out, "$argon2id$"));
    t_ctl_free(&r);

    /* an API-only user cannot log in */
    {
        struct http_resp h;
        char body[256];

        snprintf(body, sizeof body, "{\"username\":\"%s\",\"password\":\"\"}", u);
        t_post("/api/auth/token/", body, &h);
        ck_assert_int_ge(h.status, 400);
        ck_assert_int_lt(h.status, 500);
        t_resp_free(&h);
    }
}
END_TEST

START_TEST(token_create_prints_only_the_token)
{
    const char *u = uniq("tok");
    regex_t re;
    struct t_ctl r;
    char tok[64], hex[65], *hexsql, sql[256];

    t_ctl(&r, NULL, NULL, "user create --username %s --perm products.read --no-password", u);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "token create --user %s --name ci", u);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_str_eq(r.err, "");
    ck_assert_int_eq(strlen(r.out), 48);
    ck_assert_int_eq(regcomp(&re, "^bff_[A-Za-z0-9_-]{43}\n$", REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_msg(regexec(&re, r.out, 0, NULL, 0) == 0, "stdout: '%s'", r.out);
    regfree(&re);
    snprintf(tok, sizeof tok, "%.47s", r.out);
    t_ctl_free(&r);
    ck_assert_int_eq(get_with("/api/products/", tok), 200);
    ck_assert_int_eq(get_with("/api/orders/", tok), 403);

    /* stored as a hash only */
    snprintf(sql, sizeof sql,
             "SELECT encode(t.token_hash, 'hex') FROM api_tokens t JOIN users u"
             " ON u.id = t.user_id WHERE u.username = '%s' AND t.name = 'ci'",
             u);
    hexsql = t_sql(sql);
    ck_assert_ptr_nonnull(hexsql);
    {
        unsigned char h[crypto_hash_sha256_BYTES];

        crypto_hash_sha256(h, (const unsigned char *)tok, strlen(tok));
        sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    }
    ck_assert_str_eq(hexsql, hex);

    t_ctl(&r, NULL, NULL, "token create --user %s --name ci", u);
    ck_assert_int_eq(r.status, 1);
    assert_one_err_line(&r, "token", "already has a token named");
    ck_assert_str_eq(r.out, "");
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "token create --user %s --name wide --perm admin", u);
    ck_assert_int_eq(r.status, 1);
    assert_one_err_line(&r, "token", "does not hold admin");
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "token create --user %s --name x --expires-days 0", u);
    ck_assert_int_eq(r.status, 2);
    t_ctl_free(&r);
    t_ctl(&r, NULL, NULL, "token create --user %s", u);
    ck_assert_int_eq(r.status, 2);
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "token create --user %s --name short --expires-days 1", u);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "token list --user %s", u);
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_ptr_nonnull(strstr(r.out, " ci "));
    ck_assert_ptr_nonnull(strstr(r.out, " short "));
    ck_assert_ptr_null(strstr(r.out, tok));
    ck_assert_ptr_null(strstr(r.out, hex));
    ck_assert_ptr_null(strstr(r.out, "bff_"));
    t_ctl_free(&r);

    t_ctl(&r, NULL, NULL, "token revoke --user %s --name ci", u);
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);
    ck_assert_int_eq(get_with("/api/products/", tok), 401);
    t_ctl(&r, NULL, NULL, "token revoke --user %s --name nosuch", u);
    ck_assert_int_eq(r.status, 1);
    assert_one_err_line(&r, "token", "no token named");
    t_ctl_free(&r);
    t_ctl(&r, NULL, NULL, "token list --user %s", u);
    ck_assert_ptr_nonnull(strstr(r.out, "revoked"));
    t_ctl_free(&r);
    free(hexsql);
}
END_TEST

START_TEST(clearsessions_counts)
{
    struct t_ctl r;
    long long uid;
    char sql[2048];
    char *n;
    long tokens = -1, keys = -1;

    /* a clean slate, so the counts below are exact */
    t_ctl(&r, NULL, NULL, "clearsessions");
    ck_assert_msg(r.status == 0, "%s", r.err);
    t_ctl_free(&r);

    t_token("products.read", &uid); /* live: kept */
    snprintf(sql, sizeof sql,
             "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at,"
             " revoked_at) VALUES"
             " (%lld, 'expired1', sha256(convert_to('e1' || random()::text, 'UTF8')), now() - "
             "interval '40 days',"
             "  now() - interval '1 day', NULL),"
             " (%lld, 'expired2', sha256(convert_to('e2' || random()::text, 'UTF8')), now() - "
             "interval '2 days',"
             "  now() - interval '1 second', NULL),"
             " (%lld, 'oldrevoked', sha256(convert_to('r1' || random()::text, 'UTF8')), now() - "
             "interval '40 days',"
             "  now() + interval '1 day', now() - interval '31 days'),"
             " (%lld, 'newrevoked', sha256(convert_to('r2' || random()::text, 'UTF8')), now() - "
             "interval '2 days',"
             "  now() + interval '1 day', now() - interval '1 day')",
             uid, uid, uid, uid);
    free(t_sql(sql));
    snprintf(
        sql, sizeof sql,
        "INSERT INTO idempotency_keys (user_id, key, method, path, body_hash, status,"
        " response, created_at) VALUES"
        " (%lld, 'old', 'POST', '/api/orders/', '\\x00', 201, '{}', now() - interval '49 hours'),"
        " (%lld, 'new', 'POST', '/api/orders/', '\\x00', 201, '{}', now() - interval '47 hours')",
        uid, uid);
    free(t_sql(sql));

    t_ctl(&r, NULL, NULL, "clearsessions");
    ck_assert_msg(r.status == 0, "%s", r.err);
    ck_assert_msg(sscanf(r.out, "tokens: %ld deleted", &tokens) == 1, "%s", r.out);
    ck_assert_msg(strstr(r.out, "idempotency_keys: ") &&
                      sscanf(strstr(r.out, "idempotency_keys: "), "idempotency_keys: %ld", &keys) ==
                          1,
                  "%s", r.out);
    ck_assert_int_eq(tokens, 3);
    ck_assert_int_eq(keys, 1);
    t_ctl_free(&r);
    snprintf(sql, sizeof sql,
             "SELECT string_agg(name, ',' ORDER BY name) FROM api_tokens WHERE user_id = %lld",
             uid);
    n = t_sql(sql);
    ck_assert_str_eq(n, "newrevoked,test");
    free(n);
    snprintf(sql, sizeof sql,
             "SELECT string_agg(key, ',') FROM idempotency_keys WHERE user_id = %lld", uid);
    n = t_sql(sql);
    ck_assert_str_eq(n, "new");
    free(n);

    /* idempotent */
    t_ctl(&r, NULL, NULL, "clearsessions");
    ck_assert_msg(strstr(r.out, "tokens: 0 deleted") && strstr(r.out, "idempotency_keys: 0"), "%s",
                  r.out);
    t_ctl_free(&r);
}
END_TEST

START_TEST(check_plain_passes_on_the_test_stack)
{
    struct t_ctl r;

    t_ctl(&r, NULL, NULL, "check");
    ck_assert_msg(r.status == 0, "check: %d\n%s%s", r.status, r.out, r.err);
    ck_assert_ptr_null(strstr(r.out, "ERROR"));
    ck_assert_ptr_nonnull(strstr(r.out, "System check identified"));
    t_ctl_free(&r);
}
END_TEST

START_TEST(check_deploy_findings)
{
    char conf[] = "/tmp/bffctl-nginx.XXXXXX", env[] = "/tmp/bffctl-env.XXXXXX";
    int fd;
    struct t_ctl r;
    FILE *f;

    /* production with debug logging: E011, not E010 */
    t_ctl(&r, NULL, "BFF_ENV=production BFF_LOG_LEVEL=debug", "check --deploy");
    ck_assert_int_eq(r.status, 1);
    ck_assert_msg(strstr(r.out, "\nERROR bff.E011: ") ||
                      strncmp(r.out, "ERROR bff.E011: ", 16) == 0,
                  "%s", r.out);
    ck_assert_ptr_null(strstr(r.out, "bff.E010"));
    ck_assert_ptr_nonnull(strstr(r.out, "System check identified"));
    assert_one_err_line(&r, "check", "error");
    t_ctl_free(&r);

    /* development: E010 */
    t_ctl(&r, NULL, "BFF_ENV=development", "check --deploy");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.out, "ERROR bff.E010: "));
    t_ctl_free(&r);

    /* a remote database without TLS or password: E012 + E013 */
    t_ctl(&r, NULL,
        "BFF_ENV=production BFF_DATABASE_URL='host=192.0.2.10 dbname=bff user=bff' "
        "PGPASSFILE=/nonexistent HOME=/nonexistent",
        "check --deploy");
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.out, "ERROR bff.E012: "));
    ck_assert_ptr_nonnull(strstr(r.out, "ERROR bff.E013: "));
    t_ctl_free(&r);
    t_ctl(&r, NULL,
        "BFF_ENV=production BFF_DATABASE_URL='postgresql://bff:s3cret@192.0.2.10/bff"
        "?sslmode=verify-full'",
        "check --deploy");
    ck_assert_ptr_null(strstr(r.out, "bff.E012"));
    ck_assert_ptr_null(strstr(r.out, "bff.E013"));
    ck_assert_ptr_null(strstr(r.out, "s3cret"));
    t_ctl_free(&r);

    /* the stack's own env file is 0644: E014; at 0600 it passes */
    fd = mkstemp(env);
    ck_assert_int_ge(fd, 0);
    close(fd);
    chmod(env, 0644);
    t_ctl(&r, NULL, "BFF_ENV=production", "check --deploy --env-file %s", env);
    ck_assert_ptr_nonnull(strstr(r.out, "ERROR bff.E014: "));
    t_ctl_free(&r);
    chmod(env, 0600);
    t_ctl(&r, NULL, "BFF_ENV=production", "check --deploy --env-file %s", env);
    ck_assert_ptr_null(strstr(r.out, "bff.E014"));
    t_ctl_free(&r);
    unlink(env);
    t_ctl(&r, NULL, "BFF_ENV=production", "check --deploy --env-file %s", env);
    ck_assert_ptr_nonnull(strstr(r.out, "ERROR bff.E015: "));
    t_ctl_free(&r);

    /* the test stack's rendered nginx config exposes nothing */
    t_ctl(&r, NULL, "BFF_ENV=production", "check --deploy --nginx-conf %s/nginx/nginx.conf",
        t_env("BFF_TEST_STATE"));
    ck_assert_msg(!strstr(r.out, "bff.E02") && !strstr(r.out, "bff.W02"), "%s", r.out);
    t_ctl_free(&r);

    /* a config that serves everything to FastCGI on a public listener */
    fd = mkstemp(conf);
    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    fputs("events {}\nhttp {\n  server_tokens on;\n"
          "  upstream app { server 10.1.2.3:9000; }\n"
          "  server {\n    listen 80;\n"
          "    location / { fastcgi_pass app; }  # /metrics too\n"
          "    location = /api/auth/token/ { fastcgi_pass app; }\n"
          "  }\n"
          "  server {\n    listen 0.0.0.0:8080;\n"
          "    location /metrics { allow 10.0.0.0/8; deny all; fastcgi_pass unix:/run/x.sock; }\n"
          "  }\n}\n",
          f);
    fclose(f);
    t_ctl(&r, NULL, "BFF_ENV=production", "check --deploy --nginx-conf %s", conf);
    ck_assert_int_eq(r.status, 1);
    ck_assert_ptr_nonnull(strstr(r.out, "ERROR bff.E020: "));
    ck_assert_ptr_nonnull(strstr(r.out, "(location /)"));
    ck_assert_ptr_nonnull(strstr(r.out, "(location /metrics)"));
    ck_assert_ptr_nonnull(strstr(r.out, "ERROR bff.E021: "));
    ck_assert_ptr_nonnull(strstr(r.out, "WARNING bff.W020: "));
    ck_assert_ptr_nonnull(strstr(r.out, "WARNING bff.W021: "));
    t_ctl_free(&r);

    /* loopback-only servers expose nothing, whatever their locations */
    f = fopen(conf, "w");
    fputs("http { server_tokens off;\n server { listen 127.0.0.1:8000;\n"
          "  location / { fastcgi_pass unix:/run/x.sock; } } }\n",
          f);
    fclose(f);
    t_ctl(&r, NULL, "BFF_ENV=production", "check --deploy --nginx-conf %s", conf);
    ck_assert_msg(!strstr(r.out, "bff.E02") && !strstr(r.out, "bff.W02"), "%s", r.out);
    t_ctl_free(&r);

    /* spawn-fcgi on a TCP port of every interface */
    f = fopen(conf, "w");
    fputs("[Service]\nExecStart=/usr/bin/spawn-fcgi -n -p 9000 -F 4 -- /usr/bin/bff-fcgi\n", f);
    fclose(f);
    t_ctl(&r, NULL, "BFF_ENV=production", "check --deploy --fcgi-unit %s", conf);
    ck_assert_ptr_nonnull(strstr(r.out, "ERROR bff.E024: "));
    t_ctl_free(&r);
    unlink(conf);

    t_ctl(&r, NULL, NULL, "check --bogus");
    ck_assert_int_eq(r.status, 2);
    t_ctl_free(&r);
}
END_TEST

static Suite *make_ctl_auth_suite(void)
{
    Suite *s = suite_create("ctl_auth");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");

    tcase_add_test(core, createsuperuser_passwords);
    tcase_add_test(core, user_commands);
    tcase_add_test(core, token_create_prints_only_the_token);
    tcase_add_test(core, check_plain_passes_on_the_test_stack);
    tcase_add_test(limits, clearsessions_counts);
    tcase_add_test(limits, check_deploy_findings);
    tcase_set_timeout(core, 120);
    tcase_set_timeout(limits, 120);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_ctl_auth_suite());
    int failed;

    if (sodium_init() < 0)
        return 1;
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
