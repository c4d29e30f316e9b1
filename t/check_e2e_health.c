/*
 * check_e2e_health.c — /health/ against real components that this suite
 * stops and starts: PostgreSQL down → 503 "down"; Redis down → 200
 * "degraded" within a second; SMTP not configured / refusing / silent /
 * healthy against t/smtp-sink. Every test leaves the stack as it found it.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Restart the FastCGI pool with BFF_SMTP_URL set (NULL: unset). */
static void pool_with_smtp(const char *url)
{
    char assign[256];
    const char *env[] = {assign, NULL};

    snprintf(assign, sizeof assign, "BFF_SMTP_URL=%s", url ? url : "");
    ck_assert_int_eq(t_stackctl("restart", "fcgi", env), 0);
    ck_assert_int_eq(t_wait_status("/health/database/", 200, 10000), 0);
}

/*
 * Fixtures put the stack back even when a test failed half-way: they run
 * in the parent (unchecked), where a failed assertion in the child cannot
 * skip them, and stackctl start/restart are idempotent.
 */
static void restore_services(void)
{
    t_stackctl("resume", "postgres", NULL); /* after a failed freeze test */
    t_stackctl("start", "postgres", NULL);
    t_stackctl("start", "redis", NULL);
}

static void restore_pool(void)
{
    const char *env[] = {"BFF_SMTP_URL=", NULL};

    t_stackctl("restart", "fcgi", env);
    t_wait_status("/health/database/", 200, 10000);
}

START_TEST(all_ok)
{
    struct http_resp r;
    int ok;

    t_get("/health/", &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "ok");
    ck_assert_str_eq(t_jstr(r.json, "checks", "database", "status", NULL), "ok");
    ck_assert_str_eq(t_jstr(r.json, "checks", "cache", "status", NULL), "ok");
    ck_assert_str_eq(t_jstr(r.json, "checks", "smtp", "status", NULL), "not_configured");
    t_jint(r.json, &ok, "checks", "database", "latency_ms", NULL);
    ck_assert(ok);
    ck_assert_ptr_null(t_jget(r.json, "checks", "database", "error", NULL));
    t_resp_free(&r);

    t_get("/health/cache/", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "ok");
    t_jint(r.json, &ok, "latency_ms", NULL);
    ck_assert(ok);
    t_resp_free(&r);
}
END_TEST

START_TEST(database_down_is_503)
{
    struct http_resp r;
    char *ra;

    ck_assert_int_eq(t_stackctl("stop", "postgres", NULL), 0);
    t_get("/health/", &r);
    ck_assert_msg(r.status == 503, "status %ld: %s", r.status, r.body);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "down");
    ck_assert_str_eq(t_jstr(r.json, "checks", "database", "status", NULL), "down");
    ck_assert_ptr_nonnull(t_jstr(r.json, "checks", "database", "error", NULL));
    ck_assert_msg(r.seconds < 3.0, "health took %.2fs", r.seconds);
    ra = t_header(&r, "Retry-After");
    ck_assert_ptr_nonnull(ra);
    free(ra);
    t_resp_free(&r);

    t_get("/health/database/", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "down");
    t_resp_free(&r);

    ck_assert_int_eq(t_stackctl("start", "postgres", NULL), 0);
    /* the pool reconnects by itself */
    ck_assert_int_eq(t_wait_status("/health/database/", 200, 10000), 0);
}
END_TEST

/*
 * A frozen PostgreSQL (SIGSTOP: connections stay open, nothing answers,
 * statement_timeout cannot fire) costs a request at most statement_timeout
 * + 1 s (BFF_STATEMENT_TIMEOUT_MS is 5 s here) on an open connection, or
 * the 2 s connect deadline on a new one, answered 503 by the app, never
 * nginx's 504 after 30 s; once it thaws the pool serves again.
 */
START_TEST(frozen_database_is_503_before_nginx_gives_up)
{
    const char *auth = t_auth(t_token("orders.read", NULL));
    const char *h[] = {auth, NULL};
    struct http_resp r;
    int i;

    for (i = 0; i < 8; i++) { /* every worker has a connection and the token cached */
        t_http("GET", "/api/orders/?limit=1", h, NULL, 0, &r);
        ck_assert_msg(r.status == 200, "status %ld: %s", r.status, r.body);
        t_resp_free(&r);
    }
    ck_assert_int_eq(t_stackctl("pause", "postgres", NULL), 0);
    for (i = 0; i < 2; i++) {
        t_http("GET", "/api/orders/?limit=1", h, NULL, 0, &r);
        ck_assert_msg(r.status == 503, "frozen database: status %ld: %s", r.status, r.body);
        ck_assert_str_eq(t_jstr(r.json, "error", "code", NULL), "unavailable");
        ck_assert_msg(r.seconds < 9.0, "answered after %.2f s (want <= statement_timeout + 1 s)",
                      r.seconds);
        t_resp_free(&r);
    }
    ck_assert_int_eq(t_stackctl("resume", "postgres", NULL), 0);
    ck_assert_int_eq(t_wait_status("/health/database/", 200, 10000), 0);
    for (i = 0; i < 8; i++) {
        t_http("GET", "/api/orders/?limit=1", h, NULL, 0, &r);
        ck_assert_msg(r.status == 200, "after the thaw: status %ld: %s", r.status, r.body);
        t_resp_free(&r);
    }
}
END_TEST

START_TEST(cache_down_is_degraded_fast)
{
    struct http_resp r;

    ck_assert_int_eq(t_stackctl("stop", "redis", NULL), 0);
    t_get("/health/", &r);
    ck_assert_msg(r.status == 200, "status %ld: %s", r.status, r.body);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "degraded");
    ck_assert_str_eq(t_jstr(r.json, "checks", "cache", "status", NULL), "down");
    ck_assert_str_eq(t_jstr(r.json, "checks", "database", "status", NULL), "ok");
    ck_assert_msg(r.seconds < 1.0, "degraded health took %.3fs", r.seconds);
    t_resp_free(&r);

    t_get("/health/cache/", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "down");
    ck_assert_ptr_nonnull(t_jstr(r.json, "error", NULL));
    t_resp_free(&r);

    ck_assert_int_eq(t_stackctl("start", "redis", NULL), 0);
    ck_assert_int_eq(t_wait_status("/health/cache/", 200, 5000), 0);
}
END_TEST

START_TEST(smtp_up)
{
    char url[64];
    struct http_resp r;

    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", t_sink_start("--mode", "ok"));
    pool_with_smtp(url);
    t_get("/health/smtp/", &r);
    ck_assert_msg(r.status == 200, "%s", r.body);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "ok");
    t_resp_free(&r);
    t_get("/health/", &r);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "ok");
    ck_assert_str_eq(t_jstr(r.json, "checks", "smtp", "status", NULL), "ok");
    t_resp_free(&r);
}
END_TEST

START_TEST(smtp_refused_is_degraded)
{
    char url[64];
    struct http_resp r;

    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", t_free_port());   /* nobody there */
    pool_with_smtp(url);
    t_get("/health/", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "degraded");
    ck_assert_str_eq(t_jstr(r.json, "checks", "smtp", "status", NULL), "down");
    t_resp_free(&r);
    t_get("/health/smtp/", &r);
    ck_assert_int_eq(r.status, 503);
    t_resp_free(&r);
}
END_TEST

START_TEST(smtp_bad_greeting_is_down)
{
    char url[64];
    struct http_resp r;
    const char *err;

    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", t_sink_start("--mode", "bad"));
    pool_with_smtp(url);
    t_get("/health/smtp/", &r);
    ck_assert_int_eq(r.status, 503);
    err = t_jstr(r.json, "error", NULL);
    ck_assert_msg(err && strstr(err, "554"), "error: %s", err ? err : "(none)");
    t_resp_free(&r);
}
END_TEST

START_TEST(smtp_silent_times_out)
{
    char url[64];
    struct http_resp r;

    snprintf(url, sizeof url, "smtp://127.0.0.1:%d", t_sink_start("--mode", "mute"));
    pool_with_smtp(url);
    t_get("/health/smtp/", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(t_jstr(r.json, "status", NULL), "down");
    /* bounded by BFF_HEALTH_TIMEOUT_MS (default 2 s), never hangs */
    ck_assert_msg(r.seconds < 3.0, "took %.2fs", r.seconds);
    t_resp_free(&r);
}
END_TEST

static Suite *make_e2e_health_suite(void)
{
    Suite *s = suite_create("e2e_health");
    TCase *core = tcase_create("core"), *smtp = tcase_create("smtp");

    tcase_set_timeout(core, 90);
    tcase_set_timeout(smtp, 90);
    tcase_add_test(core, all_ok);
    tcase_add_test(core, database_down_is_503);
    tcase_add_test(core, cache_down_is_degraded_fast);
    tcase_add_test(core, frozen_database_is_503_before_nginx_gives_up);
    tcase_add_checked_fixture(core, restore_services, NULL);
    tcase_add_unchecked_fixture(core, NULL, restore_services);
    tcase_add_checked_fixture(smtp, NULL, t_sink_stop);
    tcase_add_unchecked_fixture(smtp, NULL, restore_pool);
    tcase_add_test(smtp, smtp_up);
    tcase_add_test(smtp, smtp_refused_is_degraded);
    tcase_add_test(smtp, smtp_bad_greeting_is_down);
    tcase_add_test(smtp, smtp_silent_times_out);
    suite_add_tcase(s, core);
    suite_add_tcase(s, smtp);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_e2e_health_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
