/*
 * rl_cmds.h — the subcommands of t/reliability/rl (table in rl_main.c).
 * Each returns the process exit status: 0 when every figure passed.
 */
#ifndef BFF_RL_CMDS_H
#define BFF_RL_CMDS_H

int rl_cmd_race(int argc, char **argv);
int rl_cmd_lockorder(int argc, char **argv);
int rl_cmd_idem(int argc, char **argv);
int rl_cmd_orders(int argc, char **argv);
int rl_cmd_reads(int argc, char **argv);
int rl_cmd_probe(int argc, char **argv);
int rl_cmd_hostile(int argc, char **argv);
int rl_cmd_figure(int argc, char **argv);

#endif
