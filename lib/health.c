/*
 * health.c — the checks behind /health/ (SPEC §4 Health).
 *
 * "Health never hangs": every wait below is a poll() against one deadline
 * fixed when the check starts, so a frozen server (SIGSTOP: the kernel
 * still accepts its TCP connections, nobody answers) costs timeout_ms and
 * no more.
 */
#include "health.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"

static void set_result(struct bff_check *out, const char *status, int64_t start, const char *error)
{
    out->status = status;
    out->latency_ms = bff_now_ms() - start;
    snprintf(out->error, sizeof out->error, "%s", error ? error : "");
}

/* ---- database ---------------------------------------------------------- */

enum { Q_OK, Q_LOST, Q_TIMEOUT, Q_FAILED };

/*
 * SELECT 1 on db's connection with the async API, never waiting past
 * deadline_ms. Q_LOST means the connection was already dead (worth one retry
 * on a new one); on Q_TIMEOUT the connection is dropped — a query is still
 * in flight on it, and PQcancel would itself block on a frozen server.
 */
static int select_one(struct bff_db *db, int64_t deadline_ms, char *err, size_t n)
{
    PGconn *conn = db->conn;
    int fd = PQsocket(conn), got = 0, failed = 0, f, w;
    PGresult *r;

    if (PQsetnonblocking(conn, 1) != 0 || !PQsendQuery(conn, "SELECT 1")) {
        snprintf(err, n, "%s", PQerrorMessage(conn));
        goto lost;
    }
    while ((f = PQflush(conn)) != 0) {
        if (f < 0) {
            snprintf(err, n, "%s", PQerrorMessage(conn));
            goto lost;
        }
        w = bff_wait_fd(fd, POLLIN | POLLOUT, deadline_ms);
        if (w == 0)
            goto timeout;
        if ((w < 0 || (w & POLLIN)) && !PQconsumeInput(conn)) {
            snprintf(err, n, "%s", PQerrorMessage(conn));
            goto lost;
        }
    }
    for (;;) {
        while (PQisBusy(conn)) {
            w = bff_wait_fd(fd, POLLIN, deadline_ms);
            if (w == 0)
                goto timeout;
            if (!PQconsumeInput(conn)) {
                snprintf(err, n, "%s", PQerrorMessage(conn));
                goto lost;
            }
        }
        r = PQgetResult(conn);
        if (r == NULL)
            break;
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
            strcmp(PQgetvalue(r, 0, 0), "1") == 0) {
            got = 1;
        } else if (!failed) {
            snprintf(err, n, "%s", PQresultErrorMessage(r));
            failed = 1;
        }
        PQclear(r);
    }
    if (PQstatus(conn) != CONNECTION_OK)
        goto lost;
    PQsetnonblocking(conn, 0);
    if (got && !failed)
        return Q_OK;
    if (!failed)
        snprintf(err, n, "SELECT 1 returned no row");
    return Q_FAILED;

lost:
    bff_db_close(db);
    return Q_LOST;
timeout:
    bff_db_close(db);
    return Q_TIMEOUT;
}

/* Trim libpq's trailing newline and hint lines: the first line says it. */
static void first_line(char *s)
{
    s[strcspn(s, "\n")] = '\0';
}

/*
 * The database check: connect if needed (bounded by the same deadline) and
 * run SELECT 1. A connection found dead — PostgreSQL restarted since the
 * last request — is retried once on a new one, time permitting, so the
 * check reports the server's state rather than our stale socket's.
 */
void bff_health_database(struct bff_db *db, int timeout_ms, struct bff_check *out)
{
    int64_t start = bff_now_ms(), deadline = start + timeout_ms;
    char err[256] = "";
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        struct bff_error e;
        int q;

        bff_error_clear(&e);
        if (bff_db_ensure_until(db, deadline, &e) < 0) {
            snprintf(err, sizeof err, "%.250s", e.msg);
            break;
        }
        q = select_one(db, deadline, err, sizeof err);
        if (q == Q_OK) {
            set_result(out, "ok", start, NULL);
            return;
        }
        if (q == Q_TIMEOUT) {
            snprintf(err, sizeof err, "timeout after %d ms", timeout_ms);
            break;
        }
        if (q == Q_FAILED)
            break;
    }
    first_line(err);
    set_result(out, "down", start, err[0] ? err : "unknown error");
}

/* ---- cache ------------------------------------------------------------- */

void bff_health_cache(struct bff_cache *c, struct bff_check *out)
{
    int64_t start = bff_now_ms();
    struct bff_error e;

    if (!bff_cache_enabled(c)) {
        set_result(out, "not_configured", start, NULL);
        out->latency_ms = 0;
        return;
    }
    bff_error_clear(&e);
    if (bff_cache_ping(c, &e) == 0)
        set_result(out, "ok", start, NULL);
    else
        set_result(out, "down", start, e.msg);
}

/* ---- SMTP -------------------------------------------------------------- */

/*
 * Non-blocking connect to host:port, trying each address (localhost may be
 * ::1 and 127.0.0.1) until one answers or the deadline passes. fd or -1.
 * XXX: getaddrinfo() itself is not bounded; use an address or a name from
 * /etc/hosts in BFF_SMTP_URL.
 */
static int smtp_connect(const char *host, int port, int64_t deadline_ms, int timeout_ms, char *err,
                        size_t n)
{
    struct addrinfo hints, *res, *ai;
    char service[16];
    int fd = -1, g;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(service, sizeof service, "%d", port);
    g = getaddrinfo(host, service, &hints, &res);
    if (g != 0) {
        snprintf(err, n, "resolve %s: %s", host, gai_strerror(g));
        return -1;
    }
    snprintf(err, n, "connect: no address for %s", host);
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int soerr = 0, w;
        socklen_t len = sizeof soerr;

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            snprintf(err, n, "socket: %s", strerror(errno));
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno != EINPROGRESS) {
            snprintf(err, n, "connect: %s", strerror(errno));
            close(fd);
            fd = -1;
            continue;
        }
        w = bff_wait_fd(fd, POLLOUT, deadline_ms);
        if (w == 0) {
            snprintf(err, n, "timeout after %d ms (connecting)", timeout_ms);
            close(fd);
            fd = -1;
            break; /* no time left for another address */
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
            break;
        snprintf(err, n, "connect: %s", strerror(soerr ? soerr : errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* Copy s into dst for an error message: printable ASCII, at most ~80 chars. */
static void quote(char *dst, size_t n, const char *s, size_t len)
{
    size_t i, o = 0;

    for (i = 0; i < len && o + 1 < n && i < 80; i++)
        dst[o++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    dst[o] = '\0';
}

/*
 * Read one SMTP reply ("250-a\r\n250 b\r\n": continuation lines have '-'
 * after the code) until its last line, never past deadline_ms. Returns the
 * reply code, or -1 with err set; the last line is left in line.
 */
static int smtp_reply(int fd, int64_t deadline_ms, int timeout_ms, const char *what, char *line,
                      size_t linesz, char *err, size_t n)
{
    char buf[1024];
    size_t have = 0;

    for (;;) {
        char *nl;
        ssize_t got;
        int w;

        /* Consume every complete line already buffered. */
        while ((nl = memchr(buf, '\n', have)) != NULL) {
            size_t len = (size_t)(nl - buf) + 1, text = len - 1;
            int code;

            if (text > 0 && buf[text - 1] == '\r')
                text--;
            quote(line, linesz, buf, text);
            if (text < 3 || buf[0] < '0' || buf[0] > '9' || buf[1] < '0' || buf[1] > '9' ||
                buf[2] < '0' || buf[2] > '9' || (text > 3 && buf[3] != ' ' && buf[3] != '-')) {
                snprintf(err, n, "%s: malformed reply: got %s", what, line);
                return -1;
            }
            code = (buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0');
            if (text == 3 || buf[3] == ' ')
                return code;
            memmove(buf, buf + len, have - len);
            have -= len;
        }
        if (have == sizeof buf) {
            snprintf(err, n, "%s: reply line too long", what);
            return -1;
        }
        w = bff_wait_fd(fd, POLLIN, deadline_ms);
        if (w == 0) {
            snprintf(err, n, "timeout after %d ms (waiting for %s)", timeout_ms, what);
            return -1;
        }
        got = recv(fd, buf + have, sizeof buf - have, 0);
        if (got == 0) {
            snprintf(err, n, "%s: connection closed by server", what);
            return -1;
        }
        if (got < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                continue;
            snprintf(err, n, "%s: %s", what, strerror(errno));
            return -1;
        }
        have += (size_t)got;
    }
}

static int smtp_send(int fd, const char *s, int64_t deadline_ms, int timeout_ms, char *err,
                     size_t n)
{
    size_t len = strlen(s), off = 0;

    while (off < len) {
        ssize_t k = send(fd, s + off, len - off, MSG_NOSIGNAL);

        if (k > 0) {
            off += (size_t)k;
            continue;
        }
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(err, n, "send: %s", strerror(errno));
            return -1;
        }
        if (bff_wait_fd(fd, POLLOUT, deadline_ms) == 0) {
            snprintf(err, n, "timeout after %d ms (sending)", timeout_ms);
            return -1;
        }
    }
    return 0;
}

/*
 * Connect, expect the 220 greeting, EHLO → 250, then QUIT (not waited for:
 * the check has learnt what it needed). Down on any deviation, with the
 * server's line in the error ("no 220 greeting: got 554 ...").
 */
void bff_health_smtp(const struct bff_config *cfg, int timeout_ms, struct bff_check *out)
{
    int64_t start = bff_now_ms(), deadline = start + timeout_ms;
    char err[200], line[100];
    int fd, code;

    if (cfg->smtp_url == NULL || cfg->smtp_url[0] == '\0') {
        set_result(out, "not_configured", start, NULL);
        out->latency_ms = 0;
        return;
    }
    fd = smtp_connect(cfg->smtp_host, cfg->smtp_port, deadline, timeout_ms, err, sizeof err);
    if (fd < 0) {
        set_result(out, "down", start, err);
        return;
    }
    code = smtp_reply(fd, deadline, timeout_ms, "greeting", line, sizeof line, err, sizeof err);
    if (code < 0)
        goto down;
    if (code != 220) {
        snprintf(err, sizeof err, "no 220 greeting: got %s", line);
        goto down;
    }
    if (smtp_send(fd, "EHLO bff\r\n", deadline, timeout_ms, err, sizeof err) < 0)
        goto down;
    code = smtp_reply(fd, deadline, timeout_ms, "EHLO reply", line, sizeof line, err, sizeof err);
    if (code < 0)
        goto down;
    if (code != 250) {
        snprintf(err, sizeof err, "EHLO refused: got %s", line);
        goto down;
    }
    (void)send(fd, "QUIT\r\n", 6, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
    set_result(out, "ok", start, NULL);
    return;
down:
    close(fd);
    set_result(out, "down", start, err);
}
