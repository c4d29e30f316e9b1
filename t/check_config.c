/*
 * check_config.c — settings from the environment: defaults, parsing, and a
 * malformed value named in the error.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static const char *vars[] = {"BFF_DATABASE_URL", "BFF_REDIS_URL", "BFF_CACHE_TTL",
    "BFF_METRICS_CACHE_TTL", "BFF_RESERVATION_HOLD", "BFF_SMTP_URL", "BFF_ALERT_EMAIL",
    "BFF_LOG_FILE", "BFF_ERROR_LOG_FILE", "BFF_LOG_LEVEL", "BFF_MAX_BODY", "BFF_ENV",
    "BFF_METRICS_SHM", "BFF_HEALTH_TIMEOUT_MS", "BFF_STATEMENT_TIMEOUT_MS",
    "BFF_LOCK_TIMEOUT_MS", "BFF_IDLE_TX_TIMEOUT_MS", "BFF_REDIS_CONNECT_TIMEOUT_MS",
    "BFF_REDIS_TIMEOUT_MS", "BFF_STOP_GRACE_MS", NULL};

static void clean_env(void)
{
    const char **v;

    for (v = vars; *v; v++)
        unsetenv(*v);
}

START_TEST(defaults)
{
    struct bff_config c;
    struct bff_error e;

    ck_assert_int_eq(bff_config_load(&c, &e), 0);
    ck_assert_int_eq(c.cache_ttl, 300);
    ck_assert_int_eq(c.metrics_cache_ttl, 30);
    ck_assert_int_eq(c.reservation_hold, 0);
    ck_assert_int_eq(c.max_body, 262144);
    ck_assert_int_eq(c.log_level, BFF_LOG_INFO);
    ck_assert_int_eq(c.env, BFF_ENV_DEVELOPMENT);
    ck_assert_str_eq(c.redis_url, "");
    ck_assert_str_eq(c.smtp_url, "");
    ck_assert_int_eq(c.redis_timeout_ms, 100);
    ck_assert_int_eq(c.redis_connect_timeout_ms, 50);
    ck_assert_int_lt(c.lock_timeout_ms, c.statement_timeout_ms);
}
END_TEST

START_TEST(parses_values)
{
    struct bff_config c;
    struct bff_error e;

    setenv("BFF_CACHE_TTL", "60", 1);
    setenv("BFF_REDIS_URL", "redis://127.0.0.1:6380/2", 1);
    setenv("BFF_SMTP_URL", "smtp://mail.example:2525", 1);
    setenv("BFF_LOG_LEVEL", "warn", 1);
    setenv("BFF_ENV", "production", 1);
    setenv("BFF_MAX_BODY", "1024", 1);
    ck_assert_int_eq(bff_config_load(&c, &e), 0);
    ck_assert_int_eq(c.cache_ttl, 60);
    ck_assert_str_eq(c.redis_host, "127.0.0.1");
    ck_assert_int_eq(c.redis_port, 6380);
    ck_assert_int_eq(c.redis_db, 2);
    ck_assert_str_eq(c.smtp_host, "mail.example");
    ck_assert_int_eq(c.smtp_port, 2525);
    ck_assert_int_eq(c.log_level, BFF_LOG_WARN);
    ck_assert_int_eq(c.env, BFF_ENV_PRODUCTION);
    ck_assert_int_eq(c.max_body, 1024);
}
END_TEST

START_TEST(unix_socket_redis)
{
    struct bff_config c;
    struct bff_error e;

    setenv("BFF_REDIS_URL", "unix:///run/redis.sock?db=3", 1);
    ck_assert_int_eq(bff_config_load(&c, &e), 0);
    ck_assert_str_eq(c.redis_host, "/run/redis.sock");
    ck_assert_int_eq(c.redis_port, 0);
    ck_assert_int_eq(c.redis_db, 3);
}
END_TEST

/* Each malformed value must fail and name its variable. */
static const struct {
    const char *var, *value;
} bad[] = {
    {"BFF_CACHE_TTL", "abc"},
    {"BFF_CACHE_TTL", "10s"},
    {"BFF_CACHE_TTL", ""},
    {"BFF_CACHE_TTL", "0"},
    {"BFF_CACHE_TTL", "99999999999999999999"},
    {"BFF_MAX_BODY", "-1"},
    {"BFF_MAX_BODY", " 100"},
    {"BFF_LOG_LEVEL", "verbose"},
    {"BFF_ENV", "prod"},
    {"BFF_REDIS_URL", "localhost:6379"},
    {"BFF_REDIS_URL", "redis://localhost"},
    {"BFF_REDIS_URL", "redis://localhost:99999/0"},
    {"BFF_REDIS_URL", "redis://localhost:6379/x"},
    {"BFF_SMTP_URL", "mail.example:25"},
    {"BFF_REDIS_TIMEOUT_MS", "500"},
    {"BFF_REDIS_CONNECT_TIMEOUT_MS", "51"},
    {"BFF_RESERVATION_HOLD", "1.5"},
};

START_TEST(malformed_value_names_variable)
{
    struct bff_config c;
    struct bff_error e;

    setenv(bad[_i].var, bad[_i].value, 1);
    memset(&e, 0, sizeof e);
    ck_assert_int_eq(bff_config_load(&c, &e), -1);
    ck_assert_msg(strstr(e.msg, bad[_i].var) == e.msg, "message \"%s\" does not start with %s",
                  e.msg, bad[_i].var);
}
END_TEST

START_TEST(timeout_ladder_enforced)
{
    struct bff_config c;
    struct bff_error e;

    setenv("BFF_LOCK_TIMEOUT_MS", "6000", 1);
    setenv("BFF_STATEMENT_TIMEOUT_MS", "5000", 1);
    ck_assert_int_eq(bff_config_load(&c, &e), -1);
    ck_assert_ptr_nonnull(strstr(e.msg, "BFF_LOCK_TIMEOUT_MS"));
}
END_TEST

START_TEST(settings_table_complete)
{
    struct bff_setting s;
    const char **v;
    size_t i, n = 0;

    for (i = 0; bff_setting(i, &s); i++)
        n++;
    for (v = vars; *v; v++) {
        int found = 0;

        for (i = 0; bff_setting(i, &s); i++)
            found |= strcmp(s.name, *v) == 0;
        ck_assert_msg(found, "%s missing from the settings table", *v);
    }
    ck_assert_uint_eq(n, sizeof vars / sizeof vars[0] - 1);
}
END_TEST

static Suite *make_config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *core = tcase_create("core"), *limits = tcase_create("limits");

    tcase_add_checked_fixture(core, clean_env, NULL);
    tcase_add_checked_fixture(limits, clean_env, NULL);
    tcase_add_test(core, defaults);
    tcase_add_test(core, parses_values);
    tcase_add_test(core, unix_socket_redis);
    tcase_add_test(core, settings_table_complete);
    tcase_add_loop_test(limits, malformed_value_names_variable, 0,
                        sizeof bad / sizeof bad[0]);
    tcase_add_test(limits, timeout_ladder_enforced);
    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_config_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
