/*
 * auth.c — see auth.h.
 */
#include "auth.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "json.h"
#include "jsonw.h"
#include "log.h"
#include "outbox.h"
#include "util.h"

static const char *perm_names[] = {"products.read", "products.write", "stock.read",
                                   "stock.write", "orders.read", "orders.write",
                                   "metrics.read", "admin"};
#define NPERMS BFF_NPERMS

/* Refresh last_used_at at most this often per token (seconds). */
#define LAST_USED_EVERY 60

const char *bff_perm_list(void)
{
    static char list[256];
    size_t o = 0;
    int i;

    if (list[0] == '\0')
        for (i = 0; i < NPERMS; i++)
            o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", perm_names[i]);
    return list;
}

unsigned bff_perm_bit(const char *name)
{
    int i;

    for (i = 0; name && i < NPERMS; i++)
        if (strcmp(perm_names[i], name) == 0)
            return 1u << i;
    return 0;
}

const char *bff_perm_name(unsigned bit)
{
    int i;

    for (i = 0; i < NPERMS; i++)
        if (bit == 1u << i)
            return perm_names[i];
    return NULL;
}

void bff_token_hash_hex(const char *token, char out[65])
{
    unsigned char h[crypto_hash_sha256_BYTES];

    crypto_hash_sha256(h, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* Permission names of a text[] literal ("{a,b}") as bits. */
static unsigned perms_of_array(const char *arr)
{
    char buf[512], *tok, *save = NULL;
    unsigned bits = 0;

    snprintf(buf, sizeof buf, "%s", arr ? arr : "");
    for (tok = strtok_r(buf, "{},\"", &save); tok; tok = strtok_r(NULL, "{},\"", &save))
        bits |= bff_perm_bit(tok);
    return bits;
}

static struct bff_stmt user_perms = {
    "auth_user_perms",
    "SELECT u.is_superuser, u.is_active,"
    "       coalesce(array_agg(up.permission) FILTER (WHERE up.permission IS NOT NULL), '{}')"
    "  FROM users u LEFT JOIN user_permissions up ON up.user_id = u.id"
    " WHERE u.id = $1 GROUP BY u.id",
    1, 0};
/* A token not cached: its row and its user's flags and permissions, in one
 * round trip. */
static struct bff_stmt token_user = {
    "auth_token_user",
    "SELECT t.id, t.user_id, t.scopes, extract(epoch FROM t.expires_at)::bigint,"
    "       coalesce(extract(epoch FROM t.last_used_at)::bigint, 0),"
    "       u.is_superuser, u.is_active,"
    "       coalesce((SELECT array_agg(up.permission) FROM user_permissions up"
    "                  WHERE up.user_id = u.id), '{}')"
    "  FROM api_tokens t JOIN users u ON u.id = t.user_id"
    " WHERE t.token_hash = decode($1, 'hex') AND t.revoked_at IS NULL"
    "   AND t.expires_at > now()",
    1, 0};
static struct bff_stmt touch_token = {
    "auth_touch", "UPDATE api_tokens SET last_used_at = now() WHERE id = $1", 1, 0};

struct token_info {
    int64_t token_id, user_id, expires, last_used;
    unsigned scopes;   /* 0 = unscoped */
};

/* A token's cached entry ("uid tid scopes expires last_used"): 1 when it
 * parses and has not expired. */
static int token_from_cache(const char *cached, int64_t now, struct token_info *ti)
{
    long long tid, uid, exp, last;
    unsigned sc;

    if (cached == NULL ||
        sscanf(cached, "%lld %lld %u %lld %lld", &uid, &tid, &sc, &exp, &last) != 5 || exp <= now)
        return 0;
    ti->user_id = uid;
    ti->token_id = tid;
    ti->scopes = sc;
    ti->expires = exp;
    ti->last_used = last;
    return 1;
}

/* token:{hash} ← info, for at most the cache TTL and never past expiry. */
static void token_to_cache(struct bff_cache *c, const char *key, const struct token_info *ti,
                           int64_t now)
{
    char val[128];
    int64_t ttl = ti->expires - now;

    snprintf(val, sizeof val, "%" PRId64 " %" PRId64 " %u %" PRId64 " %" PRId64, ti->user_id,
             ti->token_id, ti->scopes, ti->expires, ti->last_used);
    if (ttl > bff_cfg.cache_ttl)
        ttl = bff_cfg.cache_ttl;
    if (ttl > 0)
        bff_cache_set(c, key, val, strlen(val), (int)ttl);
}

/* A user:{id}:permissions entry → bits (all when superuser), -2 when the
 * user is inactive, -3 when there is no usable entry. */
static int64_t perms_from_cache(struct bff_arena *a, const char *cached, size_t len)
{
    struct bff_json *j = NULL;
    struct bff_error je;
    unsigned bits = 0;
    int i;

    if (cached && bff_json_parse(a, cached, len, 4, &j, &je) == 0) {
        const struct bff_json *s = bff_json_get(j, "superuser"), *ac = bff_json_get(j, "active"),
                              *ps = bff_json_get(j, "permissions");

        if (s && ac && ps && ps->type == BFF_JSON_ARRAY) {
            if (!ac->b)
                return -2;
            if (s->b)
                return BFF_P_ALL;
            for (i = 0; i < (int)ps->len; i++)
                if (ps->items[i]->type == BFF_JSON_STRING)
                    bits |= bff_perm_bit(ps->items[i]->s);
            return bits;
        }
    }
    return -3;
}

/* user:{id}:permissions ← the user's flags and permission names; then the
 * bits as perms_from_cache returns them. */
static int64_t perms_to_cache(struct bff_cache *c, int64_t uid, int su, int active,
                              unsigned bits)
{
    struct bff_buf b = BFF_BUF_INIT;
    struct bff_jw w;
    char key[64];
    int i;

    snprintf(key, sizeof key, "user:%" PRId64 ":permissions", uid);
    bff_jw_init(&w, &b);
    bff_jw_obj(&w);
    bff_jw_kbool(&w, "superuser", su);
    bff_jw_kbool(&w, "active", active);
    bff_jw_karr(&w, "permissions");
    for (i = 0; i < NPERMS; i++)
        if (bits & (1u << i))
            bff_jw_str(&w, perm_names[i]);
    bff_jw_end(&w);
    bff_jw_end(&w);
    bff_cache_set(c, key, b.data, b.len, bff_cfg.cache_ttl);
    bff_buf_free(&b);
    if (!active)
        return -2;
    return su ? BFF_P_ALL : bits;
}

/* The user's bits from PostgreSQL (and into the cache); -2 when inactive or
 * gone, -1 on error. */
static int64_t user_bits_db(struct bff_db *db, struct bff_cache *c, struct bff_arena *a,
                            int64_t uid, struct bff_error *e)
{
    char id[24];
    const char *params[1] = {id};
    PGresult *r;

    snprintf(id, sizeof id, "%" PRId64, uid);
    if ((r = bff_db_query(db, a, &user_perms, params, e)) == NULL)
        return -1;
    if (PQntuples(r) == 0)
        return -2;
    return perms_to_cache(c, uid, bff_db_bool(r, 0, 0), bff_db_bool(r, 0, 1),
                          perms_of_array(PQgetvalue(r, 0, 2)));
}

/*
 * Token hash → user id of the tokens this process authenticated lately. A
 * token's user never changes, so this is no copy that could go stale: it
 * only names the permissions key to fetch together with the token's, in one
 * MGET (one Redis round trip per request instead of two). Whether the token
 * is still valid always comes from Redis or PostgreSQL.
 */
#define UID_MEMO 64
static struct {
    char hash[65];
    int64_t uid;
} uid_memo[UID_MEMO];

static unsigned memo_slot(const char *hash)
{
    unsigned h = 0;
    int i;

    for (i = 0; i < 8; i++)   /* a SHA-256 in hex: any 8 digits are uniform */
        h = h * 16 + (unsigned)(hash[i] <= '9' ? hash[i] - '0' : hash[i] - 'a' + 10);
    return h % UID_MEMO;
}

/*
 * Who holds this token, from the cache or with one statement: the token's
 * row joined to its user's flags and permissions. 1 found (ti, *bits), 0
 * not (or the user is inactive), -1 error.
 */
static int lookup(struct bff_db *db, struct bff_cache *c, struct bff_arena *a, const char *hash,
                  struct token_info *ti, int64_t *bits, struct bff_error *e)
{
    unsigned slot = memo_slot(hash);
    int64_t now = (int64_t)time(NULL), hint = 0;
    const char *params[1] = {hash};
    char tkey[80], pkey[64], *tok = NULL, *perms = NULL;
    size_t plen = 0;
    PGresult *r;

    snprintf(tkey, sizeof tkey, "token:%s", hash);
    if (strcmp(uid_memo[slot].hash, hash) == 0)
        hint = uid_memo[slot].uid;
    if (hint > 0) {
        snprintf(pkey, sizeof pkey, "user:%" PRId64 ":permissions", hint);
        bff_cache_get2(c, a, tkey, &tok, NULL, pkey, &perms, &plen);
    } else {
        tok = bff_cache_get(c, a, tkey, NULL);
    }
    if (token_from_cache(tok, now, ti)) {
        *bits = ti->user_id == hint ? perms_from_cache(a, perms, plen) : -3;
        if (*bits == -3 && ti->user_id != hint) {
            snprintf(pkey, sizeof pkey, "user:%" PRId64 ":permissions", ti->user_id);
            perms = bff_cache_get(c, a, pkey, &plen);
            *bits = perms_from_cache(a, perms, plen);
        }
        if (*bits == -3)
            *bits = user_bits_db(db, c, a, ti->user_id, e);
        if (*bits == -1)
            return -1;
    } else {
        if ((r = bff_db_query(db, a, &token_user, params, e)) == NULL)
            return -1;
        if (PQntuples(r) == 0)
            return 0;
        ti->token_id = bff_db_int(r, 0, 0);
        ti->user_id = bff_db_int(r, 0, 1);
        ti->scopes = PQgetisnull(r, 0, 2) ? 0 : perms_of_array(PQgetvalue(r, 0, 2));
        if (!PQgetisnull(r, 0, 2) && ti->scopes == 0)
            ti->scopes = 1u << 31;   /* scoped to nothing known: grants nothing */
        ti->expires = bff_db_int(r, 0, 3);
        ti->last_used = bff_db_int(r, 0, 4);
        token_to_cache(c, tkey, ti, now);
        *bits = perms_to_cache(c, ti->user_id, bff_db_bool(r, 0, 5), bff_db_bool(r, 0, 6),
                               perms_of_array(PQgetvalue(r, 0, 7)));
    }
    if (*bits == -2)
        return 0;
    memcpy(uid_memo[slot].hash, hash, sizeof uid_memo[slot].hash);
    uid_memo[slot].uid = ti->user_id;
    return 1;
}

int bff_auth_token(struct bff_db *db, struct bff_cache *c, struct bff_arena *a,
                   const char *token, struct bff_principal *p, struct bff_error *e)
{
    struct token_info ti;
    char hash[65];
    int64_t bits;
    int found;

    memset(p, 0, sizeof *p);
    if (token == NULL || strlen(token) != BFF_TOKEN_LEN || strncmp(token, "bff_", 4) != 0)
        return bff_error_set(e, BFF_E_UNAUTHENTICATED, NULL, "invalid or expired token");
    bff_token_hash_hex(token, hash);
    if ((found = lookup(db, c, a, hash, &ti, &bits, e)) < 0)
        return -1;
    if (found == 0)
        return bff_error_set(e, BFF_E_UNAUTHENTICATED, NULL, "invalid or expired token");
    p->user_id = ti.user_id;
    p->token_id = ti.token_id;
    p->perms = (unsigned)bits & (ti.scopes ? ti.scopes : BFF_P_ALL);
    if ((int64_t)time(NULL) - ti.last_used > LAST_USED_EVERY) {
        char id[24], key[80];
        const char *params[1] = {id};
        PGresult *r;

        snprintf(id, sizeof id, "%" PRId64, ti.token_id);
        if ((r = bff_db_exec(db, &touch_token, params, e)) != NULL)
            PQclear(r);
        bff_error_clear(e);
        snprintf(key, sizeof key, "token:%s", hash);
        bff_cache_del(c, key);   /* re-read with the new last_used next time */
    }
    return 0;
}

static struct bff_stmt token_insert = {
    "auth_token_insert",
    "INSERT INTO api_tokens (user_id, name, token_hash, scopes, expires_at)"
    " VALUES ($1, $2, decode($3, 'hex'), $4::text[], now() + make_interval(days => $5::int))"
    " RETURNING bff_ts(expires_at)",
    5, 0};

int bff_token_create(struct bff_db *db, int64_t user_id, const char *name, unsigned scopes,
                     int days, char *token, char *expires_at, struct bff_error *e)
{
    unsigned char raw[32];
    char hash[65], uid[24], d[16], sc[256];
    const char *params[5] = {uid, name, hash, scopes ? sc : NULL, d};
    size_t o = 0;
    PGresult *r;
    int i;

    if (bff_random_bytes(raw, sizeof raw) != 0)
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "no randomness available");
    memcpy(token, "bff_", 4);
    sodium_bin2base64(token + 4, BFF_TOKEN_LEN - 4 + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
    bff_token_hash_hex(token, hash);
    snprintf(uid, sizeof uid, "%" PRId64, user_id);
    snprintf(d, sizeof d, "%d", days);
    sc[o++] = '{';
    for (i = 0; i < NPERMS; i++)
        if (scopes & (1u << i))
            o += (size_t)snprintf(sc + o, sizeof sc - o, "%s%s", o > 1 ? "," : "", perm_names[i]);
    snprintf(sc + o, sizeof sc - o, "}");
    if ((r = bff_db_exec(db, &token_insert, params, e)) == NULL) {
        if (bff_db_error_class(e) == BFF_DB_CONFLICT)
            bff_error_set(e, BFF_E_CONFLICT, "name", "this user already has a token named \"%s\"",
                          name);
        return -1;
    }
    snprintf(expires_at, 40, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return 0;
}

int bff_password_hash(const char *password, char out[128])
{
    if (sodium_init() < 0)
        return -1;
    return crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

int bff_password_verify(const char *hash, const char *password)
{
    if (sodium_init() < 0)
        return -1;
    return crypto_pwhash_str_verify(hash, password, strlen(password));
}

static struct bff_stmt login_user = {
    "auth_login_user",
    "SELECT id, password_hash, is_active FROM users WHERE username = $1", 1, 0};

int bff_auth_login(struct bff_db *db, const char *username, const char *password,
                   char *token, char *expires_at, struct bff_error *e)
{
    /* A fixed hash to verify against for unknown users, so that an unknown
     * name costs the same argon2id work as a wrong password. */
    static char dummy[128];
    const char *params[1] = {username};
    char name[64];
    int64_t uid = 0;
    int ok = 0;
    PGresult *r;

    if (dummy[0] == '\0' && bff_password_hash("no such user: dummy password", dummy) != 0)
        return bff_error_set(e, BFF_E_INTERNAL, NULL, "password hashing failed");
    if ((r = bff_db_exec(db, &login_user, params, e)) == NULL)
        return -1;
    if (PQntuples(r) == 1) {
        uid = bff_db_int(r, 0, 0);
        ok = bff_password_verify(PQgetvalue(r, 0, 1), password) == 0 && bff_db_bool(r, 0, 2);
    } else {
        bff_password_verify(dummy, password);
    }
    PQclear(r);
    if (!ok)
        return bff_error_set(e, BFF_E_UNAUTHENTICATED, NULL, "invalid username or password");
    {
        unsigned char rnd[6];
        char hex[13];

        bff_random_bytes(rnd, sizeof rnd);
        sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
        snprintf(name, sizeof name, "login-%s", hex);
    }
    return bff_token_create(db, uid, name, 0, BFF_TOKEN_DAYS, token, expires_at, e);
}

void bff_auth_forget_user(struct bff_db *db, struct bff_cache *c, int64_t user_id)
{
    char key[64];

    snprintf(key, sizeof key, "user:%" PRId64 ":permissions", user_id);
    bff_invalidate(db, c, key, 0);
}

void bff_auth_forget_token(struct bff_db *db, struct bff_cache *c, const char *hash_hex)
{
    char key[80];

    snprintf(key, sizeof key, "token:%s", hash_hex);
    bff_invalidate(db, c, key, 0);
}
