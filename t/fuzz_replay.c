/*
 * fuzz_replay.c — the committed fuzz corpus, replayed by `make check`.
 *
 * Every file of t/fuzz/corpus/{json,query,route}/ goes through the same
 * fuzz_<x>_one() the libFuzzer harnesses run (t/fuzz/targets.c), here
 * built by gcc without sanitizers: a crasher once fixed stays fixed, and a
 * broken invariant aborts the test. The corpus is found under
 * $BFF_TEST_SRCDIR, else the source tree this was configured from.
 */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/targets.h"

#ifndef BFF_SRCDIR
#error "BFF_SRCDIR must name the source tree (t/Makefile.am passes it)"
#endif

/* The input being replayed, named by the crash handler. */
static char current[4096];

/* On a crash, say which corpus file caused it, then die of the signal. */
static void on_crash(int sig)
{
    static const char pre[] = "fuzz_replay: crashed on ";
    size_t n = strlen(current);

    if (write(2, pre, sizeof pre - 1) < 0 || write(2, current, n) < 0 || write(2, "\n", 1) < 0)
        _exit(128 + sig);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void setup(void)
{
    signal(SIGABRT, on_crash);
    signal(SIGSEGV, on_crash);
    signal(SIGBUS, on_crash);
    signal(SIGFPE, on_crash);
    signal(SIGILL, on_crash);
}

static void teardown(void)
{
    fuzz_targets_free();
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Whole file into a heap buffer of exactly its size (1 byte when empty). */
static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    uint8_t *buf;

    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fstat(fileno(f), &st), 0);
    *size = (size_t)st.st_size;
    buf = malloc(*size ? *size : 1);
    ck_assert_ptr_nonnull(buf);
    ck_assert_msg(fread(buf, 1, *size, f) == *size, "short read on %s", path);
    fclose(f);
    return buf;
}

/* Run every regular file of corpus/<name>/ through one; the count. */
static int replay(const char *name, int (*one)(const uint8_t *, size_t))
{
    const char *top = getenv("BFF_TEST_SRCDIR");
    char dir[2048];
    struct dirent **ents;
    int i, n, ran = 0;

    if (top == NULL || *top == '\0')
        top = BFF_SRCDIR;
    snprintf(dir, sizeof dir, "%s/t/fuzz/corpus/%s", top, name);
    n = scandir(dir, &ents, NULL, by_name);
    ck_assert_msg(n >= 0, "cannot read the corpus directory %s", dir);
    for (i = 0; i < n; i++) {
        struct stat st;
        uint8_t *data;
        size_t size;

        snprintf(current, sizeof current, "%s/%s", dir, ents[i]->d_name);
        if (ents[i]->d_name[0] == '.' || stat(current, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(ents[i]);
            continue;
        }
        data = slurp(current, &size);
        ck_assert_int_eq(one(data, size), 0);
        free(data);
        free(ents[i]);
        ran++;
    }
    free(ents);
    current[0] = '\0';
    return ran;
}

START_TEST(replay_json)
{
    int n = replay("json", fuzz_json_one);

    ck_assert_msg(n > 0, "no JSON corpus inputs ran");
}
END_TEST

START_TEST(replay_query)
{
    int n = replay("query", fuzz_query_one);

    ck_assert_msg(n > 0, "no query corpus inputs ran");
}
END_TEST

START_TEST(replay_route)
{
    int n = replay("route", fuzz_route_one);

    ck_assert_msg(n > 0, "no route corpus inputs ran");
}
END_TEST

Suite *make_fuzz_replay_suite(void);

Suite *make_fuzz_replay_suite(void)
{
    Suite *s = suite_create("fuzz_replay");
    TCase *core = tcase_create("core");

    tcase_add_checked_fixture(core, setup, teardown);
    /* a few hundred inputs up to 64 KiB each; generous under valgrind */
    tcase_set_timeout(core, 60);
    tcase_add_test(core, replay_json);
    tcase_add_test(core, replay_query);
    tcase_add_test(core, replay_route);
    suite_add_tcase(s, core);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_fuzz_replay_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
