-- bench/lib/seed.sql — bench/run's own data loader, used only when
-- `bffctl seed-demo` is not available: :products products with 5 lots each
-- over 3 warehouses, set-based (one INSERT per table), every lot with its
-- `receive` row in the movement ledger so the SPEC's invariants hold.
-- psql -v products=N -f bench/lib/seed.sql
\set ON_ERROR_STOP 1
BEGIN;
INSERT INTO warehouses (code, name)
SELECT 'BENCH-WH' || w, 'Bench warehouse ' || w FROM generate_series(1, 3) AS w
ON CONFLICT (code) DO NOTHING;

INSERT INTO products (sku, name, min_shelf_life_days, reorder_point)
SELECT format('BENCH-%s', lpad(i::text, 6, '0')), format('Bench product %s', i),
       0, 10
  FROM generate_series(1, :products) AS i
ON CONFLICT (sku) DO NOTHING;

WITH w AS (SELECT array_agg(id ORDER BY id) AS ids FROM warehouses WHERE code LIKE 'BENCH-WH%'),
     l AS (
    INSERT INTO lots (product_id, warehouse_id, lot_code, expires_on, on_hand)
    SELECT p.id, w.ids[1 + (k % 3)], 'LOT-' || k,
           current_date + 30 + 45 * k + (p.id % 30)::int, 1000
      FROM products p CROSS JOIN generate_series(1, 5) AS k CROSS JOIN w
     WHERE p.sku LIKE 'BENCH-%'
    ON CONFLICT (product_id, warehouse_id, lot_code) DO NOTHING
    RETURNING id, on_hand)
INSERT INTO movements (lot_id, kind, on_hand_delta, reason)
SELECT id, 'receive', on_hand, 'bench seed' FROM l;
COMMIT;
ANALYZE;
