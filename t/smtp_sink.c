/*
 * smtp_sink.c — a tiny SMTP peer for tests (health check, alert e-mails).
 *
 *   smtp-sink --port P [--mode ok|mute|bad] [--dir DIR]
 *
 * ok:   220 greeting, EHLO/HELO/MAIL/RCPT/RSET/NOOP → 250, DATA → 354 and the
 *       message (up to the lone ".") is saved as DIR/msg-N.eml; QUIT → 221.
 * mute: accepts connections and never says anything (timeouts).
 * bad:  greets with "554 go away" and closes.
 * Serves one connection at a time until killed. Binds 127.0.0.1 only.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static void say(FILE *f, const char *s)
{
    fputs(s, f);
    fputs("\r\n", f);
    fflush(f);
}

static void session(int fd, const char *mode, const char *dir, int *seq)
{
    FILE *in = fdopen(fd, "r"), *out = fdopen(dup(fd), "w");
    char line[4096];

    if (in == NULL || out == NULL)
        return;
    if (strcmp(mode, "mute") == 0) {
        while (fgets(line, sizeof line, in))
            ;
        goto done;
    }
    if (strcmp(mode, "bad") == 0) {
        say(out, "554 go away");
        goto done;
    }
    say(out, "220 smtp-sink ESMTP ready");
    while (fgets(line, sizeof line, in)) {
        if (strncasecmp(line, "EHLO", 4) == 0) {
            say(out, "250-smtp-sink");
            say(out, "250 8BITMIME");
        } else if (strncasecmp(line, "DATA", 4) == 0) {
            char path[4096];
            FILE *m;

            snprintf(path, sizeof path, "%s/msg-%d.eml", dir ? dir : "/tmp", ++*seq);
            m = fopen(path, "w");
            say(out, "354 end with <CRLF>.<CRLF>");
            while (fgets(line, sizeof line, in)) {
                if (strcmp(line, ".\r\n") == 0 || strcmp(line, ".\n") == 0)
                    break;
                if (m)
                    fputs(line[0] == '.' ? line + 1 : line, m);
            }
            if (m)
                fclose(m);
            say(out, "250 queued");
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            say(out, "221 bye");
            break;
        } else {
            say(out, "250 ok");
        }
    }
done:
    fclose(in);
    fclose(out);
}

int main(int argc, char **argv)
{
    const char *mode = "ok", *dir = NULL;
    struct sockaddr_in sa;
    int port = 0, fd, one = 1, seq = 0, i;

    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);   /* test tool, trusted input */
        else if (strcmp(argv[i], "--mode") == 0)
            mode = argv[i + 1];
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
    }
    if (port <= 0) {
        fprintf(stderr, "usage: smtp-sink --port P [--mode ok|mute|bad] [--dir DIR]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((unsigned short)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
        perror("smtp-sink");
        return 1;
    }
    for (;;) {
        int c = accept(fd, NULL, NULL);

        if (c >= 0)
            session(c, mode, dir, &seq);
    }
}
