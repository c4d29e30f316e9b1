/*
 * cmd_token.c — `bffctl token create|revoke|list` (SPEC §4 Auth, §7).
 *
 * `token create` prints the token and nothing else on stdout, so a script
 * can capture it: TOKEN=$(bffctl token create --user U --name N). The token
 * is shown this once; the database keeps only its SHA-256. `token list`
 * never prints a token or a hash.
 *
 * `token revoke` sets revoked_at and drops the cached token:{sha256} entry
 * at once (bff_auth_forget_token; recorded for replay when Redis is
 * unreachable), so the token is refused by the very next request.
 */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cache.h"
#include "commands.h"
#include "config.h"
#include "util.h"

#define MAX_DAYS 3650

/* Token names: 1..100 printable characters (no control characters). */
static int name_ok(const char *s)
{
    size_t n = strlen(s), i;

    if (n == 0 || n > 100)
        return 0;
    for (i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static struct bff_stmt token_user = {
    "ctl_token_user",
    "SELECT u.id, u.is_superuser, u.is_active,"
    "       coalesce(array_agg(up.permission) FILTER (WHERE up.permission IS NOT NULL), '{}')"
    "  FROM users u LEFT JOIN user_permissions up ON up.user_id = u.id"
    " WHERE u.username = $1 GROUP BY u.id",
    1, 0};
static struct bff_stmt token_find_name = {
    "ctl_token_find_name",
    "SELECT t.id, encode(t.token_hash, 'hex'), t.revoked_at IS NOT NULL, u.username, t.name"
    "  FROM api_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE u.username = $1 AND t.name = $2",
    2, 0};
static struct bff_stmt token_find_id = {
    "ctl_token_find_id",
    "SELECT t.id, encode(t.token_hash, 'hex'), t.revoked_at IS NOT NULL, u.username, t.name"
    "  FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1",
    1, 0};
static struct bff_stmt token_revoke = {
    "ctl_token_revoke",
    "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", 1, 0};
static struct bff_stmt token_list = {
    "ctl_token_list",
    "SELECT t.id, u.username, t.name,"
    "       coalesce(array_to_string(t.scopes, ','), '*'),"
    "       to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),"
    "       to_char(t.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),"
    "       coalesce(to_char(t.last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), '-'),"
    "       coalesce(to_char(t.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), '-'),"
    "       CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked'"
    "            WHEN t.expires_at <= now() THEN 'expired'"
    "            WHEN NOT u.is_active THEN 'inactive' ELSE 'active' END"
    "  FROM api_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE $1::text IS NULL OR u.username = $1"
    " ORDER BY t.id",
    1, 0};

/* Permission names of a text[] literal ("{a,b}") as bits. */
static unsigned perms_of_array(const char *arr)
{
    char buf[512], *tok, *save = NULL;
    unsigned bits = 0;

    snprintf(buf, sizeof buf, "%s", arr);
    for (tok = strtok_r(buf, "{},\"", &save); tok; tok = strtok_r(NULL, "{},\"", &save))
        bits |= bff_perm_bit(tok);
    return bits;
}

/*
 * token create --user U --name N [--perm P]... [--expires-days D]: a token
 * scoped to P... (each of which U must hold), or to all of U's permissions
 * without --perm. Exit 1 for an unknown or inactive user, a permission U
 * lacks, or a name U already uses.
 */
static int token_create(const char *cmd, int argc, char **argv)
{
    const char *user = NULL, *name = NULL, *days_s = NULL, *p;
    char token[BFF_TOKEN_LEN + 1], expires[40];
    unsigned scopes = 0, bit, held;
    struct bff_error e;
    struct bff_db db;
    int64_t days = BFF_TOKEN_DAYS, uid;
    PGresult *r;
    int i, f, rc;

    for (i = 1; i < argc; i++) {
        if ((f = bffctl_opt(argc, argv, &i, "--user", &user)) ||
            (f = bffctl_opt(argc, argv, &i, "--name", &name)) ||
            (f = bffctl_opt(argc, argv, &i, "--expires-days", &days_s))) {
            if (f < 0)
                return bffctl_usage_error(cmd, "%s needs a value", argv[i]);
            continue;
        }
        if ((f = bffctl_opt(argc, argv, &i, "--perm", &p)) < 0)
            return bffctl_usage_error(cmd, "--perm needs a value");
        if (f == 0)
            return bffctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        if ((bit = bff_perm_bit(p)) == 0)
            return bffctl_usage_error(cmd, "unknown permission '%s'; valid: %s", p, bff_perm_list());
        scopes |= bit;
    }
    if (user == NULL || name == NULL)
        return bffctl_usage_error(cmd, "--user and --name are required");
    if (!name_ok(name))
        return bffctl_usage_error(cmd, "--name must be 1..100 printable characters");
    if (days_s && bff_parse_int64(days_s, 1, MAX_DAYS, &days) != 0)
        return bffctl_usage_error(cmd, "--expires-days must be an integer in 1..%d", MAX_DAYS);
    if (bffctl_db_open(cmd, &db) != 0)
        return 1;
    bff_error_clear(&e);
    {
        const char *p1[1] = {user};

        if ((r = bff_db_exec(&db, &token_user, p1, &e)) == NULL) {
            bff_db_close(&db);
            return bffctl_fail(cmd, "%s", e.msg);
        }
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        bff_db_close(&db);
        return bffctl_fail(cmd, "no user named '%s'", user);
    }
    uid = bff_db_int(r, 0, 0);
    held = bff_db_bool(r, 0, 1) ? BFF_P_ALL : perms_of_array(PQgetvalue(r, 0, 3));
    rc = bff_db_bool(r, 0, 2) ? 0 : bffctl_fail(cmd, "user '%s' is inactive", user);
    PQclear(r);
    if (rc == 0 && (scopes & ~held) != 0) {
        char missing[256];
        size_t o = 0;

        missing[0] = '\0';
        for (i = 0; i < BFF_NPERMS; i++)
            if (scopes & ~held & (1u << i))
                o += (size_t)snprintf(missing + o, sizeof missing - o, "%s%s", o ? " " : "",
                                      bff_perm_name(1u << i));
        rc = bffctl_fail(cmd, "user '%s' does not hold %s (grant first: bffctl user grant %s %s)",
                         user, missing, user, missing);
    }
    if (rc == 0 && bff_token_create(&db, uid, name, scopes, (int)days, token, expires, &e) != 0)
        rc = bffctl_fail(cmd, "%s", e.msg);
    bff_db_close(&db);
    if (rc == 0) {
        printf("%s\n", token);
        fflush(stdout);
    }
    sodium_memzero(token, sizeof token);
    return rc;
}

/* token revoke --user U --name N | token revoke ID. Revoking a revoked
 * token again is not an error (and drops any cached entry again). */
static int token_revoke_cmd(const char *cmd, int argc, char **argv)
{
    const char *user = NULL, *name = NULL, *id = NULL;
    struct bff_error e;
    struct bff_cache c;
    struct bff_db db;
    int64_t n;
    PGresult *r;
    int i, f, was;
    char tid[24], hash[65], uname[160], tname[128];

    for (i = 1; i < argc; i++) {
        if ((f = bffctl_opt(argc, argv, &i, "--user", &user)) ||
            (f = bffctl_opt(argc, argv, &i, "--name", &name))) {
            if (f < 0)
                return bffctl_usage_error(cmd, "%s needs a value", argv[i]);
        } else if (id == NULL && argv[i][0] != '-') {
            id = argv[i];
        } else {
            return bffctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
        }
    }
    if ((id == NULL) == (user == NULL || name == NULL) || (id && (user || name)))
        return bffctl_usage_error(cmd, "give either --user U --name N, or a token ID");
    if (id && bff_parse_int64(id, 1, INT64_MAX, &n) != 0)
        return bffctl_usage_error(cmd, "token ID must be a positive integer");
    if (bffctl_db_open(cmd, &db) != 0)
        return 1;
    bff_error_clear(&e);
    if (id) {
        const char *p1[1] = {id};

        r = bff_db_exec(&db, &token_find_id, p1, &e);
    } else {
        const char *p2[2] = {user, name};

        r = bff_db_exec(&db, &token_find_name, p2, &e);
    }
    if (r == NULL) {
        bff_db_close(&db);
        return bffctl_fail(cmd, "%s", e.msg);
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        bff_db_close(&db);
        if (id)
            return bffctl_fail(cmd, "no token with id %s", id);
        return bffctl_fail(cmd, "user '%s' has no token named '%s'", user, name);
    }
    snprintf(tid, sizeof tid, "%s", PQgetvalue(r, 0, 0));
    snprintf(hash, sizeof hash, "%s", PQgetvalue(r, 0, 1));
    was = bff_db_bool(r, 0, 2);
    snprintf(uname, sizeof uname, "%s", PQgetvalue(r, 0, 3));
    snprintf(tname, sizeof tname, "%s", PQgetvalue(r, 0, 4));
    PQclear(r);
    {
        const char *p1[1] = {tid};

        if ((r = bff_db_exec(&db, &token_revoke, p1, &e)) == NULL) {
            bff_db_close(&db);
            return bffctl_fail(cmd, "%s", e.msg);
        }
        PQclear(r);
    }
    bff_cache_init(&c, &bff_cfg);
    bff_auth_forget_token(&db, &c, hash);
    bff_cache_close(&c);
    bff_db_close(&db);
    printf("Token %s ('%s' of %s) %s.\n", tid, tname, uname,
           was ? "was already revoked" : "revoked");
    return 0;
}

static int token_list_cmd(const char *cmd, int argc, char **argv)
{
    const char *user = NULL;
    struct bff_error e;
    struct bff_db db;
    PGresult *r;
    int i, f;

    for (i = 1; i < argc; i++) {
        if ((f = bffctl_opt(argc, argv, &i, "--user", &user)) < 0)
            return bffctl_usage_error(cmd, "--user needs a value");
        if (f == 0)
            return bffctl_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
    if (bffctl_db_open(cmd, &db) != 0)
        return 1;
    bff_error_clear(&e);
    {
        const char *p1[1] = {user};

        r = bff_db_exec(&db, &token_list, p1, &e);
    }
    bff_db_close(&db);
    if (r == NULL)
        return bffctl_fail(cmd, "%s", e.msg);
    printf("%-6s %-16s %-24s %-8s %-16s %-16s %-16s %-16s %s\n", "ID", "USER", "NAME", "STATUS",
           "CREATED", "EXPIRES", "LAST USED", "REVOKED", "SCOPES");
    for (i = 0; i < PQntuples(r); i++)
        printf("%-6s %-16s %-24s %-8s %-16s %-16s %-16s %-16s %s\n", PQgetvalue(r, i, 0),
               PQgetvalue(r, i, 1), PQgetvalue(r, i, 2), PQgetvalue(r, i, 8), PQgetvalue(r, i, 4),
               PQgetvalue(r, i, 5), PQgetvalue(r, i, 6), PQgetvalue(r, i, 7), PQgetvalue(r, i, 3));
    PQclear(r);
    return 0;
}

/* bffctl token create|revoke|list */
int cmd_token(int argc, char **argv)
{
    if (argc < 2)
        return bffctl_usage_error(argv[0], "missing subcommand");
    if (strcmp(argv[1], "create") == 0)
        return token_create(argv[0], argc - 1, argv + 1);
    if (strcmp(argv[1], "revoke") == 0)
        return token_revoke_cmd(argv[0], argc - 1, argv + 1);
    if (strcmp(argv[1], "list") == 0)
        return token_list_cmd(argv[0], argc - 1, argv + 1);
    return bffctl_usage_error(argv[0], "unknown subcommand '%s'", argv[1]);
}
