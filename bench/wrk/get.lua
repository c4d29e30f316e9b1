-- bench/wrk/get.lua — GET $BENCH_PATH (a format with one %d: a random
-- product id), e.g. /api/products/%d/, /api/products/%d/stock/,
-- /ceiling/redis/api/products/%d/ or /bench-static/product.json.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local fmt = os.getenv("BENCH_PATH") or "/api/products/%d/"

function init(args)
    bench_init()
end

function request()
    return get_request(fmt)
end
