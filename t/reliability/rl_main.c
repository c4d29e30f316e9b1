/*
 * rl_main.c — t/reliability/rl, the load generators of the reliability
 * suite (issue 9). t/reliability/run drives them, one scenario at a time,
 * while it kills, freezes and restarts the services of the test stack.
 * Every run is bounded in clients, requests and seconds, and talks to the
 * loopback stack of BFF_TEST_HTTP_URL / BFF_TEST_DATABASE_URL only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "rl.h"
#include "rl_cmds.h"

static int rl_cmd_token(int argc, char **argv)
{
    char *t = rl_token(argc > 1 ? argv[1] : NULL, NULL);

    printf("%s\n", t);
    free(t);
    return 0;
}

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} cmds[] = {
    {"race", rl_cmd_race, "1: --clients 64 --orders 200 against 500 units in 3 lots"},
    {"lockorder", rl_cmd_lockorder, "2: --clients 32 --orders N, 2-5 products in random order"},
    {"idem", rl_cmd_idem, "3: --orders 500, each sent 3 times (some concurrently)"},
    {"orders", rl_cmd_orders,
     "order load: --scenario S --seconds N | --stop-file F, --clients C, --retry"},
    {"reads", rl_cmd_reads,
     "read load: --scenario S --seconds N | --requests N | --baseline-seconds B --stop-file F"},
    {"probe", rl_cmd_probe, "--path P: milliseconds until it answers 200"},
    {"hostile", rl_cmd_hostile, "10: crafted inputs, --mutations 10000, SQL-looking strings"},
    {"token", rl_cmd_token, "[PERMS]: mint a token (superuser without PERMS) and print it"},
    {"figure", rl_cmd_figure, "SCENARIO NAME VALUE EXPECTED PASS|FAIL|INFO: record a figure"},
    {NULL, NULL, NULL},
};

/* For the shell parts of the scenarios: one figure, same format. */
int rl_cmd_figure(int argc, char **argv)
{
    int ok;

    if (argc != 6)
        rl_die("usage: rl figure SCENARIO NAME VALUE EXPECTED PASS|FAIL|INFO");
    ok = strcmp(argv[5], "PASS") == 0 ? 1 : strcmp(argv[5], "FAIL") == 0 ? 0 : -1;
    rl_figure(argv[1], argv[2], argv[4], ok, "%s", argv[3]);
    return ok == 0;
}

int main(int argc, char **argv)
{
    int i;

    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: rl COMMAND [options]\n");
        for (i = 0; cmds[i].name; i++)
            printf("  %-10s %s\n", cmds[i].name, cmds[i].help);
        return argc < 2 ? 2 : 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    curl_global_init(CURL_GLOBAL_ALL);
    for (i = 0; cmds[i].name; i++)
        if (strcmp(cmds[i].name, argv[1]) == 0) {
            int rc = cmds[i].fn(argc - 1, argv + 1);

            curl_global_cleanup();
            return rc;
        }
    fprintf(stderr, "rl: unknown command %s\n", argv[1]);
    return 2;
}
