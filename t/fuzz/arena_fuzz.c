/*
 * arena_fuzz.c — lib/arena.h for the fuzz builds only: every allocation is
 * its own malloc, so AddressSanitizer knows where each one ends.
 *
 * lib/arena.c carves allocations out of 64 KiB blocks; a parser that
 * writes one byte past an arena string lands in the next allocation and
 * ASan cannot tell. `make fuzz` links this file instead of lib/arena.c
 * (same interface and behaviour: cleanups newest first, reset frees all,
 * allocation failure aborts). The replay in `make check` uses the real one.
 */
#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cleanup {
    void (*fn)(void *);
    void *data;
};

struct bff_arena {
    void **ptrs; /* every allocation since the last reset */
    size_t n, cap;
    struct cleanup *cleanups;
    size_t ncleanups, cleanupcap;
    size_t total;
};

static void *xrealloc(void *p, size_t n)
{
    if ((p = realloc(p, n ? n : 1)) == NULL) {
        fputs("bff: out of memory\n", stderr);
        abort();
    }
    return p;
}

struct bff_arena *bff_arena_new(void)
{
    struct bff_arena *a = xrealloc(NULL, sizeof *a);

    memset(a, 0, sizeof *a);
    return a;
}

void bff_arena_reset(struct bff_arena *a)
{
    size_t i;

    while (a->ncleanups > 0) {
        struct cleanup c = a->cleanups[--a->ncleanups]; /* unlinked before it runs */

        c.fn(c.data);
    }
    for (i = 0; i < a->n; i++)
        free(a->ptrs[i]);
    a->n = 0;
    a->total = 0;
}

void bff_arena_free(struct bff_arena *a)
{
    if (a == NULL)
        return;
    bff_arena_reset(a);
    free(a->ptrs);
    free(a->cleanups);
    free(a);
}

void *bff_arena_alloc(struct bff_arena *a, size_t n)
{
    void *p;

    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->ptrs = xrealloc(a->ptrs, a->cap * sizeof *a->ptrs);
    }
    /* exactly n bytes (malloc(0) is a zero-sized chunk under ASan) */
    if ((p = malloc(n)) == NULL && (n != 0 || (p = malloc(1)) == NULL)) {
        fputs("bff: out of memory\n", stderr);
        abort();
    }
    a->ptrs[a->n++] = p;
    a->total += n;
    return p;
}

void *bff_arena_calloc(struct bff_arena *a, size_t n)
{
    void *p = bff_arena_alloc(a, n);

    memset(p, 0, n);
    return p;
}

char *bff_arena_strndup(struct bff_arena *a, const char *s, size_t n)
{
    char *p = bff_arena_alloc(a, n + 1);

    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *bff_arena_strdup(struct bff_arena *a, const char *s)
{
    return bff_arena_strndup(a, s, strlen(s));
}

char *bff_arena_vsprintf(struct bff_arena *a, const char *fmt, va_list ap)
{
    va_list cp;
    int n;
    char *p;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        n = 0;
    p = bff_arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *bff_arena_sprintf(struct bff_arena *a, const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = bff_arena_vsprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

void bff_arena_cleanup(struct bff_arena *a, void (*fn)(void *), void *data)
{
    if (a->ncleanups == a->cleanupcap) {
        a->cleanupcap = a->cleanupcap ? a->cleanupcap * 2 : 8;
        a->cleanups = xrealloc(a->cleanups, a->cleanupcap * sizeof *a->cleanups);
    }
    a->cleanups[a->ncleanups].fn = fn;
    a->cleanups[a->ncleanups].data = data;
    a->ncleanups++;
}

size_t bff_arena_used(const struct bff_arena *a)
{
    return a->total;
}
