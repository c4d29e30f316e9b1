/*
 * buf.h — a growable byte buffer (heap, not arena).
 *
 * Response bodies and log lines are built in a bff_buf that lives for the
 * process and is bff_buf_reset() between requests, so steady-state requests
 * allocate nothing for their output. The data is always NUL-terminated.
 * Allocation failure aborts (see arena.h).
 */
#ifndef BFF_BUF_H
#define BFF_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct bff_buf {
    char *data;   /* owned; NUL-terminated; NULL until first append */
    size_t len;
    size_t cap;
};

#define BFF_BUF_INIT {NULL, 0, 0}

void bff_buf_reset(struct bff_buf *b);            /* len = 0, keeps memory */
void bff_buf_free(struct bff_buf *b);
void bff_buf_reserve(struct bff_buf *b, size_t extra);
void bff_buf_append(struct bff_buf *b, const void *data, size_t n);
void bff_buf_puts(struct bff_buf *b, const char *s);
void bff_buf_putc(struct bff_buf *b, char c);
void bff_buf_printf(struct bff_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bff_buf_vprintf(struct bff_buf *b, const char *fmt, va_list ap);
/* The contents as a C string ("" when empty); borrowed until the next write. */
const char *bff_buf_cstr(const struct bff_buf *b);

#endif
