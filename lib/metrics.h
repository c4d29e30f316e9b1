/*
 * metrics.h — per-host request metrics in shared memory (SPEC §4 Metrics).
 *
 * Every bff-fcgi process of a host maps one POSIX shared-memory segment
 * (BFF_METRICS_SHM) and adds to it with relaxed atomic increments: no lock,
 * no syscall, no network round trip per request. The segment is divided in
 * named *slots* (the caller's choice: bff-fcgi uses one per route of its
 * route table plus one "unmatched" slot per method) and holds, per slot:
 *
 *   - since the segment was created: requests by status class, a latency
 *     histogram (BFF_MX_BUCKETS fixed buckets), the latency sum and max;
 *   - the same per wall-clock minute, in a ring of BFF_MX_RING minutes, so
 *     "the last 5 minutes" is exact to the minute;
 *
 * plus host-wide counters (cache hits and misses, database errors), also
 * since start and per minute.
 *
 * Lifetime: the first process creates the segment (under an flock on it, so
 * two starting processes never both initialise it); later ones attach, and
 * the segment outlives them all until it is unlinked (scripts/lib/stack.sh
 * removes it with the stack). A header with magic, version, size and a hash
 * of the slot names guards the layout: a process whose route table differs
 * (a new build) unlinks the old segment and creates a fresh one; processes
 * still running the old build keep writing into the old, now nameless, one.
 *
 * Crash safety: every counter is independent, so a process killed between
 * two increments leaves each of them valid. A minute slot of the ring is
 * recycled by the one process that wins a compare-and-swap on its minute
 * stamp (see metrics.c); readers only use slots whose stamp says the minute
 * they want.
 *
 * The clock is passed in (now_s, seconds since the epoch) so tests can move
 * it across minutes.
 */
#ifndef BFF_METRICS_H
#define BFF_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define BFF_MX_RING 16     /* minutes kept per slot */
#define BFF_MX_WINDOW 5    /* minutes in "last 5 minutes" (current included) */
#define BFF_MX_BUCKETS 16  /* latency buckets, the last one +Inf */
#define BFF_MX_NAME_MAX 96 /* bytes of a slot name, NUL included */
#define BFF_MX_MAX_SLOTS 1024

/* Upper bounds (inclusive, milliseconds) of the finite buckets. */
extern const double bff_mx_bounds_ms[BFF_MX_BUCKETS - 1];

/* Totals of one slot (or several added up) over some period. */
struct bff_mx_stats {
    uint64_t status[6];              /* [1]..[5]: 1xx..5xx; [0]: anything else */
    uint64_t bucket[BFF_MX_BUCKETS]; /* per bucket, not cumulative */
    uint64_t count;                  /* = sum of status[] */
    uint64_t sum_us;                 /* latency sum, microseconds */
    uint64_t max_us;                 /* largest latency, microseconds */
};

/* Host-wide counters. */
enum bff_mx_counter { BFF_MX_CACHE_HITS, BFF_MX_CACHE_MISSES, BFF_MX_DB_ERRORS, BFF_MX_NCOUNTERS };

struct bff_metrics; /* a process's mapping; caller frees with bff_metrics_close */

/*
 * Create or attach the segment `name` ("/bff-metrics") laid out for the
 * nslots slot names given (each < BFF_MX_NAME_MAX bytes, copied into the
 * segment). A segment of another layout is replaced (see above). Returns
 * the handle, or NULL with e ("internal", msg naming the call that failed).
 * now_s stamps the creation time of a new segment.
 */
struct bff_metrics *bff_metrics_open(const char *name, const char *const *slots, int nslots,
                                     int64_t now_s, struct bff_error *e);
/*
 * Attach read-only to an existing segment, whatever its slot names (bffctl,
 * which has no route table). NULL with e: "not_found" when there is no
 * segment of that name (no bff-fcgi has run), "internal" otherwise.
 */
struct bff_metrics *bff_metrics_attach(const char *name, struct bff_error *e);
void bff_metrics_close(struct bff_metrics *m);
/* Remove the name (the memory goes when the last mapping does). 0 or -1. */
int bff_metrics_unlink(const char *name);

/*
 * Count one request of `slot` that answered `status` after dur_us
 * microseconds, at now_s. Out-of-range slots are ignored. Lock-free.
 */
void bff_metrics_record(struct bff_metrics *m, int slot, int status, int64_t dur_us, int64_t now_s);
/* Add n to a host-wide counter at now_s. */
void bff_metrics_add(struct bff_metrics *m, enum bff_mx_counter c, uint64_t n, int64_t now_s);
/*
 * Publish a process's own cumulative counters (e.g. struct bff_cache's
 * hits): adds what grew since the previous call on this handle. Call after
 * each request; process-local counters never go into the segment twice.
 */
void bff_metrics_sync(struct bff_metrics *m, const uint64_t local[BFF_MX_NCOUNTERS], int64_t now_s);

int bff_metrics_nslots(const struct bff_metrics *m);
/* Slot i's name (borrowed from the mapping), or NULL when out of range. */
const char *bff_metrics_slot_name(const struct bff_metrics *m, int i);
/* When the segment was created (seconds since the epoch). */
int64_t bff_metrics_created(const struct bff_metrics *m);

/*
 * Read slot `slot` (-1: all slots added up) into out: since the segment was
 * created when minutes is 0, else over the `minutes` minutes ending with
 * the one holding now_s (the current, partial minute included; at most
 * BFF_MX_RING - 2).
 */
void bff_metrics_read(const struct bff_metrics *m, int slot, int minutes, int64_t now_s,
                      struct bff_mx_stats *out);
/* Host-wide counters, same periods. */
void bff_metrics_counters(const struct bff_metrics *m, int minutes, int64_t now_s,
                          uint64_t out[BFF_MX_NCOUNTERS]);

/*
 * The q-quantile (0 < q <= 1) of a histogram in milliseconds, or -1 when it
 * holds no request. Linear interpolation inside the bucket that holds the
 * rank, whose upper edge is capped by the observed max: the error is at
 * most that bucket's width (see docs/metrics.md).
 */
double bff_mx_quantile(const struct bff_mx_stats *s, double q);

/* Thresholds of the runbook's "Métricas de Aplicación" table. */
enum bff_mx_level { BFF_MX_NORMAL, BFF_MX_WARNING, BFF_MX_CRITICAL };

struct bff_mx_threshold {
    const char *name;     /* "response_time_ms" */
    int higher_is_better; /* 0: normal_below/critical_above; 1: normal_above/critical_below */
    double normal;        /* normal strictly inside this bound */
    double critical;      /* critical strictly beyond this bound */
};

/*
 * normal inside the normal bound, critical beyond the critical bound,
 * warning in between — a value exactly on either bound is warning; no value
 * (has_value 0) is normal.
 */
enum bff_mx_level bff_mx_classify(const struct bff_mx_threshold *t, int has_value, double v);
const char *bff_mx_level_name(enum bff_mx_level l); /* "normal" ... */

#endif
