/*
 * check_arena.c — the per-request arena and the growable buffer.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "buf.h"

static int cleaned;

static void count_cleanup(void *p)
{
    cleaned += *(int *)p;
}

START_TEST(alloc_is_aligned_and_distinct)
{
    struct bff_arena *a = bff_arena_new();
    char *p = bff_arena_alloc(a, 3), *q = bff_arena_alloc(a, 5);

    ck_assert_uint_eq((uintptr_t)p % 16, 0);
    ck_assert_uint_eq((uintptr_t)q % 16, 0);
    ck_assert_ptr_ne(p, q);
    ck_assert_uint_ge((size_t)(q - p), 3);
    bff_arena_free(a);
}
END_TEST

START_TEST(strings)
{
    struct bff_arena *a = bff_arena_new();

    ck_assert_str_eq(bff_arena_strdup(a, "abc"), "abc");
    ck_assert_str_eq(bff_arena_strndup(a, "abcdef", 2), "ab");
    ck_assert_str_eq(bff_arena_sprintf(a, "%d-%s", 42, "x"), "42-x");
    bff_arena_free(a);
}
END_TEST

START_TEST(large_blocks_and_reset)
{
    struct bff_arena *a = bff_arena_new();
    char *big = bff_arena_alloc(a, 1 << 20);    /* larger than a block */
    int i;

    memset(big, 'x', 1 << 20);
    for (i = 0; i < 1000; i++)
        memset(bff_arena_alloc(a, 1000), i & 0xff, 1000);
    ck_assert_uint_ge(bff_arena_used(a), (1 << 20) + 1000 * 1000);
    bff_arena_reset(a);
    ck_assert_uint_eq(bff_arena_used(a), 0);
    /* reusable after reset */
    ck_assert_str_eq(bff_arena_strdup(a, "again"), "again");
    bff_arena_free(a);
}
END_TEST

START_TEST(cleanups_run_once_on_reset)
{
    struct bff_arena *a = bff_arena_new();
    int one = 1, ten = 10;

    cleaned = 0;
    bff_arena_cleanup(a, count_cleanup, &one);
    bff_arena_cleanup(a, count_cleanup, &ten);
    bff_arena_reset(a);
    ck_assert_int_eq(cleaned, 11);
    bff_arena_reset(a);
    ck_assert_int_eq(cleaned, 11);   /* not again */
    bff_arena_cleanup(a, count_cleanup, &one);
    bff_arena_free(a);
    ck_assert_int_eq(cleaned, 12);
}
END_TEST

START_TEST(buf_grows_and_resets)
{
    struct bff_buf b = BFF_BUF_INIT;
    int i;

    ck_assert_str_eq(bff_buf_cstr(&b), "");
    for (i = 0; i < 10000; i++)
        bff_buf_printf(&b, "%d,", i);
    ck_assert_uint_eq(b.len, strlen(b.data));
    ck_assert(strncmp(b.data, "0,1,2,", 6) == 0);
    ck_assert(strstr(b.data, "9999,") != NULL);
    bff_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    bff_buf_putc(&b, 'z');
    bff_buf_append(&b, "\0y", 2);
    ck_assert_uint_eq(b.len, 3);
    ck_assert_int_eq(b.data[2], 'y');
    bff_buf_free(&b);
}
END_TEST

static Suite *make_arena_suite(void)
{
    Suite *s = suite_create("arena");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");

    tcase_add_test(core, alloc_is_aligned_and_distinct);
    tcase_add_test(core, strings);
    tcase_add_test(core, cleanups_run_once_on_reset);
    tcase_add_test(core, buf_grows_and_resets);
    tcase_add_test(limits, large_blocks_and_reset);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_arena_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
