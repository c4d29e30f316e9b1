/*
 * log.c — JSON lines, one write(2) each.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "jsonw.h"
#include "util.h"

static int log_fd = 2;       /* stderr until opened */
static int err_fd = -1;
static enum bff_log_level min_level = BFF_LOG_INFO;
static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

static int open_append(const char *path, const char *var, struct bff_error *e)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);

    if (fd < 0)
        bff_error_set(e, BFF_E_INTERNAL, var, "%s: cannot open %s: %s", var, path,
                      strerror(errno));
    return fd;
}

int bff_log_open(const struct bff_config *c, struct bff_error *e)
{
    int fd;

    min_level = c->log_level;
    if (c->log_file && *c->log_file) {
        if ((fd = open_append(c->log_file, "BFF_LOG_FILE", e)) < 0)
            return -1;
        if (log_fd > 2)
            close(log_fd);
        log_fd = fd;
    }
    if (c->error_log_file && *c->error_log_file) {
        if ((fd = open_append(c->error_log_file, "BFF_ERROR_LOG_FILE", e)) < 0)
            return -1;
        if (err_fd >= 0)
            close(err_fd);
        err_fd = fd;
    }
    return 0;
}

void bff_log_close(void)
{
    if (log_fd > 2)
        close(log_fd);
    if (err_fd >= 0)
        close(err_fd);
    log_fd = 2;
    err_fd = -1;
}

void bff_log_set_level(enum bff_log_level lvl)
{
    min_level = lvl;
}

int bff_log_enabled(enum bff_log_level lvl)
{
    return lvl >= min_level;
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;   /* nowhere left to report a logging failure */
        }
        p += w;
        n -= (size_t)w;
    }
}

void bff_log(enum bff_log_level lvl, const char *request_id, const char *msg, ...)
{
    static struct bff_buf b = BFF_BUF_INIT;   /* per process; reused */
    struct bff_jw w;
    char ts[40];
    const char *k;
    va_list ap;

    if (lvl < min_level)
        return;
    bff_buf_reset(&b);
    bff_utc_now(ts, sizeof ts);
    bff_jw_init(&w, &b);
    bff_jw_obj(&w);
    bff_jw_kstr(&w, "ts", ts);
    bff_jw_kstr(&w, "level", level_names[lvl]);
    bff_jw_kstr(&w, "msg", msg);
    if (request_id)
        bff_jw_kstr(&w, "request_id", request_id);
    bff_jw_kint(&w, "pid", (int64_t)getpid());
    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);

        if (k[0] == '#') {
            bff_jw_key(&w, k + 1);
            if (v && *v)
                bff_jw_raw(&w, v, strlen(v));
            else
                bff_jw_null(&w);
        } else {
            bff_jw_kstr(&w, k, v);
        }
    }
    va_end(ap);
    bff_jw_end(&w);
    bff_buf_putc(&b, '\n');
    write_all(log_fd, b.data, b.len);
    if (lvl == BFF_LOG_ERROR && err_fd >= 0)
        write_all(err_fd, b.data, b.len);
}
