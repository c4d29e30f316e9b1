/*
 * accept.c — a worker's accept loop (see accept.h for why it is ours).
 *
 * The pool's workers share one listening socket. It is non-blocking, and
 * each worker waits in epoll_pwait with EPOLLEXCLUSIVE (the kernel wakes one
 * waiter per connection, as a blocking accept() would) with the stop
 * signals unblocked for the duration of the wait only. Level-triggered: a
 * worker coming back from a request finds a queued connection at once, and
 * a stop signal that arrived during the request is delivered right there.
 *
 * libfcgi's FCGX_Request has no public way to hand it a connection, so we
 * set the two fields FCGX_Accept_r reads (ipcFd, keepConnection); both have
 * been part of the struct since libfcgi 2.x. Its own listen socket is -1,
 * so if it ever falls back to accepting (after a connection that closes
 * before its request is complete) accept(-1) fails and we take over again.
 */
#define _GNU_SOURCE

#include "accept.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Back-off when the process or system is out of descriptors or memory:
 * the connection stays queued for another worker meanwhile. */
#define RESOURCE_PAUSE_MS 100

int bff_acceptor_open(struct bff_acceptor *a, int listen_fd, struct bff_error *e)
{
    struct epoll_event ev;
    sigset_t stop;
    int fl;

    a->listen_fd = listen_fd;
    a->ep = -1;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    if (sigprocmask(SIG_BLOCK, &stop, &a->waitmask) != 0)
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "sigprocmask: %s", strerror(errno));
    sigdelset(&a->waitmask, SIGTERM);
    sigdelset(&a->waitmask, SIGINT);

    /* O_NONBLOCK is a property of the socket every worker shares: all of
     * them run this same loop, so all expect it. */
    fl = fcntl(listen_fd, F_GETFL);
    if (fl < 0 || fcntl(listen_fd, F_SETFL, fl | O_NONBLOCK) != 0)
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "fd %d is not the listening socket: %s",
                             listen_fd, strerror(errno));
    a->ep = epoll_create1(EPOLL_CLOEXEC);
    if (a->ep < 0)
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "epoll_create1: %s", strerror(errno));
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.fd = listen_fd;
    if (epoll_ctl(a->ep, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
        int err = errno;

        close(a->ep);
        a->ep = -1;
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "epoll on fd %d: %s", listen_fd,
                             strerror(err));
    }
    return 0;
}

void bff_acceptor_close(struct bff_acceptor *a)
{
    if (a->ep >= 0)
        close(a->ep);
    a->ep = -1;
}

/* Sleep ms with the stop signals deliverable. */
static void pause_ms(struct bff_acceptor *a, int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    ppoll(NULL, 0, &ts, &a->waitmask);
}

/* A new connection from the listening socket; -1 when stopping or on a
 * fatal error. */
static int next_connection(struct bff_acceptor *a, volatile sig_atomic_t *stopping)
{
    for (;;) {
        struct epoll_event ev;
        int fd;

        if (*stopping)
            return -1;
        if (epoll_pwait(a->ep, &ev, 1, -1, &a->waitmask) < 0) {
            if (errno == EINTR)
                continue;
            bff_log_error(NULL, "epoll_pwait failed: worker exits", "error", strerror(errno));
            return -1;
        }
        if (*stopping)
            return -1;
        fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            return fd;
        switch (errno) {
        case EAGAIN: /* another worker took it */
#if EWOULDBLOCK != EAGAIN
        case EWOULDBLOCK:
#endif
        case EINTR:
        case ECONNABORTED: /* the peer gave up while queued */
        case EPROTO:
            continue;
        case EMFILE:
        case ENFILE:
        case ENOBUFS:
        case ENOMEM:
            bff_log_warn(NULL, "accept: out of resources, pausing", "error", strerror(errno));
            pause_ms(a, RESOURCE_PAUSE_MS);
            continue;
        default:
            bff_log_error(NULL, "accept failed: worker exits", "error", strerror(errno));
            return -1;
        }
    }
}

/* A kept connection (nginx fastcgi_keep_conn): wait for its next request.
 * 0 readable (a request or its close), -1 stopping. */
static int wait_kept(struct bff_acceptor *a, int fd, volatile sig_atomic_t *stopping)
{
    struct pollfd p = {fd, POLLIN, 0};

    for (;;) {
        if (*stopping)
            return -1;
        if (ppoll(&p, 1, NULL, &a->waitmask) > 0)
            return 0;
        if (errno != EINTR)
            return 0; /* let libfcgi's read report it */
    }
}

int bff_accept_next(struct bff_acceptor *a, FCGX_Request *fr, volatile sig_atomic_t *stopping)
{
    for (;;) {
        if (fr->ipcFd < 0) {
            int fd = next_connection(a, stopping);

            if (fd < 0)
                return -1;
            fr->ipcFd = fd;
        } else if (wait_kept(a, fr->ipcFd, stopping) < 0) {
            FCGX_Free(fr, 1); /* closes the kept connection */
            return -1;
        }
        /* FCGX_Accept_r first finishes "the current request": with
         * keepConnection set it leaves our connection open. It then reads
         * the begin-request and params records from fr->ipcFd. */
        fr->keepConnection = 1;
        if (FCGX_Accept_r(fr) == 0)
            return 0;
        /* The connection ended or sent garbage before its request was
         * complete: libfcgi closed it (and failed to accept on -1). */
        if (fr->ipcFd >= 0)
            close(fr->ipcFd);
        fr->ipcFd = -1;
    }
}
