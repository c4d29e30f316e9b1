/*
 * cmd_check.c — `bffctl check [--deploy]`, in the spirit of Django's
 * `manage.py check --deploy`: inspect the configuration and the database,
 * print one line per finding ("ERROR bff.E002: ..."), a summary line, and
 * exit 1 when any finding is an ERROR. Nothing is changed.
 *
 * Always: the database is reachable (E001), no migration is pending (E002),
 * none is unknown to this build (W002), an active superuser exists (W001).
 * With --deploy, for a production host:
 *   E010 BFF_ENV is not production          E011 BFF_LOG_LEVEL=debug
 *   E012/W012 database over TCP without a password (W: loopback)
 *   E013/W013 remote database without enforced TLS (W: sslmode=require,
 *             which does not verify the server)
 *   E016 BFF_DATABASE_URL does not parse
 *   E014/W014 env file readable/writable by others / writable by its group
 *   E015 env file missing      I001 no env file named
 *   E020 nginx passes /metrics to FastCGI for non-loopback clients
 *   E021 nginx talks FastCGI over TCP to a non-loopback address
 *   E022 the FastCGI unix socket is accessible to every local user
 *   E023 nginx config unreadable/unparsable       I002 no nginx config named
 *   E024 spawn-fcgi (--fcgi-unit) listens on a non-loopback TCP address
 *   W020 server_tokens not off   W021 login not rate-limited (limit_req)
 *   W023 FastCGI over loopback TCP instead of a unix socket
 *   W030 BFF_SMTP_URL or BFF_ALERT_EMAIL empty: alerts are not sent
 * docs/security.md explains each one and its fix.
 */
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "commands.h"
#include "config.h"
#include "migrate.h"

struct report {
    int errors, warnings, infos;
};

/* Print "LEVEL bff.XNNN: message" (level 'E', 'W' or 'I'). */
static void finding(struct report *rp, char level, int num, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finding(struct report *rp, char level, int num, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    msg[strcspn(msg, "\n")] = '\0';
    printf("%s bff.%c%03d: %s\n",
           level == 'E'   ? "ERROR"
           : level == 'W' ? "WARNING"
                          : "INFO",
           level, num, msg);
    if (level == 'E')
        rp->errors++;
    else if (level == 'W')
        rp->warnings++;
    else
        rp->infos++;
}

/* ------------------------------------------------------------ database */

struct pending {
    char names[512];
    size_t len;
};

static void note_pending(const char *name, void *arg)
{
    struct pending *p = arg;

    if (p->len < sizeof p->names)
        p->len += (size_t)snprintf(p->names + p->len, sizeof p->names - p->len, "%s%s",
                                   p->len ? ", " : "", name);
}

static void note_unknown(const char *name, const char *applied_at, int known, void *arg)
{
    struct pending *p = arg;

    (void)applied_at;
    if (!known)
        note_pending(name, p);
}

static struct bff_stmt has_superuser = {
    "ctl_check_superuser", "SELECT EXISTS (SELECT 1 FROM users WHERE is_superuser AND is_active)",
    0, 0};

static void check_database(struct report *rp)
{
    struct pending pend = {"", 0}, unknown = {"", 0};
    struct bff_error e;
    struct bff_db db;
    PGresult *r;
    int n = 0;

    bff_error_clear(&e);
    bff_db_init(&db, &bff_cfg, bff_cfg.database_url);
    bff_db_set_application_name(&db, "bffctl");
    if (bff_db_ensure(&db, &e) != 0) {
        finding(rp, 'E', 1, "the database is unreachable: %s", e.msg);
        return;
    }
    if (bff_migrate(&db, bff_migrations, 1, note_pending, &pend, &n, &e) != 0) {
        finding(rp, 'E', 1, "cannot read the migration state: %s", e.msg);
        bff_db_close(&db);
        return;
    }
    if (n > 0)
        finding(rp, 'E', 2, "%d migration%s pending (%s): run 'bffctl migrate'", n,
                n == 1 ? "" : "s", pend.names);
    bff_error_clear(&e);
    if (bff_migrate_status(&db, bff_migrations, note_unknown, &unknown, &e) == 0 && unknown.len)
        finding(rp, 'W', 2,
                "the database has migrations this build does not know (%s): a newer release "
                "migrated it",
                unknown.names);
    bff_error_clear(&e);
    if ((r = bff_db_exec(&db, &has_superuser, NULL, &e)) != NULL) {
        if (!bff_db_bool(r, 0, 0))
            finding(rp, 'W', 1,
                    "no active superuser: create one with 'bffctl createsuperuser --username U'");
        PQclear(r);
    } else if (n == 0) {
        finding(rp, 'E', 1, "cannot query users: %s", e.msg);
    }
    bff_db_close(&db);
}

/* ------------------------------------------------------- addresses */

/* 1 for localhost, 127.0.0.0/8 and ::1 (with or without brackets). */
static int is_loopback(const char *h)
{
    if (h[0] == '[')
        h++;
    return strncmp(h, "127.", 4) == 0 || strcmp(h, "localhost") == 0 || strncmp(h, "::1", 3) == 0 ||
           strncmp(h, "ip6-localhost", 13) == 0;
}

/* Host part of "host:port", "[v6]:port", "port" or "host" into out ("" for
 * a bare port, meaning every address). */
static void host_of(const char *addr, char *out, size_t n)
{
    const char *colon;
    size_t len;

    if (addr[0] == '[') {
        const char *end = strchr(addr, ']');

        len = end ? (size_t)(end - addr + 1) : strlen(addr);
    } else if ((colon = strrchr(addr, ':')) != NULL) {
        len = (size_t)(colon - addr);
    } else if (strspn(addr, "0123456789") == strlen(addr)) {
        len = 0;
    } else {
        len = strlen(addr);
    }
    snprintf(out, n, "%.*s", (int)len, addr);
}

/* An address nginx/spawn-fcgi binds: 1 when reachable from other hosts. */
static int binds_public(const char *host)
{
    if (host[0] == '\0' || strcmp(host, "*") == 0)
        return 1;
    return !is_loopback(host);
}

/* --------------------------------------------------- database URL */

static int file_readable(const char *path)
{
    return path && path[0] && access(path, R_OK) == 0;
}

static void check_database_url(struct report *rp)
{
    const char *host = NULL, *hostaddr = NULL, *password = NULL, *sslmode = NULL, *passfile = NULL;
    char *err = NULL, hosts[512], pgpass[1024];
    PQconninfoOption *opts, *o;
    int remote = 0, loopback_tcp = 0, has_password;
    char *tok, *save = NULL;

    if ((opts = PQconninfoParse(bff_cfg.database_url, &err)) == NULL) {
        if (err)
            err[strcspn(err, "\n")] = '\0';
        finding(rp, 'E', 16, "BFF_DATABASE_URL does not parse: %s", err ? err : "out of memory");
        PQfreemem(err);
        return;
    }
    for (o = opts; o->keyword; o++) {
        if (o->val == NULL || o->val[0] == '\0')
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "password") == 0)
            password = o->val;
        else if (strcmp(o->keyword, "sslmode") == 0)
            sslmode = o->val;
        else if (strcmp(o->keyword, "passfile") == 0)
            passfile = o->val;
    }
    /* libpq's environment defaults apply to what the URL leaves out. */
    if (!host && !hostaddr)
        host = getenv("PGHOST");
    if (!sslmode)
        sslmode = getenv("PGSSLMODE");
    if (!passfile)
        passfile = getenv("PGPASSFILE");
    if (!passfile && getenv("HOME")) {
        snprintf(pgpass, sizeof pgpass, "%s/.pgpass", getenv("HOME"));
        passfile = pgpass;
    }
    has_password = password != NULL || (getenv("PGPASSWORD") && getenv("PGPASSWORD")[0]) ||
                   file_readable(passfile);
    snprintf(hosts, sizeof hosts, "%s", hostaddr ? hostaddr : host ? host : "");
    for (tok = strtok_r(hosts, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        if (tok[0] == '/' || tok[0] == '@' || tok[0] == '\0')
            continue; /* unix socket: peer authentication, no network */
        if (is_loopback(tok))
            loopback_tcp = 1;
        else
            remote = 1;
    }
    if (!has_password && remote)
        finding(rp, 'E', 12,
                "BFF_DATABASE_URL connects to a remote host over TCP without a password "
                "(trust authentication?): use a password (or a passfile) or a unix socket");
    else if (!has_password && loopback_tcp)
        finding(rp, 'W', 12,
                "BFF_DATABASE_URL connects over loopback TCP without a password: any local "
                "user can connect the same way; prefer a unix socket (host=/run/postgresql)");
    if (remote) {
        const char *m = sslmode ? sslmode : "prefer";

        if (strcmp(m, "require") == 0)
            finding(rp, 'W', 13,
                    "BFF_DATABASE_URL has sslmode=require, which does not verify the server's "
                    "certificate: use sslmode=verify-full");
        else if (strcmp(m, "verify-ca") != 0 && strcmp(m, "verify-full") != 0)
            finding(rp, 'E', 13,
                    "BFF_DATABASE_URL reaches a remote host with sslmode=%s%s: the connection "
                    "may be unencrypted; set sslmode=verify-full",
                    m, sslmode ? "" : " (the default)");
    }
    PQconninfoFree(opts);
}

/* ------------------------------------------------------------ env file */

static void check_env_file(struct report *rp, const char *path)
{
    struct stat st;

    if (path == NULL || path[0] == '\0') {
        finding(rp, 'I', 1,
                "no env file named (--env-file F or BFF_ENV_FILE): its permissions were not "
                "checked");
        return;
    }
    if (stat(path, &st) != 0) {
        finding(rp, 'E', 15, "env file %s: %s", path, strerror(errno));
        return;
    }
    if (st.st_mode & (S_IROTH | S_IWOTH))
        finding(rp, 'E', 14,
                "env file %s is mode %04o: readable%s by every local user, and it holds the "
                "database URL; chmod 0640 (owner root, group of the service)",
                path, (unsigned)(st.st_mode & 07777), st.st_mode & S_IWOTH ? "/writable" : "");
    else if (st.st_mode & S_IWGRP)
        finding(rp, 'W', 14, "env file %s is mode %04o: writable by its group; chmod 0640", path,
                (unsigned)(st.st_mode & 07777));
}

/* ---------------------------------------------------------------- nginx */

#define NG_WORDS 8
#define NG_WORD 512
#define NG_MAX 128

struct access {
    int rules; /* any allow/deny here */
    int deny_all;
    int allow_public; /* allow of a non-loopback address (or all) */
};

struct ng_server {
    int listens, public_listen;
    struct access acc;
    int limit_req;
};

struct ng_loc {
    char mod[4]; /* "", "=", "~", "~*", "^~" */
    char pat[NG_WORD];
    int server, parent; /* indexes, -1 none */
    int fastcgi, limit_req;
    struct access acc;
};

struct ng_upstream {
    char name[128];
    char servers[16][NG_WORD];
    int n;
};

struct ng_conf {
    struct ng_server servers[16];
    int nservers;
    struct ng_loc locs[NG_MAX];
    int nlocs;
    struct ng_upstream ups[16];
    int nups;
    char passes[32][NG_WORD];
    int npasses;
    struct access http_acc;
    int http_limit_req;
    int tokens_off, tokens_on;
};

struct lex {
    const char *p;
    int line;
};

/* Next token: 'w' (a word, unquoted into buf), ';', '{', '}', 0 at the end,
 * -1 on an unterminated quote. */
static int lex_next(struct lex *l, char *buf, size_t n)
{
    size_t o = 0;

    for (;;) {
        while (isspace((unsigned char)*l->p)) {
            if (*l->p == '\n')
                l->line++;
            l->p++;
        }
        if (*l->p != '#')
            break;
        while (*l->p && *l->p != '\n')
            l->p++;
    }
    if (*l->p == '\0')
        return 0;
    if (strchr(";{}", *l->p))
        return *l->p++;
    if (*l->p == '"' || *l->p == '\'') {
        char q = *l->p++;

        while (*l->p && *l->p != q) {
            if (*l->p == '\\' && l->p[1])
                l->p++;
            if (*l->p == '\n')
                l->line++;
            if (o + 1 < n)
                buf[o++] = *l->p;
            l->p++;
        }
        if (*l->p != q)
            return -1;
        l->p++;
    } else {
        while (*l->p && !isspace((unsigned char)*l->p) && !strchr(";{}", *l->p)) {
            if (*l->p == '\\' && l->p[1])
                l->p++;
            if (o + 1 < n)
                buf[o++] = *l->p;
            l->p++;
        }
    }
    buf[o] = '\0';
    return 'w';
}

enum ng_ctx { C_MAIN, C_HTTP, C_SERVER, C_LOCATION, C_UPSTREAM, C_IF, C_OPAQUE };

struct frame {
    enum ng_ctx kind;
    int index; /* server / location / upstream index */
};

static void note_access(struct access *a, const char *verb, const char *what)
{
    a->rules = 1;
    if (strcmp(verb, "deny") == 0) {
        if (strcmp(what, "all") == 0)
            a->deny_all = 1;
    } else if (strcmp(what, "all") == 0 || (strncmp(what, "unix:", 5) != 0 && !is_loopback(what))) {
        a->allow_public = 1;
    }
}

/* The innermost server/location frame (for directives inside `if`). */
static const struct frame *owner(const struct frame *st, int depth)
{
    int i;

    for (i = depth; i >= 0; i--)
        if (st[i].kind != C_IF)
            return &st[i];
    return &st[0];
}

static void ng_directive(struct ng_conf *c, const struct frame *st, int depth, char w[][NG_WORD],
                         int nw)
{
    const struct frame *f = owner(st, depth);
    struct access *acc = NULL;

    if (f->kind == C_OPAQUE)
        return;
    if (f->kind == C_UPSTREAM) {
        struct ng_upstream *u = &c->ups[f->index];

        if (strcmp(w[0], "server") == 0 && nw > 1 && u->n < 16)
            snprintf(u->servers[u->n++], NG_WORD, "%s", w[1]);
        return;
    }
    if (f->kind == C_LOCATION)
        acc = &c->locs[f->index].acc;
    else if (f->kind == C_SERVER)
        acc = &c->servers[f->index].acc;
    else if (f->kind == C_HTTP)
        acc = &c->http_acc;
    if (strcmp(w[0], "server_tokens") == 0 && nw > 1) {
        if (strcmp(w[1], "off") == 0)
            c->tokens_off = 1;
        else
            c->tokens_on = 1;
    } else if ((strcmp(w[0], "allow") == 0 || strcmp(w[0], "deny") == 0) && nw > 1 && acc) {
        note_access(acc, w[0], w[1]);
    } else if (strcmp(w[0], "limit_req") == 0) {
        if (f->kind == C_LOCATION)
            c->locs[f->index].limit_req = 1;
        else if (f->kind == C_SERVER)
            c->servers[f->index].limit_req = 1;
        else
            c->http_limit_req = 1;
    } else if (strcmp(w[0], "fastcgi_pass") == 0 && nw > 1) {
        int i;

        if (f->kind == C_LOCATION)
            c->locs[f->index].fastcgi = 1;
        for (i = 0; i < c->npasses; i++)
            if (strcmp(c->passes[i], w[1]) == 0)
                break;
        if (i == c->npasses && c->npasses < 32)
            snprintf(c->passes[c->npasses++], NG_WORD, "%s", w[1]);
    } else if (strcmp(w[0], "listen") == 0 && nw > 1 && f->kind == C_SERVER) {
        char host[NG_WORD];
        struct ng_server *s = &c->servers[f->index];

        s->listens++;
        if (strncmp(w[1], "unix:", 5) != 0) {
            host_of(w[1], host, sizeof host);
            if (binds_public(host))
                s->public_listen = 1;
        }
    }
}

/* Open a block: push the frame for `w[0] w[1..]{`. -1 when too deep/many. */
static int ng_block(struct ng_conf *c, struct frame *st, int *depth, char w[][NG_WORD], int nw)
{
    const struct frame *f = owner(st, *depth);
    struct frame nf = {C_OPAQUE, -1};

    if (*depth + 1 >= 32)
        return -1;
    if (f->kind == C_OPAQUE) {
        /* everything inside an opaque block is opaque */
    } else if (strcmp(w[0], "http") == 0) {
        nf.kind = C_HTTP;
    } else if (strcmp(w[0], "server") == 0 && f->kind == C_HTTP) {
        if (c->nservers >= 16)
            return -1;
        nf.kind = C_SERVER;
        nf.index = c->nservers++;
    } else if (strcmp(w[0], "upstream") == 0 && nw > 1) {
        if (c->nups >= 16)
            return -1;
        nf.kind = C_UPSTREAM;
        nf.index = c->nups;
        snprintf(c->ups[c->nups++].name, sizeof c->ups[0].name, "%s", w[1]);
    } else if (strcmp(w[0], "location") == 0 && nw > 1 &&
               (f->kind == C_SERVER || f->kind == C_LOCATION)) {
        struct ng_loc *l;
        const char *a = w[1], *pat = nw > 2 ? w[2] : "";
        static const char *mods[] = {"^~", "~*", "=", "~", NULL};
        int m;

        if (c->nlocs >= NG_MAX)
            return -1;
        l = &c->locs[c->nlocs];
        memset(l, 0, sizeof *l);
        for (m = 0; mods[m]; m++) {
            size_t k = strlen(mods[m]);

            if (strncmp(a, mods[m], k) == 0) {
                snprintf(l->mod, sizeof l->mod, "%s", mods[m]);
                /* "location =/x" as well as "location = /x" */
                if (a[k] != '\0')
                    pat = a + k;
                break;
            }
        }
        if (!mods[m])
            pat = a;
        snprintf(l->pat, sizeof l->pat, "%s", pat);
        l->parent = f->kind == C_LOCATION ? f->index : -1;
        l->server = f->kind == C_LOCATION ? c->locs[f->index].server : f->index;
        nf.kind = C_LOCATION;
        nf.index = c->nlocs++;
    } else if (strcmp(w[0], "if") == 0) {
        nf.kind = C_IF;
    }
    /* map, types, events, geo, limit_except, ...: opaque */
    st[++*depth] = nf;
    return 0;
}

/* Parse text into c. 0, or -1 with a message in err. */
static int ng_parse(const char *text, struct ng_conf *c, char *err, size_t errn)
{
    static char w[NG_WORDS][NG_WORD];
    struct frame st[32];
    struct lex l = {text, 1};
    int depth = 0, nw = 0, t;

    memset(c, 0, sizeof *c);
    st[0].kind = C_MAIN;
    st[0].index = -1;
    while ((t = lex_next(&l, w[nw < NG_WORDS ? nw : NG_WORDS - 1], NG_WORD)) != 0) {
        if (t < 0) {
            snprintf(err, errn, "line %d: unterminated quote", l.line);
            return -1;
        }
        if (t == 'w') {
            if (nw < NG_WORDS)
                nw++;
            continue;
        }
        if (t == ';') {
            if (nw > 0)
                ng_directive(c, st, depth, w, nw);
        } else if (t == '{') {
            if (nw == 0 || ng_block(c, st, &depth, w, nw) != 0) {
                snprintf(err, errn, "line %d: unexpected or too deeply nested block", l.line);
                return -1;
            }
        } else if (t == '}') {
            if (nw != 0 || depth == 0) {
                snprintf(err, errn, "line %d: unexpected '}'", l.line);
                return -1;
            }
            depth--;
        }
        nw = 0;
    }
    if (depth != 0 || nw != 0) {
        snprintf(err, errn, "unexpected end of file");
        return -1;
    }
    return 0;
}

static int regex_match(const char *pat, int icase, const char *s)
{
    regex_t re;
    int ok;

    if (regcomp(&re, pat, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0)) != 0)
        return 0;
    ok = regexec(&re, s, 0, NULL, 0) == 0;
    regfree(&re);
    return ok;
}

/* The location of server s that nginx picks for uri (exact, then the longest
 * prefix — final when ^~ —, then the first matching regex), or NULL. */
static const struct ng_loc *ng_match(const struct ng_conf *c, int s, const char *uri)
{
    const struct ng_loc *best = NULL;
    int i;

    for (i = 0; i < c->nlocs; i++) {
        const struct ng_loc *l = &c->locs[i];

        if (l->server != s || l->pat[0] == '@')
            continue;
        if (strcmp(l->mod, "=") == 0 && strcmp(l->pat, uri) == 0)
            return l;
        if ((l->mod[0] == '\0' || strcmp(l->mod, "^~") == 0) &&
            strncmp(uri, l->pat, strlen(l->pat)) == 0 &&
            (best == NULL || strlen(l->pat) > strlen(best->pat)))
            best = l;
    }
    if (best && strcmp(best->mod, "^~") == 0)
        return best;
    for (i = 0; i < c->nlocs; i++) {
        const struct ng_loc *l = &c->locs[i];

        if (l->server == s && l->mod[0] == '~' && regex_match(l->pat, l->mod[1] == '*', uri))
            return l;
    }
    return best;
}

/* Access rules in force in location l: its own, else its parents', the
 * server's, http's (nginx inherits allow/deny only when a level has none). */
static const struct access *ng_access(const struct ng_conf *c, const struct ng_loc *l)
{
    const struct ng_loc *p;

    for (p = l; p; p = p->parent >= 0 ? &c->locs[p->parent] : NULL)
        if (p->acc.rules)
            return &p->acc;
    if (c->servers[l->server].acc.rules)
        return &c->servers[l->server].acc;
    return &c->http_acc;
}

static int ng_limited(const struct ng_conf *c, const struct ng_loc *l)
{
    const struct ng_loc *p;

    for (p = l; p; p = p->parent >= 0 ? &c->locs[p->parent] : NULL)
        if (p->limit_req)
            return 1;
    return c->servers[l->server].limit_req || c->http_limit_req;
}

/* One FastCGI address (unix:/path or host:port) of fastcgi_pass/upstream. */
static void check_fcgi_addr(struct report *rp, const char *addr, const char *via)
{
    char host[NG_WORD];
    struct stat st;

    if (strchr(addr, '$'))
        return; /* set at run time: cannot tell */
    if (strncmp(addr, "unix:", 5) == 0) {
        if (stat(addr + 5, &st) == 0 && (st.st_mode & (S_IROTH | S_IWOTH)))
            finding(rp, 'E', 22,
                    "FastCGI socket %s is mode %04o: every local user can talk to bff-fcgi "
                    "directly, past nginx's rate limits and /metrics rule; run spawn-fcgi "
                    "with -M 0660",
                    addr + 5, (unsigned)(st.st_mode & 07777));
        return;
    }
    host_of(addr, host, sizeof host);
    if (host[0] && !is_loopback(host))
        finding(rp, 'E', 21,
                "nginx %s sends FastCGI to %s: unauthenticated, unencrypted, and the app "
                "trusts what it says; use a unix socket (mode 0660)",
                via, addr);
    else
        finding(rp, 'W', 23,
                "nginx %s sends FastCGI over TCP (%s): every local user can connect to it; "
                "use a unix socket (mode 0660)",
                via, addr);
}

static char *slurp(const char *path, char *err, size_t errn)
{
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    size_t n = 0, cap = 0, got;

    if (f == NULL) {
        snprintf(err, errn, "%s", strerror(errno));
        return NULL;
    }
    do {
        if (cap - n < 4096) {
            char *nb;

            if (cap > 16 * 1024 * 1024 || (nb = realloc(buf, cap + 65536)) == NULL) {
                snprintf(err, errn, "too large");
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
            cap += 65536;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got > 0);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static void check_nginx(struct report *rp, const char *path)
{
    static struct ng_conf c;
    char err[256], via[NG_WORD + 32];
    char *text;
    int s, i, j;

    if (path == NULL || path[0] == '\0') {
        finding(rp, 'I', 2,
                "no nginx config named (--nginx-conf F or BFF_NGINX_CONF): /metrics and "
                "FastCGI exposure were not checked");
        return;
    }
    if ((text = slurp(path, err, sizeof err)) == NULL) {
        finding(rp, 'E', 23, "nginx config %s: %s", path, err);
        return;
    }
    if (ng_parse(text, &c, err, sizeof err) != 0) {
        free(text);
        finding(rp, 'E', 23, "nginx config %s: %s", path, err);
        return;
    }
    free(text);
    if (!c.tokens_off || c.tokens_on)
        finding(rp, 'W', 20,
                "nginx config %s: server_tokens is not off: nginx tells its "
                "version to every client",
                path);
    for (s = 0; s < c.nservers; s++) {
        const struct ng_loc *l;

        /* A server without listen takes *:80; one bound to loopback only is
         * not reachable from other hosts whatever its locations say. */
        if (c.servers[s].listens > 0 && !c.servers[s].public_listen)
            continue;
        l = ng_match(&c, s, "/metrics");
        if (l && l->fastcgi) {
            const struct access *a = ng_access(&c, l);

            if (!a->deny_all || a->allow_public)
                finding(rp, 'E', 20,
                        "nginx config %s: /metrics reaches FastCGI from any address (location "
                        "%s%s%s): add a location /metrics with 'allow 127.0.0.1; allow ::1; "
                        "deny all;'",
                        path, l->mod, l->mod[0] ? " " : "", l->pat);
        }
        l = ng_match(&c, s, "/api/auth/token/");
        if (l && l->fastcgi && !ng_limited(&c, l))
            finding(rp, 'W', 21,
                    "nginx config %s: POST /api/auth/token/ is not rate-limited (no limit_req "
                    "in location %s%s%s): passwords can be guessed at full speed",
                    path, l->mod, l->mod[0] ? " " : "", l->pat);
    }
    for (i = 0; i < c.npasses; i++) {
        for (j = 0; j < c.nups; j++)
            if (strcmp(c.ups[j].name, c.passes[i]) == 0)
                break;
        if (j < c.nups) {
            int k;

            snprintf(via, sizeof via, "upstream %s", c.ups[j].name);
            for (k = 0; k < c.ups[j].n; k++)
                check_fcgi_addr(rp, c.ups[j].servers[k], via);
        } else {
            check_fcgi_addr(rp, c.passes[i], "fastcgi_pass");
        }
    }
}

/* ----------------------------------------------------- spawn-fcgi unit */

/*
 * A systemd unit or script that runs spawn-fcgi: its -a/-p (TCP) or -s/-M
 * (unix socket) options. spawn-fcgi binds 0.0.0.0 when -p comes without -a.
 */
static void check_fcgi_unit(struct report *rp, const char *path)
{
    char err[256], *text, *line, *save = NULL, *p;

    if (path == NULL || path[0] == '\0')
        return;
    if ((text = slurp(path, err, sizeof err)) == NULL) {
        finding(rp, 'E', 24, "FastCGI unit %s: %s", path, err);
        return;
    }
    /* join continuation lines */
    for (p = text; (p = strstr(p, "\\\n")) != NULL;)
        p[0] = p[1] = ' ';
    for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *tok, *s2 = NULL, *a = NULL, *port = NULL, *sock = NULL, *mode = NULL;
        int seen = 0;

        for (tok = strtok_r(line, " \t", &s2); tok; tok = strtok_r(NULL, " \t", &s2)) {
            char **slot = NULL;

            if (strstr(tok, "spawn-fcgi"))
                seen = 1;
            else if (strcmp(tok, "--") == 0 && seen)
                break;
            if (!seen)
                continue;
            if (strcmp(tok, "-a") == 0)
                slot = &a;
            else if (strcmp(tok, "-p") == 0)
                slot = &port;
            else if (strcmp(tok, "-s") == 0)
                slot = &sock;
            else if (strcmp(tok, "-M") == 0)
                slot = &mode;
            if (slot)
                *slot = strtok_r(NULL, " \t", &s2);
        }
        if (!seen || line[0] == '#')
            continue;
        if (port && binds_public(a ? a : "0.0.0.0"))
            finding(rp, 'E', 24,
                    "%s: spawn-fcgi listens on %s:%s, open to other hosts: use -s SOCKET -M 0660",
                    path, a ? a : "0.0.0.0 (no -a)", port);
        else if (port)
            finding(rp, 'W', 23, "%s: spawn-fcgi listens on TCP %s:%s: use -s SOCKET -M 0660", path,
                    a, port);
        if (sock && mode && (strtol(mode, NULL, 8) & 06))
            finding(rp, 'E', 22, "%s: spawn-fcgi socket %s gets mode %s: use -M 0660", path, sock,
                    mode);
    }
    free(text);
}

/* --------------------------------------------------------------- main */

static void check_deploy(struct report *rp, const char *env_file, const char *nginx_conf,
                         const char *fcgi_unit)
{
    if (bff_cfg.env != BFF_ENV_PRODUCTION)
        finding(rp, 'E', 10,
                "BFF_ENV is not 'production': set BFF_ENV=production on a deployed host");
    if (bff_cfg.log_level == BFF_LOG_DEBUG)
        finding(rp, 'E', 11,
                "BFF_LOG_LEVEL=debug: debug logs are verbose and may carry request details; "
                "use info");
    check_database_url(rp);
    if (bff_cfg.smtp_url == NULL || bff_cfg.smtp_url[0] == '\0' || bff_cfg.alert_email == NULL ||
        bff_cfg.alert_email[0] == '\0')
        finding(rp, 'W', 30,
                "BFF_SMTP_URL or BFF_ALERT_EMAIL is empty: low-stock alerts and monthly "
                "reports are not sent");
    check_env_file(rp, env_file);
    check_nginx(rp, nginx_conf);
    check_fcgi_unit(rp, fcgi_unit);
}

int cmd_check(int argc, char **argv)
{
    const char *env_file = getenv("BFF_ENV_FILE"), *nginx_conf = getenv("BFF_NGINX_CONF");
    const char *fcgi_unit = NULL;
    struct report rp = {0, 0, 0};
    int deploy = 0, i, f, issues;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--deploy") == 0) {
            deploy = 1;
            continue;
        }
        if ((f = bffctl_opt(argc, argv, &i, "--env-file", &env_file)) ||
            (f = bffctl_opt(argc, argv, &i, "--nginx-conf", &nginx_conf)) ||
            (f = bffctl_opt(argc, argv, &i, "--fcgi-unit", &fcgi_unit))) {
            if (f < 0)
                return bffctl_usage_error(argv[0], "%s needs a value", argv[i]);
            continue;
        }
        return bffctl_usage_error(argv[0], "unexpected argument '%s'", argv[i]);
    }
    check_database(&rp);
    if (deploy)
        check_deploy(&rp, env_file, nginx_conf, fcgi_unit);
    issues = rp.errors + rp.warnings;
    if (issues == 0)
        printf("System check identified no issues%s.\n", rp.infos ? " (see the INFO lines)" : "");
    else
        printf("System check identified %d issue%s: %d error%s, %d warning%s.\n", issues,
               issues == 1 ? "" : "s", rp.errors, rp.errors == 1 ? "" : "s", rp.warnings,
               rp.warnings == 1 ? "" : "s");
    fflush(stdout);
    if (rp.errors > 0)
        return bffctl_fail(argv[0], "%d error%s found", rp.errors, rp.errors == 1 ? "" : "s");
    return 0;
}
