/*
 * check_routes.c — route matching and the dispatcher's refusals, without
 * FastCGI: a struct bff_req is filled by hand as main.c would.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_tree.h>

#include "config.h"
#include "dispatch.h"
#include "routes.h"

static struct bff_config cfg;
static struct bff_ctx ctx;

static void setup(void)
{
    struct bff_error e;

    unsetenv("BFF_REDIS_URL");
    setenv("BFF_MAX_BODY", "1024", 1);
    ck_assert_int_eq(bff_config_load(&cfg, &e), 0);
    memset(&ctx, 0, sizeof ctx);
    ctx.cfg = &cfg;
    ctx.arena = bff_arena_new();
}

static void teardown(void)
{
    bff_arena_free(ctx.arena);
    bff_buf_free(&ctx.body);
}

/* Dispatch method path [body] and return the status; the body is in ctx. */
static int run(const char *method, const char *path, const char *qs, const char *ct,
               const char *body, struct bff_req *rq, struct bff_resp *rs)
{
    bff_req_begin(&ctx, rq, rs);
    rq->method = method;
    rq->path = path;
    rq->query_string = qs ? qs : "";
    rq->content_type = ct;
    rq->body = body;
    rq->body_len = body ? strlen(body) : 0;
    rq->request_id = bff_request_id(rq->a, "test-rid");
    return bff_dispatch(rq, rs);
}

static void assert_error(int status, int want, const char *code, const char *field)
{
    yajl_val v = yajl_tree_parse(ctx.body.data, NULL, 0);
    const char *pc[] = {"error", "code", NULL}, *pf[] = {"error", "field", NULL},
               *pr[] = {"error", "request_id", NULL};
    yajl_val c, f, r;

    ck_assert_msg(status == want, "status %d want %d: %s", status, want, ctx.body.data);
    ck_assert_ptr_nonnull(v);
    c = yajl_tree_get(v, pc, yajl_t_string);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(YAJL_GET_STRING(c), code);
    r = yajl_tree_get(v, pr, yajl_t_string);
    ck_assert_ptr_nonnull(r);
    ck_assert_str_eq(YAJL_GET_STRING(r), "test-rid");
    f = yajl_tree_get(v, pf, yajl_t_string);
    if (field) {
        ck_assert_msg(f != NULL, "no field in %s", ctx.body.data);
        ck_assert_str_eq(YAJL_GET_STRING(f), field);
    }
    yajl_tree_free(v);
}

START_TEST(pattern_params)
{
    int64_t p[BFF_MAX_PATH_PARAMS];
    int n = -1;

    ck_assert(bff_pattern_match("/api/orders/{id}/ship/", "/api/orders/42/ship/", p, &n));
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(p[0], 42);
    ck_assert(bff_pattern_match("/api/orders/{id}/ship/", "/api/orders/42/ship", p, &n));
    ck_assert(bff_pattern_match("/a/{id}/b/{id}/", "/a/1/b/9223372036854775807/", p, &n));
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(p[1], INT64_MAX);
    /* not ids: zero, leading zero, sign, overflow, empty, letters */
    ck_assert(!bff_pattern_match("/a/{id}/", "/a/0/", p, &n));
    ck_assert(!bff_pattern_match("/a/{id}/", "/a/01/", p, &n));
    ck_assert(!bff_pattern_match("/a/{id}/", "/a/-1/", p, &n));
    ck_assert(!bff_pattern_match("/a/{id}/", "/a/9223372036854775808/", p, &n));
    ck_assert(!bff_pattern_match("/a/{id}/", "/a//", p, &n));
    ck_assert(!bff_pattern_match("/a/{id}/", "/a/1x/", p, &n));
    ck_assert(!bff_pattern_match("/a/{id}/", "/a/1/extra/", p, &n));
    ck_assert(!bff_pattern_match("/health/", "/healthz/", p, &n));
    ck_assert(!bff_pattern_match("/health/", "/health/x", p, &n));
    ck_assert(!bff_pattern_match("/health/", "/health//", p, &n));     /* one slash, not two */
    ck_assert(!bff_pattern_match("/a/{id}/", "/a/5//", p, &n));
    ck_assert(bff_pattern_match("/metrics", "/metrics/", p, &n));      /* slash-less pattern */
    ck_assert(!bff_pattern_match("/health/", "/", p, &n));
}
END_TEST

START_TEST(table_is_well_formed)
{
    const struct bff_route *r, *q;

    for (r = bff_routes; r->method; r++) {
        ck_assert_ptr_nonnull(r->handler);
        ck_assert_msg(r->pattern[0] == '/', "%s", r->pattern);
        /* every route is public or names a permission, never both */
        ck_assert_msg(((r->flags & BFF_R_PUBLIC) != 0) != (r->perm != NULL),
                      "%s %s: public xor permission", r->method, r->pattern);
        if (r->flags & BFF_R_BODY)
            ck_assert_ptr_nonnull(r->body);
        for (q = r + 1; q->method; q++)
            ck_assert_msg(strcmp(r->method, q->method) || strcmp(r->pattern, q->pattern),
                          "duplicate route %s %s", r->method, r->pattern);
    }
}
END_TEST

START_TEST(match_with_and_without_slash)
{
    const struct bff_route *r = NULL;
    int64_t p[BFF_MAX_PATH_PARAMS];
    char allow[64];
    int n;

    ck_assert_int_eq(bff_route_match("GET", "/health/", &r, p, &n, allow, sizeof allow),
                     BFF_MATCH_OK);
    ck_assert_str_eq(r->pattern, "/health/");
    ck_assert_int_eq(bff_route_match("GET", "/health/database", &r, p, &n, allow, sizeof allow),
                     BFF_MATCH_OK);
    ck_assert_str_eq(r->pattern, "/health/database/");
    ck_assert_int_eq(bff_route_match("DELETE", "/health", &r, p, &n, allow, sizeof allow),
                     BFF_MATCH_NOMETHOD);
    ck_assert_str_eq(allow, "GET");
    ck_assert_int_eq(bff_route_match("GET", "/nope/", &r, p, &n, allow, sizeof allow),
                     BFF_MATCH_NOPATH);
}
END_TEST

START_TEST(dispatch_404)
{
    struct bff_req rq;
    struct bff_resp rs;

    assert_error(run("GET", "/api/nothing/", NULL, NULL, NULL, &rq, &rs), 404, "not_found", NULL);
}
END_TEST

START_TEST(dispatch_405_sets_allow)
{
    struct bff_req rq;
    struct bff_resp rs;

    assert_error(run("POST", "/health/", NULL, NULL, NULL, &rq, &rs), 405,
                 "method_not_allowed", NULL);
    ck_assert_ptr_nonnull(rs.allow);
    ck_assert_str_eq(rs.allow, "GET");
}
END_TEST

START_TEST(dispatch_unknown_query_parameter)
{
    struct bff_req rq;
    struct bff_resp rs;

    assert_error(run("GET", "/health/", "verbose=1", NULL, NULL, &rq, &rs), 400, "bad_request",
                 "verbose");
}
END_TEST

START_TEST(dispatch_413)
{
    struct bff_req rq;
    struct bff_resp rs;
    char *big = malloc(2000);

    memset(big, ' ', 1999);
    big[1999] = '\0';
    assert_error(run("GET", "/health/", NULL, "application/json", big, &rq, &rs), 413,
                 "payload_too_large", NULL);
    free(big);
}
END_TEST

START_TEST(dispatch_415)
{
    struct bff_req rq;
    struct bff_resp rs;

    assert_error(run("GET", "/health/", NULL, "text/plain", "{}", &rq, &rs), 415,
                 "unsupported_media_type", NULL);
    assert_error(run("GET", "/health/", NULL, NULL, "{}", &rq, &rs), 415,
                 "unsupported_media_type", NULL);
    assert_error(run("GET", "/health/", NULL, "application/jsonx", "{}", &rq, &rs), 415,
                 "unsupported_media_type", NULL);
}
END_TEST

START_TEST(dispatch_malformed_json)
{
    static const char *bodies[] = {"{", "{\"a\":1,\"a\":2}", "[1] x", "{\"a\":1} /* c */",
                                   "{\"a\":\"\xc3\x28\"}", NULL};
    struct bff_req rq;
    struct bff_resp rs;
    const char **b;

    for (b = bodies; *b; b++)
        assert_error(run("GET", "/health/", NULL, "application/json", *b, &rq, &rs), 400,
                     "bad_request", NULL);
}
END_TEST

START_TEST(dispatch_body_fields_on_bodyless_route)
{
    struct bff_req rq;
    struct bff_resp rs;

    assert_error(run("GET", "/health/", NULL, "application/json", "{\"x\":1}", &rq, &rs), 400,
                 "bad_request", "x");
}
END_TEST

START_TEST(request_id_sanity)
{
    struct bff_arena *a = bff_arena_new();
    char long_id[200];
    const char *g1, *g2;

    ck_assert_str_eq(bff_request_id(a, "abc-123_X.y"), "abc-123_X.y");
    memset(long_id, 'a', 129);
    long_id[129] = '\0';
    g1 = bff_request_id(a, long_id);
    g2 = bff_request_id(a, "bad id with spaces");
    ck_assert_str_ne(g1, long_id);
    ck_assert_str_ne(g2, "bad id with spaces");
    ck_assert_str_ne(g1, g2);
    ck_assert_str_ne(bff_request_id(a, ""), "");
    ck_assert_str_ne(bff_request_id(a, "a\"b"), "a\"b");
    long_id[128] = '\0';
    ck_assert_str_eq(bff_request_id(a, long_id), long_id);   /* exactly 128 is sane */
    bff_arena_free(a);
}
END_TEST

static Suite *make_routes_suite(void)
{
    Suite *s = suite_create("routes");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");

    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_add_test(core, pattern_params);
    tcase_add_test(core, table_is_well_formed);
    tcase_add_test(core, match_with_and_without_slash);
    tcase_add_test(core, dispatch_404);
    tcase_add_test(core, dispatch_405_sets_allow);
    tcase_add_test(core, request_id_sanity);
    tcase_add_test(limits, dispatch_unknown_query_parameter);
    tcase_add_test(limits, dispatch_413);
    tcase_add_test(limits, dispatch_415);
    tcase_add_test(limits, dispatch_malformed_json);
    tcase_add_test(limits, dispatch_body_fields_on_bodyless_route);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_routes_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
