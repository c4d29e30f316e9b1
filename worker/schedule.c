/*
 * schedule.c — the periodic jobs (see schedule.h).
 */
#include "schedule.h"

#include <stdio.h>
#include <string.h>

/* Celery Beat's schedule, translated (SPEC §6). */
const struct bff_schedule bff_schedule[] = {
    {"expire_reservations", BFF_EVERY(60)},
    {"refresh_metrics", BFF_EVERY(30)},
    {"replay_cache_invalidations", BFF_EVERY(30)},
    {"expire_lots", BFF_EVERY(3600)},
    {"low_stock_alert", BFF_EVERY(3600)},
    {"clear_sessions", BFF_DAILY(3, 0)},
    {"prune_jobs", BFF_DAILY(3, 30)},
    {"monthly_report", BFF_MONTHLY(1, 2, 0)},
    {NULL, BFF_SCHED_EVERY, 0, 0, 0, 0},
};

/* UTC broken-down time <-> time_t without the local time zone. */
static time_t utc(int year, int mon0, int mday, int hour, int min)
{
    struct tm tm;

    memset(&tm, 0, sizeof tm);
    tm.tm_year = year - 1900;
    tm.tm_mon = mon0;
    tm.tm_mday = mday;
    tm.tm_hour = hour;
    tm.tm_min = min;
    return timegm(&tm);
}

time_t bff_sched_slot(const struct bff_schedule *s, time_t now, char *label, size_t n)
{
    struct tm tm, st;
    time_t start;

    gmtime_r(&now, &tm);
    switch (s->type) {
    case BFF_SCHED_DAILY:
        start = utc(tm.tm_year + 1900, tm.tm_mon, tm.tm_mday, s->hour, s->minute);
        if (start > now)
            start = utc(tm.tm_year + 1900, tm.tm_mon, tm.tm_mday - 1, s->hour, s->minute);
        gmtime_r(&start, &st);
        strftime(label, n, "%Y-%m-%d", &st);
        return start;
    case BFF_SCHED_MONTHLY:
        start = utc(tm.tm_year + 1900, tm.tm_mon, s->mday, s->hour, s->minute);
        if (start > now)
            start = utc(tm.tm_year + 1900, tm.tm_mon - 1, s->mday, s->hour, s->minute);
        gmtime_r(&start, &st);
        strftime(label, n, "%Y-%m", &st);
        return start;
    case BFF_SCHED_EVERY:
    default:
        start = now - now % (s->seconds > 0 ? s->seconds : 1);
        gmtime_r(&start, &st);
        strftime(label, n, "%Y-%m-%dT%H:%M:%SZ", &st);
        return start;
    }
}

time_t bff_sched_next(const struct bff_schedule *s, time_t now)
{
    char label[32];
    time_t start = bff_sched_slot(s, now, label, sizeof label);
    struct tm st;

    gmtime_r(&start, &st);
    switch (s->type) {
    case BFF_SCHED_DAILY:
        return utc(st.tm_year + 1900, st.tm_mon, st.tm_mday + 1, s->hour, s->minute);
    case BFF_SCHED_MONTHLY:
        return utc(st.tm_year + 1900, st.tm_mon + 1, s->mday, s->hour, s->minute);
    case BFF_SCHED_EVERY:
    default:
        return start + (s->seconds > 0 ? s->seconds : 1);
    }
}

void bff_sched_describe(const struct bff_schedule *s, char *out, size_t n)
{
    switch (s->type) {
    case BFF_SCHED_DAILY:
        snprintf(out, n, "daily at %02d:%02d UTC", s->hour, s->minute);
        break;
    case BFF_SCHED_MONTHLY:
        snprintf(out, n, "monthly on day %d at %02d:%02d UTC", s->mday, s->hour, s->minute);
        break;
    case BFF_SCHED_EVERY:
    default:
        if (s->seconds % 3600 == 0)
            snprintf(out, n, "every %d h", s->seconds / 3600);
        else if (s->seconds % 60 == 0)
            snprintf(out, n, "every %d min", s->seconds / 60);
        else
            snprintf(out, n, "every %d s", s->seconds);
        break;
    }
}
