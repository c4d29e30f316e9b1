/*
 * rl_reads.c — read load (cached product and stock GETs) for the Redis
 * outage (6), memory (11) and two-host (12) scenarios, and a probe that
 * measures how long until the app answers again (7).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rl.h"
#include "rl_cmds.h"

#define MAX_PRODUCTS 64

static struct {
    long long product[MAX_PRODUCTS];
    int nproducts;
    const char *token, *stop_file, *ready_file;
    double baseline_end, deadline;
    long max_requests, requests;
    int phase; /* 0 baseline, 1 main */
    struct rl_lat lat[2];
    long errors[2], n[2], transport[2];
} rd;

static int reads_done(void)
{
    if (rd.max_requests > 0)
        return __atomic_load_n(&rd.requests, __ATOMIC_RELAXED) >= rd.max_requests;
    if (rd.stop_file && rd.phase == 1)
        return access(rd.stop_file, F_OK) == 0 || rl_now_ms() > rd.deadline;
    return rl_now_ms() > rd.deadline;
}

static void *read_client(void *arg)
{
    uint64_t seed = (uint64_t)(uintptr_t)arg * 2654435761u + 5;
    struct rl_client c;

    rl_client_init(&c, rd.token);
    while (!reads_done()) {
        char path[128];
        long long p = rd.product[rl_rand_range(&seed, 0, rd.nproducts - 1)];
        struct rl_resp r;
        int ph = rd.phase;

        if (rl_rand(&seed) & 1)
            snprintf(path, sizeof path, "/api/products/%lld/", p);
        else
            snprintf(path, sizeof path, "/api/products/%lld/stock/", p);
        rl_http(&c, "GET", path, NULL, 0, NULL, &r);
        __atomic_add_fetch(&rd.requests, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&rd.n[ph], 1, __ATOMIC_RELAXED);
        rl_lat_add(&rd.lat[ph], r.ms);
        if (r.status != 200) {
            long e = __atomic_add_fetch(&rd.errors[ph], 1, __ATOMIC_RELAXED);

            if (r.status == 0)
                __atomic_add_fetch(&rd.transport[ph], 1, __ATOMIC_RELAXED);
            if (e <= 5)
                fprintf(stderr, "reads: GET %s: %ld %s %.200s\n", path, r.status, r.err, r.body);
        }
        rl_resp_free(&r);
    }
    rl_client_free(&c);
    return NULL;
}

static void run(int clients)
{
    pthread_t t[256];
    long i;

    if (clients > 256)
        clients = 256;
    for (i = 0; i < clients; i++)
        pthread_create(&t[i], NULL, read_client, (void *)i);
    for (i = 0; i < clients; i++)
        pthread_join(t[i], NULL);
}

static void touch(const char *f)
{
    FILE *fp = fopen(f, "w");

    if (fp)
        fclose(fp);
}

/*
 * rl reads --scenario S [--clients C] [--products N]
 *          [--seconds S | --requests N]
 *          [--baseline-seconds B --ready-file R --stop-file F --budget-ms M]
 * With a baseline: B seconds of normal reads, then R is created and the
 * main phase runs until F exists (the shell breaks something meanwhile);
 * the main phase's p99 must stay within the baseline's p99 + M ms.
 */
int rl_cmd_reads(int argc, char **argv)
{
    const char *S = rl_opt(argc, argv, "--scenario", "reads");
    const char *label = rl_opt(argc, argv, "--label", "reads");
    int clients = (int)rl_opt_int(argc, argv, "--clients", 8), i;
    long seconds = rl_opt_int(argc, argv, "--seconds", 10);
    long baseline = rl_opt_int(argc, argv, "--baseline-seconds", 0);
    long budget = rl_opt_int(argc, argv, "--budget-ms", 100);
    char tag[64], code[96], name[128];
    struct rl_client c;
    long long wh;
    double t0, secs, p99b = 0, p99;

    rd.nproducts = (int)rl_opt_int(argc, argv, "--products", 20);
    if (rd.nproducts < 1 || rd.nproducts > MAX_PRODUCTS)
        rl_die("--products: 1..%d", MAX_PRODUCTS);
    rd.max_requests = rl_opt_int(argc, argv, "--requests", 0);
    rd.stop_file = rl_opt(argc, argv, "--stop-file", NULL);
    rd.ready_file = rl_opt(argc, argv, "--ready-file", NULL);
    rd.token = rl_token("products.read stock.read stock.write products.write", NULL);
    rl_lat_init(&rd.lat[0]);
    rl_lat_init(&rd.lat[1]);
    rl_client_init(&c, rd.token);
    rl_tag(tag, sizeof tag);
    wh = rl_mk_warehouse(&c, tag);
    for (i = 0; i < rd.nproducts; i++) {
        snprintf(code, sizeof code, "%s-%d", tag, i);
        rd.product[i] = rl_mk_product(&c, code);
        rl_mk_lot(&c, rd.product[i], wh, code, 30 + i, 1000);
    }
    rl_client_free(&c);
    if (rd.stop_file)
        unlink(rd.stop_file);

    t0 = rl_now_ms();
    if (baseline > 0) {
        rd.phase = 0;
        rd.deadline = t0 + (double)baseline * 1000.0;
        run(clients);
        p99b = rl_lat_pct(&rd.lat[0], 99);
        printf("  baseline: %ld reads, p99 %.1f ms, errors %ld\n", rd.n[0], p99b, rd.errors[0]);
    }
    rd.phase = 1;
    if (rd.ready_file)
        touch(rd.ready_file);
    fflush(stdout);
    t0 = rl_now_ms();
    rd.deadline = t0 + (double)(rd.stop_file ? 600 : seconds) * 1000.0;
    run(clients);
    secs = (rl_now_ms() - t0) / 1000.0;
    p99 = rl_lat_pct(&rd.lat[1], 99);

    snprintf(name, sizeof name, "%s: requests", label);
    rl_figure(S, name, "-", -1, "%ld in %.0f s", rd.n[1], secs);
    snprintf(name, sizeof name, "%s: error rate", label);
    rl_figure(S, name, "0 %", rd.errors[1] + rd.errors[0] == 0, "%.2f %% (%ld)",
              rd.n[1] ? 100.0 * (double)rd.errors[1] / (double)rd.n[1] : 0.0, rd.errors[1]);
    if (baseline > 0) {
        snprintf(name, sizeof name, "%s: p99 before / during", label);
        rl_figure(S, name, "<= before + 100 ms", p99 <= p99b + (double)budget, "%.1f / %.1f ms",
                  p99b, p99);
    } else {
        snprintf(name, sizeof name, "%s: p50 / p99", label);
        rl_figure(S, name, "-", -1, "%.1f / %.1f ms", rl_lat_pct(&rd.lat[1], 50), p99);
    }
    snprintf(name, sizeof name, "%s: max latency", label);
    rl_figure(S, name, "-", -1, "%.0f ms", rl_lat_pct(&rd.lat[1], 100));
    return rl_failures() ? 1 : 0;
}

/*
 * rl probe --path P [--timeout-ms T] [--interval-ms I] [--status N]
 * GET P until it answers N (200); prints the milliseconds that took.
 * Exit 0, or 1 after T ms.
 */
int rl_cmd_probe(int argc, char **argv)
{
    const char *path = rl_opt(argc, argv, "--path", "/health/");
    long timeout = rl_opt_int(argc, argv, "--timeout-ms", 10000);
    long interval = rl_opt_int(argc, argv, "--interval-ms", 20);
    long want = rl_opt_int(argc, argv, "--status", 200);
    const char *tok = rl_opt(argc, argv, "--token", NULL);
    struct rl_client c;
    double t0 = rl_now_ms();

    rl_client_init(&c, tok);
    c.timeout_ms = 5000;
    for (;;) {
        struct rl_resp r;
        long st;

        rl_http(&c, "GET", path, NULL, 0, NULL, &r);
        st = r.status;
        rl_resp_free(&r);
        if (st == want) {
            printf("%.0f\n", rl_now_ms() - t0);
            return 0;
        }
        if (rl_now_ms() - t0 > (double)timeout) {
            printf("timeout (last status %ld)\n", st);
            return 1;
        }
        rl_sleep_ms(interval);
    }
}
