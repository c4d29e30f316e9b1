-- 0004_fefo: the FEFO reservation and every stock-changing operation, as
-- functions, so each request is one round trip and one transaction.
--
-- Errors a client caused are raised with bff's own SQLSTATEs, classified by
-- code (never by message text) in lib/db.c:
--   BF400 bad_request, BF404 not_found, BF409 conflict; DETAIL = field path.
-- Lock order, everywhere: product rows before lots (an order takes its
-- products FOR SHARE; what makes a lot newly eligible — a receipt, a
-- release from quarantine — takes its product FOR NO KEY UPDATE, so no
-- lot becomes eligible under a reservation in progress); an order row
-- before any lot; lots in ascending id (SELECT ... ORDER BY id FOR UPDATE,
-- whose LockRows runs above the Sort).

-- JSON shapes of SPEC §4 -----------------------------------------------------

CREATE FUNCTION bff_product_json(p products) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', p.id, 'sku', p.sku, 'name', p.name, 'active', p.active,
        'min_shelf_life_days', p.min_shelf_life_days, 'reorder_point', p.reorder_point,
        'created_at', bff_ts(p.created_at), 'updated_at', bff_ts(p.updated_at))
$$;

CREATE FUNCTION bff_warehouse_json(w warehouses) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', w.id, 'code', w.code, 'name', w.name, 'active', w.active)
$$;

-- A lot's status as clients see it: past its date is expired, whether or
-- not the expiry job has run yet.
CREATE FUNCTION bff_lot_status(l lots) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN l.status = 'available' AND l.expires_on <= current_date
                THEN 'expired' ELSE l.status END
$$;

CREATE FUNCTION bff_lot_json(l lots) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', l.id, 'product_id', l.product_id,
        'warehouse_id', l.warehouse_id, 'lot_code', l.lot_code, 'expires_on', l.expires_on,
        'on_hand', l.on_hand, 'reserved', l.reserved,
        'available', CASE WHEN bff_lot_status(l) = 'available'
                          THEN l.on_hand - l.reserved ELSE 0 END,
        'status', bff_lot_status(l), 'received_at', bff_ts(l.received_at))
$$;

CREATE FUNCTION bff_order_json(p_id bigint) RETURNS json
LANGUAGE sql STABLE AS $$
    SELECT json_build_object('id', o.id, 'external_ref', o.external_ref,
        'warehouse_id', o.warehouse_id,
        'status', CASE WHEN o.status = 'reserved' AND o.reserved_until <= now()
                       THEN 'expired' ELSE o.status END,
        'reserved_until', bff_ts(o.reserved_until), 'fefo_compliant', o.fefo_compliant,
        'created_at', bff_ts(o.created_at), 'updated_at', bff_ts(o.updated_at),
        'shipped_at', bff_ts(o.shipped_at),
        'lines', (SELECT json_agg(json_build_object('line', ol.line,
                        'product_id', ol.product_id, 'quantity', ol.quantity,
                        'min_shelf_life_days', ol.min_shelf_life_days,
                        'allocations', (SELECT coalesce(json_agg(json_build_object(
                                'lot_id', a.lot_id, 'lot_code', l.lot_code,
                                'warehouse_id', l.warehouse_id, 'expires_on', l.expires_on,
                                'quantity', a.quantity) ORDER BY l.expires_on, l.id), '[]')
                            FROM allocations a JOIN lots l ON l.id = a.lot_id
                           WHERE a.order_id = ol.order_id AND a.line = ol.line),
                        'shipped', CASE WHEN o.status = 'shipped' THEN
                            (SELECT coalesce(json_agg(json_build_object('lot_id', s.lot_id,
                                'expires_on', s.expires_on, 'quantity', s.quantity)
                                ORDER BY s.expires_on, s.lot_id), '[]')
                               FROM shipments s
                              WHERE s.order_id = ol.order_id AND s.line = ol.line) END)
                    ORDER BY ol.line)
                    FROM order_lines ol WHERE ol.order_id = o.id))
      FROM orders o WHERE o.id = p_id
$$;

-- Reservation ---------------------------------------------------------------

-- One free-stock candidate of an order being planned.
CREATE TYPE bff_cand AS (lot_id bigint, product_id bigint, expires_on date, free bigint);

/*
 * Create an order and reserve every line FEFO, all or nothing (SPEC §4).
 * p_lines: [{"product_id"|"sku", "quantity", "min_shelf_life_days"?}, ...],
 * already type-checked by the request layer. Returns (201, order) or
 * (409, {"shortages":[...]}) having written nothing. Raises BF400 for a
 * missing/inactive product or warehouse, BF409 for a duplicate external_ref.
 */
CREATE FUNCTION bff_order_create(p_user bigint, p_external_ref text, p_warehouse bigint,
                                 p_hold_seconds integer, p_lines jsonb,
                                 OUT status integer, OUT body json, OUT products bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    n        integer := jsonb_array_length(p_lines);
    prod     bigint[] := '{}';
    qty      bigint[] := '{}';
    shelf    integer[] := '{}';
    c        bff_cand[];
    alloc_l  integer[] := '{}';
    alloc_k  integer[] := '{}';
    alloc_q  bigint[] := '{}';
    shortages json[] := '{}';
    elem     jsonb;
    p        products;
    i        integer;
    k        integer;
    need     bigint;
    take     bigint;
    avail    bigint;
    short    bigint;
    cutoff   date;
    oid      bigint;
BEGIN
    IF p_warehouse IS NOT NULL AND NOT EXISTS (SELECT 1 FROM warehouses WHERE id = p_warehouse) THEN
        RAISE EXCEPTION 'warehouse % does not exist', p_warehouse
            USING ERRCODE = 'BF400', DETAIL = 'warehouse_id';
    END IF;
    IF p_external_ref IS NOT NULL AND EXISTS (SELECT 1 FROM orders WHERE external_ref = p_external_ref) THEN
        RAISE EXCEPTION 'an order with external_ref "%" already exists', p_external_ref
            USING ERRCODE = 'BF409', DETAIL = 'external_ref';
    END IF;
    FOR i IN 0 .. n - 1 LOOP
        elem := p_lines -> i;
        IF elem ? 'product_id' THEN
            SELECT * INTO p FROM products WHERE id = (elem ->> 'product_id')::bigint FOR SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'product % does not exist', elem ->> 'product_id'
                    USING ERRCODE = 'BF400', DETAIL = format('lines[%s].product_id', i);
            END IF;
        ELSE
            SELECT * INTO p FROM products WHERE sku = elem ->> 'sku' FOR SHARE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'no product has sku "%"', elem ->> 'sku'
                    USING ERRCODE = 'BF400', DETAIL = format('lines[%s].sku', i);
            END IF;
        END IF;
        IF NOT p.active THEN
            RAISE EXCEPTION 'product % (%) is inactive', p.id, p.sku
                USING ERRCODE = 'BF400',
                      DETAIL = format('lines[%s].%s', i, CASE WHEN elem ? 'sku' THEN 'sku' ELSE 'product_id' END);
        END IF;
        prod := prod || p.id;
        qty := qty || (elem ->> 'quantity')::bigint;
        shelf := shelf || greatest(coalesce((elem ->> 'min_shelf_life_days')::integer, 0),
                                   p.min_shelf_life_days);
    END LOOP;

    -- Lock every lot the order could touch, in the global (id) order, and
    -- read them in FEFO order in the same statement: the rows come back as
    -- locked (a lot changed while we waited is re-read, one quarantined
    -- meanwhile drops out), so the plan below works on what it holds.
    SELECT coalesce(array_agg(ROW(k.id, k.product_id, k.expires_on, k.on_hand - k.reserved)::bff_cand
                              ORDER BY k.expires_on, k.id) FILTER (WHERE k.on_hand > k.reserved),
                    '{}')
      INTO c
      FROM (SELECT l.id, l.product_id, l.expires_on, l.on_hand, l.reserved FROM lots l
             WHERE l.product_id = ANY (prod) AND l.status = 'available'
               AND l.expires_on > current_date
               AND (p_warehouse IS NULL OR l.warehouse_id = p_warehouse)
             ORDER BY l.id FOR UPDATE) k;

    -- Plan: lines in order, each taking its FEFO share of what is left.
    FOR i IN 1 .. n LOOP
        need := qty[i];
        cutoff := current_date + shelf[i];
        avail := 0;
        short := 0;
        FOR k IN 1 .. coalesce(array_length(c, 1), 0) LOOP
            CONTINUE WHEN c[k].product_id <> prod[i] OR c[k].free = 0;
            IF c[k].expires_on <= cutoff THEN
                short := short + c[k].free;
                CONTINUE;
            END IF;
            avail := avail + c[k].free;
            IF need > 0 THEN
                take := least(need, c[k].free);
                c[k].free := c[k].free - take;
                need := need - take;
                alloc_l := alloc_l || i;
                alloc_k := alloc_k || k;
                alloc_q := alloc_q || take;
            END IF;
        END LOOP;
        -- short-dated units an earlier line may still take: leave them in c
        IF need > 0 THEN
            shortages := shortages || json_build_object('line', i, 'product_id', prod[i],
                'requested', qty[i], 'available', avail, 'short_dated', short);
        END IF;
    END LOOP;
    IF array_length(shortages, 1) > 0 THEN
        status := 409;
        body := json_build_object('shortages', array_to_json(shortages));
        RETURN;
    END IF;

    INSERT INTO orders (external_ref, warehouse_id, reserved_until, created_by)
    VALUES (p_external_ref, p_warehouse,
            CASE WHEN p_hold_seconds > 0 THEN now() + make_interval(secs => p_hold_seconds) END,
            p_user)
    RETURNING id INTO oid;
    INSERT INTO order_lines (order_id, line, product_id, quantity, min_shelf_life_days, shelf_days)
    SELECT oid, g.x, prod[g.x], qty[g.x],
           coalesce(((p_lines -> (g.x - 1)) ->> 'min_shelf_life_days')::integer, 0), shelf[g.x]
      FROM generate_series(1, n) AS g(x);
    IF array_length(alloc_q, 1) > 0 THEN
        INSERT INTO allocations (order_id, line, lot_id, quantity)
        SELECT oid, alloc_l[g.j], (c[alloc_k[g.j]]).lot_id, alloc_q[g.j]
          FROM generate_series(1, array_length(alloc_q, 1)) AS g(j);
        INSERT INTO movements (lot_id, kind, reserved_delta, order_id, user_id)
        SELECT (c[alloc_k[g.j]]).lot_id, 'reserve', alloc_q[g.j], oid, p_user
          FROM generate_series(1, array_length(alloc_q, 1)) AS g(j);
        UPDATE lots l SET reserved = l.reserved + t.q
          FROM (SELECT (c[alloc_k[g.j]]).lot_id AS id, sum(alloc_q[g.j]) AS q
                  FROM generate_series(1, array_length(alloc_q, 1)) AS g(j) GROUP BY 1) t
         WHERE l.id = t.id;
    END IF;
    status := 201;
    body := bff_order_json(oid);
    products := prod;
END $$;

-- Release every allocation of an open order (cancel, expiry). The caller
-- holds the order row; lots are locked here in id order.
CREATE FUNCTION bff_order_release(p_order bigint, p_user bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM lots WHERE id IN (SELECT lot_id FROM allocations WHERE order_id = p_order)
      ORDER BY id FOR UPDATE;
    INSERT INTO movements (lot_id, kind, reserved_delta, order_id, user_id)
    SELECT lot_id, 'release', -sum(quantity), p_order, p_user
      FROM allocations WHERE order_id = p_order GROUP BY lot_id;
    UPDATE lots l SET reserved = l.reserved - t.q
      FROM (SELECT lot_id, sum(quantity) AS q FROM allocations
             WHERE order_id = p_order GROUP BY lot_id) t
     WHERE l.id = t.lot_id;
END $$;

/*
 * Lock an order for a transition and check that it may make one: BF404 when
 * missing; BF409 naming the status when it is not one of p_from, or when a
 * reserved order's hold has run out (expired for every transition, even
 * before the worker has released it).
 */
CREATE FUNCTION bff_order_lock(p_order bigint, p_action text, p_from text[]) RETURNS orders
LANGUAGE plpgsql AS $$
DECLARE
    o orders;
BEGIN
    SELECT * INTO o FROM orders WHERE id = p_order FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'order % does not exist', p_order USING ERRCODE = 'BF404';
    END IF;
    IF o.status = 'reserved' AND o.reserved_until <= now() THEN
        RAISE EXCEPTION 'cannot % order %: its reservation expired at %', p_action, p_order,
            bff_ts(o.reserved_until) USING ERRCODE = 'BF409';
    END IF;
    IF NOT (o.status = ANY (p_from)) THEN
        RAISE EXCEPTION 'cannot % order %: it is %', p_action, p_order, o.status
            USING ERRCODE = 'BF409';
    END IF;
    RETURN o;
END $$;

CREATE FUNCTION bff_order_confirm(p_order bigint, p_user bigint) RETURNS json
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bff_order_lock(p_order, 'confirm', ARRAY['reserved']);
    UPDATE orders SET status = 'confirmed', reserved_until = NULL, updated_at = now()
     WHERE id = p_order;
    RETURN bff_order_json(p_order);
END $$;

-- The products of an order's lines: whose stock cache a transition dirties.
CREATE FUNCTION bff_order_products(p_order bigint) RETURNS bigint[]
LANGUAGE sql STABLE AS $$
    SELECT array_agg(DISTINCT product_id) FROM order_lines WHERE order_id = p_order
$$;

CREATE FUNCTION bff_order_cancel(p_order bigint, p_user bigint,
                                 OUT body json, OUT products bigint[])
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM bff_order_lock(p_order, 'cancel', ARRAY['reserved', 'confirmed']);
    PERFORM bff_order_release(p_order, p_user);
    UPDATE orders SET status = 'cancelled', cancelled_at = now(), updated_at = now()
     WHERE id = p_order;
    body := bff_order_json(p_order);
    products := bff_order_products(p_order);
END $$;

/*
 * Ship an open order (SPEC §4): consume its allocations, or the picks that
 * replace them. Picks [{"line","lot_id","quantity"}] must cover each line
 * exactly (BF400) from lots of the line's product, in the order's warehouse
 * if it names one, available, not past their date, with enough free plus
 * this order's own reserved units (BF409). Sets fefo_compliant: for every
 * line and expiry date, shipped units equal allocated units.
 */
CREATE FUNCTION bff_order_ship(p_order bigint, p_user bigint, p_picks jsonb,
                               OUT body json, OUT products bigint[])
LANGUAGE plpgsql AS $$
DECLARE
    o   orders;
    r   record;
    i   integer;
BEGIN
    o := bff_order_lock(p_order, 'ship', ARRAY['reserved', 'confirmed']);

    CREATE TEMP TABLE IF NOT EXISTS bff_ship (line integer, lot_id bigint, quantity bigint)
        ON COMMIT DROP;
    TRUNCATE bff_ship;
    IF p_picks IS NULL THEN
        INSERT INTO bff_ship SELECT line, lot_id, quantity FROM allocations WHERE order_id = p_order;
    ELSE
        FOR i IN 0 .. jsonb_array_length(p_picks) - 1 LOOP
            IF NOT EXISTS (SELECT 1 FROM order_lines WHERE order_id = p_order
                              AND line = ((p_picks -> i) ->> 'line')::integer) THEN
                RAISE EXCEPTION 'order % has no line %', p_order, (p_picks -> i) ->> 'line'
                    USING ERRCODE = 'BF400', DETAIL = format('picks[%s].line', i);
            END IF;
            IF NOT EXISTS (SELECT 1 FROM lots WHERE id = ((p_picks -> i) ->> 'lot_id')::bigint) THEN
                RAISE EXCEPTION 'lot % does not exist', (p_picks -> i) ->> 'lot_id'
                    USING ERRCODE = 'BF400', DETAIL = format('picks[%s].lot_id', i);
            END IF;
        END LOOP;
        INSERT INTO bff_ship
        SELECT (e ->> 'line')::integer, (e ->> 'lot_id')::bigint, sum((e ->> 'quantity')::bigint)
          FROM jsonb_array_elements(p_picks) AS e GROUP BY 1, 2;
        FOR r IN SELECT ol.line, ol.quantity, coalesce(sum(s.quantity), 0) AS picked
                   FROM order_lines ol LEFT JOIN bff_ship s ON s.line = ol.line
                  WHERE ol.order_id = p_order GROUP BY ol.line, ol.quantity
                 HAVING coalesce(sum(s.quantity), 0) <> ol.quantity ORDER BY ol.line LOOP
            RAISE EXCEPTION 'picks for line % add up to %, the line has %', r.line, r.picked,
                r.quantity USING ERRCODE = 'BF400', DETAIL = 'picks';
        END LOOP;
    END IF;

    -- Every lot involved, locked in id order: allocations and picks.
    PERFORM 1 FROM lots
      WHERE id IN (SELECT lot_id FROM allocations WHERE order_id = p_order
                   UNION SELECT lot_id FROM bff_ship)
      ORDER BY id FOR UPDATE;

    FOR r IN SELECT s.line, s.lot_id, s.quantity, l.product_id AS lot_product, l.status,
                    l.expires_on, l.warehouse_id, l.on_hand - l.reserved AS free,
                    ol.product_id AS line_product,
                    coalesce((SELECT sum(a.quantity) FROM allocations a
                               WHERE a.order_id = p_order AND a.lot_id = s.lot_id), 0) AS own
               FROM bff_ship s JOIN lots l ON l.id = s.lot_id
               JOIN order_lines ol ON ol.order_id = p_order AND ol.line = s.line
              ORDER BY s.line, s.lot_id LOOP
        IF r.lot_product <> r.line_product THEN
            RAISE EXCEPTION 'lot % holds product %, line % is product %', r.lot_id,
                r.lot_product, r.line, r.line_product USING ERRCODE = 'BF409';
        END IF;
        IF r.status <> 'available' OR r.expires_on <= current_date THEN
            RAISE EXCEPTION 'cannot ship line % from lot %: it is %', r.line, r.lot_id,
                CASE WHEN r.status = 'available' THEN 'expired' ELSE r.status END
                USING ERRCODE = 'BF409',
                      HINT = 'ship with picks that replace this allocation';
        END IF;
        IF o.warehouse_id IS NOT NULL AND r.warehouse_id <> o.warehouse_id THEN
            RAISE EXCEPTION 'lot % is in warehouse %, the order ships from %', r.lot_id,
                r.warehouse_id, o.warehouse_id USING ERRCODE = 'BF409';
        END IF;
    END LOOP;
    FOR r IN SELECT s.lot_id, sum(s.quantity) AS q, min(l.on_hand - l.reserved) AS free,
                    coalesce((SELECT sum(a.quantity) FROM allocations a
                               WHERE a.order_id = p_order AND a.lot_id = s.lot_id), 0) AS own
               FROM bff_ship s JOIN lots l ON l.id = s.lot_id GROUP BY s.lot_id LOOP
        IF r.q > r.free + r.own THEN
            RAISE EXCEPTION 'lot % has % units free for this order, the picks take %',
                r.lot_id, r.free + r.own, r.q USING ERRCODE = 'BF409';
        END IF;
    END LOOP;

    PERFORM bff_order_release(p_order, p_user);
    INSERT INTO movements (lot_id, kind, on_hand_delta, order_id, user_id)
    SELECT lot_id, 'ship', -sum(quantity), p_order, p_user FROM bff_ship GROUP BY lot_id;
    UPDATE lots l SET on_hand = l.on_hand - t.q
      FROM (SELECT lot_id, sum(quantity) AS q FROM bff_ship GROUP BY lot_id) t
     WHERE l.id = t.lot_id;
    INSERT INTO shipments (order_id, line, lot_id, expires_on, quantity)
    SELECT p_order, s.line, s.lot_id, l.expires_on, s.quantity
      FROM bff_ship s JOIN lots l ON l.id = s.lot_id;
    UPDATE orders SET status = 'shipped', shipped_at = now(), updated_at = now(),
           fefo_compliant = NOT EXISTS (
               SELECT line, expires_on, sum(q) FROM (
                   SELECT a.line, l.expires_on, a.quantity AS q FROM allocations a
                     JOIN lots l ON l.id = a.lot_id WHERE a.order_id = p_order
                   UNION ALL
                   SELECT s.line, s.expires_on, -s.quantity FROM shipments s
                    WHERE s.order_id = p_order) d
               GROUP BY line, expires_on HAVING sum(q) <> 0)
     WHERE id = p_order;
    DROP TABLE bff_ship;
    body := bff_order_json(p_order);
    products := bff_order_products(p_order);
END $$;
