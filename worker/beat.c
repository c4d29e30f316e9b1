/*
 * beat.c — bff-beat (Celery Beat): enqueue each periodic job of the
 * schedule (schedule.c) once per time slot.
 *
 * Every second it works out each entry's current slot and, when the slot
 * changed since it last looked, enqueues the job with unique_key
 * "kind:slot" and payload {"slot": "..."}. The UNIQUE index on
 * jobs.unique_key makes the enqueue of a slot some other beat (or an
 * earlier run of this one) already enqueued a no-op, so several beats may
 * run at once — for availability — without doubling any job.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "schedule.h"
#include "util.h"
#include "worker.h"

#define MAX_ENTRIES 64

static const char usage_text[] =
    "usage: bff-beat [--once]\n"
    "\n"
    "Enqueue the periodic jobs (Celery Beat): each job once per time slot, even\n"
    "with several beats running. The schedule: `bffctl queue scheduled`.\n"
    "\n"
    "  --once   enqueue the current slot of every entry, then exit (0, or 1 when\n"
    "           the database failed)\n"
    "\n"
    "SIGTERM/SIGINT: exit 0. Settings: BFF_DATABASE_URL, BFF_LOG_FILE, ...\n";

/* Enqueue entry s's job for the slot `label` unless it is there already.
 * 0 (enqueued or already there), -1 on a database error (logged). */
static int enqueue_slot(struct bff_db *db, const struct bff_schedule *s, const char *label)
{
    const struct bff_job_kind *k = bff_job_kind_find(NULL, s->kind);
    char key[128], payload[96], ids[24];
    struct bff_error e;
    int64_t id;
    int rc;

    snprintf(key, sizeof key, "%s:%s", s->kind, label);
    snprintf(payload, sizeof payload, "{\"slot\":\"%s\"}", label);
    bff_error_clear(&e);
    rc = bff_job_enqueue_kind(db, k, NULL, payload, key, 0, &id, &e);
    if (rc < 0) {
        bff_log_error(NULL, "beat: enqueue failed", "kind", s->kind, "slot", label,
                      "error", e.msg);
        return -1;
    }
    snprintf(ids, sizeof ids, "%lld", (long long)id);
    if (rc == 1)
        bff_log_info(NULL, "beat: enqueued", "kind", s->kind, "slot", label, "#job_id", ids);
    else
        bff_log_debug(NULL, "beat: slot already enqueued", "kind", s->kind, "slot", label);
    return 0;
}

int main(int argc, char **argv)
{
    char last[MAX_ENTRIES][32];
    const struct bff_schedule *s;
    struct bff_error e;
    struct bff_db db;
    sigset_t set;
    int once = 0, i, rc = 0, n = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 0;
        } else if (strcmp(argv[i], "--once") == 0) {
            once = 1;
        } else {
            fprintf(stderr, "bff-beat: unknown argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
    }
    bff_error_clear(&e);
    if (bff_config_load(&bff_cfg, &e) < 0 || bff_log_open(&bff_cfg, &e) < 0) {
        fprintf(stderr, "bff-beat: %s\n", e.msg);
        return 1;
    }
    for (s = bff_schedule; s->kind != NULL; s++, n++) {
        if (bff_job_kind_find(NULL, s->kind) == NULL || n == MAX_ENTRIES) {
            fprintf(stderr, "bff-beat: schedule entry '%s' is not a job kind\n", s->kind);
            return 1;
        }
        last[n][0] = '\0';
    }
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    bff_db_init(&db, &bff_cfg, bff_cfg.database_url);
    bff_db_set_application_name(&db, "bff-beat");
    bff_log_info(NULL, once ? "beat started (--once)" : "beat started");

    for (;;) {
        time_t now = time(NULL);
        struct timespec ts;
        int sig;

        for (i = 0, s = bff_schedule; s->kind != NULL; s++, i++) {
            char label[32];

            bff_sched_slot(s, now, label, sizeof label);
            if (strcmp(label, last[i]) == 0)
                continue;
            if (enqueue_slot(&db, s, label) == 0)
                snprintf(last[i], sizeof last[i], "%s", label);
            else
                rc = 1;
        }
        if (once)
            break;
        /* wake just after the next second starts */
        ts.tv_sec = 0;
        ts.tv_nsec = 1000000000L - (long)(bff_now_us() % 1000000) * 1000L + 5000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec = 1;
            ts.tv_nsec -= 1000000000L;
        }
        sig = sigtimedwait(&set, NULL, &ts);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        rc = 0;  /* a failure is retried next second; only --once reports it */
    }
    bff_db_close(&db);
    bff_log_info(NULL, "beat stopped");
    return once ? rc : 0;
}
