-- bench/wrk/order.lua — POST /api/orders/ with one line of 1 unit and a
-- unique Idempotency-Key per request: a random product, or every request
-- the same one when BENCH_HOT_ID is set (scenario e).
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

function init(args)
    bench_init()
end

function request()
    if hot_id > 0 then
        return order_request(hot_id)
    end
    return order_request(random_id())
end
