-- bench/wrk/sweep.lua — warm-up: each thread walks every product id once
-- (thread t of n takes ids t, t+n, ...; then starts over), so every
-- product:{id} entry is in Redis before the cached scenarios run.
dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")

local nthreads = tonumber(os.getenv("BENCH_THREADS") or "2")
local fmt = os.getenv("BENCH_PATH") or "/api/products/%d/"

function init(args)
    bench_init()
    next_id = id_min + (tid or 1) - 1
end

function request()
    local id = next_id
    next_id = next_id + nthreads
    if next_id > id_max then
        next_id = id_min + (tid or 1) - 1
    end
    return wrk.format("GET", string.format(fmt, id), {["Authorization"] = auth})
end
