/*
 * util.h — small helpers shared by every program.
 */
#ifndef BFF_UTIL_H
#define BFF_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in milliseconds / microseconds. */
int64_t bff_now_ms(void);
int64_t bff_now_us(void);

/* The one bounded integer parser (never atoi): the whole of s must be an
 * optionally signed decimal integer within [min, max]. 0 or -1. */
int bff_parse_int64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Wait for events on fd until the monotonic deadline_ms (bff_now_ms):
 * the revents (> 0), 0 on timeout, -1 on a poll error. EINTR is retried. */
int bff_wait_fd(int fd, short events, int64_t deadline_ms);

/* Current UTC time as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (>= 32 bytes). */
void bff_utc_now(char *out, size_t n);

/* Fill out with n random bytes from the kernel; 0 or -1. */
int bff_random_bytes(void *out, size_t n);

/* 1 when s is 1..max chars of [A-Za-z0-9._-] (SKUs, codes, request ids). */
int bff_is_code(const char *s, size_t max);

#endif
