-- 0006_reads: the read models of SPEC §4 — stock per product, and the
-- invariants that `bffctl verify` checks.

/*
 * Stock of one product, optionally in one warehouse (SPEC §4 Products):
 * on_hand/reserved over every lot; available = free units of lots that are
 * available and not past their date; expired = on_hand of lots past their
 * date (whether or not the expiry job ran); quarantined = on_hand of
 * quarantined lots not past their date (a lot counts in one bucket only);
 * lots = every lot with stock, FEFO order. NULL when the product is missing.
 */
CREATE FUNCTION bff_stock_json(p_product bigint, p_warehouse bigint) RETURNS json
LANGUAGE sql STABLE AS $$
    WITH l AS (
        SELECT l.*, l.expires_on <= current_date AS past,
               CASE WHEN l.status = 'available' AND l.expires_on > current_date
                    THEN l.on_hand - l.reserved ELSE 0 END AS free
          FROM lots l
         WHERE l.product_id = p_product
           AND (p_warehouse IS NULL OR l.warehouse_id = p_warehouse))
    SELECT json_build_object(
        'product_id', p.id,
        'warehouse_id', p_warehouse,
        'on_hand', (SELECT coalesce(sum(on_hand), 0) FROM l),
        'reserved', (SELECT coalesce(sum(reserved), 0) FROM l),
        'available', (SELECT coalesce(sum(free), 0) FROM l),
        'expired', (SELECT coalesce(sum(on_hand) FILTER (WHERE past), 0) FROM l),
        'quarantined', (SELECT coalesce(sum(on_hand) FILTER (WHERE status = 'quarantined'
                                                             AND NOT past), 0) FROM l),
        'warehouses', (SELECT coalesce(json_agg(json_build_object(
                            'warehouse_id', w.id, 'code', w.code,
                            'on_hand', s.on_hand, 'reserved', s.reserved,
                            'available', s.free, 'next_expiry', s.next_expiry) ORDER BY w.id), '[]')
                         FROM (SELECT warehouse_id, sum(on_hand) AS on_hand,
                                      sum(reserved) AS reserved, sum(free) AS free,
                                      min(expires_on) FILTER (WHERE free > 0) AS next_expiry
                                 FROM l GROUP BY warehouse_id) s
                         JOIN warehouses w ON w.id = s.warehouse_id),
        'lots', (SELECT coalesce(json_agg(bff_lot_json(ROW(l.id, l.product_id, l.warehouse_id,
                         l.lot_code, l.expires_on, l.on_hand, l.reserved, l.status,
                         l.received_at)::lots) ORDER BY l.expires_on, l.id), '[]')
                   FROM l WHERE l.on_hand > 0))
      FROM products p WHERE p.id = p_product
$$;

/*
 * Every invariant of SPEC §4 as rows (kind, subject, detail); empty when
 * the database is consistent. Run by `bffctl verify` and the race tests.
 */
CREATE VIEW bff_violations AS
    SELECT 'reserved_range' AS kind, 'lot ' || id AS subject,
           format('reserved %s, on_hand %s', reserved, on_hand) AS detail
      FROM lots WHERE reserved < 0 OR reserved > on_hand OR on_hand < 0
    UNION ALL
    SELECT 'reserved_vs_allocations', 'lot ' || l.id,
           format('reserved %s, open allocations %s', l.reserved, coalesce(a.q, 0))
      FROM lots l
      LEFT JOIN (SELECT al.lot_id, sum(al.quantity) AS q FROM allocations al
                   JOIN orders o ON o.id = al.order_id
                  WHERE o.status IN ('reserved', 'confirmed') GROUP BY al.lot_id) a
        ON a.lot_id = l.id
     WHERE l.reserved <> coalesce(a.q, 0)
    UNION ALL
    SELECT 'on_hand_vs_ledger', 'lot ' || l.id,
           format('on_hand %s, ledger sum %s', l.on_hand, coalesce(m.s, 0))
      FROM lots l
      LEFT JOIN (SELECT lot_id, sum(on_hand_delta) AS s FROM movements GROUP BY lot_id) m
        ON m.lot_id = l.id
     WHERE l.on_hand <> coalesce(m.s, 0)
    UNION ALL
    SELECT 'reserved_vs_ledger', 'lot ' || l.id,
           format('reserved %s, ledger sum %s', l.reserved, coalesce(m.s, 0))
      FROM lots l
      LEFT JOIN (SELECT lot_id, sum(reserved_delta) AS s FROM movements GROUP BY lot_id) m
        ON m.lot_id = l.id
     WHERE l.reserved <> coalesce(m.s, 0)
    UNION ALL
    SELECT 'line_allocations', format('order %s line %s', ol.order_id, ol.line),
           format('quantity %s, allocated %s', ol.quantity, coalesce(a.q, 0))
      FROM order_lines ol
      JOIN orders o ON o.id = ol.order_id AND o.status IN ('reserved', 'confirmed')
      LEFT JOIN (SELECT order_id, line, sum(quantity) AS q FROM allocations
                  GROUP BY order_id, line) a
        ON a.order_id = ol.order_id AND a.line = ol.line
     WHERE ol.quantity <> coalesce(a.q, 0)
    UNION ALL
    SELECT 'allocation_product', format('order %s line %s', al.order_id, al.line),
           format('lot %s holds product %s, the line is product %s', l.id, l.product_id,
                  ol.product_id)
      FROM allocations al JOIN lots l ON l.id = al.lot_id
      JOIN order_lines ol ON ol.order_id = al.order_id AND ol.line = al.line
     WHERE l.product_id <> ol.product_id
    UNION ALL
    SELECT 'shipped_lines', format('order %s line %s', ol.order_id, ol.line),
           format('quantity %s, shipped %s', ol.quantity, coalesce(s.q, 0))
      FROM order_lines ol
      JOIN orders o ON o.id = ol.order_id AND o.status = 'shipped'
      LEFT JOIN (SELECT order_id, line, sum(quantity) AS q FROM shipments
                  GROUP BY order_id, line) s
        ON s.order_id = ol.order_id AND s.line = ol.line
     WHERE ol.quantity <> coalesce(s.q, 0);

/*
 * The ledger replayed to a point: a lot's free units (on_hand - reserved)
 * and its status just before ledger position p_at. Movement ids and
 * lot_status_changes ids come from one sequence and are drawn while the
 * lot is locked, so for one lot they are in the order things happened.
 */
CREATE FUNCTION bff_lot_free_at(p_lot bigint, p_at bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(on_hand_delta - reserved_delta), 0)::bigint
      FROM movements WHERE lot_id = p_lot AND id < p_at
$$;

CREATE FUNCTION bff_lot_status_at(p_lot bigint, p_at bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN EXISTS (SELECT 1 FROM movements
                              WHERE lot_id = p_lot AND kind = 'expire' AND id < p_at)
                THEN 'expired'
                ELSE coalesce((SELECT status FROM lot_status_changes
                                WHERE lot_id = p_lot AND id < p_at
                                ORDER BY id DESC LIMIT 1), 'available') END
$$;

/*
 * FEFO checks of open orders, as rows like bff_violations (bffctl verify).
 * What is checked is each reservation at the moment it was made, replayed
 * from the ledger — not against today's stock, which receipts, releases
 * and cancellations change afterwards without making anything wrong:
 *   reserved_ineligible  a reserve row (own or re-allocation) behind an open
 *                        allocation, on a lot that was past its date,
 *                        quarantined or expired then;
 *   allocation_rule      an allocation that breaks its line's shelf-life
 *                        rule (as applied: order_lines.shelf_days) on the
 *                        reservation's day, or the order's warehouse;
 *   fefo_order           a line took a lot while a lot before it in
 *                        (expires_on, id) order, eligible for the line,
 *                        still had free units after the whole order.
 * fefo_order skips orders whose allocations were moved by quarantine or
 * expiry (their movements carry a reason): the move re-plans from another
 * point of the ledger. Days are UTC, like every session of bff.
 */
CREATE VIEW bff_fefo_violations AS
    WITH open_orders AS (
        SELECT id, warehouse_id FROM orders WHERE status IN ('reserved', 'confirmed')),
    res AS (   -- each open order's own reservation: ledger point and day
        SELECT m.order_id, min(m.id) AS at, (min(m.created_at) AT TIME ZONE 'UTC')::date AS day
          FROM movements m JOIN open_orders o ON o.id = m.order_id
         WHERE m.kind = 'reserve' AND m.reason IS NULL
         GROUP BY m.order_id),
    last_lot AS (   -- per line of an order never re-allocated: its last lot
        SELECT DISTINCT ON (a.order_id, a.line) a.order_id, a.line, ol.product_id,
               ol.shelf_days, o.warehouse_id, res.at, res.day, l.id AS last_id,
               l.expires_on AS last_exp
          FROM allocations a
          JOIN open_orders o ON o.id = a.order_id
          JOIN order_lines ol ON ol.order_id = a.order_id AND ol.line = a.line
          JOIN res ON res.order_id = a.order_id
          JOIN lots l ON l.id = a.lot_id
         WHERE NOT EXISTS (SELECT 1 FROM movements mv
                            WHERE mv.order_id = a.order_id AND mv.reason IS NOT NULL)
         ORDER BY a.order_id, a.line, l.expires_on DESC, l.id DESC)
    SELECT 'reserved_ineligible' AS kind, format('order %s', m.order_id) AS subject,
           format('reserved %s units of lot %s on %s while it was %s', m.reserved_delta, l.id,
                  (m.created_at AT TIME ZONE 'UTC')::date,
                  CASE WHEN l.expires_on <= (m.created_at AT TIME ZONE 'UTC')::date
                       THEN format('past its date (%s)', l.expires_on)
                       ELSE bff_lot_status_at(l.id, m.id) END) AS detail
      FROM movements m
      JOIN open_orders o ON o.id = m.order_id
      JOIN lots l ON l.id = m.lot_id
     WHERE m.kind = 'reserve'
       AND EXISTS (SELECT 1 FROM allocations a WHERE a.order_id = m.order_id AND a.lot_id = m.lot_id)
       AND (l.expires_on <= (m.created_at AT TIME ZONE 'UTC')::date
            OR bff_lot_status_at(l.id, m.id) <> 'available')
    UNION ALL
    SELECT 'allocation_rule', format('order %s line %s', a.order_id, a.line),
           CASE WHEN l.expires_on <= res.day + ol.shelf_days
                THEN format('lot %s expires on %s; reserved on %s, the line needed after %s',
                            l.id, l.expires_on, res.day, res.day + ol.shelf_days)
                ELSE format('lot %s is in warehouse %s, the order is for warehouse %s',
                            l.id, l.warehouse_id, o.warehouse_id) END
      FROM allocations a
      JOIN open_orders o ON o.id = a.order_id
      JOIN order_lines ol ON ol.order_id = a.order_id AND ol.line = a.line
      JOIN res ON res.order_id = a.order_id
      JOIN lots l ON l.id = a.lot_id
     WHERE l.expires_on <= res.day + ol.shelf_days
        OR (o.warehouse_id IS NOT NULL AND l.warehouse_id <> o.warehouse_id)
    UNION ALL
    SELECT 'fefo_order', format('order %s line %s', x.order_id, x.line),
           format('took lot %s (expires %s) while lot %s (expires %s) had %s units free',
                  x.last_id, x.last_exp, f.id, f.expires_on, z.free)
      FROM last_lot x
      JOIN lots f ON f.product_id = x.product_id
                 AND (f.expires_on, f.id) < (x.last_exp, x.last_id)
                 AND f.expires_on > x.day + x.shelf_days
                 AND (x.warehouse_id IS NULL OR f.warehouse_id = x.warehouse_id)
     CROSS JOIN LATERAL (
        SELECT bff_lot_free_at(f.id, x.at)
               - coalesce((SELECT sum(mm.reserved_delta) FROM movements mm
                            WHERE mm.order_id = x.order_id AND mm.lot_id = f.id
                              AND mm.kind = 'reserve' AND mm.reason IS NULL), 0) AS free) z
     WHERE z.free > 0 AND bff_lot_status_at(f.id, x.at) = 'available';

/*
 * What bffctl verify reports without failing: states SPEC allows but an
 * operator should see — an open allocation left on a lot that is no longer
 * eligible (quarantine or expiry could not move it; shipping needs picks),
 * and reserved orders past their hold that the expiry job has not run on.
 */
CREATE VIEW bff_warnings AS
    SELECT 'stuck_allocation' AS kind, format('order %s line %s', a.order_id, a.line) AS subject,
           format('%s units on lot %s, which is %s: shipping needs picks', a.quantity, l.id,
                  bff_lot_status(l)) AS detail
      FROM allocations a
      JOIN orders o ON o.id = a.order_id AND o.status IN ('reserved', 'confirmed')
      JOIN lots l ON l.id = a.lot_id
     WHERE bff_lot_status(l) <> 'available'
    UNION ALL
    SELECT 'hold_expired', format('order %s', o.id),
           format('reserved until %s; the expiry job has not released it yet',
                  bff_ts(o.reserved_until))
      FROM orders o
     WHERE o.status = 'reserved' AND o.reserved_until <= now();

-- A user's search text as a LIKE pattern that matches it literally.
CREATE FUNCTION bff_like_escape(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT replace(replace(replace(t, '\', '\\'), '%', '\%'), '_', '\_')
$$;
