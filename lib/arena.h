/*
 * arena.h — one arena per request (nginx's r->pool, kcgi's per-loop free).
 *
 * Everything a request allocates comes from its arena and is released once by
 * bff_arena_reset() at the end of the accept loop; nothing frees arena memory
 * by hand. Non-memory resources (a PGresult, a yajl handle) are registered
 * with bff_arena_cleanup() and run, newest first, by reset/free.
 * Allocation failure aborts: a process that cannot get memory cannot answer.
 */
#ifndef BFF_ARENA_H
#define BFF_ARENA_H

#include <stdarg.h>
#include <stddef.h>

struct bff_arena;

/* A new arena; caller frees with bff_arena_free. */
struct bff_arena *bff_arena_new(void);
/* Run cleanups and release every block but the first (kept for reuse). */
void bff_arena_reset(struct bff_arena *a);
void bff_arena_free(struct bff_arena *a);

/* Arena memory, aligned for any type; zeroed by bff_arena_calloc. */
void *bff_arena_alloc(struct bff_arena *a, size_t n);
void *bff_arena_calloc(struct bff_arena *a, size_t n);
char *bff_arena_strdup(struct bff_arena *a, const char *s);
char *bff_arena_strndup(struct bff_arena *a, const char *s, size_t n);
char *bff_arena_sprintf(struct bff_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *bff_arena_vsprintf(struct bff_arena *a, const char *fmt, va_list ap);

/* Register fn(data) to run when the arena is reset or freed. */
void bff_arena_cleanup(struct bff_arena *a, void (*fn)(void *), void *data);

/* Bytes handed out since the last reset (tests, metrics). */
size_t bff_arena_used(const struct bff_arena *a);

#endif
