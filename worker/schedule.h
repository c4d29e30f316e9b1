/*
 * schedule.h — bff-beat's schedule (Celery Beat's beat_schedule), one line
 * per periodic job, and the time-slot arithmetic that makes two beats
 * enqueue each (kind, slot) once between them.
 *
 * Every entry divides time (UTC) into slots: `every N s` slots start at
 * multiples of N since the epoch; `daily HH:MM` at that time each day;
 * `monthly D HH:MM` on that day of each month. A beat enqueues the job of
 * the slot it is in with unique_key "kind:label" (label: the slot's start,
 * "2026-11-28T05:41:00Z", "2026-11-28" or "2026-11"); the UNIQUE index on
 * jobs.unique_key turns every other enqueue of that slot into a no-op. A
 * beat that was down during a whole slot does not make it up; one started
 * in the middle of a slot still enqueues that slot's job (a daily job
 * missed at 03:00 runs when beat comes back that day).
 */
#ifndef BFF_SCHEDULE_H
#define BFF_SCHEDULE_H

#include <stddef.h>
#include <time.h>

enum bff_sched_type { BFF_SCHED_EVERY, BFF_SCHED_DAILY, BFF_SCHED_MONTHLY };

struct bff_schedule {
    const char *kind;           /* a kind of bff_job_kinds[] */
    enum bff_sched_type type;
    int seconds;                /* EVERY: slot length, divides 86400 */
    int mday, hour, minute;     /* DAILY: hour:minute; MONTHLY: day 1..28 too */
};

#define BFF_EVERY(s) BFF_SCHED_EVERY, (s), 0, 0, 0
#define BFF_DAILY(h, m) BFF_SCHED_DAILY, 0, 0, (h), (m)
#define BFF_MONTHLY(d, h, m) BFF_SCHED_MONTHLY, 0, (d), (h), (m)

/* The schedule; ends with a NULL kind. */
extern const struct bff_schedule bff_schedule[];

/* Start of the slot containing now; its label into label (>= 24 bytes). */
time_t bff_sched_slot(const struct bff_schedule *s, time_t now, char *label, size_t n);
/* Start of the first slot after the one containing now. */
time_t bff_sched_next(const struct bff_schedule *s, time_t now);
/* "every 30 s", "daily at 03:00 UTC", "monthly on day 1 at 02:00 UTC". */
void bff_sched_describe(const struct bff_schedule *s, char *out, size_t n);

#endif
