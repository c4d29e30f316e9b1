#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bff_buf_reset(struct bff_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void bff_buf_free(struct bff_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

void bff_buf_reserve(struct bff_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    size_t cap;
    char *p;

    if (need <= b->cap)
        return;
    cap = b->cap ? b->cap : 1024;
    while (cap < need)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL) {
        fputs("bff: out of memory\n", stderr);
        abort();
    }
    b->data = p;
    b->cap = cap;
}

void bff_buf_append(struct bff_buf *b, const void *data, size_t n)
{
    bff_buf_reserve(b, n);
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void bff_buf_puts(struct bff_buf *b, const char *s)
{
    bff_buf_append(b, s, strlen(s));
}

void bff_buf_putc(struct bff_buf *b, char c)
{
    bff_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void bff_buf_vprintf(struct bff_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n <= 0)
        return;
    bff_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void bff_buf_printf(struct bff_buf *b, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    bff_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

const char *bff_buf_cstr(const struct bff_buf *b)
{
    return b->data ? b->data : "";
}
