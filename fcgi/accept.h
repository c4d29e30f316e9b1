/*
 * accept.h — a worker's accept loop, owned by bff rather than libfcgi.
 *
 * Why not FCGX_Accept_r's own accept: after accept() on a unix socket,
 * libfcgi polls the new connection for up to 2 s and silently closes it when
 * that poll fails — and a signal always makes poll() fail (EINTR, whatever
 * SA_RESTART says). A SIGTERM landing in that window, as in every graceful
 * restart under load, turned an accepted request into an nginx 502; worse,
 * libfcgi 2.4.2 then loops forever on the closed fd once its shutdown flag
 * is set (it never calls accept() again, polls the stale fd, closes it,
 * repeats): a worker spinning at 100 % CPU that no SIGTERM ends.
 *
 * Here the stop signals (SIGTERM, SIGINT) stay blocked except while the
 * worker waits for work in epoll_pwait/ppoll. A stop request is therefore
 * seen only between requests: the request in flight, once accepted, always
 * completes, and an idle worker leaves at once. The accepted fd is handed to
 * libfcgi, which reads the request's records from it as usual.
 */
#ifndef BFF_ACCEPT_H
#define BFF_ACCEPT_H

#include <signal.h>

#include <fcgiapp.h>

#include "error.h"

struct bff_acceptor {
    int listen_fd;     /* the pool's shared listening socket (fd 0) */
    int ep;            /* epoll set: listen_fd, EPOLLEXCLUSIVE (one waiter woken) */
    sigset_t waitmask; /* the mask while waiting: stop signals deliverable */
};

/*
 * Block SIGTERM/SIGINT (their handlers must already be installed), make
 * listen_fd non-blocking (workers race for each connection) and prepare
 * the epoll set. Call once per worker, before the first bff_accept_next.
 */
int bff_acceptor_open(struct bff_acceptor *a, int listen_fd, struct bff_error *e);

/*
 * The next request into fr, which FCGX_InitRequest set up with listen
 * socket -1 (libfcgi must never accept by itself). Returns 0 with a request
 * ready for FCGX_GetParam/FCGX_GetStr; -1 when *stopping became true while
 * waiting, or on an error that ends the worker (logged). A connection that
 * closes or sends garbage before its request is complete is dropped and the
 * wait goes on.
 */
int bff_accept_next(struct bff_acceptor *a, FCGX_Request *fr, volatile sig_atomic_t *stopping);

void bff_acceptor_close(struct bff_acceptor *a);

#endif
