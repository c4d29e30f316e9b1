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

-- A user's search text as a LIKE pattern that matches it literally.
CREATE FUNCTION bff_like_escape(t text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT replace(replace(replace(t, '\', '\\'), '%', '\%'), '_', '\_')
$$;
