-- bench/wrk/mix.lua — scenario (f): 90 % cached GET /api/products/{id}/,
-- 10 % POST /api/orders/ (random product, 1 unit, unique Idempotency-Key).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local order_share = tonumber(os.getenv("BENCH_ORDER_SHARE") or "0.1")

function init(args)
    bench_init()
end

function request()
    if math.random() < order_share then
        return order_request(random_id())
    end
    return get_request("/api/products/%d/")
end
