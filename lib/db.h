/*
 * db.h — the PostgreSQL layer: one connection per process.
 *
 * Statements are declared once, as data, by the module that uses them
 *     static struct bff_stmt get_product = {"product_get",
 *         "SELECT ... WHERE id = $1", 1};
 * and prepared lazily the first time they run on a connection (pgbench's
 * prepareCommand). A reconnect bumps the connection's generation, so every
 * statement is prepared again on the new connection. Values only ever travel
 * as parameters; no SQL is built by pasting.
 *
 * Every session runs with TimeZone=UTC, statement_timeout, lock_timeout and
 * idle_in_transaction_session_timeout from the configuration.
 */
#ifndef BFF_DB_H
#define BFF_DB_H

#include <libpq-fe.h>
#include <stdint.h>

#include "arena.h"
#include "config.h"
#include "error.h"

struct bff_stmt {
    const char *name;   /* unique statement name */
    const char *sql;
    int nparams;
    unsigned gen;       /* connection generation it was prepared on (internal) */
};

struct bff_db {
    PGconn *conn;           /* NULL when not connected */
    const char *conninfo;   /* borrowed */
    unsigned gen;           /* bumped on every (re)connect; never 0 once connected */
    int in_tx;              /* inside BEGIN .. COMMIT/ROLLBACK */
    const struct bff_config *cfg;
    int reply_timeout_ms;   /* 0: wait for PostgreSQL's reply as long as it
                               takes. Else a reply that has not come after
                               this long drops the connection ("unavailable"):
                               the server is frozen or cut off, since a live
                               one enforces statement_timeout itself. bff-fcgi
                               sets statement_timeout + 1 s; bffctl and the
                               worker, whose statements may run long, keep 0. */
    /* internal, managed by db.c: */
    const char *app_name;   /* application_name; NULL = program name */
    int timed_out;          /* the last reply did not come within
                               reply_timeout_ms */
    int64_t retry_at_ms;    /* after a failed connect: no new attempt before
                               this (bff_now_ms); 0 while connected/healthy */
    char last_error[256];   /* why the last connect failed (for back-off) */
    /* Process-local counters, published by bff-fcgi into the metrics
     * segment after each request (lib/metrics.h): */
    uint64_t errors;        /* failed connects and statements, except the
                               client's own faults (conflict, BF4xx) */
    int64_t sql_us;         /* time spent waiting for PostgreSQL */
};

/* A connect is bounded by this, whatever libpq's connect_timeout says. */
#define BFF_DB_CONNECT_TIMEOUT_MS 2000
/* After a failed connect, further attempts wait this long, so a process
 * whose database is down answers 503 at once instead of dialling on every
 * statement. */
#define BFF_DB_RECONNECT_BACKOFF_MS 500

/* What a caller should do about a failed statement (pgbench's
 * getSQLErrorStatus): retry the whole transaction, report a conflict,
 * report the database unavailable (503), or an internal error (500). */
enum bff_db_class {
    BFF_DB_OK,
    BFF_DB_RETRY,        /* 40001 serialization, 40P01 deadlock, 55P03 lock timeout */
    BFF_DB_CONFLICT,     /* 23505 unique, 23514 check, 23503 FK, 23P01 exclusion */
    BFF_DB_UNAVAILABLE,  /* connection lost/refused, 57P01..57P03, 08xxx, 57014 cancel */
    BFF_DB_INTERNAL,
    BFF_DB_BAD_REQUEST,  /* BF400: raised by our SQL functions; DETAIL = field */
    BFF_DB_NOT_FOUND     /* BF404 (BF409 is BFF_DB_CONFLICT) */
};

void bff_db_init(struct bff_db *db, const struct bff_config *cfg, const char *conninfo);
/* application_name for the next connection (borrowed; e.g. "bff-fcgi");
 * default is the program's name. The conninfo's own application_name wins. */
void bff_db_set_application_name(struct bff_db *db, const char *name);
/* Connect if not connected or the connection is bad. 0, or -1 with e
 * (code "unavailable"). Cheap when the connection is fine. A connect takes
 * at most BFF_DB_CONNECT_TIMEOUT_MS; within BFF_DB_RECONNECT_BACKOFF_MS of
 * a failed one it fails at once without dialling. Refuses (-1) while a
 * transaction whose connection was lost has not been rolled back. */
int bff_db_ensure(struct bff_db *db, struct bff_error *e);
/* Same, but a connect gives up at deadline_ms (bff_now_ms clock). */
int bff_db_ensure_until(struct bff_db *db, int64_t deadline_ms, struct bff_error *e);
/* Drop the connection (if any); the next ensure reconnects. */
void bff_db_close(struct bff_db *db);

/*
 * bff's own SQLSTATEs, raised by the functions in schema/ for errors the
 * client caused (`RAISE EXCEPTION '...' USING ERRCODE = 'BF409',
 * DETAIL = 'lines[0].quantity'`): BF400 → "bad_request", BF404 →
 * "not_found", BF409 → "conflict". For these e->msg is the exception's
 * message alone (it is meant for the client) and e->field its DETAIL.
 */
#define BFF_SQLSTATE_BAD_REQUEST "BF400"
#define BFF_SQLSTATE_NOT_FOUND "BF404"
#define BFF_SQLSTATE_CONFLICT "BF409"

/*
 * Run a declared statement with text parameters (NULL entries are SQL NULL).
 * Returns a result whose status is PGRES_TUPLES_OK or PGRES_COMMAND_OK; the
 * caller PQclear()s it — or passes an arena to bff_db_query, which does so at
 * reset. On failure returns NULL, fills e (sqlstate set; code from the class:
 * "conflict", "unavailable" or "internal", or a BF4xx code above; a RETRY
 * class error has code "unavailable") and, when the connection broke,
 * drops it so the next bff_db_ensure reconnects. A connection-level failure
 * outside a transaction is retried once on a fresh connection (so a
 * PostgreSQL restart costs the next request nothing); inside one (in_tx)
 * it is reported, and every later statement fails until bff_db_rollback.
 *
 * A bff_stmt records one generation, so a statement shared by several
 * connections is re-prepared when it moves between them (42P05 counts as
 * prepared). Statement structs are not thread-safe: threads each need
 * their own bff_db *and* their own bff_stmt copies.
 */
PGresult *bff_db_exec(struct bff_db *db, struct bff_stmt *st,
                      const char *const *params, struct bff_error *e);
PGresult *bff_db_query(struct bff_db *db, struct bff_arena *a, struct bff_stmt *st,
                       const char *const *params, struct bff_error *e);

/* Run literal SQL with no parameters (BEGIN, COMMIT, migrations; several
 * statements allowed). 0 or -1. Same retry rule as bff_db_exec. */
int bff_db_exec_sql(struct bff_db *db, const char *sql, struct bff_error *e);
int bff_db_begin(struct bff_db *db, struct bff_error *e);   /* sets in_tx */
/* Clears in_tx. -1 also when the transaction had failed (PostgreSQL answers
 * COMMIT with ROLLBACK: sqlstate 25P02), and "unavailable" when the
 * connection died during COMMIT (outcome unknown). */
int bff_db_commit(struct bff_db *db, struct bff_error *e);
void bff_db_rollback(struct bff_db *db);   /* never fails; drops a broken conn */

enum bff_db_class bff_db_classify(const char *sqlstate);
enum bff_db_class bff_db_error_class(const struct bff_error *e);

/* Accessors that copy out of a result: an arena string, or NULL for SQL NULL. */
const char *bff_db_str(struct bff_arena *a, const PGresult *r, int row, int col);
int64_t bff_db_int(const PGresult *r, int row, int col);  /* 0 for NULL */
int bff_db_bool(const PGresult *r, int row, int col);    /* 't' → 1 */

#endif
