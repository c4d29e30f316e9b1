/*
 * check_query.c — query-string parsing, validation and typed getters
 * (fcgi/query.c).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "error.h"
#include "json.h"
#include "query.h"

static struct bff_arena *a;
static struct bff_error e;
static struct bff_query q;

static void setup(void)
{
    a = bff_arena_new();
    bff_error_clear(&e);
    memset(&q, 0, sizeof q);
}

static void teardown(void)
{
    bff_arena_free(a);
}

static void parses(const char *qs)
{
    bff_error_clear(&e);
    ck_assert_msg(bff_query_parse(a, qs, &q, &e) == 0, "%s refused: %s: %s", qs, e.field, e.msg);
}

static void parse_fails(const char *qs, const char *field, const char *msg)
{
    bff_error_clear(&e);
    ck_assert_msg(bff_query_parse(a, qs, &q, &e) == -1, "%s accepted", qs);
    ck_assert_str_eq(e.code, BFF_E_BAD_REQUEST);
    ck_assert_str_eq(e.field, field);
    ck_assert_msg(strstr(e.msg, msg) != NULL, "%s: message \"%s\" lacks \"%s\"", qs, e.msg, msg);
}

static const struct bff_field list_fields[] = {{"limit", BFF_F_INT, 0, 1, 200, 0, NULL},
                                               {"after", BFF_F_INT, 0, 0, INT64_MAX, 0, NULL},
                                               {"active", BFF_F_BOOL, 0, 0, 0, 0, NULL},
                                               {"q", BFF_F_STRING, 0, 0, 200, 0, NULL},
                                               {"status", BFF_F_CODE, 0, 0, 16, 0, NULL},
                                               {"since", BFF_F_DATE, 0, 0, 0, 0, NULL},
                                               {NULL, 0, 0, 0, 0, 0, NULL}};

static void valid(const char *qs)
{
    parses(qs);
    ck_assert_msg(bff_query_validate(&q, list_fields, &e) == 0, "%s refused: %s: %s", qs, e.field,
                  e.msg);
}

static void invalid(const char *qs, const char *field, const char *msg)
{
    parses(qs);
    ck_assert_msg(bff_query_validate(&q, list_fields, &e) == -1, "%s accepted", qs);
    ck_assert_str_eq(e.code, BFF_E_BAD_REQUEST);
    ck_assert_str_eq(e.field, field);
    ck_assert_msg(strstr(e.msg, msg) != NULL, "%s: message \"%s\" lacks \"%s\"", qs, e.msg, msg);
}

START_TEST(empty_query)
{
    parses(NULL);
    ck_assert_uint_eq(q.n, 0);
    parses("");
    ck_assert_uint_eq(q.n, 0);
    ck_assert_ptr_null(bff_query_get(&q, "limit"));
    ck_assert_int_eq(bff_query_validate(&q, list_fields, &e), 0);
    ck_assert_int_eq(bff_query_int(&q, "limit", 50), 50);
    ck_assert_int_eq(bff_query_bool(&q, "active", -1), -1);
}
END_TEST

START_TEST(decoding)
{
    parses("a=1&b=x%20y&c=a+b&d=%C3%a9&e=%2B%26%3D%25&f=&g");
    ck_assert_uint_eq(q.n, 7);
    ck_assert_str_eq(q.keys[0], "a");
    ck_assert_str_eq(q.keys[6], "g");
    ck_assert_str_eq(bff_query_get(&q, "a"), "1");
    ck_assert_str_eq(bff_query_get(&q, "b"), "x y");
    ck_assert_str_eq(bff_query_get(&q, "c"), "a b");
    ck_assert_str_eq(bff_query_get(&q, "d"), "\xc3\xa9");
    ck_assert_str_eq(bff_query_get(&q, "e"), "+&=%");
    ck_assert_str_eq(bff_query_get(&q, "f"), "");
    ck_assert_str_eq(bff_query_get(&q, "g"), ""); /* no '=' */
    ck_assert_ptr_null(bff_query_get(&q, "h"));
    /* names are decoded too; only the first '=' splits */
    parses("my+k%65y=a=b");
    ck_assert_uint_eq(q.n, 1);
    ck_assert_str_eq(q.keys[0], "my key");
    ck_assert_str_eq(q.vals[0], "a=b");
    /* empty pieces are skipped */
    parses("&a=1&&b=2&");
    ck_assert_uint_eq(q.n, 2);
    ck_assert_str_eq(bff_query_get(&q, "b"), "2");
}
END_TEST

START_TEST(refusals)
{
    parse_fails("a=1&a=2", "a", "duplicate query parameter");
    parse_fails("a=1&%61=2", "a", "duplicate query parameter"); /* same after decoding */
    parse_fails("limit=1&limit", "limit", "duplicate");
    parse_fails("a=%zz", "a", "bad percent-encoding");
    parse_fails("a=%4", "a", "bad percent-encoding");
    parse_fails("a=x%", "a", "bad percent-encoding");
    parse_fails("a=%%41", "a", "bad percent-encoding");
    parse_fails("%zz=1", "query", "bad percent-encoding");
    parse_fails("a=%00", "a", "NUL");
    parse_fails("a%00b=1", "query", "NUL");
    parse_fails("a=%C3%28", "a", "UTF-8");
    parse_fails("a=%C0%AF", "a", "UTF-8");    /* overlong */
    parse_fails("a=%ED%A0%80", "a", "UTF-8"); /* surrogate */
    parse_fails("a=\xff", "a", "UTF-8");      /* raw byte */
    parse_fails("%FF=1", "query", "UTF-8");
    parse_fails("=1", "query", "empty query parameter name");
    parse_fails("a=1&=2", "query", "empty");
    parse_fails("=", "query", "empty");
}
END_TEST

START_TEST(validate_values)
{
    char qs[2048], *p;
    int i;

    valid("limit=50&after=0&active=true&q=&status=open&since=2024-02-29");
    ck_assert_int_eq(bff_query_int(&q, "limit", 7), 50);
    ck_assert_int_eq(bff_query_int(&q, "after", 7), 0);
    ck_assert_int_eq(bff_query_bool(&q, "active", -1), 1);
    ck_assert_int_eq(bff_query_int(&q, "missing", 7), 7);
    ck_assert_int_eq(bff_query_bool(&q, "missing", -1), -1);
    valid("active=false&after=9223372036854775807");
    ck_assert_int_eq(bff_query_bool(&q, "active", -1), 0);
    ck_assert_int_eq(bff_query_int(&q, "after", 7), INT64_MAX);

    invalid("bogus=1", "bogus", "unknown query parameter");
    invalid("limit=5&Limit=5", "Limit", "unknown query parameter"); /* case matters */
    invalid("limit=0", "limit", "must be between 1 and 200");
    invalid("limit=201", "limit", "must be between 1 and 200");
    valid("limit=1");
    valid("limit=200");
    invalid("limit=", "limit", "must be an integer");
    invalid("limit", "limit", "must be an integer");
    invalid("limit=1.5", "limit", "must be an integer");
    invalid("limit=2e1", "limit", "must be an integer");
    invalid("limit=abc", "limit", "must be an integer");
    invalid("limit=5x", "limit", "must be an integer");
    invalid("limit=+5", "limit", "must be an integer"); /* '+' is a space */
    invalid("limit=%2B5", "limit", "must be an integer");
    invalid("after=-1", "after", "must be between 0 and 9223372036854775807");
    invalid("after=9223372036854775808", "after", "must be an integer");
    invalid("active=1", "active", "must be true or false");
    invalid("active=TRUE", "active", "must be true or false");
    invalid("active=", "active", "must be true or false");
    invalid("since=2023-02-29", "since", "must be a date (YYYY-MM-DD)");
    invalid("since=2024-1-01", "since", "must be a date");
    invalid("status=a%20b", "status", "must be 1 to 16 characters of [A-Za-z0-9._-]");
    invalid("status=", "status", "must be 1 to 16");
    /* 200 characters of 'é' (400 bytes) are fine for max 200; 201 are not */
    p = qs + sprintf(qs, "q=");
    for (i = 0; i < 200; i++)
        p += sprintf(p, "%%C3%%A9");
    valid(qs);
    ck_assert_uint_eq(strlen(bff_query_get(&q, "q")), 400);
    strcpy(p, "%C3%A9");
    invalid(qs, "q", "must have at most 200 characters");
}
END_TEST

START_TEST(required_and_getters)
{
    static const struct bff_field need[] = {{"days", BFF_F_INT, BFF_F_REQUIRED, 1, 365, 0, NULL},
                                            {"delta", BFF_F_INT, BFF_F_NONZERO, -10, 10, 0, NULL},
                                            {NULL, 0, 0, 0, 0, 0, NULL}};

    parses("delta=1");
    ck_assert_int_eq(bff_query_validate(&q, need, &e), -1);
    ck_assert_str_eq(e.field, "days");
    ck_assert_str_eq(e.msg, "is required");
    parses("days=30&delta=0");
    ck_assert_int_eq(bff_query_validate(&q, need, &e), -1);
    ck_assert_str_eq(e.field, "delta");
    ck_assert_str_eq(e.msg, "must not be 0");
    parses("days=30&delta=-10");
    ck_assert_int_eq(bff_query_validate(&q, need, &e), 0);
    ck_assert_int_eq(bff_query_int(&q, "days", 0), 30);
    ck_assert_int_eq(bff_query_int(&q, "delta", 0), -10);
    /* unvalidated garbage reads as the default */
    parses("days=x&flag=yes");
    ck_assert_int_eq(bff_query_int(&q, "days", 42), 42);
    ck_assert_int_eq(bff_query_bool(&q, "flag", 2), 2);
}
END_TEST

START_TEST(many_and_long_parameters)
{
    struct bff_buf b = BFF_BUF_INIT;
    int i;

    for (i = 0; i < BFF_QUERY_MAX_PARAMS; i++)
        bff_buf_printf(&b, "%sp%d=%d", i ? "&" : "", i, i);
    parses(b.data);
    ck_assert_uint_eq(q.n, BFF_QUERY_MAX_PARAMS);
    ck_assert_str_eq(bff_query_get(&q, "p63"), "63");
    bff_buf_puts(&b, "&one=more");
    parse_fails(b.data, "query", "too many query parameters");
    /* empty pieces do not count */
    bff_buf_reset(&b);
    for (i = 0; i < 1000; i++)
        bff_buf_putc(&b, '&');
    bff_buf_puts(&b, "limit=5");
    parses(b.data);
    ck_assert_uint_eq(q.n, 1);
    /* a very long unknown name is cut, at a character boundary, in e.field */
    bff_buf_reset(&b);
    for (i = 0; i < 1000; i++)
        bff_buf_puts(&b, "%C3%A9");
    bff_buf_puts(&b, "=1");
    parses(b.data);
    ck_assert_int_eq(bff_query_validate(&q, list_fields, &e), -1);
    ck_assert_str_eq(e.msg, "unknown query parameter");
    ck_assert_uint_eq(strlen(e.field), 126);
    ck_assert(bff_utf8_valid(e.field, strlen(e.field)));
    bff_buf_free(&b);
}
END_TEST

static Suite *make_query_suite(void)
{
    Suite *s = suite_create("query");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");

    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_add_test(core, empty_query);
    tcase_add_test(core, decoding);
    tcase_add_test(core, refusals);
    tcase_add_test(core, validate_values);
    tcase_add_test(core, required_and_getters);
    tcase_add_test(limits, many_and_long_parameters);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_query_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
