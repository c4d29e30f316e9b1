/*
 * db.c — the PostgreSQL layer (see db.h for the contract).
 *
 * One connection per process, opened lazily and rebuilt after it breaks.
 * Connects are non-blocking (PQconnectStartParams + PQconnectPoll) under our
 * own deadline, because libpq's connect_timeout has a 2 s floor and /health/
 * must answer within its own budget. A failed connect starts a short
 * back-off, so a process whose database is down answers 503 at once instead
 * of dialling on every statement.
 */
#define _GNU_SOURCE /* program_invocation_short_name */

#include "db.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

/*
 * Connection generations are unique across every bff_db in the process, not
 * per bff_db: a bff_stmt used on two connections then never mistakes one
 * connection's "prepared" mark for the other's (it re-prepares and takes
 * 42P05 as success instead).
 */
static unsigned gen_counter;

static unsigned next_gen(void)
{
    unsigned g = __atomic_add_fetch(&gen_counter, 1, __ATOMIC_RELAXED);

    if (g == 0) /* 0 means "never prepared" */
        g = __atomic_add_fetch(&gen_counter, 1, __ATOMIC_RELAXED);
    return g;
}

/*
 * libpq messages span lines ("...failed: Connection refused\n\tIs the server
 * running...?\n"). Logs and bffctl want one line: join the lines with "; ",
 * drop the tab-indented hints, trim the trailing newline.
 */
static void one_line(char *dst, size_t n, const char *src)
{
    size_t o = 0;
    int skip = 0, bol = 1;

    if (n == 0)
        return;
    for (; src && *src && o + 1 < n; src++) {
        if (bol) {
            skip = *src == '\t';
            bol = 0;
            if (!skip && o > 0 && o + 3 < n) {
                dst[o++] = ';';
                dst[o++] = ' ';
            }
        }
        if (*src == '\n') {
            bol = 1;
            continue;
        }
        if (!skip)
            dst[o++] = *src == '\t' || *src == '\r' ? ' ' : *src;
    }
    while (o > 0 && dst[o - 1] == ' ')
        o--;
    dst[o] = '\0';
}

static void notice_cb(void *arg, const char *message)
{
    char line[512];

    one_line(line, sizeof line, message);
    bff_log_debug(NULL, "postgres notice", "notice", line);
}

void bff_db_init(struct bff_db *db, const struct bff_config *cfg, const char *conninfo)
{
    memset(db, 0, sizeof *db);
    db->cfg = cfg;
    db->conninfo = conninfo;
}

void bff_db_set_application_name(struct bff_db *db, const char *name)
{
    db->app_name = name;
}

/* Forget the connection; the next ensure builds a new one (new generation). */
static void drop(struct bff_db *db)
{
    if (db->conn != NULL) {
        PQfinish(db->conn);
        db->conn = NULL;
    }
}

void bff_db_close(struct bff_db *db)
{
    drop(db);
    db->in_tx = 0;
}

/* A failed connect: remember why, start the back-off, tell the operator once
 * per outage (not once per request). */
static int connect_failed(struct bff_db *db, PGconn *conn, const char *why, struct bff_error *e)
{
    one_line(db->last_error, sizeof db->last_error, why); /* why may be conn's */
    db->errors++;
    if (conn != NULL)
        PQfinish(conn);
    if (db->retry_at_ms == 0)
        bff_log_error(NULL, "database unavailable", "error", db->last_error);
    db->retry_at_ms = bff_now_ms() + BFF_DB_RECONNECT_BACKOFF_MS;
    bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "%s", db->last_error);
    if (e != NULL)
        snprintf(e->sqlstate, sizeof e->sqlstate, "08001");
    return -1;
}

/*
 * Open a connection that gives up at deadline_ms. The session options ride
 * in the startup packet, so they hold from the first statement and survive
 * nothing but the connection itself. Keyword order matters (libpq keeps the
 * last value): application_name is a fallback the conninfo may override;
 * the options after dbname override the conninfo's, except that the
 * conninfo's own `options` are kept in front of ours.
 */
static int connect_until(struct bff_db *db, int64_t deadline_ms, struct bff_error *e)
{
    const struct bff_config *cfg = db->cfg;
    const char *kw[6], *val[6];
    char options[1024], why[512];
    const char *user_opts = "";
    PQconninfoOption *parsed, *o;
    char *perr = NULL;
    PGconn *conn;
    PostgresPollingStatusType st;
    int64_t start = bff_now_ms();

    parsed = PQconninfoParse(db->conninfo ? db->conninfo : "", &perr);
    if (parsed == NULL) {
        snprintf(why, sizeof why, "invalid database URL: %s", perr ? perr : "out of memory");
        PQfreemem(perr);
        return connect_failed(db, NULL, why, e);
    }
    for (o = parsed; o->keyword != NULL; o++)
        if (strcmp(o->keyword, "options") == 0 && o->val != NULL)
            user_opts = o->val;
    snprintf(options, sizeof options,
             "%s%s-c TimeZone=UTC -c statement_timeout=%d -c lock_timeout=%d"
             " -c idle_in_transaction_session_timeout=%d",
             user_opts, *user_opts ? " " : "", cfg ? cfg->statement_timeout_ms : 0,
             cfg ? cfg->lock_timeout_ms : 0, cfg ? cfg->idle_tx_timeout_ms : 0);
    PQconninfoFree(parsed);

    kw[0] = "fallback_application_name";
    val[0] = db->app_name ? db->app_name : program_invocation_short_name;
    kw[1] = "dbname";
    val[1] = db->conninfo ? db->conninfo : "";
    kw[2] = "connect_timeout"; /* libpq's own, for hosts it tries itself */
    val[2] = "2";
    kw[3] = "options";
    val[3] = options;
    kw[4] = "client_encoding"; /* JSON is UTF-8 whatever the server's is */
    val[4] = "UTF8";
    kw[5] = NULL;
    val[5] = NULL;

    conn = PQconnectStartParams(kw, val, 1);
    if (conn == NULL)
        return connect_failed(db, NULL, "out of memory", e);
    /* libpq: before the first PQconnectPoll, act as if it said WRITING. */
    st = PQstatus(conn) == CONNECTION_BAD ? PGRES_POLLING_FAILED : PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK) {
        int fd, w;

        if (st == PGRES_POLLING_FAILED)
            return connect_failed(db, conn, PQerrorMessage(conn), e);
        fd = PQsocket(conn); /* may change between polls (several hosts) */
        if (fd < 0)
            return connect_failed(db, conn, PQerrorMessage(conn), e);
        w = bff_wait_fd(fd, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline_ms);
        if (w == 0) {
            snprintf(why, sizeof why, "connect: timeout after %lld ms",
                     (long long)(bff_now_ms() - start));
            return connect_failed(db, conn, why, e);
        }
        if (w < 0) {
            snprintf(why, sizeof why, "connect: poll: %s", strerror(errno));
            return connect_failed(db, conn, why, e);
        }
        st = PQconnectPoll(conn);
    }

    PQsetNoticeProcessor(conn, notice_cb, NULL);
    db->conn = conn;
    db->gen = next_gen();
    if (db->retry_at_ms != 0)
        bff_log_info(NULL, "database reconnected");
    db->retry_at_ms = 0;
    db->last_error[0] = '\0';
    return 0;
}

int bff_db_ensure_until(struct bff_db *db, int64_t deadline_ms, struct bff_error *e)
{
    if (db->conn != NULL && PQstatus(db->conn) == CONNECTION_OK)
        return 0;
    if (db->conn != NULL) {
        bff_log_warn(NULL, "database connection lost", "error", PQerrorMessage(db->conn));
        drop(db);
    }
    /* Reconnecting mid-transaction would run the rest of it in autocommit
     * on a new session: refuse until the caller rolls back. */
    if (db->in_tx) {
        bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "connection lost inside a transaction");
        if (e != NULL)
            snprintf(e->sqlstate, sizeof e->sqlstate, "08006");
        return -1;
    }
    if (db->retry_at_ms != 0 && bff_now_ms() < db->retry_at_ms) {
        bff_error_set(e, BFF_E_UNAVAILABLE, NULL, "%s", db->last_error);
        if (e != NULL)
            snprintf(e->sqlstate, sizeof e->sqlstate, "08001");
        return -1;
    }
    return connect_until(db, deadline_ms, e);
}

int bff_db_ensure(struct bff_db *db, struct bff_error *e)
{
    return bff_db_ensure_until(db, bff_now_ms() + BFF_DB_CONNECT_TIMEOUT_MS, e);
}

enum bff_db_class bff_db_classify(const char *s)
{
    static const char *const retry[] = {"40001", "40P01", "55P03", NULL};
    static const char *const unavailable[] = {
        "57P01", "57P02", "57P03", /* admin/crash shutdown, cannot connect now */
        "53300",                   /* too_many_connections */
        "57014",                   /* query_canceled: statement_timeout → 503 */
        NULL};
    int i;

    if (s == NULL || *s == '\0')
        return BFF_DB_INTERNAL;
    if (strcmp(s, "00000") == 0)
        return BFF_DB_OK;
    for (i = 0; retry[i]; i++)
        if (strcmp(s, retry[i]) == 0)
            return BFF_DB_RETRY;
    if (strncmp(s, "23", 2) == 0 || strcmp(s, BFF_SQLSTATE_CONFLICT) == 0)
        return BFF_DB_CONFLICT;
    if (strcmp(s, BFF_SQLSTATE_BAD_REQUEST) == 0)
        return BFF_DB_BAD_REQUEST;
    if (strcmp(s, BFF_SQLSTATE_NOT_FOUND) == 0)
        return BFF_DB_NOT_FOUND;
    if (strncmp(s, "08", 2) == 0)
        return BFF_DB_UNAVAILABLE;
    for (i = 0; unavailable[i]; i++)
        if (strcmp(s, unavailable[i]) == 0)
            return BFF_DB_UNAVAILABLE;
    return BFF_DB_INTERNAL;
}

/*
 * The class of a filled error. `code` is authoritative, except that RETRY
 * travels as "unavailable" (what the client gets once retries run out) and
 * is told apart by its SQLSTATE.
 */
enum bff_db_class bff_db_error_class(const struct bff_error *e)
{
    if (e == NULL || e->code[0] == '\0')
        return BFF_DB_OK;
    if (e->sqlstate[0] != '\0' && bff_db_classify(e->sqlstate) == BFF_DB_RETRY)
        return BFF_DB_RETRY;
    if (strcmp(e->code, BFF_E_CONFLICT) == 0)
        return BFF_DB_CONFLICT;
    if (strcmp(e->code, BFF_E_UNAVAILABLE) == 0)
        return BFF_DB_UNAVAILABLE;
    if (strcmp(e->code, BFF_E_BAD_REQUEST) == 0)
        return BFF_DB_BAD_REQUEST;
    if (strcmp(e->code, BFF_E_NOT_FOUND) == 0)
        return BFF_DB_NOT_FOUND;
    return BFF_DB_INTERNAL;
}

static const char *class_code(enum bff_db_class c)
{
    switch (c) {
    case BFF_DB_CONFLICT:
        return BFF_E_CONFLICT;
    case BFF_DB_RETRY:
    case BFF_DB_UNAVAILABLE:
        return BFF_E_UNAVAILABLE;
    case BFF_DB_BAD_REQUEST:
        return BFF_E_BAD_REQUEST;
    case BFF_DB_NOT_FOUND:
        return BFF_E_NOT_FOUND;
    default:
        return BFF_E_INTERNAL;
    }
}

/*
 * Turn a failed result (r may be NULL) into e, PQclear it, and drop the
 * connection when it is gone — or is about to be: 08xxx and 57P0x arrive as
 * FATAL just before the server closes the socket.
 */
static void fail(struct bff_db *db, PGresult *r, struct bff_error *e)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
    enum bff_db_class cls = bff_db_classify(state);
    char msg[sizeof e->msg];
    int lost = db->conn == NULL || PQstatus(db->conn) == CONNECTION_BAD || db->timed_out;

    if (state != NULL && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P0", 4) == 0))
        lost = 1;
    if (db->timed_out)
        snprintf(msg, sizeof msg, "no reply from PostgreSQL within %d ms", db->reply_timeout_ms);
    else if (primary != NULL && detail != NULL)
        snprintf(msg, sizeof msg, "%s (%s)", primary, detail);
    else if (primary != NULL)
        snprintf(msg, sizeof msg, "%s", primary);
    else if (r != NULL && PQresultStatus(r) != PGRES_FATAL_ERROR &&
             PQresultStatus(r) != PGRES_NONFATAL_ERROR)
        snprintf(msg, sizeof msg, "unexpected result status %s", PQresStatus(PQresultStatus(r)));
    else
        one_line(msg, sizeof msg, db->conn ? PQerrorMessage(db->conn) : "no connection");

    if (lost)
        cls = BFF_DB_UNAVAILABLE;
    if (cls != BFF_DB_CONFLICT && cls != BFF_DB_BAD_REQUEST && cls != BFF_DB_NOT_FOUND)
        db->errors++;
    if (state != NULL && strncmp(state, "BF", 2) == 0 && primary != NULL) {
        /* Our own client-facing error: the message as raised, the field in
         * DETAIL. */
        snprintf(msg, sizeof msg, "%s", primary);
        bff_error_set(e, class_code(cls), detail, "%s", msg);
    } else {
        bff_error_set(e, class_code(cls), NULL, "%s", msg);
    }
    if (e != NULL)
        snprintf(e->sqlstate, sizeof e->sqlstate, "%s", state ? state : lost ? "08006" : "");
    PQclear(r);
    db->timed_out = 0;
    if (lost && db->conn != NULL) {
        bff_log_warn(NULL, "database connection lost", "error", msg);
        drop(db);
    }
}

/*
 * PQexec's wait for the results of the command just sent (sent: what PQsend*
 * returned), bounded by db->reply_timeout_ms. Returns the last result or the
 * first error, as PQexec does; NULL when nothing could be sent, or when the
 * reply did not come in time (db->timed_out set: fail() then reports the
 * server unavailable and drops the connection, whose state is unknown).
 */
static PGresult *collect(struct bff_db *db, int sent)
{
    int64_t deadline = db->reply_timeout_ms > 0 ? bff_now_ms() + db->reply_timeout_ms : INT64_MAX;
    PGresult *keep = NULL, *r;

    if (!sent)
        return NULL;
    for (;;) {
        while (PQisBusy(db->conn)) {
            if (bff_wait_fd(PQsocket(db->conn), POLLIN, deadline) == 0) {
                PQclear(keep);
                db->timed_out = 1;
                return NULL;
            }
            if (!PQconsumeInput(db->conn))
                break; /* PQgetResult reports the broken connection */
        }
        if ((r = PQgetResult(db->conn)) == NULL)
            break;
        if (keep != NULL && (PQresultStatus(keep) == PGRES_FATAL_ERROR ||
                             PQresultStatus(keep) == PGRES_NONFATAL_ERROR)) {
            PQclear(r); /* keep the first error */
            continue;
        }
        PQclear(keep);
        keep = r;
        if (PQstatus(db->conn) == CONNECTION_BAD)
            break;
    }
    return keep;
}

static PGresult *exec_sql(struct bff_db *db, const char *sql)
{
    return collect(db, PQsendQuery(db->conn, sql));
}

/* A command whose result we only need to be COMMAND_OK (SAVEPOINT, ...). */
static int simple(struct bff_db *db, const char *sql, struct bff_error *e)
{
    PGresult *r = exec_sql(db, sql);

    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        PQclear(r);
        return 0;
    }
    fail(db, r, e);
    return -1;
}

static int is_state(const PGresult *r, const char *want)
{
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);

    return s != NULL && strcmp(s, want) == 0;
}

/*
 * Prepare st on this connection unless it already is (st->gen == db->gen).
 * 42P05 (duplicate_prepared_statement: the same bff_stmt ran on this
 * connection, then on another, and is back) counts as prepared. Inside a
 * transaction that error would abort it, so there the attempt runs under a
 * savepoint; it happens once per statement per connection at most.
 */
static int prepare(struct bff_db *db, struct bff_stmt *st, struct bff_error *e)
{
    PGresult *r;
    int in_block;

    if (st->gen == db->gen)
        return 0;
    in_block = PQtransactionStatus(db->conn) == PQTRANS_INTRANS;
    if (in_block && simple(db, "SAVEPOINT bff_prepare", e) < 0)
        return -1;
    r = collect(db, PQsendPrepare(db->conn, st->name, st->sql, st->nparams, NULL));
    if (PQresultStatus(r) == PGRES_COMMAND_OK || is_state(r, "42P05")) {
        int dup = PQresultStatus(r) != PGRES_COMMAND_OK;

        PQclear(r);
        if (in_block && dup && simple(db, "ROLLBACK TO SAVEPOINT bff_prepare", e) < 0)
            return -1;
        if (in_block && simple(db, "RELEASE SAVEPOINT bff_prepare", e) < 0)
            return -1;
        st->gen = db->gen;
        return 0;
    }
    fail(db, r, e);
    if (e != NULL && strcmp(e->code, BFF_E_INTERNAL) == 0) {
        char why[sizeof e->msg];

        snprintf(why, sizeof why, "prepare %.64s: %.400s", st->name, e->msg);
        snprintf(e->msg, sizeof e->msg, "%s", why);
    }
    return -1;
}

/*
 * Run st (prepared, with params) or sql (simple protocol) and return a
 * successful result, or NULL with e. When the connection turns out to be
 * dead and we were not inside a transaction, try once more on a fresh one:
 * after a PostgreSQL restart the first statement of every process meets the
 * old, closed socket, and it should cost the client nothing.
 *
 * XXX: if the server dies after committing an autocommit statement but
 * before answering, the retry runs it twice. Anything that must happen once
 * runs inside a transaction, which is never retried here.
 */
static PGresult *run(struct bff_db *db, struct bff_stmt *st, const char *sql,
                     const char *const *params, struct bff_error *e)
{
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        PGresult *r;
        ExecStatusType s;
        int64_t t0;
        int idle, timed;

        if (bff_db_ensure(db, e) < 0)
            return NULL;
        idle = !db->in_tx && PQtransactionStatus(db->conn) == PQTRANS_IDLE;
        if (st != NULL && prepare(db, st, e) < 0) {
            if (db->conn == NULL && idle && attempt == 0) {
                if (e != NULL)
                    bff_error_clear(e);
                continue;
            }
            return NULL;
        }
        t0 = bff_now_us();
        if (st != NULL)
            r = collect(db, PQsendQueryPrepared(db->conn, st->name, st->nparams, params, NULL,
                                                NULL, 0));
        else
            r = exec_sql(db, sql);
        db->sql_us += bff_now_us() - t0;
        s = PQresultStatus(r);
        if (r != NULL && (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK ||
                          (st == NULL && s == PGRES_EMPTY_QUERY)))
            return r;
        timed = db->timed_out;
        fail(db, r, e);
        /* Not after a timeout: a frozen server would only stall us again,
         * and the statement may have run. */
        if (db->conn == NULL && idle && attempt == 0 && !timed) {
            bff_log_info(NULL, "retrying statement on a new connection", "statement",
                         st ? st->name : sql);
            if (e != NULL)
                bff_error_clear(e);
            continue;
        }
        return NULL;
    }
    return NULL;
}

PGresult *bff_db_exec(struct bff_db *db, struct bff_stmt *st, const char *const *params,
                      struct bff_error *e)
{
    return run(db, st, NULL, params, e);
}

static void clear_result(void *r)
{
    PQclear(r);
}

PGresult *bff_db_query(struct bff_db *db, struct bff_arena *a, struct bff_stmt *st,
                       const char *const *params, struct bff_error *e)
{
    PGresult *r = run(db, st, NULL, params, e);

    if (r != NULL && a != NULL)
        bff_arena_cleanup(a, clear_result, r);
    return r;
}

int bff_db_exec_sql(struct bff_db *db, const char *sql, struct bff_error *e)
{
    PGresult *r = run(db, NULL, sql, NULL, e);

    if (r == NULL)
        return -1;
    PQclear(r);
    return 0;
}

int bff_db_begin(struct bff_db *db, struct bff_error *e)
{
    if (db->in_tx)
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "BEGIN inside a transaction");
    if (bff_db_exec_sql(db, "BEGIN", e) < 0)
        return -1;
    db->in_tx = 1;
    return 0;
}

/*
 * COMMIT. A transaction that had failed answers COMMIT with the command tag
 * ROLLBACK and no error: report that as an error too (25P02). When the
 * connection dies during COMMIT the outcome is unknown: "unavailable".
 */
int bff_db_commit(struct bff_db *db, struct bff_error *e)
{
    PGresult *r = run(db, NULL, "COMMIT", NULL, e);
    int rc = 0;

    db->in_tx = 0;
    if (r == NULL)
        return -1;
    if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
        rc = bff_error_set(e, BFF_E_INTERNAL, NULL,
                           "transaction was aborted; COMMIT rolled it back");
        if (e != NULL)
            snprintf(e->sqlstate, sizeof e->sqlstate, "25P02");
    }
    PQclear(r);
    return rc;
}

void bff_db_rollback(struct bff_db *db)
{
    db->in_tx = 0;
    if (db->conn == NULL)
        return;
    if (PQstatus(db->conn) != CONNECTION_OK) {
        drop(db);
        return;
    }
    if (PQtransactionStatus(db->conn) != PQTRANS_IDLE) {
        PGresult *r = exec_sql(db, "ROLLBACK");

        db->timed_out = 0;
        if (PQresultStatus(r) != PGRES_COMMAND_OK)
            drop(db); /* cannot trust the session's state any more */
        PQclear(r);
    }
}

const char *bff_db_str(struct bff_arena *a, const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    return bff_arena_strndup(a, PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

int64_t bff_db_int(const PGresult *r, int row, int col)
{
    int64_t v;

    if (PQgetisnull(r, row, col) ||
        bff_parse_int64(PQgetvalue(r, row, col), INT64_MIN, INT64_MAX, &v) < 0)
        return 0;
    return v;
}

int bff_db_bool(const PGresult *r, int row, int col)
{
    return !PQgetisnull(r, row, col) && PQgetvalue(r, row, col)[0] == 't';
}
