/*
 * master.c — the supervising master of bff-fcgi --workers N (see master.h).
 *
 * The master never accepts a request. It keeps the listening socket (fd 0)
 * open for the workers it forks, waits for signals with sigtimedwait (all
 * of them blocked, so none is lost between two waits) and keeps one slot
 * per worker.
 */
#define _GNU_SOURCE

#include "master.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util.h"

#define MAX_WORKERS 256
#define MAX_RETIRED 1024
/* A worker that dies within LIVED_MS of its start is respawned after a
 * back-off of BACKOFF_MIN_MS, doubling up to BACKOFF_MAX_MS: a worker that
 * cannot start (bad database URL is not one: it starts and answers 503)
 * must not make the master spin. */
#define LIVED_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 1000

struct slot {
    pid_t pid; /* 0: empty */
    int64_t started_ms;
    int64_t backoff_ms; /* next delay if it dies young again */
    int64_t due_ms;     /* empty slot: spawn at this time */
};

static struct slot slots[MAX_WORKERS];
static int nslots;
static pid_t retired[MAX_RETIRED]; /* workers of the image before a SIGHUP */
static int nretired;
static const char *self; /* the binary to re-execute */
static int64_t kill_at_ms; /* 0, or when the workers told to stop get SIGKILL */

static void say(enum bff_log_level lvl, const char *msg, pid_t pid, const char *k2, const char *v2)
{
    char p[24];

    snprintf(p, sizeof p, "%d", (int)pid);
    bff_log(lvl, NULL, msg, "#worker", p, k2, v2, (char *)NULL);
}

/* Fork one worker into slot s. In the child: return 1 (the caller goes on
 * to serve requests); in the master 0, or -1 when fork failed. */
static int spawn(struct slot *s, const sigset_t *oldmask)
{
    pid_t master = getpid(), pid = fork();

    if (pid < 0) {
        bff_log_error(NULL, "fork failed", "error", strerror(errno));
        s->due_ms = bff_now_ms() + BACKOFF_MAX_MS;
        return -1;
    }
    if (pid == 0) {
        /* A worker must not outlive its master: SIGTERM lets it finish the
         * request in flight first. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != master)
            _exit(0);
        sigprocmask(SIG_SETMASK, oldmask, NULL);
        bff_log_close(); /* main() opens its own */
        return 1;
    }
    s->pid = pid;
    s->started_ms = bff_now_ms();
    s->due_ms = 0;
    say(BFF_LOG_INFO, "worker started", pid, NULL, NULL);
    return 0;
}

static void describe(int status, char *buf, size_t n)
{
    if (WIFSIGNALED(status))
        snprintf(buf, n, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(buf, n, "exit %d", WEXITSTATUS(status));
}

/* Collect every worker that has exited; schedule respawns unless stopping. */
static void reap(int stopping)
{
    pid_t pid;
    int status, i;
    char how[48];

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        int64_t now = bff_now_ms();

        describe(status, how, sizeof how);
        for (i = 0; i < nslots && slots[i].pid != pid; i++)
            ;
        if (i == nslots) {
            int j;

            for (j = 0; j < nretired && retired[j] != pid; j++)
                ;
            if (j < nretired)
                retired[j] = retired[--nretired];
            say(BFF_LOG_INFO, "old worker exited", pid, "status", how);
            continue;
        }
        slots[i].pid = 0;
        if (stopping) {
            say(BFF_LOG_INFO, "worker exited", pid, "status", how);
            continue;
        }
        /* Any death of a worker the master did not ask for is worth a
         * warning: a crash, a kill -9, the OOM killer. */
        say(BFF_LOG_WARN, "worker died: respawning", pid, "status", how);
        if (now - slots[i].started_ms < LIVED_MS) {
            slots[i].backoff_ms = slots[i].backoff_ms ? slots[i].backoff_ms * 2 : BACKOFF_MIN_MS;
            if (slots[i].backoff_ms > BACKOFF_MAX_MS)
                slots[i].backoff_ms = BACKOFF_MAX_MS;
            slots[i].due_ms = now + slots[i].backoff_ms;
        } else {
            slots[i].backoff_ms = 0;
            slots[i].due_ms = now;
        }
    }
}

static int live(void)
{
    int i, n = nretired;

    for (i = 0; i < nslots; i++)
        n += slots[i].pid != 0;
    return n;
}

static void signal_all(int sig)
{
    int i;

    for (i = 0; i < nslots; i++)
        if (slots[i].pid)
            kill(slots[i].pid, sig);
    for (i = 0; i < nretired; i++)
        kill(retired[i], sig);
}

/* SIGKILL every worker told to stop that outlived BFF_STOP_GRACE_MS (35 s
 * by default: nginx has given up on its request at 30 s, so SIGKILL loses
 * nothing): the retired ones, and all of them when the master is stopping. */
static void kill_stragglers(int stopping)
{
    int i;

    for (i = 0; i < nretired; i++) {
        say(BFF_LOG_WARN, "old worker ignored SIGTERM: killing it", retired[i], NULL, NULL);
        kill(retired[i], SIGKILL);
    }
    for (i = 0; stopping && i < nslots; i++) {
        if (slots[i].pid) {
            say(BFF_LOG_WARN, "worker ignored SIGTERM: killing it", slots[i].pid, NULL, NULL);
            kill(slots[i].pid, SIGKILL);
        }
    }
    kill_at_ms = 0;
}

/*
 * SIGHUP: exec our binary again with the current workers listed after
 * --retire; the new image (same pid, so they stay its children) starts
 * fresh workers first and then retires these. Returns only on failure.
 */
static void reexec(void)
{
    char n[16], *list, *argv[6];
    size_t cap = (size_t)(nslots + nretired) * 12 + 2, used = 0;
    int i;

    list = malloc(cap);
    if (list == NULL)
        return;
    list[0] = '\0';
    for (i = 0; i < nslots + nretired; i++) {
        pid_t p = i < nslots ? slots[i].pid : retired[i - nslots];

        if (p)
            used += (size_t)snprintf(list + used, cap - used, "%s%d", used ? "," : "", (int)p);
    }
    snprintf(n, sizeof n, "%d", nslots);
    argv[0] = (char *)self;
    argv[1] = "--workers";
    argv[2] = n;
    argv[3] = used ? "--retire" : NULL;
    argv[4] = used ? list : NULL;
    argv[5] = NULL;
    bff_log_info(NULL, "SIGHUP: re-executing for a graceful restart", "binary", self);
    bff_log_close();
    execv(self, argv);
    {
        struct bff_error e;

        bff_error_clear(&e);
        bff_log_open(&bff_cfg, &e);
    }
    bff_log_error(NULL, "re-exec failed: keeping the current workers", "error", strerror(errno));
    free(list);
}

static int parse_retire(const char *s)
{
    while (*s) {
        char num[16];
        size_t k = strcspn(s, ",");
        int64_t v;

        if (k == 0 || k >= sizeof num || nretired >= MAX_RETIRED)
            return -1;
        memcpy(num, s, k);
        num[k] = '\0';
        if (bff_parse_int64(num, 1, INT32_MAX, &v) != 0)
            return -1;
        retired[nretired++] = (pid_t)v;
        s += k;
        if (*s == ',')
            s++;
    }
    return 0;
}

static int usage_error(const char *what)
{
    fprintf(stderr, "bff-fcgi: %s (usage: bff-fcgi [--workers N])\n", what);
    return 2;
}

int bff_master(int argc, char **argv)
{
    sigset_t set, oldmask;
    struct bff_config cfg;
    struct bff_error e;
    int64_t workers = 0;
    int stopping = 0, i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
            if (bff_parse_int64(argv[++i], 1, MAX_WORKERS, &workers) != 0)
                return usage_error("--workers takes a number from 1 to 256");
        } else if (strcmp(argv[i], "--retire") == 0 && i + 1 < argc) {
            if (parse_retire(argv[++i]) != 0)
                return usage_error("--retire takes a list of pids");
        } else {
            return usage_error("unknown argument");
        }
    }
    if (workers == 0)
        return -1;
    self = strchr(argv[0], '/') ? argv[0] : "/proc/self/exe";

    /* Refuse a bad configuration here, once, rather than in N workers
     * respawned forever. */
    bff_error_clear(&e);
    if (bff_config_load(&cfg, &e) != 0 || bff_log_open(&cfg, &e) != 0) {
        fprintf(stderr, "bff-fcgi: %s\n", e.msg);
        return 2;
    }
    bff_cfg = cfg;

    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, &oldmask);
    /* An exec'd image inherits the blocked mask: the workers must not. */
    sigdelset(&oldmask, SIGCHLD);
    sigdelset(&oldmask, SIGTERM);
    sigdelset(&oldmask, SIGINT);
    sigdelset(&oldmask, SIGQUIT);
    sigdelset(&oldmask, SIGHUP);
    signal(SIGPIPE, SIG_IGN);

    nslots = (int)workers;
    for (i = 0; i < nslots; i++)
        memset(&slots[i], 0, sizeof slots[i]);
    {
        char n[16];

        snprintf(n, sizeof n, "%d", nslots);
        bff_log_info(NULL, "bff-fcgi master started", "#workers", n, "version", PACKAGE_VERSION);
    }
    for (i = 0; i < nslots; i++)
        if (spawn(&slots[i], &oldmask) == 1)
            return -1;
    /* After a SIGHUP: the new workers accept already; the old ones finish
     * what they are doing and exit. */
    for (i = 0; i < nretired; i++)
        kill(retired[i], SIGTERM);
    if (nretired)
        kill_at_ms = bff_now_ms() + bff_cfg.stop_grace_ms;

    for (;;) {
        int64_t now, wait_ms = 1000;
        struct timespec ts;
        siginfo_t info;
        int sig;

        reap(stopping);
        now = bff_now_ms();
        for (i = 0; !stopping && i < nslots; i++) {
            if (slots[i].pid != 0)
                continue;
            if (slots[i].due_ms <= now) {
                if (spawn(&slots[i], &oldmask) == 1)
                    return -1;
            } else if (slots[i].due_ms - now < wait_ms) {
                wait_ms = slots[i].due_ms - now;
            }
        }
        if (stopping && live() == 0)
            break;
        if (kill_at_ms && (nretired || stopping)) {
            if (kill_at_ms <= now)
                kill_stragglers(stopping);
            else if (kill_at_ms - now < wait_ms)
                wait_ms = kill_at_ms - now;
        }
        ts.tv_sec = wait_ms / 1000;
        ts.tv_nsec = (long)(wait_ms % 1000) * 1000000L;
        sig = sigtimedwait(&set, &info, &ts);
        switch (sig) {
        case SIGTERM:
        case SIGINT:
        case SIGQUIT:
            if (!stopping) {
                bff_log_info(NULL, "bff-fcgi master stopping: workers finish their request");
                stopping = 1;
                kill_at_ms = bff_now_ms() + bff_cfg.stop_grace_ms;
            }
            signal_all(SIGTERM);
            break;
        case SIGHUP:
            if (!stopping)
                reexec();
            break;
        default: /* SIGCHLD, timeout, EINTR: reap at the top */
            break;
        }
    }
    bff_log_info(NULL, "bff-fcgi master stopped");
    bff_log_close();
    return 0;
}
