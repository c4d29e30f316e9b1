-- bench/wrk/common.lua — shared by every bench/wrk/*.lua (loaded with
-- dofile). Counts non-2xx responses in a `response` hook (never hidden:
-- they go into the result and the verdict) and writes one JSON object with
-- req/s, latency percentiles and errors to $BENCH_OUT when wrk is done.
-- Every scenario and ceiling uses it, so each pays the same Lua overhead.
--
-- Environment: BENCH_OUT (result file), BENCH_TOKEN (bearer token),
-- BENCH_ID_MIN/BENCH_ID_MAX (product ids), BENCH_SALT (unique per run).

local threads = {}

-- main state: number the threads so each can seed its own generator
function setup(thread)
    thread:set("tid", #threads + 1)
    table.insert(threads, thread)
end

non2xx = 0
statuses = {}
sample = ""

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        statuses[tostring(status)] = (statuses[tostring(status)] or 0) + 1
        if sample == "" and body then
            sample = string.sub(body, 1, 200)
        end
    end
end

local function jstr(s)
    s = string.gsub(tostring(s), '[%c"\\]', function(c)
        return string.format("\\u%04x", string.byte(c))
    end)
    return '"' .. s .. '"'
end

function done(summary, latency, requests)
    local bad, st, smp = 0, {}, ""
    for _, t in ipairs(threads) do
        bad = bad + (t:get("non2xx") or 0)
        for k, v in pairs(t:get("statuses") or {}) do
            st[k] = (st[k] or 0) + v
        end
        local s = t:get("sample")
        if smp == "" and s and s ~= "" then smp = s end
    end
    local parts = {}
    for k, v in pairs(st) do table.insert(parts, jstr(k) .. ":" .. v) end
    local secs = summary.duration / 1e6
    local e = summary.errors
    local out = string.format(
        '{"requests":%d,"duration_s":%.3f,"rps":%.1f,"p50_ms":%.3f,"p90_ms":%.3f,' ..
        '"p99_ms":%.3f,"max_ms":%.3f,"non2xx":%d,"socket_errors":%d,' ..
        '"timeouts":%d,"statuses":{%s},"sample":%s}',
        summary.requests, secs, summary.requests / secs,
        latency:percentile(50) / 1000, latency:percentile(90) / 1000,
        latency:percentile(99) / 1000, latency.max / 1000, bad,
        e.connect + e.read + e.write, e.timeout, table.concat(parts, ","), jstr(smp))
    local path = os.getenv("BENCH_OUT")
    if path then
        local f = assert(io.open(path, "w"))
        f:write(out, "\n")
        f:close()
    end
    io.write(out, "\n")
end

-- per-thread helpers -------------------------------------------------------

function bench_init()
    local salt = tonumber(os.getenv("BENCH_SALT") or "0") or 0
    math.randomseed(os.time() * 7919 + (tid or 0) * 104729 + salt)
    id_min = tonumber(os.getenv("BENCH_ID_MIN") or "1")
    id_max = tonumber(os.getenv("BENCH_ID_MAX") or "1")
    hot_id = tonumber(os.getenv("BENCH_HOT_ID") or "0")
    auth = "Bearer " .. (os.getenv("BENCH_TOKEN") or "")
    key_prefix = string.format("bench-%s-%d-%d-", os.getenv("BENCH_SALT") or "0",
                               os.time(), tid or 0)
    key_seq = 0
end

function random_id()
    return math.random(id_min, id_max)
end

-- POST /api/orders/: one line of 1 unit, a unique Idempotency-Key.
function order_request(product)
    key_seq = key_seq + 1
    return wrk.format("POST", "/api/orders/", {
        ["Authorization"] = auth,
        ["Content-Type"] = "application/json",
        ["Idempotency-Key"] = key_prefix .. key_seq,
    }, string.format('{"lines":[{"product_id":%d,"quantity":1}]}', product))
end

function get_request(fmt)
    return wrk.format("GET", string.format(fmt, random_id()), {["Authorization"] = auth})
end
