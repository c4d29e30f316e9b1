# shellcheck shell=bash disable=SC2034 # RL_TOKEN is read by api() (lib.sh), STACK_* by stack.sh
# 6. Redis frozen (SIGSTOP 30 s), then Redis stopped (10 s), each under a
# read load (cached product and stock GETs) and an order load. A product
# cached before each outage is renamed during it; once Redis is back it
# must read fresh (the invalidation recorded in PostgreSQL is replayed
# before the cache is read again).
SCENARIO="6 Redis frozen and stopped"

# outage LABEL SECONDS ACTION-ON ACTION-OFF NAME
outage()
{
    local label=$1 secs=$2 on=$3 off=$4 name=$5 stop=$RL_TMP/s6.stop ready=$RL_TMP/s6.ready
    local o1=$RL_TMP/s6-reads-$on.out o2=$RL_TMP/s6-orders-$on.out p1 p2 rc=0 t0 t1 fresh got
    rm -f "$stop" "$ready"
    api_body GET "/api/products/$PID/" >/dev/null # cached
    [[ $(redis EXISTS "product:$PID") == 1 ]] || figure "$SCENARIO" "$label: product cached before" no yes FAIL
    "$RL" reads --scenario "$SCENARIO" --label "$label, reads" --clients 6 --products 10 \
        --baseline-seconds 4 --ready-file "$ready" --stop-file "$stop" >"$o1" 2>&1 &
    p1=$!
    "$RL" orders --scenario "$SCENARIO" --label "$label, orders" --clients 2 \
        --stop-file "$stop" --seconds 600 >"$o2" 2>&1 &
    p2=$!
    wait_file "$ready" 60 || { kill $p1 $p2; return 1; }
    stackctl "$on" redis >/dev/null 2>&1
    sleep 1
    t0=$(now_ms)
    got=$(api PATCH "/api/products/$PID/" "{\"name\":\"$name\"}" | tail -n 1)
    t1=$(now_ms)
    figure_eq "$SCENARIO" "$label: rename during the outage" "$got" 200
    figure_le "$SCENARIO" "$label: rename latency" "$((t1 - t0))" 1000 ms
    sleep $((secs - 1))
    stackctl "$off" redis >/dev/null 2>&1
    # fresh once Redis is back: first read, then for 2 s
    fresh=0 t0=$(now_ms)
    while (($(now_ms) - t0 < 2000)); do
        got=$(api_body GET "/api/products/$PID/" | jq -r .name)
        [[ $got == "$name" ]] || fresh=$((fresh + 1))
        sleep 0.05
    done
    figure_eq "$SCENARIO" "$label: stale reads once Redis is back" "$fresh" 0
    touch "$stop"
    wait $p1 || rc=1
    wait $p2 || rc=1
    cat "$o1" "$o2"
    return $rc
}

scenario()
{
    local rc=0 pending
    RL_TOKEN=$("$RL" token)
    PID=$(mk_product "RL6-$$")
    outage "frozen 30 s" 30 pause resume "renamed while frozen" || rc=1
    outage "stopped 10 s" 10 stop start "renamed while stopped" || rc=1
    pending=$(sql "SELECT count(*) FROM cache_invalidations")
    figure "$SCENARIO" "invalidations still waiting for replay" "$pending" - INFO
    figure_invariants "$SCENARIO"
    return $rc
}
