-- 0002_auth: users, their permissions, and API tokens (SPEC §4 Auth).
--
-- Passwords are argon2id strings from libsodium's crypto_pwhash_str; tokens
-- are stored only as SHA-256 digests (a token is 32 random bytes, so a fast
-- hash is enough: there is nothing to brute-force).

CREATE TABLE permissions (
    name text PRIMARY KEY
);
INSERT INTO permissions (name) VALUES
    ('products.read'), ('products.write'), ('stock.read'), ('stock.write'),
    ('orders.read'), ('orders.write'), ('metrics.read'), ('admin');

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    username      text NOT NULL UNIQUE
                  CHECK (username ~ '^[A-Za-z0-9._@+-]{1,150}$'),
    password_hash text NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    is_superuser  boolean NOT NULL DEFAULT false,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE user_permissions (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    permission text   NOT NULL REFERENCES permissions (name),
    PRIMARY KEY (user_id, permission)
);

CREATE TABLE api_tokens (
    id           bigserial PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         text   NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    token_hash   bytea  NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- NULL: all of the user's permissions; else the token's scopes, which
    -- are intersected with the user's at every request.
    scopes       text[] CHECK (scopes IS NULL OR scopes <@ ARRAY[
                     'products.read', 'products.write', 'stock.read', 'stock.write',
                     'orders.read', 'orders.write', 'metrics.read', 'admin']),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    UNIQUE (user_id, name),
    CHECK (expires_at > created_at)
);
CREATE INDEX api_tokens_expires ON api_tokens (expires_at);

-- The effective permissions of a token: scopes ∩ user's, or all of the
-- user's; every permission for a superuser. One row per permission.
CREATE FUNCTION bff_token_permissions(p_token api_tokens) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
    SELECT p.name FROM permissions p, users u
     WHERE u.id = p_token.user_id
       AND (u.is_superuser OR EXISTS (SELECT 1 FROM user_permissions up
                                      WHERE up.user_id = u.id AND up.permission = p.name))
       AND (p_token.scopes IS NULL OR p.name = ANY (p_token.scopes))
$$;
