-- 0005_lots: receiving, cycle counts, quarantine/release, expiry, and the
-- re-allocation of open orders away from a lot that stopped being eligible.

/*
 * Receive stock (SPEC §4 Lots): create the lot (201) or add to the lot with
 * the same (product, warehouse, lot_code) and expiry (200). Another expiry
 * for the same code is BF409. A lot received past its date is stored as
 * expired and never allocated.
 */
CREATE FUNCTION bff_lot_receive(p_user bigint, p_product bigint, p_warehouse bigint,
                                p_code text, p_expires date, p_qty bigint,
                                OUT status integer, OUT body json)
LANGUAGE plpgsql AS $$
DECLARE
    l lots;
BEGIN
    -- The product first (lock order): a reservation of this product in
    -- progress holds it FOR SHARE, so no lot appears under it.
    PERFORM 1 FROM products WHERE id = p_product FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'product % does not exist', p_product
            USING ERRCODE = 'BF400', DETAIL = 'product_id';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM warehouses WHERE id = p_warehouse) THEN
        RAISE EXCEPTION 'warehouse % does not exist', p_warehouse
            USING ERRCODE = 'BF400', DETAIL = 'warehouse_id';
    END IF;
    -- Insert-or-lock: concurrent receipts of one new lot serialize on the
    -- unique key instead of failing.
    INSERT INTO lots (product_id, warehouse_id, lot_code, expires_on, on_hand, status)
    VALUES (p_product, p_warehouse, p_code, p_expires, p_qty,
            CASE WHEN p_expires <= current_date THEN 'expired' ELSE 'available' END)
    ON CONFLICT (product_id, warehouse_id, lot_code) DO NOTHING
    RETURNING * INTO l;
    IF FOUND THEN
        status := 201;
    ELSE
        SELECT * INTO l FROM lots WHERE product_id = p_product AND warehouse_id = p_warehouse
           AND lot_code = p_code FOR UPDATE;
        IF l.expires_on <> p_expires THEN
            RAISE EXCEPTION 'lot % of this product and warehouse expires on %, not %',
                p_code, l.expires_on, p_expires USING ERRCODE = 'BF409', DETAIL = 'expires_on';
        END IF;
        IF l.on_hand + p_qty > 9000000000000000000 THEN
            RAISE EXCEPTION 'lot % would exceed the largest quantity', p_code
                USING ERRCODE = 'BF409', DETAIL = 'quantity';
        END IF;
        UPDATE lots SET on_hand = on_hand + p_qty WHERE id = l.id RETURNING * INTO l;
        status := 200;
    END IF;
    INSERT INTO movements (lot_id, kind, on_hand_delta, user_id)
    VALUES (l.id, 'receive', p_qty, p_user);
    body := bff_lot_json(l);
END $$;

/*
 * Cycle count: on_hand += delta, never below reserved nor 0 (BF409).
 */
CREATE FUNCTION bff_lot_adjust(p_user bigint, p_lot bigint, p_delta bigint, p_reason text,
                               OUT body json, OUT product bigint)
LANGUAGE plpgsql AS $$
DECLARE
    l lots;
BEGIN
    SELECT * INTO l FROM lots WHERE id = p_lot FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lot % does not exist', p_lot USING ERRCODE = 'BF404';
    END IF;
    IF l.on_hand + p_delta < l.reserved THEN
        RAISE EXCEPTION 'lot % has % on hand and % reserved: cannot adjust by %', p_lot,
            l.on_hand, l.reserved, p_delta USING ERRCODE = 'BF409', DETAIL = 'delta';
    END IF;
    IF l.on_hand + p_delta > 9000000000000000000 THEN
        RAISE EXCEPTION 'lot % would exceed the largest quantity', p_lot
            USING ERRCODE = 'BF409', DETAIL = 'delta';
    END IF;
    UPDATE lots SET on_hand = on_hand + p_delta WHERE id = p_lot RETURNING * INTO l;
    INSERT INTO movements (lot_id, kind, on_hand_delta, reason, user_id)
    VALUES (p_lot, 'adjust', p_delta, p_reason, p_user);
    body := bff_lot_json(l);
    product := l.product_id;
END $$;

/*
 * Move open orders' allocations off a lot that is no longer eligible
 * (quarantined or expired) onto eligible lots, FEFO, splitting where only
 * part can move; orders in ascending id, lines in order. The caller holds
 * every lot of the product (locked in id order). Returns the ids of the
 * orders that still hold units on the lot.
 */
CREATE FUNCTION bff_lot_reallocate(p_lot bigint, p_user bigint) RETURNS bigint[]
LANGUAGE plpgsql AS $$
DECLARE
    a       record;
    t       record;
    need    bigint;
    take    bigint;
    stuck   bigint[] := '{}';
BEGIN
    FOR a IN SELECT al.id, al.order_id, al.line, al.quantity, o.warehouse_id, ol.product_id,
                    greatest(ol.min_shelf_life_days, p.min_shelf_life_days) AS shelf
               FROM allocations al
               JOIN orders o ON o.id = al.order_id AND o.status IN ('reserved', 'confirmed')
               JOIN order_lines ol ON ol.order_id = al.order_id AND ol.line = al.line
               JOIN products p ON p.id = ol.product_id
              WHERE al.lot_id = p_lot
              ORDER BY al.order_id, al.line LOOP
        need := a.quantity;
        FOR t IN SELECT l.id, l.on_hand - l.reserved AS free FROM lots l
                  WHERE l.product_id = a.product_id AND l.id <> p_lot
                    AND l.status = 'available' AND l.on_hand > l.reserved
                    AND l.expires_on > current_date + a.shelf
                    AND (a.warehouse_id IS NULL OR l.warehouse_id = a.warehouse_id)
                  ORDER BY l.expires_on, l.id LOOP
            EXIT WHEN need = 0;
            take := least(need, t.free);
            need := need - take;
            INSERT INTO allocations (order_id, line, lot_id, quantity)
            VALUES (a.order_id, a.line, t.id, take)
            ON CONFLICT (order_id, line, lot_id)
            DO UPDATE SET quantity = allocations.quantity + EXCLUDED.quantity;
            UPDATE lots SET reserved = reserved + take WHERE id = t.id;
            INSERT INTO movements (lot_id, kind, reserved_delta, order_id, reason, user_id)
            VALUES (t.id, 'reserve', take, a.order_id, format('moved from lot %s', p_lot), p_user);
        END LOOP;
        IF need < a.quantity THEN
            IF need = 0 THEN
                DELETE FROM allocations WHERE id = a.id;
            ELSE
                UPDATE allocations SET quantity = need WHERE id = a.id;
            END IF;
            UPDATE lots SET reserved = reserved - (a.quantity - need) WHERE id = p_lot;
            INSERT INTO movements (lot_id, kind, reserved_delta, order_id, reason, user_id)
            VALUES (p_lot, 'release', -(a.quantity - need), a.order_id,
                    'moved to other lots', p_user);
        END IF;
        IF need > 0 AND NOT (a.order_id = ANY (stuck)) THEN
            stuck := stuck || a.order_id;
        END IF;
    END LOOP;
    RETURN stuck;
END $$;

/*
 * PATCH a lot's status (recall / release). quarantined: re-allocate what
 * can move; the body lists affected_orders (always present). available:
 * only from quarantined, and only while not past its date (BF409).
 */
CREATE FUNCTION bff_lot_set_status(p_user bigint, p_lot bigint, p_status text,
                                   OUT body json, OUT product bigint)
LANGUAGE plpgsql AS $$
DECLARE
    l      lots;
    stuck  bigint[];
BEGIN
    SELECT * INTO l FROM lots WHERE id = p_lot;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'lot % does not exist', p_lot USING ERRCODE = 'BF404';
    END IF;
    -- The product, then its lots (lock order). A release makes a lot
    -- eligible as a receipt does: like a receipt it waits for reservations
    -- of the product in progress (they hold it FOR SHARE), and a
    -- reservation that starts later sees the lot — never one whose lot
    -- scan predates the release and so skips the released lot.
    PERFORM 1 FROM products WHERE id = l.product_id FOR NO KEY UPDATE;
    PERFORM 1 FROM lots WHERE product_id = l.product_id ORDER BY id FOR UPDATE;
    SELECT * INTO l FROM lots WHERE id = p_lot;
    IF l.status = 'expired' THEN
        RAISE EXCEPTION 'lot % is expired; its status cannot change', p_lot
            USING ERRCODE = 'BF409', DETAIL = 'status';
    END IF;
    IF p_status = 'available' THEN
        IF l.expires_on <= current_date THEN
            RAISE EXCEPTION 'lot % expired on %; it cannot be released', p_lot, l.expires_on
                USING ERRCODE = 'BF409', DETAIL = 'status';
        END IF;
        UPDATE lots SET status = 'available' WHERE id = p_lot RETURNING * INTO l;
        INSERT INTO lot_status_changes (lot_id, status, user_id) VALUES (p_lot, 'available', p_user);
        body := bff_lot_json(l);
        product := l.product_id;
        RETURN;
    END IF;
    UPDATE lots SET status = 'quarantined' WHERE id = p_lot;
    INSERT INTO lot_status_changes (lot_id, status, user_id) VALUES (p_lot, 'quarantined', p_user);
    stuck := bff_lot_reallocate(p_lot, p_user);
    SELECT * INTO l FROM lots WHERE id = p_lot;
    -- the lot object plus affected_orders, keeping the lot's key order
    body := (left(bff_lot_json(l)::text, -1) || ', "affected_orders" : '
             || array_to_json(stuck)::text || '}')::json;
    product := l.product_id;
END $$;

/*
 * The expiry job: mark lots past their date expired (ledger 'expire'
 * rows), moving their open allocations where possible. Idempotent: a lot
 * already expired is not touched again. Returns how many lots it expired.
 */
CREATE FUNCTION bff_expire_lots() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    l  record;
    n  integer := 0;
BEGIN
    -- Every lot of every affected product, in one id-ordered lock pass: the
    -- global lock order holds across products too.
    PERFORM 1 FROM lots
      WHERE product_id IN (SELECT product_id FROM lots
                            WHERE status IN ('available', 'quarantined')
                              AND expires_on <= current_date)
      ORDER BY id FOR UPDATE;
    FOR l IN SELECT id, product_id FROM lots
              WHERE status IN ('available', 'quarantined') AND expires_on <= current_date
              ORDER BY product_id, id LOOP
        UPDATE lots SET status = 'expired'
         WHERE id = l.id AND status <> 'expired';
        CONTINUE WHEN NOT FOUND;
        INSERT INTO movements (lot_id, kind, reason) VALUES (l.id, 'expire', 'past its date');
        PERFORM bff_lot_reallocate(l.id, NULL);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;

/*
 * The hold job: every reserved order past reserved_until becomes expired
 * and releases its stock. Orders are taken one at a time with SKIP LOCKED
 * so a concurrent cancel/confirm is never waited on nor raced. Returns the
 * number expired.
 */
CREATE FUNCTION bff_expire_reservations(p_limit integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    oid bigint;
    n   integer := 0;
BEGIN
    LOOP
        EXIT WHEN n >= p_limit;
        SELECT id INTO oid FROM orders
         WHERE status = 'reserved' AND reserved_until <= now()
         ORDER BY reserved_until, id LIMIT 1 FOR UPDATE SKIP LOCKED;
        EXIT WHEN NOT FOUND;
        PERFORM bff_order_release(oid, NULL);
        UPDATE orders SET status = 'expired', updated_at = now() WHERE id = oid;
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
