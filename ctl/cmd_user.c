/*
 * cmd_user.c — `bffctl createsuperuser` and `bffctl user ...` (manage.py
 * createsuperuser / changepassword, and the permission admin of SPEC §4).
 *
 * Passwords never travel on the command line (ps would show them): they come
 * from an environment variable (BFF_SUPERUSER_PASSWORD for createsuperuser,
 * BFF_USER_PASSWORD for user create/set-password) or from stdin — one line,
 * asked twice without echo when stdin is a terminal. Only the argon2id hash
 * is stored; nothing here prints a hash.
 *
 * Every change to a user's permissions or active flag drops the cached
 * user:{id}:permissions at once (bff_auth_forget_user; recorded for replay
 * when Redis is unreachable), so the next request already sees it.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "cache.h"
#include "commands.h"
#include "config.h"
#include "outbox.h"

#define PASSWORD_MAX 1024 /* what POST /api/auth/token/ accepts */

/* Username rule of schema/0002_auth.sql, checked here for a clear message. */
static int username_ok(const char *u)
{
    size_t n = strlen(u), k;

    if (n == 0 || n > 150)
        return 0;
    for (k = 0; k < n; k++)
        if (!((u[k] >= 'A' && u[k] <= 'Z') || (u[k] >= 'a' && u[k] <= 'z') ||
              (u[k] >= '0' && u[k] <= '9') || strchr("._@+-", u[k])))
            return 0;
    return 1;
}

/* Characters (UTF-8 code points) of s. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* One line of stdin into out (without the newline); echo off on a tty.
 * 0, or -1 at EOF/overlong line. */
static int read_line(const char *prompt, char *out, size_t n)
{
    struct termios old, quiet;
    int tty = isatty(STDIN_FILENO), rc = 0;
    size_t len;

    if (tty) {
        fputs(prompt, stderr);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &old) == 0) {
            quiet = old;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            quiet.c_lflag |= ECHONL;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        } else {
            tty = 0;
        }
    }
    if (fgets(out, (int)n, stdin) == NULL) {
        out[0] = '\0';
        rc = -1;
    } else {
        len = strlen(out);
        if (len > 0 && out[len - 1] == '\n')
            out[--len] = '\0';
        else if (len == n - 1)
            rc = -1; /* longer than the buffer */
        if (len > 0 && out[len - 1] == '\r')
            out[--len] = '\0';
    }
    if (tty)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    return rc;
}

/*
 * The new password of `username`: from the environment variable envname
 * when set, else stdin. Refuses empty, short (< BFF_PASSWORD_MIN chars),
 * overlong and username-equal passwords. 0, or the exit status after
 * printing the failure.
 */
static int get_password(const char *cmd, const char *envname, const char *username, char *out,
                        size_t n)
{
    const char *v = getenv(envname);

    if (v != NULL) {
        if (strlen(v) >= n)
            return bffctl_fail(cmd, "%s is longer than %d bytes", envname, PASSWORD_MAX);
        snprintf(out, n, "%s", v);
    } else {
        char again[PASSWORD_MAX + 2];

        if (read_line("Password: ", out, n) != 0) {
            if (out[0] != '\0')
                return bffctl_fail(cmd, "password longer than %d bytes", PASSWORD_MAX);
            return bffctl_fail(cmd, "no password: set %s or give one line on stdin", envname);
        }
        if (isatty(STDIN_FILENO)) {
            int differ = read_line("Password (again): ", again, sizeof again) != 0 ||
                         strcmp(out, again) != 0;

            sodium_memzero(again, sizeof again);
            if (differ)
                return bffctl_fail(cmd, "the two passwords differ");
        }
    }
    if (out[0] == '\0')
        return bffctl_fail(cmd, "the password is empty");
    if (utf8_len(out) < BFF_PASSWORD_MIN)
        return bffctl_fail(cmd, "the password is too short: at least %d characters",
                           BFF_PASSWORD_MIN);
    if (strcmp(out, username) == 0)
        return bffctl_fail(cmd, "the password must not be the username");
    return 0;
}

/* A hash nobody can log in with: of 32 random bytes, forgotten at once. */
static int unusable_hash(char hash[128])
{
    unsigned char raw[32];
    char hex[65];
    int rc;

    randombytes_buf(raw, sizeof raw);
    sodium_bin2hex(hex, sizeof hex, raw, sizeof raw);
    rc = bff_password_hash(hex, hash);
    sodium_memzero(raw, sizeof raw);
    sodium_memzero(hex, sizeof hex);
    return rc;
}

static struct bff_stmt user_find = {
    "ctl_user_find", "SELECT id, is_superuser, is_active FROM users WHERE username = $1", 1, 0};
static struct bff_stmt user_insert = {
    "ctl_user_insert",
    "INSERT INTO users (username, password_hash, is_superuser) VALUES ($1, $2, $3)"
    " ON CONFLICT (username) DO NOTHING RETURNING id",
    3, 0};
static struct bff_stmt perms_insert = {"ctl_perms_insert",
                                       "INSERT INTO user_permissions (user_id, permission)"
                                       " SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING",
                                       2, 0};
static struct bff_stmt perm_delete = {
    "ctl_perm_delete", "DELETE FROM user_permissions WHERE user_id = $1 AND permission = $2", 2, 0};
static struct bff_stmt user_active = {"ctl_user_active",
                                      "UPDATE users SET is_active = $2 WHERE id = $1", 2, 0};
static struct bff_stmt user_password = {"ctl_user_password",
                                        "UPDATE users SET password_hash = $2 WHERE id = $1", 2, 0};
static struct bff_stmt user_list = {
    "ctl_user_list",
    "SELECT u.id, u.username, u.is_superuser, u.is_active,"
    "       coalesce(string_agg(up.permission, ',' ORDER BY array_position(ARRAY["
    "         'products.read','products.write','stock.read','stock.write',"
    "         'orders.read','orders.write','metrics.read','admin'], up.permission)), '')"
    "  FROM users u LEFT JOIN user_permissions up ON up.user_id = u.id"
    " GROUP BY u.id ORDER BY u.username",
    0, 0};

struct user {
    int64_t id;
    int superuser, active;
};

/* Look a user up by name: 1 found, 0 not (printing so unless quiet), -1
 * failed (printed). */
static int find_user(const char *cmd, struct bff_db *db, const char *username, struct user *u,
                     int quiet)
{
    const char *p[1] = {username};
    struct bff_error e;
    PGresult *r;

    bff_error_clear(&e);
    if ((r = bff_db_exec(db, &user_find, p, &e)) == NULL) {
        bffctl_fail(cmd, "%s", e.msg);
        return -1;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        if (!quiet)
            bffctl_fail(cmd, "no user named '%s'", username);
        return 0;
    }
    u->id = bff_db_int(r, 0, 0);
    u->superuser = bff_db_bool(r, 0, 1);
    u->active = bff_db_bool(r, 0, 2);
    PQclear(r);
    return 1;
}

/* Run a statement whose rows are not needed; 0 and *changed (rows
 * affected; may be NULL), or 1 after printing. */
static int run(const char *cmd, struct bff_db *db, struct bff_stmt *st, const char *const *p,
               int *changed)
{
    struct bff_error e;
    PGresult *r;

    bff_error_clear(&e);
    if ((r = bff_db_exec(db, st, p, &e)) == NULL)
        return bffctl_fail(cmd, "%s", e.msg);
    if (changed)
        *changed = strcmp(PQcmdTuples(r), "0") != 0;
    PQclear(r);
    return 0;
}

/* Drop the cached permissions of a user (or record that for replay). */
static void forget_user(struct bff_db *db, int64_t id)
{
    struct bff_cache c;

    bff_cache_init(&c, &bff_cfg);
    bff_auth_forget_user(db, &c, id);
    bff_cache_close(&c);
}

/*
 * Insert a user with password hash and permission bits in one transaction.
 * 0 and *id; 1 when the name is taken or the insert failed (printed).
 */
static int insert_user(const char *cmd, struct bff_db *db, const char *username, const char *hash,
                       int superuser, unsigned perms, int64_t *id)
{
    const char *p3[3] = {username, hash, superuser ? "true" : "false"};
    char uid[24], arr[256];
    const char *p2[2] = {uid, arr};
    struct bff_error e;
    size_t o = 0;
    PGresult *r;
    int i;

    bff_error_clear(&e);
    if (bff_db_begin(db, &e) != 0)
        return bffctl_fail(cmd, "%s", e.msg);
    if ((r = bff_db_exec(db, &user_insert, p3, &e)) == NULL)
        goto fail;
    if (PQntuples(r) == 0) {
        PQclear(r);
        bff_db_rollback(db);
        return bffctl_fail(cmd, "user '%s' already exists", username);
    }
    *id = bff_db_int(r, 0, 0);
    PQclear(r);
    snprintf(uid, sizeof uid, "%" PRId64, *id);
    arr[o++] = '{';
    for (i = 0; i < BFF_NPERMS; i++)
        if (perms & (1u << i))
            o += (size_t)snprintf(arr + o, sizeof arr - o, "%s%s", o > 1 ? "," : "",
                                  bff_perm_name(1u << i));
    snprintf(arr + o, sizeof arr - o, "}");
    if (perms && (r = bff_db_exec(db, &perms_insert, p2, &e)) == NULL)
        goto fail;
    if (perms)
        PQclear(r);
    if (bff_db_commit(db, &e) != 0)
        return bffctl_fail(cmd, "%s", e.msg);
    return 0;
fail:
    bff_db_rollback(db);
    return bffctl_fail(cmd, "%s", e.msg);
}

/*
 * bffctl createsuperuser --username U: a superuser with a password from
 * BFF_SUPERUSER_PASSWORD or stdin. An existing user is left alone (exit 1):
 * use `user set-password` to change a password.
 */
int cmd_createsuperuser(int argc, char **argv)
{
    const char *username = NULL, *cmd = argv[0];
    char password[PASSWORD_MAX + 2], hash[128];
    struct bff_db db;
    struct user u;
    int64_t id;
    int i, rc, f;

    for (i = 1; i < argc; i++) {
        if ((f = bffctl_opt(argc, argv, &i, "--username", &username)) < 0)
            return bffctl_usage_error(cmd, "--username needs a value");
        if (f == 0)
            return bffctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (username == NULL)
        return bffctl_usage_error(cmd, "--username is required");
    if (!username_ok(username))
        return bffctl_usage_error(cmd, "username must be 1..150 of [A-Za-z0-9._@+-]");
    if (bffctl_db_open(cmd, &db) != 0)
        return 1;
    if ((rc = find_user(cmd, &db, username, &u, 1)) != 0) {
        bff_db_close(&db);
        if (rc > 0)
            return bffctl_fail(cmd,
                               "user '%s' already exists (change its password with "
                               "'bffctl user set-password %s')",
                               username, username);
        return 1;
    }
    if ((rc = get_password(cmd, "BFF_SUPERUSER_PASSWORD", username, password, sizeof password)) ==
        0) {
        rc = bff_password_hash(password, hash) != 0 ? bffctl_fail(cmd, "password hashing failed")
                                                    : 0;
    }
    sodium_memzero(password, sizeof password);
    if (rc == 0)
        rc = insert_user(cmd, &db, username, hash, 1, 0, &id);
    sodium_memzero(hash, sizeof hash);
    bff_db_close(&db);
    if (rc == 0)
        printf("Superuser '%s' created (id %" PRId64 ").\n", username, id);
    return rc;
}

/* Permission names (args) as bits; 0 with a usage error for an unknown one. */
static unsigned parse_perm(const char *cmd, const char *name, int *rc)
{
    unsigned bit = bff_perm_bit(name);

    if (bit == 0)
        *rc = bffctl_usage_error(cmd, "unknown permission '%s'; valid: %s", name, bff_perm_list());
    return bit;
}

static int user_create(const char *cmd, int argc, char **argv)
{
    const char *username = NULL, *p;
    char password[PASSWORD_MAX + 2], hash[128];
    int superuser = 0, nopass = 0, i, f, rc = 0;
    unsigned perms = 0, bit;
    struct bff_db db;
    int64_t id;

    for (i = 1; i < argc; i++) {
        if ((f = bffctl_opt(argc, argv, &i, "--username", &username)) < 0)
            return bffctl_usage_error(cmd, "--username needs a value");
        if (f)
            continue;
        if ((f = bffctl_opt(argc, argv, &i, "--perm", &p)) < 0)
            return bffctl_usage_error(cmd, "--perm needs a value");
        if (f) {
            if ((bit = parse_perm(cmd, p, &rc)) == 0)
                return rc;
            perms |= bit;
        } else if (strcmp(argv[i], "--superuser") == 0) {
            superuser = 1;
        } else if (strcmp(argv[i], "--no-password") == 0) {
            nopass = 1;
        } else {
            return bffctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    if (username == NULL)
        return bffctl_usage_error(cmd, "--username is required");
    if (!username_ok(username))
        return bffctl_usage_error(cmd, "username must be 1..150 of [A-Za-z0-9._@+-]");
    if (bffctl_db_open(cmd, &db) != 0)
        return 1;
    {
        struct user u;

        if ((rc = find_user(cmd, &db, username, &u, 1)) != 0) {
            bff_db_close(&db);
            return rc > 0 ? bffctl_fail(cmd, "user '%s' already exists", username) : 1;
        }
    }
    if (nopass) {
        rc = unusable_hash(hash) != 0 ? bffctl_fail(cmd, "password hashing failed") : 0;
    } else {
        rc = get_password(cmd, "BFF_USER_PASSWORD", username, password, sizeof password);
        if (rc == 0 && bff_password_hash(password, hash) != 0)
            rc = bffctl_fail(cmd, "password hashing failed");
        sodium_memzero(password, sizeof password);
    }
    if (rc == 0)
        rc = insert_user(cmd, &db, username, hash, superuser, perms, &id);
    sodium_memzero(hash, sizeof hash);
    bff_db_close(&db);
    if (rc == 0)
        printf("User '%s' created (id %" PRId64 ")%s.\n", username, id,
               nopass ? "; it cannot log in: give it tokens with 'bffctl token create'" : "");
    return rc;
}

/* user grant|revoke U P [P...] */
static int user_grant(const char *cmd, int argc, char **argv, int grant)
{
    unsigned perms = 0, bit;
    struct bff_db db;
    struct user u;
    char uid[24];
    int i, rc = 0;

    if (argc < 3)
        return bffctl_usage_error(cmd, "usage: user %s USERNAME PERMISSION...",
                                  grant ? "grant" : "revoke");
    for (i = 2; i < argc; i++) {
        if ((bit = parse_perm(cmd, argv[i], &rc)) == 0)
            return rc;
        perms |= bit;
    }
    if (bffctl_db_open(cmd, &db) != 0)
        return 1;
    if ((rc = find_user(cmd, &db, argv[1], &u, 0)) != 1) {
        bff_db_close(&db);
        return 1;
    }
    rc = 0;
    snprintf(uid, sizeof uid, "%" PRId64, u.id);
    for (i = 0; i < BFF_NPERMS && rc == 0; i++) {
        const char *p2[2] = {uid, bff_perm_name(1u << i)};
        char arr[64];
        int changed = 0;

        if (!(perms & (1u << i)))
            continue;
        if (grant) {
            snprintf(arr, sizeof arr, "{%s}", p2[1]);
            p2[1] = arr;
            rc = run(cmd, &db, &perms_insert, p2, &changed);
        } else {
            rc = run(cmd, &db, &perm_delete, p2, &changed);
        }
        if (rc == 0 && changed)
            printf("%s %s %s %s\n", grant ? "Granted" : "Revoked", bff_perm_name(1u << i),
                   grant ? "to" : "from", argv[1]);
        else if (rc == 0)
            printf("%s %s %s\n", argv[1], grant ? "already holds" : "did not hold",
                   bff_perm_name(1u << i));
    }
    /* Even after a partial failure: what did change must not stay cached. */
    forget_user(&db, u.id);
    bff_db_close(&db);
    if (rc == 0 && u.superuser && !grant)
        printf("Note: %s is a superuser and keeps every permission.\n", argv[1]);
    return rc;
}

/* user activate|deactivate U */
static int user_set_active(const char *cmd, int argc, char **argv, int active)
{
    struct bff_db db;
    struct user u;
    char uid[24];
    const char *p2[2] = {uid, active ? "true" : "false"};
    int rc;

    if (argc != 2)
        return bffctl_usage_error(cmd, "usage: user %s USERNAME",
                                  active ? "activate" : "deactivate");
    if (bffctl_db_open(cmd, &db) != 0)
        return 1;
    if (find_user(cmd, &db, argv[1], &u, 0) != 1) {
        bff_db_close(&db);
        return 1;
    }
    snprintf(uid, sizeof uid, "%" PRId64, u.id);
    rc = run(cmd, &db, &user_active, p2, NULL);
    forget_user(&db, u.id);
    bff_db_close(&db);
    if (rc == 0)
        printf("User '%s' %s.\n", argv[1], active ? "activated" : "deactivated");
    return rc;
}

/* user set-password U (BFF_USER_PASSWORD or stdin) */
static int user_set_password(const char *cmd, int argc, char **argv)
{
    char password[PASSWORD_MAX + 2], hash[128], uid[24];
    const char *p2[2] = {uid, hash};
    struct bff_db db;
    struct user u;
    int rc;

    if (argc != 2)
        return bffctl_usage_error(cmd, "usage: user set-password USERNAME");
    if (bffctl_db_open(cmd, &db) != 0)
        return 1;
    if (find_user(cmd, &db, argv[1], &u, 0) != 1) {
        bff_db_close(&db);
        return 1;
    }
    rc = get_password(cmd, "BFF_USER_PASSWORD", argv[1], password, sizeof password);
    if (rc == 0 && bff_password_hash(password, hash) != 0)
        rc = bffctl_fail(cmd, "password hashing failed");
    sodium_memzero(password, sizeof password);
    snprintf(uid, sizeof uid, "%" PRId64, u.id);
    if (rc == 0)
        rc = run(cmd, &db, &user_password, p2, NULL);
    sodium_memzero(hash, sizeof hash);
    bff_db_close(&db);
    if (rc == 0)
        printf("Password of '%s' changed (its tokens still work: 'bffctl token revoke').\n",
               argv[1]);
    return rc;
}

static int user_list_all(const char *cmd, int argc, char **argv)
{
    struct bff_error e;
    struct bff_db db;
    PGresult *r;
    int i;

    if (argc > 1)
        return bffctl_usage_error(cmd, "unexpected argument '%s'", argv[1]);
    if (bffctl_db_open(cmd, &db) != 0)
        return 1;
    bff_error_clear(&e);
    if ((r = bff_db_exec(&db, &user_list, NULL, &e)) == NULL) {
        bff_db_close(&db);
        return bffctl_fail(cmd, "%s", e.msg);
    }
    printf("%-6s %-24s %-9s %-6s %s\n", "ID", "USERNAME", "SUPERUSER", "ACTIVE", "PERMISSIONS");
    for (i = 0; i < PQntuples(r); i++) {
        const char *perms = PQgetvalue(r, i, 4);

        printf("%-6s %-24s %-9s %-6s %s\n", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1),
               bff_db_bool(r, i, 2) ? "yes" : "no", bff_db_bool(r, i, 3) ? "yes" : "no",
               bff_db_bool(r, i, 2) ? "(all)"
               : perms[0]           ? perms
                                    : "-");
    }
    PQclear(r);
    bff_db_close(&db);
    return 0;
}

/*
 * bffctl user create|grant|revoke|list|activate|deactivate|set-password.
 * Usage errors name the valid permissions.
 */
int cmd_user(int argc, char **argv)
{
    const char *sub = argc > 1 ? argv[1] : "";

    if (argc < 2)
        return bffctl_usage_error(argv[0], "missing subcommand");
    if (strcmp(sub, "create") == 0)
        return user_create(argv[0], argc - 1, argv + 1);
    if (strcmp(sub, "grant") == 0)
        return user_grant(argv[0], argc - 1, argv + 1, 1);
    if (strcmp(sub, "revoke") == 0)
        return user_grant(argv[0], argc - 1, argv + 1, 0);
    if (strcmp(sub, "list") == 0)
        return user_list_all(argv[0], argc - 1, argv + 1);
    if (strcmp(sub, "activate") == 0)
        return user_set_active(argv[0], argc - 1, argv + 1, 1);
    if (strcmp(sub, "deactivate") == 0)
        return user_set_active(argv[0], argc - 1, argv + 1, 0);
    if (strcmp(sub, "set-password") == 0)
        return user_set_password(argv[0], argc - 1, argv + 1);
    return bffctl_usage_error(argv[0], "unknown subcommand '%s'", sub);
}
