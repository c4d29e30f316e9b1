-- bench/pgbench/order_hot.sql — the ceiling of scenario (e): what
-- POST /api/orders/ with an Idempotency-Key sends to PostgreSQL, statement
-- for statement (fcgi/dispatch.c run_write + fcgi/h_orders.c), for one line
-- of 1 unit of the hot product (every client orders the same one). Run with
-- -M prepared (the app prepares every statement; BEGIN/SAVEPOINT/COMMIT it
-- sends as simple queries).
-- Variables (-D): uid (the bench user), hot (the hot product id).
-- What is not mirrored: auth (Redis in the app), the body's SHA-256 (a
-- constant here), the stock-cache invalidation after COMMIT (Redis).
\set k random(1, 9000000000000000000)
BEGIN;
SELECT pg_try_advisory_xact_lock(hashtextextended(:uid::text || ':' || :k::text, 42));
SELECT method, path, encode(body_hash, 'hex'), status, response FROM idempotency_keys WHERE user_id = :uid AND key = :k::text;
SAVEPOINT work;
SELECT status, body, products FROM bff_order_create(:uid, NULL, NULL, 0, format('[{"product_id":%s,"quantity":1}]', :hot::bigint)::jsonb) \gset
INSERT INTO idempotency_keys (user_id, key, method, path, body_hash, status, response) VALUES (:uid, :k::text, 'POST', '/api/orders/', decode('5b2f8e27e2e5b4081c03ce70f8b5ab8c5ca5f4c8e0f1b2a3c4d5e6f708192a3b', 'hex'), :status, :body);
COMMIT;
