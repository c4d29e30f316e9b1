#include "arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_SIZE (64 * 1024)
#define ALIGN 16

struct block {
    struct block *next;
    size_t size, used;
    /* payload follows, aligned */
    _Alignas(ALIGN) unsigned char data[];
};

struct cleanup {
    struct cleanup *next;
    void (*fn)(void *);
    void *data;
};

struct bff_arena {
    struct block *head;     /* current block; the first block is at the tail */
    struct cleanup *cleanups;
    size_t total;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);

    if (p == NULL) {
        fputs("bff: out of memory\n", stderr);
        abort();
    }
    return p;
}

static struct block *block_new(size_t size)
{
    struct block *b = xmalloc(sizeof *b + size);

    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

struct bff_arena *bff_arena_new(void)
{
    struct bff_arena *a = xmalloc(sizeof *a);

    a->head = block_new(BLOCK_SIZE);
    a->cleanups = NULL;
    a->total = 0;
    return a;
}

static void run_cleanups(struct bff_arena *a)
{
    while (a->cleanups) {
        struct cleanup *c = a->cleanups;

        a->cleanups = c->next;   /* unlink first: a cleanup may not re-run */
        c->fn(c->data);
    }
}

void bff_arena_reset(struct bff_arena *a)
{
    run_cleanups(a);
    while (a->head->next) {
        struct block *b = a->head;

        a->head = b->next;
        free(b);
    }
    a->head->used = 0;
    a->total = 0;
}

void bff_arena_free(struct bff_arena *a)
{
    if (a == NULL)
        return;
    bff_arena_reset(a);
    free(a->head);
    free(a);
}

#ifdef BFF_ARENA_SANITIZE
/*
 * Fuzz builds (t/fuzz/build): every allocation is a block of its own of
 * exactly n bytes, so AddressSanitizer sees where each one ends; carved out
 * of a shared 64 KiB block, a one-byte overrun would land unnoticed in the
 * next allocation. Reset and cleanups work unchanged.
 */
void *bff_arena_alloc(struct bff_arena *a, size_t n)
{
    struct block *b = block_new(n);

    b->used = b->size;
    b->next = a->head;
    a->head = b;
    a->total += n;
    return b->data;
}
#else
void *bff_arena_alloc(struct bff_arena *a, size_t n)
{
    struct block *b = a->head;
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    void *p;

    if (need < n) {           /* overflow */
        fputs("bff: arena request too large\n", stderr);
        abort();
    }
    if (b->size - b->used < need) {
        size_t size = need > BLOCK_SIZE ? need : BLOCK_SIZE;

        b = block_new(size);
        b->next = a->head;
        a->head = b;
    }
    p = b->data + b->used;
    b->used += need;
    a->total += need;
    return p;
}
#endif

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
    struct cleanup *c = bff_arena_alloc(a, sizeof *c);

    c->fn = fn;
    c->data = data;
    c->next = a->cleanups;
    a->cleanups = c;
}

size_t bff_arena_used(const struct bff_arena *a)
{
    return a->total;
}
