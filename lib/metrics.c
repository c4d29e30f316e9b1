/*
 * metrics.c — the shared-memory metrics segment (see metrics.h).
 *
 * Layout (all uint64_t, naturally aligned; offsets computed from nslots):
 *
 *   struct seg_header
 *   uint64_t stamp[RING]                 minute held by each ring position
 *   uint64_t gtotal[NCOUNTERS]           host-wide counters since creation
 *   uint64_t gring[RING][NCOUNTERS]      ... per minute
 *   char     names[nslots][NAME_MAX]
 *   struct cells total[nslots]           per slot since creation
 *   struct cells ring[RING][nslots]      per slot per minute
 *
 * The ring: minute k lives at position k % RING while stamp[k % RING] == k.
 * Recycling a position for a new minute is: CAS its stamp from the old
 * minute to (k | BUSY), zero the position's cells (every slot and the
 * host-wide counters), then store k with release order. Writers add to a
 * position only once they have read its stamp == k (acquire); while BUSY
 * they wait — the zeroing takes microseconds. A process killed while BUSY
 * would leave the position BUSY forever, so a waiter that has seen BUSY for
 * longer than BUSY_TAKEOVER_MS zeroes it and publishes the stamp itself.
 *
 * To keep that wait off the request path, every record also prepares the
 * position of the *next* minute (one relaxed load when it is already done):
 * while traffic flows, a minute's position is clean before the minute
 * begins, and nobody contends at the boundary. Preparing k+1 during minute
 * k is safe because that position holds minute k+1-RING, which neither
 * writers (they are in minute k) nor readers (they look BFF_MX_WINDOW
 * minutes back at most, and RING - 2 at the very most) still use.
 */
#define _GNU_SOURCE

#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x3154454d464642ULL /* "BFFMET1" */
#define SEG_VERSION 1u
#define BUSY (1ULL << 63)
#define BUSY_TAKEOVER_MS 50

const double bff_mx_bounds_ms[BFF_MX_BUCKETS - 1] = {
    0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 200, 500, 1000, 2500, 5000, 10000,
};

struct cells {
    uint64_t status[6];
    uint64_t bucket[BFF_MX_BUCKETS];
    uint64_t sum_us;
    uint64_t max_us;
};

struct seg_header {
    uint64_t magic; /* written last when the segment is initialised */
    uint64_t version;
    uint64_t size; /* bytes of the whole segment */
    uint64_t nslots;
    uint64_t layout; /* FNV-1a of version, bucket bounds and slot names */
    int64_t created_s;
    uint64_t reserved[2];
};

struct bff_metrics {
    unsigned char *base;
    size_t size;
    int nslots;
    int readonly;
    struct seg_header *h;
    uint64_t *stamp;
    uint64_t *gtotal;
    uint64_t *gring; /* [RING][NCOUNTERS] */
    char *names;
    struct cells *total;
    struct cells *ring;              /* [RING][nslots] */
    uint64_t seen[BFF_MX_NCOUNTERS]; /* bff_metrics_sync's last view */
};

/* ---------------------------------------------------------------- layout */

static size_t seg_size(int nslots)
{
    return sizeof(struct seg_header) + BFF_MX_RING * sizeof(uint64_t) +
           BFF_MX_NCOUNTERS * sizeof(uint64_t) +
           (size_t)BFF_MX_RING * BFF_MX_NCOUNTERS * sizeof(uint64_t) +
           (size_t)nslots * BFF_MX_NAME_MAX + (size_t)nslots * sizeof(struct cells) +
           (size_t)BFF_MX_RING * (size_t)nslots * sizeof(struct cells);
}

static void carve(struct bff_metrics *m, unsigned char *base, int nslots)
{
    unsigned char *p = base;

    m->base = base;
    m->nslots = nslots;
    m->h = (struct seg_header *)p;
    p += sizeof(struct seg_header);
    m->stamp = (uint64_t *)p;
    p += BFF_MX_RING * sizeof(uint64_t);
    m->gtotal = (uint64_t *)p;
    p += BFF_MX_NCOUNTERS * sizeof(uint64_t);
    m->gring = (uint64_t *)p;
    p += (size_t)BFF_MX_RING * BFF_MX_NCOUNTERS * sizeof(uint64_t);
    m->names = (char *)p;
    p += (size_t)nslots * BFF_MX_NAME_MAX;
    m->total = (struct cells *)p;
    p += (size_t)nslots * sizeof(struct cells);
    m->ring = (struct cells *)p;
}

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static uint64_t layout_hash(const char *const *slots, int nslots)
{
    uint64_t h = 0xcbf29ce484222325ULL, v = SEG_VERSION;
    int i;

    h = fnv(h, &v, sizeof v);
    h = fnv(h, bff_mx_bounds_ms, sizeof bff_mx_bounds_ms);
    for (i = 0; i < nslots; i++)
        h = fnv(h, slots[i], strlen(slots[i]) + 1);
    return h;
}

/* ------------------------------------------------------- open / attach */

static int sys_fail(struct bff_error *e, const char *what, const char *name)
{
    return bff_error_set(e, BFF_E_INTERNAL, NULL, "metrics segment %s: %s: %s", name, what,
                         strerror(errno));
}

/* 1 when the name still refers to the file open on fd (nobody replaced it
 * while we waited for the lock). */
static int same_file(const char *name, int fd)
{
    struct stat a, b;
    int fd2 = shm_open(name, O_RDONLY, 0);
    int same;

    if (fd2 < 0)
        return 0;
    same =
        fstat(fd, &a) == 0 && fstat(fd2, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
    close(fd2);
    return same;
}

/* The header says the layout is ours. */
static int header_ok(const struct seg_header *h, size_t size, uint64_t layout, int nslots)
{
    return __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == MAGIC && h->version == SEG_VERSION &&
           h->size == size && h->nslots == (uint64_t)nslots && h->layout == layout;
}

struct bff_metrics *bff_metrics_open(const char *name, const char *const *slots, int nslots,
                                     int64_t now_s, struct bff_error *e)
{
    size_t size;
    uint64_t layout;
    struct bff_metrics *m;
    int attempt, i;

    if (name == NULL || name[0] != '/' || strchr(name + 1, '/') != NULL || nslots < 1 ||
        nslots > BFF_MX_MAX_SLOTS) {
        bff_error_set(e, BFF_E_INTERNAL, NULL,
                      "metrics segment name must be \"/name\" and 1..%d slots", BFF_MX_MAX_SLOTS);
        return NULL;
    }
    for (i = 0; i < nslots; i++)
        if (strlen(slots[i]) >= BFF_MX_NAME_MAX) {
            bff_error_set(e, BFF_E_INTERNAL, NULL, "metrics slot name too long: %s", slots[i]);
            return NULL;
        }
    size = seg_size(nslots);
    layout = layout_hash(slots, nslots);
    if ((m = calloc(1, sizeof *m)) == NULL) {
        bff_error_set(e, BFF_E_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    /* A few rounds at most: each failed one means another process replaced
     * the segment while we waited, or ours was of another layout. */
    for (attempt = 0; attempt < 8; attempt++) {
        struct stat st;
        unsigned char *base;
        int fd = shm_open(name, O_RDWR | O_CREAT, 0600);

        if (fd < 0) {
            sys_fail(e, "shm_open", name);
            break;
        }
        if (flock(fd, LOCK_EX) != 0) {
            sys_fail(e, "flock", name);
            close(fd);
            break;
        }
        if (!same_file(name, fd)) { /* unlinked while we waited */
            close(fd);
            continue;
        }
        if (fstat(fd, &st) != 0) {
            sys_fail(e, "fstat", name);
            close(fd);
            break;
        }
        if (st.st_size != 0 && (size_t)st.st_size != size) {
            shm_unlink(name); /* another layout: start over with a new file */
            close(fd);
            continue;
        }
        if (st.st_size == 0 && ftruncate(fd, (off_t)size) != 0) {
            sys_fail(e, "ftruncate", name);
            close(fd);
            break;
        }
        base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (base == MAP_FAILED) {
            sys_fail(e, "mmap", name);
            close(fd);
            break;
        }
        carve(m, base, nslots);
        m->size = size;
        if (st.st_size == 0 || __atomic_load_n(&m->h->magic, __ATOMIC_ACQUIRE) == 0) {
            /* New (or left half-initialised by a process that died holding
             * the lock): the file is zero-filled by ftruncate. */
            memset(base, 0, size);
            m->h->version = SEG_VERSION;
            m->h->size = size;
            m->h->nslots = (uint64_t)nslots;
            m->h->layout = layout;
            m->h->created_s = now_s;
            for (i = 0; i < nslots; i++)
                snprintf(m->names + (size_t)i * BFF_MX_NAME_MAX, BFF_MX_NAME_MAX, "%s", slots[i]);
            __atomic_store_n(&m->h->magic, MAGIC, __ATOMIC_RELEASE);
        }
        if (!header_ok(m->h, size, layout, nslots)) {
            munmap(base, size);
            shm_unlink(name);
            close(fd);
            continue;
        }
        flock(fd, LOCK_UN);
        close(fd); /* the mapping keeps the memory */
        return m;
    }
    if (e != NULL && e->code[0] == '\0')
        bff_error_set(e, BFF_E_INTERNAL, NULL, "metrics segment %s: replaced too often", name);
    free(m);
    return NULL;
}

struct bff_metrics *bff_metrics_attach(const char *name, struct bff_error *e)
{
    struct bff_metrics *m;
    struct seg_header h;
    struct stat st;
    unsigned char *base;
    int fd;

    if (name == NULL || name[0] != '/') {
        bff_error_set(e, BFF_E_INTERNAL, NULL, "metrics segment name must start with '/'");
        return NULL;
    }
    if ((fd = shm_open(name, O_RDONLY, 0)) < 0) {
        if (errno == ENOENT)
            bff_error_set(e, BFF_E_NOT_FOUND, NULL, "no metrics segment %s (no bff-fcgi has run)",
                          name);
        else
            sys_fail(e, "shm_open", name);
        return NULL;
    }
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof h) {
        bff_error_set(e, BFF_E_INTERNAL, NULL, "metrics segment %s is not initialised", name);
        close(fd);
        return NULL;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
        sys_fail(e, "mmap", name);
        return NULL;
    }
    memcpy(&h, base, sizeof h);
    if (__atomic_load_n(&((struct seg_header *)base)->magic, __ATOMIC_ACQUIRE) != MAGIC ||
        h.version != SEG_VERSION || h.size != (uint64_t)st.st_size || h.nslots < 1 ||
        h.nslots > BFF_MX_MAX_SLOTS || seg_size((int)h.nslots) != h.size) {
        munmap(base, (size_t)st.st_size);
        bff_error_set(e, BFF_E_INTERNAL, NULL,
                      "metrics segment %s has an unknown layout (another bff version?)", name);
        return NULL;
    }
    if ((m = calloc(1, sizeof *m)) == NULL) {
        munmap(base, (size_t)st.st_size);
        bff_error_set(e, BFF_E_INTERNAL, NULL, "out of memory");
        return NULL;
    }
    carve(m, base, (int)h.nslots);
    m->size = (size_t)st.st_size;
    m->readonly = 1;
    return m;
}

void bff_metrics_close(struct bff_metrics *m)
{
    if (m == NULL)
        return;
    munmap(m->base, m->size);
    free(m);
}

int bff_metrics_unlink(const char *name)
{
    return shm_unlink(name) == 0 || errno == ENOENT ? 0 : -1;
}

int bff_metrics_nslots(const struct bff_metrics *m)
{
    return m ? m->nslots : 0;
}

const char *bff_metrics_slot_name(const struct bff_metrics *m, int i)
{
    if (m == NULL || i < 0 || i >= m->nslots)
        return NULL;
    return m->names + (size_t)i * BFF_MX_NAME_MAX;
}

int64_t bff_metrics_created(const struct bff_metrics *m)
{
    return m ? m->h->created_s : 0;
}

/* ------------------------------------------------------------- the ring */

static void add(uint64_t *p, uint64_t n)
{
    __atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static void atomic_max(uint64_t *p, uint64_t v)
{
    uint64_t cur = __atomic_load_n(p, __ATOMIC_RELAXED);

    while (v > cur &&
           !__atomic_compare_exchange_n(p, &cur, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

static void zero_words(uint64_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        __atomic_store_n(&p[i], 0, __ATOMIC_RELAXED);
}

/* Zero ring position pos (every slot's cells and the host-wide counters). */
static void zero_position(struct bff_metrics *m, int pos)
{
    zero_words((uint64_t *)(m->ring + (size_t)pos * (size_t)m->nslots),
               (size_t)m->nslots * sizeof(struct cells) / sizeof(uint64_t));
    zero_words(m->gring + (size_t)pos * BFF_MX_NCOUNTERS, BFF_MX_NCOUNTERS);
}

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Make minute's ring position current and return it, or -1 when that
 * position already belongs to a later minute (a writer so late that its
 * minute has been recycled: its request still counts since start).
 * wait: whether to wait out another process's zeroing (writers of the
 * current minute) or give up at once (preparing the next minute).
 */
static int ring_position(struct bff_metrics *m, uint64_t minute, int wait)
{
    int pos = (int)(minute % BFF_MX_RING);
    uint64_t *stamp = &m->stamp[pos];
    int64_t busy_since = 0;

    for (;;) {
        uint64_t s = __atomic_load_n(stamp, __ATOMIC_ACQUIRE);

        if (s == minute)
            return pos;
        if ((s & ~BUSY) > minute)
            return -1;
        if (s & BUSY) {
            /* Someone is zeroing this position (for our minute or, if we
             * are early, for an older one). */
            if (!wait)
                return -1;
            if (busy_since == 0) {
                busy_since = mono_ms();
            } else if (mono_ms() - busy_since > BUSY_TAKEOVER_MS) {
                /* Its owner died (or stalls): take over. */
                if (__atomic_compare_exchange_n(stamp, &s, minute | BUSY, 0, __ATOMIC_ACQ_REL,
                                                __ATOMIC_ACQUIRE)) {
                    zero_position(m, pos);
                    __atomic_store_n(stamp, minute, __ATOMIC_RELEASE);
                    return pos;
                }
                busy_since = 0;
            }
            continue;
        }
        if (__atomic_compare_exchange_n(stamp, &s, minute | BUSY, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE)) {
            zero_position(m, pos);
            __atomic_store_n(stamp, minute, __ATOMIC_RELEASE);
            return pos;
        }
        /* Lost the race: look again. */
    }
}

/* The position for now_s, preparing the next minute's on the way. */
static int current_position(struct bff_metrics *m, int64_t now_s)
{
    uint64_t minute = now_s > 0 ? (uint64_t)now_s / 60 : 0;
    int pos = ring_position(m, minute, 1);
    int next = (int)((minute + 1) % BFF_MX_RING);

    if (__atomic_load_n(&m->stamp[next], __ATOMIC_RELAXED) != minute + 1)
        ring_position(m, minute + 1, 0);
    return pos;
}

static int bucket_of(int64_t dur_us)
{
    double ms = (double)dur_us / 1000.0;
    int i;

    for (i = 0; i < BFF_MX_BUCKETS - 1; i++)
        if (ms <= bff_mx_bounds_ms[i])
            return i;
    return BFF_MX_BUCKETS - 1;
}

static void add_cells(struct cells *c, int cls, int b, uint64_t us)
{
    add(&c->status[cls], 1);
    add(&c->bucket[b], 1);
    add(&c->sum_us, us);
    atomic_max(&c->max_us, us);
}

void bff_metrics_record(struct bff_metrics *m, int slot, int status, int64_t dur_us, int64_t now_s)
{
    int cls = status >= 100 && status <= 599 ? status / 100 : 0;
    uint64_t us = dur_us > 0 ? (uint64_t)dur_us : 0;
    int b = bucket_of(dur_us), pos;

    if (m == NULL || m->readonly || slot < 0 || slot >= m->nslots)
        return;
    add_cells(&m->total[slot], cls, b, us);
    pos = current_position(m, now_s);
    if (pos >= 0)
        add_cells(&m->ring[(size_t)pos * (size_t)m->nslots + (size_t)slot], cls, b, us);
}

void bff_metrics_add(struct bff_metrics *m, enum bff_mx_counter c, uint64_t n, int64_t now_s)
{
    int pos;

    if (m == NULL || m->readonly || (int)c < 0 || c >= BFF_MX_NCOUNTERS || n == 0)
        return;
    add(&m->gtotal[c], n);
    pos = current_position(m, now_s);
    if (pos >= 0)
        add(&m->gring[(size_t)pos * BFF_MX_NCOUNTERS + c], n);
}

void bff_metrics_sync(struct bff_metrics *m, const uint64_t local[BFF_MX_NCOUNTERS], int64_t now_s)
{
    int i;

    if (m == NULL)
        return;
    for (i = 0; i < BFF_MX_NCOUNTERS; i++) {
        if (local[i] > m->seen[i])
            bff_metrics_add(m, (enum bff_mx_counter)i, local[i] - m->seen[i], now_s);
        m->seen[i] = local[i];
    }
}

/* --------------------------------------------------------------- reading */

static void sum_cells(struct bff_mx_stats *o, const struct cells *c)
{
    uint64_t mx;
    int i;

    for (i = 0; i < 6; i++) {
        uint64_t v = __atomic_load_n(&c->status[i], __ATOMIC_RELAXED);

        o->status[i] += v;
        o->count += v;
    }
    for (i = 0; i < BFF_MX_BUCKETS; i++)
        o->bucket[i] += __atomic_load_n(&c->bucket[i], __ATOMIC_RELAXED);
    o->sum_us += __atomic_load_n(&c->sum_us, __ATOMIC_RELAXED);
    mx = __atomic_load_n(&c->max_us, __ATOMIC_RELAXED);
    if (mx > o->max_us)
        o->max_us = mx;
}

/* Ring positions holding the minutes of the window ending at now_s; n of them. */
static int window_positions(const struct bff_metrics *m, int minutes, int64_t now_s,
                            int pos[BFF_MX_RING])
{
    uint64_t minute = now_s > 0 ? (uint64_t)now_s / 60 : 0, k;
    int n = 0;

    if (minutes > BFF_MX_RING - 2)
        minutes = BFF_MX_RING - 2;
    for (k = 0; k < (uint64_t)minutes && k <= minute; k++) {
        uint64_t want = minute - k;
        int p = (int)(want % BFF_MX_RING);

        if (__atomic_load_n(&m->stamp[p], __ATOMIC_ACQUIRE) == want)
            pos[n++] = p;
    }
    return n;
}

void bff_metrics_read(const struct bff_metrics *m, int slot, int minutes, int64_t now_s,
                      struct bff_mx_stats *out)
{
    int pos[BFF_MX_RING], n, i, s, lo, hi;

    memset(out, 0, sizeof *out);
    if (m == NULL || slot >= m->nslots)
        return;
    lo = slot < 0 ? 0 : slot;
    hi = slot < 0 ? m->nslots : slot + 1;
    if (minutes <= 0) {
        for (s = lo; s < hi; s++)
            sum_cells(out, &m->total[s]);
        return;
    }
    n = window_positions(m, minutes, now_s, pos);
    for (i = 0; i < n; i++)
        for (s = lo; s < hi; s++)
            sum_cells(out, &m->ring[(size_t)pos[i] * (size_t)m->nslots + (size_t)s]);
}

void bff_metrics_counters(const struct bff_metrics *m, int minutes, int64_t now_s,
                          uint64_t out[BFF_MX_NCOUNTERS])
{
    int pos[BFF_MX_RING], n, i, c;

    memset(out, 0, BFF_MX_NCOUNTERS * sizeof out[0]);
    if (m == NULL)
        return;
    if (minutes <= 0) {
        for (c = 0; c < BFF_MX_NCOUNTERS; c++)
            out[c] = __atomic_load_n(&m->gtotal[c], __ATOMIC_RELAXED);
        return;
    }
    n = window_positions(m, minutes, now_s, pos);
    for (i = 0; i < n; i++)
        for (c = 0; c < BFF_MX_NCOUNTERS; c++)
            out[c] +=
                __atomic_load_n(&m->gring[(size_t)pos[i] * BFF_MX_NCOUNTERS + c], __ATOMIC_RELAXED);
}

/* ----------------------------------------------------------- statistics */

double bff_mx_quantile(const struct bff_mx_stats *s, double q)
{
    uint64_t total = 0, cum = 0;
    double rank, max_ms = (double)s->max_us / 1000.0;
    int i;

    for (i = 0; i < BFF_MX_BUCKETS; i++)
        total += s->bucket[i];
    if (total == 0)
        return -1;
    if (q <= 0)
        q = 1e-9;
    if (q > 1)
        q = 1;
    rank = q * (double)total;
    for (i = 0; i < BFF_MX_BUCKETS; i++) {
        double lo, hi, v;

        if (s->bucket[i] == 0 || (double)(cum + s->bucket[i]) < rank) {
            cum += s->bucket[i];
            continue;
        }
        lo = i == 0 ? 0 : bff_mx_bounds_ms[i - 1];
        hi = i == BFF_MX_BUCKETS - 1 ? max_ms : bff_mx_bounds_ms[i];
        if (max_ms > 0 && hi > max_ms) /* nothing in this bucket is above the max */
            hi = max_ms;
        if (hi < lo)
            hi = lo;
        v = lo + (hi - lo) * ((rank - (double)cum) / (double)s->bucket[i]);
        return v;
    }
    return max_ms;
}

enum bff_mx_level bff_mx_classify(const struct bff_mx_threshold *t, int has_value, double v)
{
    if (!has_value)
        return BFF_MX_NORMAL;
    if (t->higher_is_better) {
        if (v > t->normal)
            return BFF_MX_NORMAL;
        if (v < t->critical)
            return BFF_MX_CRITICAL;
        return BFF_MX_WARNING;
    }
    if (v < t->normal)
        return BFF_MX_NORMAL;
    if (v > t->critical)
        return BFF_MX_CRITICAL;
    return BFF_MX_WARNING;
}

const char *bff_mx_level_name(enum bff_mx_level l)
{
    switch (l) {
    case BFF_MX_WARNING:
        return "warning";
    case BFF_MX_CRITICAL:
        return "critical";
    default:
        return "normal";
    }
}
