/*
 * check_json.c — the strict JSON reader, the field-table validator and the
 * streaming writer (lib/json.c, lib/jsonw.c).
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "arena.h"
#include "buf.h"
#include "error.h"
#include "json.h"
#include "jsonw.h"

static struct bff_arena *a;
static struct bff_error e;

static void setup(void)
{
    a = bff_arena_new();
    bff_error_clear(&e);
}

static void teardown(void)
{
    bff_arena_free(a);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Parse n bytes that must be accepted. */
static struct bff_json *parse_n(const char *s, size_t n)
{
    struct bff_json *v = NULL;
    int rc = bff_json_parse(a, s, n, BFF_JSON_MAX_DEPTH, &v, &e);

    ck_assert_msg(rc == 0, "refused %.60s: %s", s, e.msg);
    ck_assert_ptr_nonnull(v);
    return v;
}

static struct bff_json *parse(const char *s)
{
    return parse_n(s, strlen(s));
}

/* Parse n bytes that must be refused with a message containing msg and
 * the given field ("" for none, NULL: not checked). */
static void refuse_n(const char *s, size_t n, const char *msg, const char *field)
{
    struct bff_json *v = (struct bff_json *)&v; /* must be reset to NULL */

    bff_error_clear(&e);
    ck_assert_msg(bff_json_parse(a, s, n, BFF_JSON_MAX_DEPTH, &v, &e) == -1, "accepted %.60s", s);
    ck_assert_ptr_null(v);
    ck_assert_str_eq(e.code, BFF_E_BAD_REQUEST);
    ck_assert_msg(strstr(e.msg, msg) != NULL, "%.60s: message \"%s\" lacks \"%s\"", s, e.msg, msg);
    if (field != NULL)
        ck_assert_str_eq(e.field, field);
}

static void refuse(const char *s, const char *msg, const char *field)
{
    refuse_n(s, strlen(s), msg, field);
}

/* ---- reader ---- */

START_TEST(parses_every_type_in_order)
{
    struct bff_json *v = parse(" {\"s\":\"x\\n\\u00e9\",\"n\":-12,\"f\":1.5,\"t\":true,"
                               "\"b\":false,\"z\":null,\"a\":[1,[],{}],\"o\":{\"k\":\"v\"}} ");
    const struct bff_json *x;

    ck_assert_int_eq(v->type, BFF_JSON_OBJECT);
    ck_assert_uint_eq(v->len, 8);
    ck_assert_str_eq(v->keys[0], "s");
    ck_assert_str_eq(v->keys[3], "t");
    ck_assert_str_eq(v->keys[7], "o");
    x = bff_json_get(v, "s");
    ck_assert_int_eq(x->type, BFF_JSON_STRING);
    ck_assert_str_eq(x->s, "x\n\xc3\xa9");
    ck_assert_uint_eq(x->len, 4);
    x = bff_json_get(v, "n");
    ck_assert(x->type == BFF_JSON_NUMBER && x->is_int && x->i == -12);
    ck_assert_str_eq(x->num, "-12");
    x = bff_json_get(v, "f");
    ck_assert(x->type == BFF_JSON_NUMBER && !x->is_int);
    ck_assert_str_eq(x->num, "1.5");
    ck_assert(bff_json_get(v, "t")->type == BFF_JSON_BOOL && bff_json_get(v, "t")->b == 1);
    ck_assert(bff_json_get(v, "b")->type == BFF_JSON_BOOL && bff_json_get(v, "b")->b == 0);
    ck_assert_int_eq(bff_json_get(v, "z")->type, BFF_JSON_NULL);
    x = bff_json_get(v, "a");
    ck_assert(x->type == BFF_JSON_ARRAY && x->len == 3);
    ck_assert_int_eq(x->items[0]->i, 1);
    ck_assert(x->items[1]->type == BFF_JSON_ARRAY && x->items[1]->len == 0);
    ck_assert(x->items[2]->type == BFF_JSON_OBJECT && x->items[2]->len == 0);
    ck_assert_str_eq(bff_json_get(bff_json_get(v, "o"), "k")->s, "v");
    ck_assert_ptr_null(bff_json_get(v, "missing"));
    ck_assert_ptr_null(bff_json_get(x, "k")); /* not an object */
    ck_assert_ptr_null(bff_json_get(NULL, "k"));
}
END_TEST

START_TEST(any_top_level_value)
{
    ck_assert_int_eq(parse("[1]")->type, BFF_JSON_ARRAY);
    ck_assert_str_eq(parse("\"s\"")->s, "s");
    ck_assert_int_eq(parse("7")->i, 7);
    ck_assert_int_eq(parse("null")->type, BFF_JSON_NULL);
}
END_TEST

START_TEST(integers_and_non_integers)
{
    struct bff_json *v;

    v = parse("9223372036854775807");
    ck_assert(v->is_int && v->i == INT64_MAX);
    v = parse("-9223372036854775808");
    ck_assert(v->is_int && v->i == INT64_MIN);
    v = parse("9223372036854775808"); /* 2^63 */
    ck_assert(!v->is_int);
    ck_assert_str_eq(v->num, "9223372036854775808");
    v = parse("-9223372036854775809");
    ck_assert(!v->is_int);
    ck_assert(!parse("1.5")->is_int);
    ck_assert(!parse("1.0")->is_int);
    ck_assert(!parse("1e3")->is_int);
    ck_assert(!parse("1E3")->is_int);
    ck_assert(!parse("-1e-3")->is_int);
    ck_assert_str_eq(parse("1e3")->num, "1e3");     /* source text kept */
    ck_assert_str_eq(parse("1e999")->num, "1e999"); /* no overflow in parsing */
    v = parse("-0");                                /* decided: integer 0 */
    ck_assert(v->is_int && v->i == 0);
    ck_assert_str_eq(v->num, "-0");
    refuse("01", "malformed JSON", "");
    refuse("[01]", "malformed JSON", "");
    refuse("-", "malformed JSON: malformed number", "");
    refuse("1.", "malformed JSON", "");
    refuse("+1", "malformed JSON", "");
    refuse("[.5]", "malformed JSON", "");
}
END_TEST

START_TEST(duplicate_keys)
{
    refuse("{\"sku\":\"a\",\"sku\":\"b\"}", "duplicate key \"sku\"", "sku");
    refuse("{\"lines\":[{\"q\":1},{\"q\":1,\"x\":2,\"q\":3}]}", "duplicate key \"q\"",
           "lines[1].q");
    refuse("{\"a\":{\"b\":{\"c\":1,\"c\":1}}}", "duplicate key", "a.b.c");
    /* same key in different objects is fine */
    parse("{\"a\":{\"x\":1},\"b\":{\"x\":1},\"x\":[{\"x\":1},{\"x\":2}]}");
    /* equal after unescaping */
    refuse("{\"ab\":1,\"a\\u0062\":2}", "duplicate key \"ab\"", "ab");
    /* a prefix is not a duplicate */
    parse("{\"ab\":1,\"a\":2,\"abc\":3}");
}
END_TEST

START_TEST(duplicate_keys_in_big_objects)
{
    struct bff_buf b = BFF_BUF_INIT;
    struct bff_json *v;
    int i;

    /* 200 keys: past the point where a hash set takes over */
    bff_buf_putc(&b, '{');
    for (i = 0; i < 200; i++)
        bff_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    bff_buf_putc(&b, '}');
    v = parse(b.data);
    ck_assert_uint_eq(v->len, 200);
    ck_assert_str_eq(v->keys[150], "k150");
    ck_assert_int_eq(bff_json_get(v, "k199")->i, 199);
    /* a duplicate of an early key, late in the object */
    b.data[--b.len] = '\0';
    bff_buf_puts(&b, ",\"k3\":0}");
    refuse(b.data, "duplicate key \"k3\"", "k3");
    /* and of every key at the end position of each size */
    for (i = 1; i < 70; i++) {
        char key[16];
        int j;

        bff_buf_reset(&b);
        bff_buf_putc(&b, '{');
        for (j = 0; j < i; j++)
            bff_buf_printf(&b, "\"k%d\":0,", j);
        snprintf(key, sizeof key, "k%d", i / 2);
        bff_buf_printf(&b, "\"%s\":0}", key);
        refuse(b.data, "duplicate key", key);
    }
    bff_buf_free(&b);
}
END_TEST

START_TEST(comments_refused)
{
    refuse("/* c */ {}", "comments are not allowed", "");
    refuse("{\"a\":1 // c\n}", "comments are not allowed", "");
    refuse("{\"a\":1} /* c */", "malformed JSON", "");
    refuse("# c\n{}", "malformed JSON", "");
}
END_TEST

START_TEST(trailing_data_and_second_values)
{
    refuse("{} x", "unexpected data after the JSON value at byte 3", "");
    refuse("{}{}", "unexpected data after the JSON value at byte 2", "");
    refuse("[1]]", "malformed JSON", "");
    refuse("1 2", "malformed JSON", "");
    refuse("{\"a\":1,}", "malformed JSON", "");
    refuse("[1,]", "malformed JSON", "");
    refuse("{\"a\" 1}", "expected ':'", "");
    refuse("{\"a\":1 \"b\":2}", "expected ',' or '}'", "");
    refuse("[1,2", "unexpected end of input at byte 4", "");
    refuse("{\"a\":tru}", "malformed JSON", "");
    refuse("{'a':1}", "malformed JSON", "");
    refuse("\"a\tb\"", "control character", "");
    refuse("\"\\x\"", "invalid escape", "");
    refuse("\"\\u12g4\"", "malformed JSON", "");
    parse("\t\r\n {} \n"); /* whitespace around is fine */
}
END_TEST

START_TEST(empty_and_nul)
{
    struct bff_json *v = (struct bff_json *)&v;

    refuse("", "empty input", "");
    refuse(" \n\t\r ", "empty input", "");
    ck_assert_int_eq(bff_json_parse(a, NULL, 0, 32, &v, &e), -1);
    ck_assert_ptr_null(v);
    refuse_n("{\"a\":\"x\0y\"}", 11, "NUL byte at byte 7", "");
    refuse_n("{}\0", 3, "NUL byte at byte 2", "");
    refuse_n("\0{}", 3, "NUL byte", "");
    /* an escaped NUL would end the C string early */
    refuse("{\"a\":\"x\\u0000y\"}", "\\u0000 is not allowed", "a");
    refuse("{\"a\\u0000b\":1}", "\\u0000 is not allowed", "");
}
END_TEST

START_TEST(invalid_utf8)
{
    /* raw bytes yajl catches: C3 not followed by a continuation byte */
    refuse("{\"name\":\"\xc3\x28\"}", "invalid UTF-8", "");
    refuse("{\"\xc3\x28\":1}", "invalid UTF-8", "");
    refuse("{\"a\":\"\xff\"}", "invalid UTF-8", "");
    refuse("{\"a\":\"\x80\"}", "invalid UTF-8", "");
    /* what yajl lets through and json.c refuses: overlong, encoded
     * surrogate, beyond U+10FFFF, truncated sequence at the end */
    refuse("{\"name\":\"\xc0\xaf\"}", "invalid UTF-8 in string", "name");
    refuse("{\"name\":\"\xe0\x80\xaf\"}", "invalid UTF-8 in string", "name");
    refuse("{\"name\":\"\xed\xa0\x80\"}", "invalid UTF-8 in string", "name");
    refuse("{\"name\":\"\xf4\x90\x80\x80\"}", "invalid UTF-8 in string", "name");
    refuse("{\"l\":[\"ok\",\"\xc0\xaf\"]}", "invalid UTF-8", "l[1]");
    refuse("{\"o\":{\"\xc0\xaf\":1}}", "invalid UTF-8", "o");
    /* outside a string, a high byte is just a bad character */
    refuse("{\"a\":1}\xc3\xa9", "malformed JSON", "");
    /* valid multi-byte text passes, raw or escaped */
    ck_assert_str_eq(parse("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"")->s,
                     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
    ck_assert_str_eq(parse("\"\\u00e9\\u20ac\\ud83d\\ude00\\uDBFF\\uDFFF\"")->s,
                     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf");
}
END_TEST

START_TEST(lone_surrogate_escapes)
{
    /* decided: refused (yajl would turn a lone high half into '?') */
    refuse("\"\\ud800\"", "unpaired surrogate in \\u escape at byte 1", "");
    refuse("{\"a\":\"x\\udc00\"}", "unpaired surrogate", "");
    refuse("[\"\\ud800\\u0041\"]", "unpaired surrogate", "");
    refuse("[\"\\ud800x\"]", "unpaired surrogate", "");
    refuse("[\"\\ud83d\\ude00\\ude00\"]", "unpaired surrogate in \\u escape at byte 14", "");
    refuse("{\"\\uD800\":1}", "unpaired surrogate", "");
    /* an escaped backslash followed by "ud800" is plain text */
    ck_assert_str_eq(parse("\"\\\\ud800\"")->s, "\\ud800");
    ck_assert_str_eq(parse("[\"\\\"\\\\\",\"\\\\\\\\ud800\"]")->items[1]->s, "\\\\ud800");
    /* outside strings, "\u" is not an escape (and is malformed anyway) */
    refuse("[1] \\ud800", "malformed JSON", "");
}
END_TEST

START_TEST(messages_stay_short)
{
    size_t n = 100000, i;
    char *s = malloc(n * 2 + 32), *p = s;

    /* a 100 kB key, duplicated */
    p += sprintf(p, "{\"");
    for (i = 0; i < n / 2; i++)
        *p++ = 'k';
    p += sprintf(p, "\":1,\"");
    for (i = 0; i < n / 2; i++)
        *p++ = 'k';
    p += sprintf(p, "\":1}");
    refuse_n(s, (size_t)(p - s), "duplicate key \"kkkk", NULL);
    ck_assert_uint_lt(strlen(e.msg), 100);
    ck_assert(strstr(e.msg, "...\"") != NULL);
    ck_assert_uint_eq(strlen(e.field), sizeof e.field - 1);
    /* a cut inside a multi-byte character moves back to its start */
    p = s;
    p += sprintf(p, "{\"");
    for (i = 0; i < 100; i++)
        p += sprintf(p, "\xc3\xa9");
    p += sprintf(p, "\":1,\"");
    for (i = 0; i < 100; i++)
        p += sprintf(p, "\xc3\xa9");
    p += sprintf(p, "\":1}");
    refuse_n(s, (size_t)(p - s), "duplicate key", NULL);
    ck_assert(bff_utf8_valid(e.msg, strlen(e.msg)));
    ck_assert(bff_utf8_valid(e.field, strlen(e.field)));
    ck_assert_uint_eq(strlen(e.field), 126); /* 63 whole 'é' */
    free(s);
}
END_TEST

START_TEST(long_paths_are_cut_not_garbled)
{
    char key[2 * 64 + 1], *p = key;
    struct bff_field outer[2] = {{NULL, BFF_F_OBJECT, 0, 0, 0, 0, NULL},
                                 {NULL, 0, 0, 0, 0, 0, NULL}};
    struct bff_json *v;
    int i;

    /* a 128-byte name cut to 126 bytes leaves room for a '.', which must
     * not be written: the path stops where it was cut */
    for (i = 0; i < 64; i++)
        p += sprintf(p, "\xc3\xa9");
    outer[0].name = key;
    outer[0].sub = NULL; /* no member allowed */
    v = parse(bff_arena_sprintf(a, "{\"%s\":{\"x\":1}}", key));
    ck_assert_int_eq(bff_json_validate(v, outer, "", &e), -1);
    ck_assert_str_eq(e.msg, "unknown field");
    ck_assert_uint_eq(strlen(e.field), 126);
    ck_assert(strncmp(e.field, key, 126) == 0);
    /* an index that does not fit whole is left out, and so is what follows */
    v = parse(bff_arena_sprintf(a, "{\"%.*s\":[{\"x\":1}]}", 126, key));
    outer[0].name = bff_arena_sprintf(a, "%.*s", 126, key);
    outer[0].type = BFF_F_ARRAY;
    outer[0].item = BFF_F_OBJECT;
    ck_assert_int_eq(bff_json_validate(v, outer, "", &e), -1);
    ck_assert_str_eq(e.field, outer[0].name);
}
END_TEST

START_TEST(utf8_helpers)
{
    ck_assert_uint_eq(bff_utf8_chars("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 4);
    ck_assert_uint_eq(bff_utf8_chars("", 0), 0);
    ck_assert(bff_utf8_valid("a\xc3\xa9", 3));
    ck_assert(!bff_utf8_valid("a\xc3", 2));            /* truncated */
    ck_assert(!bff_utf8_valid("\xc1\xbf", 2));         /* overlong */
    ck_assert(!bff_utf8_valid("\xf0\x8f\xbf\xbf", 4)); /* overlong */
    ck_assert(!bff_utf8_valid("\xed\xbf\xbf", 3));     /* surrogate */
    ck_assert(bff_utf8_valid("\xed\x9f\xbf", 3));      /* U+D7FF */
    ck_assert(!bff_utf8_valid("\xf5\x80\x80\x80", 4));
    ck_assert_uint_eq(bff_utf8_prefix("ab\xc3\xa9", 4, 3), 2);
    ck_assert_uint_eq(bff_utf8_prefix("ab\xc3\xa9", 4, 4), 4);
    ck_assert_uint_eq(bff_utf8_prefix("abcd", 4, 2), 2);
}
END_TEST

/* ---- validator ---- */

static const struct bff_field line_fields[] = {
    {"product_id", BFF_F_INT, 0, 1, INT64_MAX, 0, NULL},
    {"sku", BFF_F_CODE, 0, 0, 64, 0, NULL},
    {"quantity", BFF_F_INT, BFF_F_REQUIRED, 1, 1000000000, 0, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL}};

static const struct bff_field tag_item[] = {{"tag", BFF_F_STRING, 0, 1, 3, 0, NULL},
                                            {NULL, 0, 0, 0, 0, 0, NULL}};

static const struct bff_field meta_fields[] = {{"note", BFF_F_STRING, 0, 0, 10, 0, NULL},
                                               {NULL, 0, 0, 0, 0, 0, NULL}};

static const struct bff_field order_fields[] = {
    {"external_ref", BFF_F_STRING, BFF_F_NULLABLE, 1, 200, 0, NULL},
    {"hold_seconds", BFF_F_INT, 0, 1, 86400, 0, NULL},
    {"name", BFF_F_STRING, 0, 1, 200, 0, NULL},
    {"code", BFF_F_CODE, 0, 0, 8, 0, NULL},
    {"delta", BFF_F_INT, BFF_F_NONZERO, -1000000000, 1000000000, 0, NULL},
    {"big", BFF_F_INT, 0, INT64_MIN, INT64_MAX, 0, NULL},
    {"active", BFF_F_BOOL, 0, 0, 0, 0, NULL},
    {"expires_on", BFF_F_DATE, 0, 0, 0, 0, NULL},
    {"meta", BFF_F_OBJECT, 0, 0, 0, 0, meta_fields},
    {"ids", BFF_F_ARRAY, 0, 0, 3, BFF_F_INT, NULL},
    {"tags", BFF_F_ARRAY, 0, 0, 0, BFF_F_STRING, tag_item},
    {"lines", BFF_F_ARRAY, BFF_F_REQUIRED, 1, 100, BFF_F_OBJECT, line_fields},
    {NULL, 0, 0, 0, 0, 0, NULL}};

/* Validate {"lines":[{"quantity":1}], <members>} against order_fields. */
static int validate(const char *members)
{
    char *s =
        bff_arena_sprintf(a, "{\"lines\":[{\"quantity\":1}]%s%s}", *members ? "," : "", members);

    bff_error_clear(&e);
    return bff_json_validate(parse(s), order_fields, "", &e);
}

static void valid(const char *members)
{
    ck_assert_msg(validate(members) == 0, "%s refused: %s: %s", members, e.field, e.msg);
}

static void invalid(const char *members, const char *field, const char *msg)
{
    ck_assert_msg(validate(members) == -1, "%s accepted", members);
    ck_assert_str_eq(e.code, BFF_E_BAD_REQUEST);
    ck_assert_str_eq(e.field, field);
    ck_assert_msg(strstr(e.msg, msg) != NULL, "%s: message \"%s\" lacks \"%s\"", members, e.msg,
                  msg);
}

START_TEST(validate_fields_and_paths)
{
    valid("");
    valid("\"hold_seconds\":60,\"name\":\"x\",\"active\":false,\"meta\":{\"note\":\"n\"}");
    invalid("\"bogus\":1", "bogus", "unknown field");
    invalid("\"meta\":{\"bogus\":1}", "meta.bogus", "unknown field");
    invalid("\"\":1", "\"\"", "unknown field");                 /* an empty key is named "" */
    invalid("\"meta\":{\"\":1}", "meta.\"\"", "unknown field");
    ck_assert_int_eq(bff_json_validate(parse("{\"lines\":[{\"quantity\":1},"
                                             "{\"quantity\":0}]}"),
                                       order_fields, "", &e),
                     -1);
    ck_assert_str_eq(e.field, "lines[1].quantity");
    ck_assert_str_eq(e.msg, "must be between 1 and 1000000000");
    ck_assert_int_eq(bff_json_validate(parse("{\"lines\":[{\"quantity\":1},"
                                             "{\"quantity\":2,\"extra\":1}]}"),
                                       order_fields, "", &e),
                     -1);
    ck_assert_str_eq(e.field, "lines[1].extra");
    ck_assert_str_eq(e.msg, "unknown field");
    /* required */
    ck_assert_int_eq(bff_json_validate(parse("{}"), order_fields, "", &e), -1);
    ck_assert_str_eq(e.field, "lines");
    ck_assert_str_eq(e.msg, "is required");
    ck_assert_int_eq(
        bff_json_validate(parse("{\"lines\":[{\"sku\":\"A\"}]}"), order_fields, "", &e), -1);
    ck_assert_str_eq(e.field, "lines[0].quantity");
    ck_assert_str_eq(e.msg, "is required");
    /* the path argument prefixes everything */
    ck_assert_int_eq(bff_json_validate(parse("{\"x\":1}"), meta_fields, "picks[2]", &e), -1);
    ck_assert_str_eq(e.field, "picks[2].x");
    /* not an object */
    ck_assert_int_eq(bff_json_validate(parse("[]"), order_fields, "", &e), -1);
    ck_assert_str_eq(e.field, "");
    invalid("\"meta\":[]", "meta", "must be an object");
}
END_TEST

START_TEST(validate_null)
{
    valid("\"external_ref\":null");
    invalid("\"hold_seconds\":null", "hold_seconds", "must not be null");
    invalid("\"meta\":null", "meta", "must not be null");
    invalid("\"ids\":[1,null]", "ids[1]", "must not be null");
    ck_assert_int_eq(bff_json_validate(parse("{\"lines\":null}"), order_fields, "", &e), -1);
    ck_assert_str_eq(e.field, "lines");
    ck_assert_str_eq(e.msg, "must not be null");
}
END_TEST

START_TEST(validate_integers)
{
    valid("\"hold_seconds\":1");
    valid("\"hold_seconds\":86400");
    invalid("\"hold_seconds\":0", "hold_seconds", "must be between 1 and 86400");
    invalid("\"hold_seconds\":86401", "hold_seconds", "must be between 1 and 86400");
    invalid("\"hold_seconds\":\"3\"", "hold_seconds", "must be an integer");
    invalid("\"hold_seconds\":1.5", "hold_seconds", "must be an integer");
    invalid("\"hold_seconds\":1e3", "hold_seconds", "must be an integer");
    invalid("\"hold_seconds\":1.0", "hold_seconds", "must be an integer");
    invalid("\"hold_seconds\":true", "hold_seconds", "must be an integer");
    invalid("\"hold_seconds\":[1]", "hold_seconds", "must be an integer");
    invalid("\"big\":9223372036854775808", "big", "must be an integer");
    valid("\"big\":-9223372036854775808");
    valid("\"big\":9223372036854775807");
    invalid("\"big\":-9223372036854775809", "big", "must be an integer");
    valid("\"delta\":-1000000000");
    valid("\"delta\":1");
    invalid("\"delta\":0", "delta", "must not be 0");
    invalid("\"delta\":-0", "delta", "must not be 0"); /* -0 is 0 */
    invalid("\"delta\":1000000001", "delta", "must be between -1000000000 and 1000000000");
    valid("\"hold_seconds\":60");
}
END_TEST

START_TEST(validate_strings_and_codes)
{
    char *s = bff_arena_alloc(a, 2 * 201 + 32), *p;
    int i;

    /* 200 'é' are 400 bytes and 200 characters: fine for max 200 */
    p = s + sprintf(s, "\"name\":\"");
    for (i = 0; i < 200; i++)
        p += sprintf(p, "\xc3\xa9");
    strcpy(p, "\"");
    valid(s);
    strcpy(p, "\xc3\xa9\"");
    invalid(s, "name", "must have between 1 and 200 characters");
    invalid("\"name\":\"\"", "name", "must have between 1 and 200 characters");
    invalid("\"name\":5", "name", "must be a string");
    invalid("\"meta\":{\"note\":\"12345678901\"}", "meta.note", "must have at most 10 characters");
    valid("\"meta\":{\"note\":\"\"}"); /* min 0: empty allowed */
    valid("\"code\":\"Ab-1._z\"");
    valid("\"code\":\"12345678\"");
    invalid("\"code\":\"123456789\"", "code", "must be 1 to 8 characters of [A-Za-z0-9._-]");
    invalid("\"code\":\"\"", "code", "must be 1 to 8 characters");
    invalid("\"code\":\"a b\"", "code", "must be 1 to 8");
    invalid("\"code\":\"a/b\"", "code", "must be 1 to 8");
    invalid("\"code\":\"\xc3\xa9\"", "code", "must be 1 to 8");
    invalid("\"code\":7", "code", "must be a string");
    valid("\"active\":true");
    invalid("\"active\":1", "active", "must be true or false");
    invalid("\"active\":\"true\"", "active", "must be true or false");
}
END_TEST

START_TEST(validate_dates)
{
    valid("\"expires_on\":\"2024-02-29\"");
    valid("\"expires_on\":\"2000-02-29\"");
    valid("\"expires_on\":\"2023-12-31\"");
    valid("\"expires_on\":\"0001-01-01\"");
    invalid("\"expires_on\":\"2023-02-29\"", "expires_on", "must be a date (YYYY-MM-DD)");
    invalid("\"expires_on\":\"1900-02-29\"", "expires_on", "must be a date");
    invalid("\"expires_on\":\"2024-13-01\"", "expires_on", "must be a date");
    invalid("\"expires_on\":\"2024-00-10\"", "expires_on", "must be a date");
    invalid("\"expires_on\":\"2024-04-31\"", "expires_on", "must be a date");
    invalid("\"expires_on\":\"2024-01-00\"", "expires_on", "must be a date");
    invalid("\"expires_on\":\"2024-1-01\"", "expires_on", "must be a date");
    invalid("\"expires_on\":\"2024-01-01T00:00:00Z\"", "expires_on", "must be a date");
    invalid("\"expires_on\":\"0000-01-01\"", "expires_on", "must be a date");
    invalid("\"expires_on\":\"2024/01/01\"", "expires_on", "must be a date");
    invalid("\"expires_on\":\" 2024-01-1\"", "expires_on", "must be a date");
    invalid("\"expires_on\":20240101", "expires_on", "must be a date");
}
END_TEST

START_TEST(validate_arrays)
{
    struct bff_buf b = BFF_BUF_INIT;
    int i;

    valid("\"ids\":[]");
    valid("\"ids\":[1,2,3]");
    invalid("\"ids\":[1,2,3,4]", "ids", "must have at most 3 items");
    invalid("\"ids\":[1,\"2\"]", "ids[1]", "must be an integer");
    invalid("\"ids\":{}", "ids", "must be an array");
    valid("\"tags\":[\"a\",\"abc\"]");
    invalid("\"tags\":[\"a\",\"abcd\"]", "tags[1]", "must have between 1 and 3 characters");
    invalid("\"tags\":[\"a\",\"\"]", "tags[1]", "must have between 1 and 3 characters");
    /* lines: 1..100 objects */
    ck_assert_int_eq(bff_json_validate(parse("{\"lines\":[]}"), order_fields, "", &e), -1);
    ck_assert_str_eq(e.field, "lines");
    ck_assert_str_eq(e.msg, "must have between 1 and 100 items");
    for (i = 0; i <= 100; i++) {
        bff_buf_reset(&b);
        bff_buf_puts(&b, "{\"lines\":[");
        for (int j = 0; j < i + 1; j++)
            bff_buf_printf(&b, "%s{\"quantity\":%d}", j ? "," : "", j + 1);
        bff_buf_puts(&b, "]}");
        ck_assert_int_eq(bff_json_validate(parse(b.data), order_fields, "", &e),
                         i + 1 <= 100 ? 0 : -1);
    }
    ck_assert_str_eq(e.field, "lines");
    ck_assert_int_eq(
        bff_json_validate(parse("{\"lines\":[{\"quantity\":1},[]]}"), order_fields, "", &e), -1);
    ck_assert_str_eq(e.field, "lines[1]");
    ck_assert_str_eq(e.msg, "must be an object");
    bff_buf_free(&b);
}
END_TEST

START_TEST(check_helpers_directly)
{
    static const struct bff_field f = {"x", BFF_F_INT, BFF_F_NONZERO, -5, 5, 0, NULL};
    static const struct bff_field d = {"d", BFF_F_DATE, 0, 0, 0, 0, NULL};

    ck_assert_int_eq(bff_field_check_int(&f, 5, "x", &e), 0);
    ck_assert_int_eq(bff_field_check_int(&f, -6, "x", &e), -1);
    ck_assert_str_eq(e.field, "x");
    ck_assert_int_eq(bff_field_check_int(&f, 0, "x", &e), -1);
    ck_assert_str_eq(e.msg, "must not be 0");
    ck_assert_int_eq(bff_field_check_str(&d, "2024-02-29", 10, "d", &e), 0);
    ck_assert_int_eq(bff_field_check_str(&d, "2024-02-29x", 11, "d", &e), -1);
    ck_assert(bff_valid_date("2400-02-29", 10));
    ck_assert(!bff_valid_date("2100-02-29", 10));
    ck_assert(!bff_valid_date("2024-02-2", 9));
}
END_TEST

/* ---- writer ---- */

START_TEST(writer_escapes)
{
    struct bff_buf b = BFF_BUF_INIT;

    bff_json_escape(&b, "a\"b\\c/d", 7);
    ck_assert_str_eq(b.data, "a\\\"b\\\\c/d");
    bff_buf_reset(&b);
    bff_json_escape(&b, "\n\t\r\b\f\x01\x1f\x7f", 8);
    ck_assert_str_eq(b.data, "\\n\\t\\r\\b\\f\\u0001\\u001f\x7f");
    bff_buf_reset(&b);
    bff_json_escape(&b, "\0x", 2);
    ck_assert_uint_eq(b.len, 7);
    ck_assert_str_eq(b.data, "\\u0000x");
    bff_buf_reset(&b);
    bff_json_escape(&b, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80</script>", 18);
    ck_assert_str_eq(b.data, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80</script>");
    /* ill-formed UTF-8 never reaches the output: each bad byte is U+FFFD */
    bff_buf_reset(&b);
    bff_json_escape(&b,
                    "a\xc3(\xff\xc0\xaf"
                    "b\xe2\x82",
                    9);
    ck_assert_str_eq(b.data, "a\xef\xbf\xbd(\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                             "b\xef\xbf\xbd\xef\xbf\xbd");
    bff_buf_free(&b);
}
END_TEST

START_TEST(writer_structure)
{
    struct bff_buf b = BFF_BUF_INIT;
    struct bff_jw w;

    bff_jw_init(&w, &b);
    bff_jw_obj(&w);
    bff_jw_kint(&w, "id", 7);
    bff_jw_kstr(&w, "sku", "A\"1");
    bff_jw_kstr(&w, "none", NULL);
    bff_jw_karr(&w, "a");
    bff_jw_int(&w, 1);
    bff_jw_arr(&w);
    bff_jw_end(&w);
    bff_jw_obj(&w);
    bff_jw_end(&w);
    bff_jw_str(&w, "x");
    bff_jw_bool(&w, 1);
    bff_jw_null(&w);
    bff_jw_raw(&w, "{\"r\":1}", 7);
    bff_jw_end(&w);
    bff_jw_kobj(&w, "o");
    bff_jw_kbool(&w, "t", 0);
    bff_jw_knull(&w, "n");
    bff_jw_key(&w, "d");
    bff_jw_double(&w, 2.5, 2);
    bff_jw_key(&w, "s");
    bff_jw_strn(&w, "abcdef", 3);
    bff_jw_end(&w);
    bff_jw_kobj(&w, "empty");
    bff_jw_end(&w);
    bff_jw_end(&w);
    ck_assert_str_eq(b.data, "{\"id\":7,\"sku\":\"A\\\"1\",\"none\":null,"
                             "\"a\":[1,[],{},\"x\",true,null,{\"r\":1}],"
                             "\"o\":{\"t\":false,\"n\":null,\"d\":2.50,\"s\":\"abc\"},"
                             "\"empty\":{}}");
    ck_assert_int_eq(w.depth, 0);
    /* reuse after reset; 300 elements (the per-level count saturates) */
    bff_buf_reset(&b);
    bff_jw_init(&w, &b);
    bff_jw_arr(&w);
    for (int i = 0; i < 300; i++)
        bff_jw_int(&w, i);
    bff_jw_end(&w);
    ck_assert(strncmp(b.data, "[0,1,2,", 7) == 0);
    ck_assert(strstr(b.data, ",254,255,256,") != NULL);
    ck_assert(strcmp(b.data + b.len - 5, ",299]") == 0);
    bff_buf_free(&b);
}
END_TEST

START_TEST(writer_numbers)
{
    struct bff_buf b = BFF_BUF_INIT;
    struct bff_jw w;

    bff_jw_init(&w, &b);
    bff_jw_arr(&w);
    bff_jw_int(&w, 0);
    bff_jw_int(&w, -1);
    bff_jw_int(&w, INT64_MAX);
    bff_jw_int(&w, INT64_MIN);
    bff_jw_double(&w, 0.0 / 0.0, 2);
    bff_jw_double(&w, 1.0 / 0.0, 2);
    bff_jw_double(&w, -1.0 / 0.0, 2);
    bff_jw_double(&w, 97.5, 1);
    bff_jw_double(&w, 1.005, 0);
    bff_jw_double(&w, -0.001, 2);
    bff_jw_double(&w, -0.25, 1);
    bff_jw_double(&w, 1e300, 2);
    bff_jw_end(&w);
    {
        const char *want = "[0,-1,9223372036854775807,-9223372036854775808,"
                           "null,null,null,97.5,1,0.00,-0.2,1000000000000000052504760255204";

        ck_assert_msg(strncmp(b.data, want, strlen(want)) == 0, "%s", b.data);
    }
    ck_assert(strcmp(b.data + b.len - 4, ".00]") == 0);
    bff_buf_free(&b);
}
END_TEST

START_TEST(writer_round_trip)
{
    struct bff_buf b = BFF_BUF_INIT;
    struct bff_jw w;
    struct bff_json *v;
    char all[128];
    const char *uni = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80 \"q\" \\ </";
    int i;

    for (i = 1; i < 128; i++)
        all[i - 1] = (char)i;
    all[127] = '\0';
    bff_jw_init(&w, &b);
    bff_jw_obj(&w);
    bff_jw_kstr(&w, all, all); /* every ASCII byte, key and value */
    bff_jw_kstr(&w, "uni", uni);
    bff_jw_kint(&w, "min", INT64_MIN);
    bff_jw_karr(&w, "l");
    for (i = 0; i < 5; i++) {
        bff_jw_obj(&w);
        bff_jw_kint(&w, "i", i);
        bff_jw_end(&w);
    }
    bff_jw_end(&w);
    bff_jw_end(&w);
    v = parse_n(b.data, b.len);
    ck_assert_uint_eq(v->len, 4);
    ck_assert_str_eq(v->keys[0], all);
    ck_assert_str_eq(bff_json_get(v, all)->s, all);
    ck_assert_str_eq(bff_json_get(v, "uni")->s, uni);
    ck_assert(bff_json_get(v, "min")->is_int && bff_json_get(v, "min")->i == INT64_MIN);
    ck_assert_uint_eq(bff_json_get(v, "l")->len, 5);
    ck_assert_int_eq(bff_json_get(bff_json_get(v, "l")->items[4], "i")->i, 4);
    bff_buf_free(&b);
}
END_TEST

/* ---- limits ---- */

/* "[[[...]]]" or {"a":{"a":...}} with `depth` levels, closed or not. */
static char *nested(int depth, int objects, int closed)
{
    struct bff_buf b = BFF_BUF_INIT;
    char *s;
    int i;

    for (i = 0; i < depth; i++)
        bff_buf_append(&b, objects ? "{\"a\":" : "[", objects ? 5 : 1);
    bff_buf_putc(&b, '1');
    for (i = 0; closed && i < depth; i++)
        bff_buf_putc(&b, objects ? '}' : ']');
    s = bff_arena_strdup(a, b.data);
    bff_buf_free(&b);
    return s;
}

START_TEST(depth_32_ok_33_refused)
{
    struct bff_json *v;
    int i;

    v = parse(nested(32, 0, 1));
    for (i = 0; i < 31; i++)
        v = v->items[0];
    ck_assert_int_eq(v->type, BFF_JSON_ARRAY);
    ck_assert_int_eq(v->items[0]->i, 1);
    v = parse(nested(32, 1, 1));
    for (i = 0; i < 32; i++)
        v = (struct bff_json *)bff_json_get(v, "a");
    ck_assert_int_eq(v->i, 1);
    refuse(nested(33, 0, 1), "JSON nesting deeper than 32", "");
    ck_assert_str_eq(e.msg, "JSON nesting deeper than 32");
    refuse(nested(33, 1, 1), "JSON nesting deeper than 32", "");
    /* mixed, and a smaller cap */
    parse("[{\"a\":[{\"b\":[]}]}]");
    ck_assert_int_eq(bff_json_parse(a, "[[]]", 4, 1, &v, &e), -1);
    ck_assert_str_eq(e.msg, "JSON nesting deeper than 1");
    ck_assert_int_eq(bff_json_parse(a, "[]", 2, 1, &v, &e), 0);
    ck_assert_int_eq(bff_json_parse(a, "1", 1, 0, &v, &e), 0);
    ck_assert_int_eq(bff_json_parse(a, "{}", 2, 0, &v, &e), -1);
}
END_TEST

START_TEST(deep_nesting_is_fast_and_safe)
{
    size_t n = 300000;
    char *s = malloc(2 * n);
    struct bff_json *v;
    double t0;

    memset(s, '[', n);
    memset(s + n, ']', n);
    t0 = now_s();
    ck_assert_int_eq(bff_json_parse(a, s, n, BFF_JSON_MAX_DEPTH, &v, &e), -1);
    ck_assert_str_eq(e.msg, "JSON nesting deeper than 32");
    ck_assert_int_eq(bff_json_parse(a, s, 2 * n, BFF_JSON_MAX_DEPTH, &v, &e), -1);
    ck_assert_str_eq(e.msg, "JSON nesting deeper than 32");
    ck_assert_msg(now_s() - t0 < 1.0, "took %.3f s", now_s() - t0);
    free(s);
    /* 10,000 nested objects */
    t0 = now_s();
    refuse(nested(10000, 1, 1), "JSON nesting deeper than 32", "");
    refuse(nested(10000, 1, 0), "JSON nesting deeper than 32", "");
    ck_assert_msg(now_s() - t0 < 1.0, "took %.3f s", now_s() - t0);
}
END_TEST

START_TEST(large_flat_values)
{
    struct bff_buf b = BFF_BUF_INIT;
    struct bff_json *v;
    double t0;
    int i;

    /* 100,000 items: arrays grow by doubling */
    bff_buf_putc(&b, '[');
    for (i = 0; i < 100000; i++)
        bff_buf_printf(&b, "%s%d", i ? "," : "", i);
    bff_buf_putc(&b, ']');
    v = parse_n(b.data, b.len);
    ck_assert_uint_eq(v->len, 100000);
    for (i = 0; i < 100000; i += 997)
        ck_assert_int_eq(v->items[i]->i, i);
    ck_assert_int_eq(v->items[99999]->i, 99999);
    /* 20,000 keys, then a duplicate of the first: not quadratic */
    bff_buf_reset(&b);
    bff_buf_putc(&b, '{');
    for (i = 0; i < 20000; i++)
        bff_buf_printf(&b, "\"key%d\":%d,", i, i);
    bff_buf_puts(&b, "\"key0\":1}");
    t0 = now_s();
    refuse_n(b.data, b.len, "duplicate key \"key0\"", "key0");
    ck_assert_msg(now_s() - t0 < 0.5, "took %.3f s", now_s() - t0);
    b.data[b.len - 10] = '}'; /* drop the duplicate */
    b.data[b.len - 9] = '\0';
    b.len -= 9;
    v = parse_n(b.data, b.len);
    ck_assert_uint_eq(v->len, 20000);
    ck_assert_str_eq(v->keys[12345], "key12345");
    /* a 1 MB string with escapes */
    bff_buf_reset(&b);
    bff_buf_putc(&b, '"');
    for (i = 0; i < 100000; i++)
        bff_buf_puts(&b, "abc\\n\\u00e9");
    bff_buf_putc(&b, '"');
    v = parse_n(b.data, b.len);
    ck_assert_uint_eq(v->len, 100000 * 6);
    ck_assert_uint_eq(bff_utf8_chars(v->s, v->len), 100000 * 5);
    bff_buf_free(&b);
}
END_TEST

START_TEST(writer_escape_large)
{
    struct bff_buf b = BFF_BUF_INIT, out = BFF_BUF_INIT;
    struct bff_json *v;
    int i;

    for (i = 0; i < 200000; i++)
        bff_buf_puts(&b, i % 100 ? "plain text " : "\"\n\xc3\xa9\x01");
    bff_buf_putc(&out, '"');
    bff_json_escape(&out, b.data, b.len);
    bff_buf_putc(&out, '"');
    v = parse_n(out.data, out.len);
    ck_assert_uint_eq(v->len, b.len);
    ck_assert(memcmp(v->s, b.data, b.len) == 0);
    bff_buf_free(&b);
    bff_buf_free(&out);
}
END_TEST

static Suite *make_json_suite(void)
{
    Suite *s = suite_create("json");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");

    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_add_test(core, parses_every_type_in_order);
    tcase_add_test(core, any_top_level_value);
    tcase_add_test(core, integers_and_non_integers);
    tcase_add_test(core, duplicate_keys);
    tcase_add_test(core, comments_refused);
    tcase_add_test(core, trailing_data_and_second_values);
    tcase_add_test(core, empty_and_nul);
    tcase_add_test(core, invalid_utf8);
    tcase_add_test(core, lone_surrogate_escapes);
    tcase_add_test(core, utf8_helpers);
    tcase_add_test(core, validate_fields_and_paths);
    tcase_add_test(core, validate_null);
    tcase_add_test(core, validate_integers);
    tcase_add_test(core, validate_strings_and_codes);
    tcase_add_test(core, validate_dates);
    tcase_add_test(core, validate_arrays);
    tcase_add_test(core, check_helpers_directly);
    tcase_add_test(core, writer_escapes);
    tcase_add_test(core, writer_structure);
    tcase_add_test(core, writer_numbers);
    tcase_add_test(core, writer_round_trip);
    tcase_add_test(limits, duplicate_keys_in_big_objects);
    tcase_add_test(limits, messages_stay_short);
    tcase_add_test(limits, long_paths_are_cut_not_garbled);
    tcase_add_test(limits, depth_32_ok_33_refused);
    tcase_add_test(limits, deep_nesting_is_fast_and_safe);
    tcase_add_test(limits, large_flat_values);
    tcase_add_test(limits, writer_escape_large);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_json_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
