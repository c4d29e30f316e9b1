/*
 * check_e2e_http.c — the request layer through the real path:
 * nginx → spawn-fcgi pool → bff-fcgi. Error shapes, request ids, trailing
 * slashes, and a hostile-body battery after which the pool still serves.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

START_TEST(health_ok_json)
{
    struct http_resp r;
    char *ct, *rid;

    t_get("/health/", &r);
    ck_assert_msg(r.status == 200, "status %ld: %s", r.status, r.body);
    ck_assert_ptr_nonnull(r.json);
    ck_assert_str_eq(t_jstr(r.json, "checks", "database", "status", NULL), "ok");
    ck_assert_ptr_nonnull(t_jstr(r.json, "version", NULL));
    ct = t_header(&r, "Content-Type");
    ck_assert_str_eq(ct, "application/json; charset=utf-8");
    rid = t_header(&r, "X-Request-Id");
    ck_assert_msg(rid && strlen(rid) >= 8, "X-Request-Id missing");
    free(ct);
    free(rid);
    t_resp_free(&r);
}
END_TEST

START_TEST(trailing_slash_optional)
{
    struct http_resp a, b;

    t_get("/health/database", &a);
    t_get("/health/database/", &b);
    ck_assert_int_eq(a.status, 200);
    ck_assert_int_eq(b.status, 200);
    ck_assert_str_eq(t_jstr(a.json, "status", NULL), "ok");
    t_resp_free(&a);
    t_resp_free(&b);
}
END_TEST

START_TEST(request_id_echoed_when_sane)
{
    const char *sane[] = {"X-Request-Id: client-id_1.2", NULL};
    const char *insane[] = {"X-Request-Id: has spaces and \"quotes\"", NULL};
    struct http_resp r;
    char *rid;

    t_http("GET", "/api/nowhere/", sane, NULL, 0, &r);
    rid = t_header(&r, "X-Request-Id");
    ck_assert_str_eq(rid, "client-id_1.2");
    ck_assert_str_eq(t_jstr(r.json, "error", "request_id", NULL), "client-id_1.2");
    free(rid);
    t_resp_free(&r);

    t_http("GET", "/health/", insane, NULL, 0, &r);
    rid = t_header(&r, "X-Request-Id");
    ck_assert_ptr_nonnull(rid);
    ck_assert_ptr_null(strchr(rid, ' '));
    ck_assert_uint_gt(strlen(rid), 0);
    free(rid);
    t_resp_free(&r);
}
END_TEST

/* The runbook's first move at 3 a.m. is `curl -I http://localhost:8000/health/`. */
START_TEST(head_is_get_without_body)
{
    struct http_resp r;
    char *cl;

    t_http("HEAD", "/health/", NULL, NULL, 0, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, 0);
    cl = t_header(&r, "Content-Length");
    ck_assert_ptr_nonnull(cl);
    ck_assert_int_gt(atoi(cl), 0);
    free(cl);
    t_resp_free(&r);
}
END_TEST

START_TEST(not_found_is_json)
{
    struct http_resp r;

    t_get("/api/does-not-exist/", &r);
    t_assert_error(&r, 404, "not_found");
    t_resp_free(&r);
    t_get("/health/nope/", &r);
    t_assert_error(&r, 404, "not_found");
    t_resp_free(&r);
}
END_TEST

START_TEST(method_not_allowed_has_allow)
{
    struct http_resp r;
    char *allow;

    t_http("DELETE", "/health/", NULL, NULL, 0, &r);
    t_assert_error(&r, 405, "method_not_allowed");
    allow = t_header(&r, "Allow");
    ck_assert_ptr_nonnull(allow);
    ck_assert_str_eq(allow, "GET");
    free(allow);
    t_resp_free(&r);
}
END_TEST

START_TEST(unsupported_media_type)
{
    const char *h[] = {"Content-Type: text/plain", NULL};
    struct http_resp r;

    t_http("GET", "/health/", h, "{}", 2, &r);
    t_assert_error(&r, 415, "unsupported_media_type");
    t_resp_free(&r);
}
END_TEST

START_TEST(payload_too_large_is_json)
{
    size_t n = (size_t)atoll(t_env("BFF_MAX_BODY")) + 4096;
    char *big = malloc(n + 1);
    struct http_resp r;

    memset(big, ' ', n);
    big[0] = '[';
    big[n - 1] = ']';
    big[n] = '\0';
    t_http("GET", "/health/", NULL, big, n, &r);
    t_assert_error(&r, 413, "payload_too_large");
    free(big);
    t_resp_free(&r);
}
END_TEST

START_TEST(bad_query_parameter)
{
    struct http_resp r;

    t_get("/health/?debug=1", &r);
    t_assert_error(&r, 400, "bad_request");
    ck_assert_str_eq(t_jstr(r.json, "error", "field", NULL), "debug");
    t_resp_free(&r);
}
END_TEST

/* Hostile bodies: each gets a 4xx JSON error, and the pool keeps serving. */
static char *nested(size_t depth)
{
    char *s = malloc(2 * depth + 1);

    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    return s;
}

START_TEST(hostile_battery)
{
    static const char *bodies[] = {
        "{", "}", "{\"a\":}", "{\"a\":1,\"a\":2}", "{\"a\":1}garbage", "{}{}",
        "// c\n{}", "{\"a\":/*x*/1}", "{\"a\":\"\xff\xfe\"}", "{\"\xc3\x28\":1}",
        "{\"a\":\"\\ud800\"}", "nul", "{\"a\":1e999999}", "\"just a string\"",
        "{\"q\":\"' OR 1=1; DROP TABLE products; --\"}", "{\"p\":\"../../etc/passwd\"}",
        NULL,
    };
    size_t depths[] = {33, 10000, 300000};
    const char **b;
    struct http_resp r;
    size_t i;

    for (b = bodies; *b; b++) {
        t_http("GET", "/health/", NULL, *b, strlen(*b), &r);
        ck_assert_msg(r.status >= 400 && r.status < 500, "body %s → %ld", *b, r.status);
        ck_assert_msg(r.json && t_jstr(r.json, "error", "code", NULL), "not JSON: %s", r.body);
        t_resp_free(&r);
    }
    {
        static const char nul_body[] = "{\"a\":\"x\0y\"}";

        t_http("GET", "/health/", NULL, nul_body, sizeof nul_body - 1, &r);
        t_assert_error(&r, 400, "bad_request");
        t_resp_free(&r);
    }
    for (i = 0; i < sizeof depths / sizeof depths[0]; i++) {
        char *s = nested(depths[i]);

        t_http("GET", "/health/", NULL, s, strlen(s), &r);
        ck_assert_msg(r.status == 400 || r.status == 413, "depth %zu → %ld", depths[i], r.status);
        ck_assert_ptr_nonnull(t_jstr(r.json, "error", "code", NULL));
        free(s);
        t_resp_free(&r);
    }
    /* still serving */
    t_get("/health/", &r);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
}
END_TEST

START_TEST(hostile_paths_and_headers)
{
    static const char *paths[] = {"/api/../health/x", "/api/%00/", "/api/products/%2e%2e/",
                                  "/api/products/1;DROP/", "/health/?%zz=1",
                                  "/health/?a=1&a=2", NULL};
    const char *hdr[] = {"Authorization: Bearer ' OR 1=1 --", "Idempotency-Key: \x01", NULL};
    const char **p;
    struct http_resp r;

    for (p = paths; *p; p++) {
        t_http("GET", *p, hdr, NULL, 0, &r);
        ck_assert_msg(r.status >= 400 && r.status < 500, "%s → %ld", *p, r.status);
        ck_assert_msg(r.json != NULL, "%s: not JSON: %s", *p, r.body);
        t_resp_free(&r);
    }
    t_get("/health/", &r);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
}
END_TEST

static Suite *make_e2e_http_suite(void)
{
    Suite *s = suite_create("e2e_http");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");

    tcase_set_timeout(core, 60);
    tcase_set_timeout(limits, 120);
    tcase_add_test(core, health_ok_json);
    tcase_add_test(core, trailing_slash_optional);
    tcase_add_test(core, request_id_echoed_when_sane);
    tcase_add_test(core, head_is_get_without_body);
    tcase_add_test(core, not_found_is_json);
    tcase_add_test(core, method_not_allowed_has_allow);
    tcase_add_test(core, unsupported_media_type);
    tcase_add_test(limits, payload_too_large_is_json);
    tcase_add_test(limits, bad_query_parameter);
    tcase_add_test(limits, hostile_battery);
    tcase_add_test(limits, hostile_paths_and_headers);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_e2e_http_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
