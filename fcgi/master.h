/*
 * master.h — bff-fcgi --workers N: a supervising master for the pool.
 *
 * spawn-fcgi never respawns a child that dies. Started as
 *     spawn-fcgi -s SOCKET -F 1 -- bff-fcgi --workers N
 * the one process spawn-fcgi starts becomes a master that forks N workers
 * sharing the listening socket (fd 0) and
 *   - respawns a worker that dies (at once; with a back-off of 100 ms
 *     doubling to 1 s while workers die within a second of starting);
 *   - on SIGTERM/SIGINT forwards SIGTERM to every worker, waits until each
 *     has finished its request in flight, and exits 0;
 *   - on SIGHUP re-executes its own binary (same pid, same socket): the new
 *     image starts N fresh workers, then SIGTERMs the old ones, which finish
 *     their request in flight. The socket is never closed, so no connection
 *     is refused: a graceful restart that also picks up a new binary.
 * A worker told to stop that still runs 35 s later (nginx gave up on its
 * request at 30 s) is stuck: the master SIGKILLs it and logs a warning.
 * Workers get SIGTERM when the master dies (PR_SET_PDEATHSIG), so a pool
 * never runs unsupervised.
 */
#ifndef BFF_MASTER_H
#define BFF_MASTER_H

/*
 * Run as the master when argv asks for it (--workers N). Returns -1 when
 * this process is to serve requests itself (no --workers, or a freshly
 * forked worker), else the exit status of the master (0 after SIGTERM,
 * 2 for bad arguments or configuration).
 */
int bff_master(int argc, char **argv);

#endif
