/*
 * log.h — JSON-lines logging (SPEC §8).
 *
 * One line per event: {"ts":"2026-11-28T05:41:11.123Z","level":"ERROR",
 * "msg":"...","request_id":"...", ...extra}. Level names are upper case so
 * the runbook's `grep -c "ERROR"` counts errors. Lines go to BFF_LOG_FILE
 * (stderr when unset); ERROR lines also to BFF_ERROR_LOG_FILE. Each line is
 * written with one write(2) on an O_APPEND descriptor, so lines from several
 * processes never interleave.
 */
#ifndef BFF_LOG_H
#define BFF_LOG_H

#include "config.h"

/* Open the files named by the configuration; -1 with e on failure. */
int bff_log_open(const struct bff_config *c, struct bff_error *e);
void bff_log_close(void);
void bff_log_set_level(enum bff_log_level lvl);
int bff_log_enabled(enum bff_log_level lvl);

/*
 * Log msg. request_id may be NULL. `extra` is a list of key/value string
 * pairs ending in NULL; values are JSON-escaped strings, except keys that
 * start with '#', whose values are written raw (numbers): "#duration_ms","12".
 */
void bff_log(enum bff_log_level lvl, const char *request_id, const char *msg, ...)
    __attribute__((sentinel));

#define bff_log_error(rid, msg, ...) bff_log(BFF_LOG_ERROR, rid, msg, ##__VA_ARGS__, (char *)NULL)
#define bff_log_warn(rid, msg, ...) bff_log(BFF_LOG_WARN, rid, msg, ##__VA_ARGS__, (char *)NULL)
#define bff_log_info(rid, msg, ...) bff_log(BFF_LOG_INFO, rid, msg, ##__VA_ARGS__, (char *)NULL)
#define bff_log_debug(rid, msg, ...) bff_log(BFF_LOG_DEBUG, rid, msg, ##__VA_ARGS__, (char *)NULL)

#endif
