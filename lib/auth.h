/*
 * auth.h — users, API tokens and permissions (SPEC §4 Auth).
 *
 * Tokens are "bff_" + 43 base64url chars (32 random bytes), shown once and
 * stored only as their SHA-256. Passwords are argon2id (libsodium
 * crypto_pwhash_str). A token's effective permissions are its scopes ∩ its
 * user's (all of the user's without scopes; superusers hold every one).
 *
 * Cache-aside keys: token:{sha256 hex} → "uid tid scopes expires last_used"
 * and user:{id}:permissions → {"superuser":..,"active":..,"permissions":[..]}.
 * Whoever changes a user's permissions or revokes a token deletes these keys
 * (recording the deletion for replay when Redis is unreachable).
 */
#ifndef BFF_AUTH_H
#define BFF_AUTH_H

#include <stdint.h>

#include "arena.h"
#include "cache.h"
#include "db.h"
#include "error.h"

/* Permission bits, in SPEC order. */
enum {
    BFF_P_PRODUCTS_READ = 1 << 0,
    BFF_P_PRODUCTS_WRITE = 1 << 1,
    BFF_P_STOCK_READ = 1 << 2,
    BFF_P_STOCK_WRITE = 1 << 3,
    BFF_P_ORDERS_READ = 1 << 4,
    BFF_P_ORDERS_WRITE = 1 << 5,
    BFF_P_METRICS_READ = 1 << 6,
    BFF_P_ADMIN = 1 << 7,
    BFF_P_ALL = 0xff
};

#define BFF_TOKEN_LEN 47          /* "bff_" + 43 */
#define BFF_TOKEN_DAYS 30         /* login tokens */
#define BFF_PASSWORD_MIN 8

#define BFF_NPERMS 8

/* "products.read, products.write, ..." — every permission, for messages. */
const char *bff_perm_list(void);

/* Bit of a permission name, or 0 when unknown. */
unsigned bff_perm_bit(const char *name);
/* Name of a single bit ("products.read"), or NULL. */
const char *bff_perm_name(unsigned bit);

struct bff_principal {
    int64_t user_id;
    int64_t token_id;
    unsigned perms;           /* effective permission bits */
};

/*
 * Authenticate a bearer token: 0 and *p, or -1 with e: "unauthenticated"
 * (unknown, expired, revoked, inactive user — one message for all) or
 * "unavailable" (database down). Uses the cache when it can.
 */
int bff_auth_token(struct bff_db *db, struct bff_cache *c, struct bff_arena *a,
                   const char *token, struct bff_principal *p, struct bff_error *e);

/* Create a token for user_id; scopes 0 = all of the user's. Writes the
 * token (BFF_TOKEN_LEN + 1 bytes) and its expiry (ISO, 40 bytes). -1 with
 * e: "conflict" when the name is taken. */
int bff_token_create(struct bff_db *db, int64_t user_id, const char *name, unsigned scopes,
                     int days, char *token, char *expires_at, struct bff_error *e);

/* Username + password → a new 30-day token. Same message and about the same
 * time for unknown users and wrong passwords. */
int bff_auth_login(struct bff_db *db, const char *username, const char *password,
                   char *token, char *expires_at, struct bff_error *e);

/* argon2id hash into out (crypto_pwhash_STRBYTES = 128); 0 or -1. */
int bff_password_hash(const char *password, char out[128]);
int bff_password_verify(const char *hash, const char *password);

/* SHA-256 of a token, as 64 hex chars + NUL. */
void bff_token_hash_hex(const char *token, char out[65]);

/* Forget what the cache knows of a user / a token (after grant, revoke). */
void bff_auth_forget_user(struct bff_db *db, struct bff_cache *c, int64_t user_id);
void bff_auth_forget_token(struct bff_db *db, struct bff_cache *c, const char *hash_hex);

#endif
