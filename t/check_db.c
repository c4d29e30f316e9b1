/*
 * check_db.c — the PostgreSQL layer, the database health check and the
 * migration runner, against the real server in BFF_TEST_DATABASE_URL.
 *
 * Each test gets its own schema (search_path rides in the connection's
 * options), so tests never see each other's tables and the database the
 * test stack shares with the e2e suites is left as it was. A second, raw
 * libpq connection ("admin") plays the other client: it terminates our
 * backend, holds locks, and inspects what we did.
 */
#include <arpa/inet.h>
#include <check.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "config.h"
#include "db.h"
#include "harness.h"
#include "health.h"
#include "migrate.h"
#include "util.h"

static struct bff_config cfg;
static struct bff_db db;
static PGconn *admin;
static char schema[64];
static char conninfo[4096];

static void set_defaults(void)
{
    memset(&cfg, 0, sizeof cfg);
    cfg.statement_timeout_ms = 4321;
    cfg.lock_timeout_ms = 1234;
    cfg.idle_tx_timeout_ms = 9876;
    cfg.health_timeout_ms = 2000;
    cfg.redis_url = "";
    cfg.smtp_url = "";
}

/* Append key='value' to buf, quoted for a libpq conninfo string. */
static void put_kv(char *buf, size_t n, const char *k, const char *v)
{
    size_t o = strlen(buf);

    o += (size_t)snprintf(buf + o, n - o, "%s%s='", o ? " " : "", k);
    for (; *v && o + 3 < n; v++) {
        if (*v == '\'' || *v == '\\')
            buf[o++] = '\\';
        buf[o++] = *v;
    }
    snprintf(buf + o, n - o, "'");
}

/* The test URL (URI or key=value) with search_path=schema added to its
 * options, as a key=value conninfo. */
static void build_conninfo(const char *url, const char *path, char *out, size_t n)
{
    PQconninfoOption *opts, *o;
    char *err = NULL, options[1024] = "";

    opts = PQconninfoParse(url, &err);
    ck_assert_msg(opts != NULL, "BFF_TEST_DATABASE_URL does not parse: %s", err);
    out[0] = '\0';
    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "options") == 0)
            snprintf(options, sizeof options, "%s ", o->val);
        else
            put_kv(out, n, o->keyword, o->val);
    }
    PQconninfoFree(opts);
    snprintf(options + strlen(options), sizeof options - strlen(options), "-c search_path=%s",
             path);
    put_kv(out, n, "options", options);
}

/* Run sql on the admin connection; the first value of the result, copied
 * into a static buffer ("" for none). Fails the test on error. */
static const char *admin_sql(const char *sql)
{
    static char v[256];
    PGresult *r = PQexec(admin, sql);
    ExecStatusType s = PQresultStatus(r);

    ck_assert_msg(s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK, "%s: %s", sql,
                  PQresultErrorMessage(r));
    snprintf(v, sizeof v, "%s",
             s == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    return v;
}

static void quiet(void *arg, const char *msg)
{
}

static void setup(void)
{
    static int seq;
    const char *url = t_env("BFF_TEST_DATABASE_URL");
    char sql[256];

    set_defaults();
    admin = PQconnectdb(url);
    ck_assert_msg(PQstatus(admin) == CONNECTION_OK, "cannot connect to %s: %s", url,
                  PQerrorMessage(admin));
    PQsetNoticeProcessor(admin, quiet, NULL); /* "drop cascades to ..." */
    snprintf(schema, sizeof schema, "check_db_%ld_%d", (long)getpid(), ++seq);
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", schema);
    admin_sql(sql);
    build_conninfo(url, schema, conninfo, sizeof conninfo);
    bff_db_init(&db, &cfg, conninfo);
    bff_db_set_application_name(&db, "check_db");
}

static void teardown(void)
{
    char sql[256];

    bff_db_close(&db);
    if (admin != NULL) {
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", schema);
        PQclear(PQexec(admin, sql));
        PQfinish(admin);
        admin = NULL;
    }
}

/* Run st with params and return the first value (arena string), failing
 * the test with the error when it fails. */
static const char *value(struct bff_arena *a, struct bff_stmt *st, const char *const *params)
{
    struct bff_error e;
    PGresult *r;

    bff_error_clear(&e);
    r = bff_db_query(&db, a, st, params, &e);
    ck_assert_msg(r != NULL, "%s failed: %s %s: %s", st->name, e.code, e.sqlstate, e.msg);
    ck_assert_int_ge(PQntuples(r), 1);
    return bff_db_str(a, r, 0, 0);
}

static void exec_ok(const char *sql)
{
    struct bff_error e;

    bff_error_clear(&e);
    ck_assert_msg(bff_db_exec_sql(&db, sql, &e) == 0, "%s: %s", sql, e.msg);
}

static int64_t backend_pid(struct bff_arena *a)
{
    static struct bff_stmt st = {"t_backend_pid", "SELECT pg_backend_pid()", 0, 0};
    int64_t pid;

    ck_assert_int_eq(bff_parse_int64(value(a, &st, NULL), 1, INT32_MAX, &pid), 0);
    return pid;
}

static void terminate(int64_t pid)
{
    char sql[128];

    /* PostgreSQL 14+: waits (up to 5 s) until the backend is gone. */
    snprintf(sql, sizeof sql, "SELECT pg_terminate_backend(%lld, 5000)", (long long)pid);
    ck_assert_str_eq(admin_sql(sql), "t");
}

/* ---- connection and statements --------------------------------------- */

START_TEST(session_options_from_config)
{
    static struct bff_stmt st = {
        "t_settings",
        "SELECT current_setting('TimeZone') || ' ' || current_setting('statement_timeout')"
        " || ' ' || current_setting('lock_timeout') || ' '"
        " || current_setting('idle_in_transaction_session_timeout') || ' '"
        " || current_setting('application_name') || ' ' || current_setting('search_path')"
        " || ' ' || current_setting('client_encoding')",
        0, 0};
    struct bff_arena *a = bff_arena_new();
    char want[256];

    snprintf(want, sizeof want, "UTC 4321ms 1234ms 9876ms check_db %s UTF8", schema);
    ck_assert_str_eq(value(a, &st, NULL), want);
    ck_assert_uint_ne(db.gen, 0);
    bff_arena_free(a);
}
END_TEST

START_TEST(exec_with_params_and_accessors)
{
    static struct bff_stmt st = {
        "t_params", "SELECT $1::int + $2::int, $3::text, $3::text IS NULL, $4::bigint", 4, 0};
    const char *params[4] = {"2", "40", NULL, "-9223372036854775808"};
    struct bff_arena *a = bff_arena_new();
    struct bff_error e;
    PGresult *r;

    bff_error_clear(&e);
    r = bff_db_exec(&db, &st, params, &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    ck_assert_int_eq(bff_db_int(r, 0, 0), 42);
    ck_assert_ptr_null(bff_db_str(a, r, 0, 1));
    ck_assert_int_eq(bff_db_int(r, 0, 1), 0);
    ck_assert_int_eq(bff_db_bool(r, 0, 2), 1);
    ck_assert(bff_db_int(r, 0, 3) == INT64_MIN);
    ck_assert_str_eq(bff_db_str(a, r, 0, 0), "42");
    PQclear(r);
    /* bff_db_query: the arena clears the result (valgrind sees no leak) */
    r = bff_db_query(&db, a, &st, params, &e);
    ck_assert_ptr_nonnull(r);
    bff_arena_reset(a);
    bff_arena_free(a);
}
END_TEST

/*
 * Prepared once per connection generation: after DEALLOCATE behind the
 * layer's back the statement fails (26000) — so it was not prepared again
 * — and after a reconnect it is prepared anew and works.
 */
START_TEST(lazy_prepare_once_per_generation)
{
    static struct bff_stmt st = {
        "t_lazy", "SELECT count(*) FROM pg_prepared_statements WHERE name = 't_lazy'", 0, 0};
    struct bff_arena *a = bff_arena_new();
    struct bff_error e;
    unsigned gen;

    ck_assert_str_eq(value(a, &st, NULL), "1");
    ck_assert_str_eq(value(a, &st, NULL), "1");
    gen = db.gen;
    ck_assert_uint_eq(st.gen, gen);
    exec_ok("DEALLOCATE t_lazy");
    bff_error_clear(&e);
    ck_assert_ptr_null(bff_db_exec(&db, &st, NULL, &e));
    ck_assert_str_eq(e.sqlstate, "26000");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_INTERNAL);
    ck_assert_uint_eq(db.gen, gen);

    bff_db_close(&db);
    ck_assert_str_eq(value(a, &st, NULL), "1");
    ck_assert_uint_ne(db.gen, gen);
    ck_assert_uint_eq(st.gen, db.gen);
    bff_arena_free(a);
}
END_TEST

/* One bff_stmt on two connections, also inside a transaction: the second
 * prepare meets 42P05 and must count as prepared without aborting. */
START_TEST(shared_statement_two_connections)
{
    static struct bff_stmt st = {"t_shared", "SELECT 7", 0, 0};
    struct bff_arena *a = bff_arena_new();
    struct bff_db db2;
    struct bff_error e;
    PGresult *r;

    bff_db_init(&db2, &cfg, conninfo);
    ck_assert_str_eq(value(a, &st, NULL), "7");
    bff_error_clear(&e);
    r = bff_db_exec(&db2, &st, NULL, &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    PQclear(r);
    ck_assert_uint_eq(st.gen, db2.gen);

    ck_assert_int_eq(bff_db_begin(&db, &e), 0);
    ck_assert_str_eq(value(a, &st, NULL), "7"); /* 42P05 under a savepoint */
    ck_assert_str_eq(value(a, &st, NULL), "7");
    ck_assert_int_eq(bff_db_commit(&db, &e), 0);
    ck_assert_int_eq(db.in_tx, 0);
    bff_db_close(&db2);
    bff_arena_free(a);
}
END_TEST

/* A PostgreSQL restart (here: our backend terminated) costs the next
 * statement nothing: it is retried once on a new connection. */
START_TEST(reconnect_after_terminate)
{
    struct bff_arena *a = bff_arena_new();
    int64_t pid1, pid2;
    unsigned gen;

    pid1 = backend_pid(a);
    gen = db.gen;
    terminate(pid1);
    pid2 = backend_pid(a); /* fails the test if the error leaked out */
    ck_assert_int_ne(pid1, pid2);
    ck_assert_uint_ne(db.gen, gen);
    bff_arena_free(a);
}
END_TEST

/* Inside a transaction the loss is reported, never papered over: running
 * the rest of the transaction on a new session would commit half of it. */
START_TEST(terminate_inside_transaction_is_not_retried)
{
    static struct bff_stmt st = {"t_one", "SELECT 1", 0, 0};
    struct bff_arena *a = bff_arena_new();
    struct bff_error e;
    int64_t pid;

    bff_error_clear(&e);
    ck_assert_int_eq(bff_db_begin(&db, &e), 0);
    pid = backend_pid(a);
    terminate(pid);
    ck_assert_ptr_null(bff_db_exec(&db, &st, NULL, &e));
    ck_assert_str_eq(e.code, "unavailable");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_UNAVAILABLE);
    bff_error_clear(&e);
    ck_assert_ptr_null(bff_db_exec(&db, &st, NULL, &e)); /* still refused */
    ck_assert_str_eq(e.code, "unavailable");
    ck_assert_ptr_nonnull(strstr(e.msg, "transaction"));
    bff_db_rollback(&db);
    ck_assert_str_eq(value(a, &st, NULL), "1");
    ck_assert_int_ne(backend_pid(a), pid);
    bff_arena_free(a);
}
END_TEST

/* ---- error classification -------------------------------------------- */

START_TEST(classify_sqlstates)
{
    /* clang-format off */
    static const struct {
        const char *state;
        enum bff_db_class cls;
    } cases[] = {
        {"00000", BFF_DB_OK},
        {"40001", BFF_DB_RETRY},        /* serialization_failure */
        {"40P01", BFF_DB_RETRY},        /* deadlock_detected */
        {"55P03", BFF_DB_RETRY},        /* lock_not_available (lock_timeout) */
        {"23505", BFF_DB_CONFLICT},     /* unique_violation */
        {"23514", BFF_DB_CONFLICT},     /* check_violation */
        {"23503", BFF_DB_CONFLICT},     /* foreign_key_violation */
        {"23P01", BFF_DB_CONFLICT},     /* exclusion_violation */
        {"BF409", BFF_DB_CONFLICT},     /* ours, from schema/ functions */
        {"BF400", BFF_DB_BAD_REQUEST},
        {"BF404", BFF_DB_NOT_FOUND},
        {"08006", BFF_DB_UNAVAILABLE},  /* connection_failure */
        {"08001", BFF_DB_UNAVAILABLE},  /* unable to establish */
        {"57P01", BFF_DB_UNAVAILABLE},  /* admin_shutdown */
        {"57P02", BFF_DB_UNAVAILABLE},  /* crash_shutdown */
        {"57P03", BFF_DB_UNAVAILABLE},  /* cannot_connect_now */
        {"53300", BFF_DB_UNAVAILABLE},  /* too_many_connections */
        {"57014", BFF_DB_UNAVAILABLE},  /* query_canceled: statement_timeout */
        {"42P01", BFF_DB_INTERNAL},     /* undefined_table: our bug */
        {"22P02", BFF_DB_INTERNAL},     /* invalid_text_representation */
        {"53100", BFF_DB_INTERNAL},     /* disk_full: not a retry-later */
        {"", BFF_DB_INTERNAL},
        {NULL, BFF_DB_INTERNAL},
    };
    /* clang-format on */
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_msg(bff_db_classify(cases[i].state) == cases[i].cls, "%s: got %d want %d",
                      cases[i].state ? cases[i].state : "NULL", bff_db_classify(cases[i].state),
                      cases[i].cls);
}
END_TEST

START_TEST(error_class_from_error)
{
    struct bff_error e;

    bff_error_clear(&e);
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_OK);
    bff_error_set(&e, "unavailable", NULL, "x");
    snprintf(e.sqlstate, sizeof e.sqlstate, "40P01");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_RETRY);
    snprintf(e.sqlstate, sizeof e.sqlstate, "25P03"); /* FATAL: conn gone */
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_UNAVAILABLE);
    bff_error_set(&e, "conflict", NULL, "x");
    snprintf(e.sqlstate, sizeof e.sqlstate, "23505");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_CONFLICT);
    bff_error_set(&e, "internal", NULL, "x");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_INTERNAL);
}
END_TEST

START_TEST(unique_violation_is_conflict)
{
    static struct bff_stmt ins = {"t_ins", "INSERT INTO t_u (k) VALUES ($1)", 1, 0};
    const char *params[1] = {"1"};
    struct bff_arena *a = bff_arena_new();
    struct bff_error e;
    PGresult *r;
    unsigned gen;

    exec_ok("CREATE TABLE t_u (k int UNIQUE)");
    bff_error_clear(&e);
    r = bff_db_exec(&db, &ins, params, &e);
    ck_assert_msg(r != NULL, "%s", e.msg);
    PQclear(r);
    gen = db.gen;
    ck_assert_ptr_null(bff_db_exec(&db, &ins, params, &e));
    ck_assert_str_eq(e.code, "conflict");
    ck_assert_str_eq(e.sqlstate, "23505");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_CONFLICT);
    ck_assert_ptr_nonnull(strstr(e.msg, "t_u_k_key"));
    ck_assert_uint_eq(db.gen, gen); /* the connection survives */
    bff_arena_free(a);
}
END_TEST

/* bff's own SQLSTATEs from plpgsql: code from the state, field from DETAIL,
 * the message as raised. */
START_TEST(own_sqlstates_carry_field)
{
    struct bff_error e;

    bff_error_clear(&e);
    ck_assert_int_eq(
        bff_db_exec_sql(&db,
                        "DO $$ BEGIN RAISE EXCEPTION 'lot 7 has 3 free' USING ERRCODE = 'BF409',"
                        " DETAIL = 'lines[0].quantity'; END $$",
                        &e),
        -1);
    ck_assert_str_eq(e.code, "conflict");
    ck_assert_str_eq(e.sqlstate, "BF409");
    ck_assert_str_eq(e.field, "lines[0].quantity");
    ck_assert_str_eq(e.msg, "lot 7 has 3 free");
    bff_error_clear(&e);
    ck_assert_int_eq(
        bff_db_exec_sql(&db,
                        "DO $$ BEGIN RAISE EXCEPTION 'no such product' USING ERRCODE = 'BF400',"
                        " DETAIL = 'product_id'; END $$",
                        &e),
        -1);
    ck_assert_str_eq(e.code, "bad_request");
    ck_assert_str_eq(e.field, "product_id");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_BAD_REQUEST);
    bff_error_clear(&e);
    ck_assert_int_eq(
        bff_db_exec_sql(
            &db,
            "DO $$ BEGIN RAISE EXCEPTION 'order 9 does not exist' USING ERRCODE = 'BF404';"
            " END $$",
            &e),
        -1);
    ck_assert_str_eq(e.code, "not_found");
    ck_assert_str_eq(e.field, "");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_NOT_FOUND);
}
END_TEST

/* A statement that outlives statement_timeout is a 503, not a 500, and the
 * connection stays (the server cancelled the statement, not the session). */
START_TEST(statement_timeout_is_unavailable)
{
    static struct bff_stmt sleep = {"t_sleep", "SELECT pg_sleep(3)", 0, 0};
    static struct bff_stmt one = {"t_one_st", "SELECT 1", 0, 0};
    struct bff_arena *a = bff_arena_new();
    struct bff_error e;
    int64_t t0;
    unsigned gen;

    cfg.statement_timeout_ms = 100;
    cfg.lock_timeout_ms = 50;
    ck_assert_str_eq(value(a, &one, NULL), "1");
    gen = db.gen;
    bff_error_clear(&e);
    t0 = bff_now_ms();
    ck_assert_ptr_null(bff_db_exec(&db, &sleep, NULL, &e));
    ck_assert_int_lt(bff_now_ms() - t0, 2000);
    ck_assert_str_eq(e.sqlstate, "57014");
    ck_assert_str_eq(e.code, "unavailable");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_UNAVAILABLE);
    ck_assert_str_eq(value(a, &one, NULL), "1");
    ck_assert_uint_eq(db.gen, gen);
    bff_arena_free(a);
}
END_TEST

/* lock_timeout while another session holds the row: RETRY (code
 * "unavailable" once retries run out). */
START_TEST(lock_timeout_is_retry)
{
    static struct bff_stmt lock = {"t_lock", "SELECT id FROM t_l WHERE id = 1 FOR UPDATE", 0, 0};
    struct bff_error e;
    char sql[256];

    cfg.lock_timeout_ms = 100;
    exec_ok("CREATE TABLE t_l (id int PRIMARY KEY); INSERT INTO t_l VALUES (1)");
    admin_sql("BEGIN");
    snprintf(sql, sizeof sql, "SELECT id FROM %s.t_l WHERE id = 1 FOR UPDATE", schema);
    admin_sql(sql);
    bff_error_clear(&e);
    ck_assert_ptr_null(bff_db_exec(&db, &lock, NULL, &e));
    admin_sql("ROLLBACK");
    ck_assert_str_eq(e.sqlstate, "55P03");
    ck_assert_str_eq(e.code, "unavailable");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_RETRY);
}
END_TEST

/* COMMIT of a failed transaction answers "ROLLBACK" without an error: the
 * layer must not report success. */
START_TEST(commit_of_aborted_transaction_fails)
{
    static struct bff_stmt bad = {"t_bad", "SELECT 1/0", 0, 0};
    struct bff_error e;

    bff_error_clear(&e);
    ck_assert_int_eq(bff_db_begin(&db, &e), 0);
    ck_assert_int_eq(db.in_tx, 1);
    ck_assert_ptr_null(bff_db_exec(&db, &bad, NULL, &e));
    ck_assert_str_eq(e.sqlstate, "22012");
    bff_error_clear(&e);
    ck_assert_int_eq(bff_db_commit(&db, &e), -1);
    ck_assert_str_eq(e.sqlstate, "25P02");
    ck_assert_int_eq(db.in_tx, 0);
    ck_assert_int_eq(bff_db_begin(&db, &e), 0);
    ck_assert_int_eq(bff_db_begin(&db, &e), -1); /* nested BEGIN is a bug */
    bff_db_rollback(&db);
    ck_assert_int_eq(db.in_tx, 0);
}
END_TEST

/* ---- connect failures ------------------------------------------------ */

/* A listening socket that never accepts: TCP connects, nobody answers —
 * what a frozen postmaster looks like. Returns the fd; *port its port. */
static int silent_listener(int *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    ck_assert_int_ge(fd, 0);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    ck_assert_int_eq(listen(fd, 16), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

START_TEST(connect_refused_is_fast_one_line)
{
    struct bff_db bad;
    struct bff_error e;
    char ci[128];
    int64_t t0;

    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d dbname=x user=x", t_free_port());
    bff_db_init(&bad, &cfg, ci);
    bff_error_clear(&e);
    t0 = bff_now_ms();
    ck_assert_int_eq(bff_db_ensure(&bad, &e), -1);
    ck_assert_int_lt(bff_now_ms() - t0, 500);
    ck_assert_str_eq(e.code, "unavailable");
    ck_assert_int_eq(bff_db_error_class(&e), BFF_DB_UNAVAILABLE);
    ck_assert_ptr_nonnull(strstr(e.msg, "refused"));
    ck_assert_ptr_null(strchr(e.msg, '\n'));
    ck_assert_ptr_null(bad.conn);
    bff_db_close(&bad);
}
END_TEST

/* A connect gives up at our deadline, not libpq's 2 s floor; and within the
 * back-off the next ensure does not dial at all (it would take the full
 * BFF_DB_CONNECT_TIMEOUT_MS against this listener). */
START_TEST(connect_deadline_and_backoff)
{
    struct bff_db bad;
    struct bff_error e;
    char ci[128];
    int port, fd = silent_listener(&port);
    int64_t t0, took;

    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d dbname=x user=x", port);
    bff_db_init(&bad, &cfg, ci);
    bff_error_clear(&e);
    t0 = bff_now_ms();
    ck_assert_int_eq(bff_db_ensure_until(&bad, t0 + 200, &e), -1);
    took = bff_now_ms() - t0;
    ck_assert_int_ge(took, 190);
    ck_assert_int_lt(took, 600);
    ck_assert_msg(strstr(e.msg, "timeout") != NULL, "%s", e.msg);

    t0 = bff_now_ms();
    ck_assert_int_eq(bff_db_ensure(&bad, &e), -1);
    ck_assert_int_lt(bff_now_ms() - t0, 50);
    ck_assert_str_eq(e.code, "unavailable");
    ck_assert_msg(strstr(e.msg, "timeout") != NULL, "%s", e.msg);
    bff_db_close(&bad);
    close(fd);
}
END_TEST

/* ---- health ---------------------------------------------------------- */

START_TEST(health_database_ok)
{
    struct bff_check c;

    bff_health_database(&db, 2000, &c);
    ck_assert_str_eq(c.status, "ok");
    ck_assert_str_eq(c.error, "");
    ck_assert_int_ge(c.latency_ms, 0);
    ck_assert_int_lt(c.latency_ms, 2000);
}
END_TEST

START_TEST(health_database_unreachable_is_down_fast)
{
    struct bff_db bad;
    struct bff_check c;
    char ci[128];

    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d dbname=x user=x", t_free_port());
    bff_db_init(&bad, &cfg, ci);
    bff_health_database(&bad, 2000, &c);
    ck_assert_str_eq(c.status, "down");
    ck_assert_ptr_nonnull(strstr(c.error, "refused"));
    ck_assert_int_lt(c.latency_ms, 500);
    bff_db_close(&bad);
}
END_TEST

/* Connect to a server that never answers: bounded by the check's timeout. */
START_TEST(health_database_connect_bounded)
{
    struct bff_db bad;
    struct bff_check c;
    char ci[128];
    int port, fd = silent_listener(&port);

    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d dbname=x user=x", port);
    bff_db_init(&bad, &cfg, ci);
    bff_health_database(&bad, 300, &c);
    ck_assert_str_eq(c.status, "down");
    ck_assert_msg(strstr(c.error, "timeout") != NULL, "%s", c.error);
    ck_assert_int_ge(c.latency_ms, 290);
    ck_assert_int_lt(c.latency_ms, 800);
    bff_db_close(&bad);
    close(fd);
}
END_TEST

static pid_t frozen;

static void thaw(void)
{
    if (frozen > 0)
        kill(frozen, SIGCONT);
    frozen = 0;
}

/* Our backend frozen mid-session (SIGSTOP): SELECT 1 cannot hang the check;
 * the connection is dropped and the next check reconnects. */
START_TEST(health_database_frozen_backend)
{
    static int registered;
    struct bff_arena *a = bff_arena_new();
    struct bff_check c, c2;
    int64_t pid = backend_pid(a);

    if (!registered++)
        atexit(thaw); /* a failing test must not leave a stopped backend */
    ck_assert_msg(kill((pid_t)pid, SIGSTOP) == 0,
                  "cannot SIGSTOP backend %lld (the test must run as root or as "
                  "PostgreSQL's user)",
                  (long long)pid);
    frozen = (pid_t)pid;
    bff_health_database(&db, 300, &c);
    thaw();
    ck_assert_str_eq(c.status, "down");
    ck_assert_str_eq(c.error, "timeout after 300 ms");
    ck_assert_int_ge(c.latency_ms, 290);
    ck_assert_int_lt(c.latency_ms, 800);
    ck_assert_ptr_null(db.conn);
    bff_health_database(&db, 2000, &c2);
    ck_assert_str_eq(c2.status, "ok");
    ck_assert_int_ne(backend_pid(a), pid);
    bff_arena_free(a);
}
END_TEST

/* After a restart (backend terminated) the check reports the server, not
 * our dead socket. */
START_TEST(health_database_after_terminate)
{
    struct bff_arena *a = bff_arena_new();
    struct bff_check c;

    terminate(backend_pid(a));
    bff_health_database(&db, 2000, &c);
    ck_assert_msg(strcmp(c.status, "ok") == 0, "%s: %s", c.status, c.error);
    bff_arena_free(a);
}
END_TEST

/* ---- migrations ------------------------------------------------------ */

static const struct bff_migration two[] = {
    {"0001_a", "CREATE TABLE m_a (x int);\n-- a comment; with a semicolon\n"},
    {"0002_b", "CREATE TABLE m_b (y text); INSERT INTO m_b VALUES ('it''s');"},
    {NULL, NULL},
};

static const struct bff_migration three_bad[] = {
    {"0001_a", "CREATE TABLE m_a (x int);\n-- a comment; with a semicolon\n"},
    {"0002_b", "CREATE TABLE m_b (y text); INSERT INTO m_b VALUES ('it''s');"},
    {"0003_bad", "CREATE TABLE m_c (z int); SELECT no_such_column FROM m_c;"},
    {"0004_after", "CREATE TABLE m_d (z int);"},
    {NULL, NULL},
};

static void collect(const char *name, void *arg)
{
    char *buf = arg;

    strcat(buf, name);
    strcat(buf, " ");
}

static const char *count_rows(const char *table)
{
    char sql[256];

    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s.%s", schema, table);
    return admin_sql(sql);
}

static int table_exists(const char *table)
{
    char sql[256];

    snprintf(sql, sizeof sql, "SELECT to_regclass('%s.%s') IS NOT NULL", schema, table);
    return strcmp(admin_sql(sql), "t") == 0;
}

START_TEST(migrate_applies_in_order_then_is_noop)
{
    struct bff_error e;
    char seen[256] = "";
    int n = -1;

    bff_error_clear(&e);
    ck_assert_int_eq(bff_migrate(&db, two, 1, collect, seen, &n, &e), 0);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(seen, "0001_a 0002_b ");
    ck_assert(!table_exists("schema_migrations")); /* --check changes nothing */

    seen[0] = '\0';
    ck_assert_msg(bff_migrate(&db, two, 0, collect, seen, &n, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(seen, "0001_a 0002_b ");
    ck_assert_str_eq(count_rows("schema_migrations"), "2");
    ck_assert_str_eq(count_rows("m_b"), "1");

    seen[0] = '\0';
    ck_assert_int_eq(bff_migrate(&db, two, 0, collect, seen, &n, &e), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(seen, "");
    ck_assert_int_eq(bff_migrate(&db, two, 1, collect, seen, &n, &e), 0);
    ck_assert_int_eq(n, 0);
    ck_assert_str_eq(count_rows("schema_migrations"), "2");
}
END_TEST

/* A failing migration leaves nothing of itself (its transaction rolled
 * back), keeps the ones before it, and stops before the ones after. */
START_TEST(migrate_failure_rolls_back_that_migration)
{
    static struct bff_stmt sto = {"t_sto", "SELECT current_setting('statement_timeout')", 0, 0};
    struct bff_arena *a = bff_arena_new();
    struct bff_error e;
    char seen[256] = "", sql[160];
    int n = -1;

    bff_error_clear(&e);
    ck_assert_int_eq(bff_migrate(&db, three_bad, 0, collect, seen, &n, &e), -1);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(seen, "0001_a 0002_b ");
    ck_assert_msg(strncmp(e.msg, "0003_bad: ", 10) == 0, "%s", e.msg);
    ck_assert_str_eq(e.sqlstate, "42703");
    ck_assert_str_eq(count_rows("schema_migrations"), "2");
    ck_assert(!table_exists("m_c"));
    ck_assert(!table_exists("m_d"));
    ck_assert_int_eq(db.in_tx, 0);
    /* the session's own timeouts are back after the run */
    ck_assert_str_eq(value(a, &sto, NULL), "4321ms");
    /* and our session holds no advisory lock any more (asked about our
     * backend only: other suites may be migrating this database now) */
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %lld",
             (long long)backend_pid(a));
    ck_assert_str_eq(admin_sql(sql), "0");
    bff_arena_free(a);
}
END_TEST

static void count_status(const char *name, const char *applied_at, int known, void *arg)
{
    char *buf = arg;

    strcat(buf, name);
    strcat(buf, applied_at ? (known ? "=X " : "=? ") : "=_ ");
}

START_TEST(migrate_status_lists_applied_and_pending)
{
    static const struct bff_migration one[] = {{"0001_a", "CREATE TABLE m_a (x int);"},
                                               {NULL, NULL}};
    struct bff_error e;
    char seen[256] = "";

    bff_error_clear(&e);
    ck_assert_int_eq(bff_migrate_status(&db, two, count_status, seen, &e), 0);
    ck_assert_str_eq(seen, "0001_a=_ 0002_b=_ ");
    ck_assert_int_eq(bff_migrate(&db, one, 0, NULL, NULL, NULL, &e), 0);
    seen[0] = '\0';
    ck_assert_int_eq(bff_migrate_status(&db, two, count_status, seen, &e), 0);
    ck_assert_str_eq(seen, "0001_a=X 0002_b=_ ");
    ck_assert_int_eq(bff_migrate(&db, two, 0, NULL, NULL, NULL, &e), 0);
    seen[0] = '\0';
    ck_assert_int_eq(bff_migrate_status(&db, one, count_status, seen, &e), 0);
    ck_assert_str_eq(seen, "0001_a=X 0002_b=? ");
}
END_TEST

/* The schema/ files as built in (scripts/embed-schema) apply cleanly. */
START_TEST(migrate_real_schema)
{
    struct bff_error e;
    int n = 0, want = 0;

    while (bff_migrations[want].name != NULL)
        want++;
    ck_assert_int_ge(want, 1);
    ck_assert_str_eq(bff_migrations[0].name, "0001_init");
    bff_error_clear(&e);
    ck_assert_msg(bff_migrate(&db, bff_migrations, 0, NULL, NULL, &n, &e) == 0, "%s", e.msg);
    ck_assert_int_eq(n, want);
    ck_assert(table_exists("cache_invalidations"));
    ck_assert_int_eq(bff_migrate(&db, bff_migrations, 0, NULL, NULL, &n, &e), 0);
    ck_assert_int_eq(n, 0);
}
END_TEST

/* Two runners: the second waits on the advisory lock, then finds nothing
 * to do. Here the admin session holds the lock while a child migrates. */
START_TEST(migrate_waits_for_the_lock)
{
    struct bff_error e;
    struct timespec pause = {0, 300 * 1000 * 1000};
    pid_t child;
    int status = -1, n = -1;

    admin_sql("SELECT pg_advisory_lock(27697137825965938)");
    child = fork();
    ck_assert_int_ge(child, 0);
    if (child == 0) {
        struct bff_db cdb;
        int rc;

        bff_db_init(&cdb, &cfg, conninfo);
        bff_error_clear(&e);
        rc = bff_migrate(&cdb, two, 0, NULL, NULL, &n, &e);
        bff_db_close(&cdb);
        _exit(rc == 0 && n == 2 ? 0 : 1);
    }
    nanosleep(&pause, NULL);
    ck_assert_int_eq(waitpid(child, &status, WNOHANG), 0); /* still waiting */
    ck_assert(!table_exists("m_a"));
    admin_sql("SELECT pg_advisory_unlock(27697137825965938)");
    ck_assert_int_eq(waitpid(child, &status, 0), child);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_str_eq(count_rows("schema_migrations"), "2");
    bff_error_clear(&e);
    ck_assert_int_eq(bff_migrate(&db, two, 0, NULL, NULL, &n, &e), 0);
    ck_assert_int_eq(n, 0);
}
END_TEST

static Suite *make_db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *core = tcase_create("core");
    TCase *limits = tcase_create("limits");

    tcase_add_checked_fixture(core, setup, teardown);
    tcase_add_checked_fixture(limits, setup, teardown);
    tcase_set_timeout(core, 60);
    tcase_set_timeout(limits, 60);

    tcase_add_test(core, session_options_from_config);
    tcase_add_test(core, exec_with_params_and_accessors);
    tcase_add_test(core, lazy_prepare_once_per_generation);
    tcase_add_test(core, shared_statement_two_connections);
    tcase_add_test(core, classify_sqlstates);
    tcase_add_test(core, error_class_from_error);
    tcase_add_test(core, unique_violation_is_conflict);
    tcase_add_test(core, own_sqlstates_carry_field);
    tcase_add_test(core, commit_of_aborted_transaction_fails);
    tcase_add_test(core, health_database_ok);
    tcase_add_test(core, migrate_applies_in_order_then_is_noop);
    tcase_add_test(core, migrate_failure_rolls_back_that_migration);
    tcase_add_test(core, migrate_status_lists_applied_and_pending);
    tcase_add_test(core, migrate_real_schema);

    tcase_add_test(limits, reconnect_after_terminate);
    tcase_add_test(limits, terminate_inside_transaction_is_not_retried);
    tcase_add_test(limits, statement_timeout_is_unavailable);
    tcase_add_test(limits, lock_timeout_is_retry);
    tcase_add_test(limits, connect_refused_is_fast_one_line);
    tcase_add_test(limits, connect_deadline_and_backoff);
    tcase_add_test(limits, health_database_unreachable_is_down_fast);
    tcase_add_test(limits, health_database_connect_bounded);
    tcase_add_test(limits, health_database_frozen_backend);
    tcase_add_test(limits, health_database_after_terminate);
    tcase_add_test(limits, migrate_waits_for_the_lock);

    suite_add_tcase(s, core);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(make_db_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
