-- 0003_inventory: products, warehouses, lots, orders, allocations, the
-- movement ledger and idempotency keys (SPEC §4).
--
-- The database guards the invariants as well as the code: quantities are
-- CHECKed, references are foreign keys, codes are UNIQUE, the ledger is
-- append-only, and 0 <= reserved <= on_hand holds at every commit.

-- UTC timestamps as ISO 8601 with a Z, the one format of every response.
CREATE FUNCTION bff_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

CREATE TABLE products (
    id                  bigserial PRIMARY KEY,
    sku                 text NOT NULL UNIQUE CHECK (sku ~ '^[A-Za-z0-9._-]{1,64}$'),
    name                text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    active              boolean NOT NULL DEFAULT true,
    min_shelf_life_days integer NOT NULL DEFAULT 0
                        CHECK (min_shelf_life_days BETWEEN 0 AND 36500),
    reorder_point       bigint NOT NULL DEFAULT 0
                        CHECK (reorder_point BETWEEN 0 AND 1000000000000),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
-- q= matches a SKU prefix or a name substring, case-insensitively.
CREATE INDEX products_sku_lower ON products (lower(sku) text_pattern_ops);

CREATE TABLE warehouses (
    id     bigserial PRIMARY KEY,
    code   text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9._-]{1,64}$'),
    name   text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    active boolean NOT NULL DEFAULT true
);

CREATE TABLE lots (
    id           bigserial PRIMARY KEY,
    product_id   bigint NOT NULL REFERENCES products (id),
    warehouse_id bigint NOT NULL REFERENCES warehouses (id),
    lot_code     text NOT NULL CHECK (lot_code ~ '^[A-Za-z0-9._-]{1,64}$'),
    expires_on   date NOT NULL,
    on_hand      bigint NOT NULL CHECK (on_hand >= 0),
    reserved     bigint NOT NULL DEFAULT 0,
    status       text NOT NULL DEFAULT 'available'
                 CHECK (status IN ('available', 'quarantined', 'expired')),
    received_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (reserved BETWEEN 0 AND on_hand),
    UNIQUE (product_id, warehouse_id, lot_code)
);
-- The FEFO walk: a product's lots by (expires_on, id).
CREATE INDEX lots_fefo ON lots (product_id, expires_on, id);
CREATE INDEX lots_warehouse ON lots (warehouse_id);
CREATE INDEX lots_expiring ON lots (expires_on) WHERE status = 'available';

CREATE TABLE orders (
    id             bigserial PRIMARY KEY,
    external_ref   text UNIQUE CHECK (char_length(external_ref) BETWEEN 1 AND 100),
    warehouse_id   bigint REFERENCES warehouses (id),
    status         text NOT NULL DEFAULT 'reserved'
                   CHECK (status IN ('reserved', 'confirmed', 'shipped', 'cancelled', 'expired')),
    reserved_until timestamptz,
    fefo_compliant boolean,
    created_by     bigint REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    shipped_at     timestamptz,
    cancelled_at   timestamptz,
    CHECK ((status = 'shipped') = (shipped_at IS NOT NULL)),
    CHECK (status = 'shipped' OR fefo_compliant IS NULL)
);
CREATE INDEX orders_status ON orders (status, id);
CREATE INDEX orders_hold ON orders (reserved_until) WHERE status = 'reserved';
CREATE INDEX orders_created ON orders (created_at);
CREATE INDEX orders_shipped ON orders (shipped_at) WHERE shipped_at IS NOT NULL;

CREATE TABLE order_lines (
    order_id            bigint  NOT NULL REFERENCES orders (id),
    line                integer NOT NULL CHECK (line BETWEEN 1 AND 100),
    product_id          bigint  NOT NULL REFERENCES products (id),
    quantity            bigint  NOT NULL CHECK (quantity BETWEEN 1 AND 1000000000),
    min_shelf_life_days integer NOT NULL DEFAULT 0 CHECK (min_shelf_life_days BETWEEN 0 AND 36500),
    -- the rule the reservation applied: max(line, product) at that moment
    -- (the product's may change later; bffctl verify checks against this)
    shelf_days          integer NOT NULL DEFAULT 0 CHECK (shelf_days >= min_shelf_life_days),
    PRIMARY KEY (order_id, line)
);

-- What each open order line holds, lot by lot. Rows of closed orders stay
-- as history; only open (reserved|confirmed) orders count toward reserved.
CREATE TABLE allocations (
    id       bigserial PRIMARY KEY,
    order_id bigint  NOT NULL,
    line     integer NOT NULL,
    lot_id   bigint  NOT NULL REFERENCES lots (id),
    quantity bigint  NOT NULL CHECK (quantity > 0),
    FOREIGN KEY (order_id, line) REFERENCES order_lines (order_id, line),
    UNIQUE (order_id, line, lot_id)
);
CREATE INDEX allocations_lot ON allocations (lot_id);

-- What a shipped order took, lot by lot (from its allocations or picks).
CREATE TABLE shipments (
    order_id   bigint  NOT NULL,
    line       integer NOT NULL,
    lot_id     bigint  NOT NULL REFERENCES lots (id),
    expires_on date    NOT NULL,
    quantity   bigint  NOT NULL CHECK (quantity > 0),
    FOREIGN KEY (order_id, line) REFERENCES order_lines (order_id, line),
    PRIMARY KEY (order_id, line, lot_id)
);

-- The append-only ledger: every change of a lot's on_hand or reserved.
-- sum(on_hand_delta) of a lot = its on_hand (checked by bffctl verify).
CREATE TABLE movements (
    id             bigserial PRIMARY KEY,
    lot_id         bigint NOT NULL REFERENCES lots (id),
    kind           text   NOT NULL
                   CHECK (kind IN ('receive', 'adjust', 'reserve', 'release', 'ship', 'expire')),
    on_hand_delta  bigint NOT NULL DEFAULT 0,
    reserved_delta bigint NOT NULL DEFAULT 0,
    order_id       bigint REFERENCES orders (id),
    reason         text,
    user_id        bigint REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (on_hand_delta <> 0 OR reserved_delta <> 0 OR kind = 'expire')
);
-- (lot_id, id): a lot's history up to a point of the ledger (bffctl verify)
CREATE INDEX movements_lot ON movements (lot_id, id);
CREATE INDEX movements_order ON movements (order_id) WHERE order_id IS NOT NULL;

CREATE FUNCTION bff_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the movement ledger is append-only' USING ERRCODE = 'BF409';
END $$;
CREATE TRIGGER movements_append_only BEFORE UPDATE OR DELETE ON movements
    FOR EACH ROW EXECUTE FUNCTION bff_ledger_append_only();
CREATE TRIGGER movements_no_truncate BEFORE TRUNCATE ON movements
    FOR EACH STATEMENT EXECUTE FUNCTION bff_ledger_append_only();

-- Quarantine and release of lots, append-only like the ledger. The ids
-- come from the ledger's own sequence and are drawn while the lots are
-- locked, so ordering them with movement ids orders the events on a lot
-- (bffctl verify: was this lot quarantined when it was reserved?).
CREATE TABLE lot_status_changes (
    id         bigint PRIMARY KEY DEFAULT nextval('movements_id_seq'),
    lot_id     bigint NOT NULL REFERENCES lots (id),
    status     text   NOT NULL CHECK (status IN ('available', 'quarantined')),
    user_id    bigint REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lot_status_changes_lot ON lot_status_changes (lot_id, id);
CREATE TRIGGER lot_status_changes_append_only BEFORE UPDATE OR DELETE ON lot_status_changes
    FOR EACH ROW EXECUTE FUNCTION bff_ledger_append_only();

-- Idempotency keys, scoped to the user (SPEC §4). The row is written in the
-- transaction that does the work, so a crash leaves neither.
CREATE TABLE idempotency_keys (
    user_id     bigint  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key         text    NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    method      text    NOT NULL,
    path        text    NOT NULL,
    body_hash   bytea   NOT NULL,
    status      integer NOT NULL CHECK (status BETWEEN 200 AND 499),
    response    text    NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
