# shellcheck shell=bash
# 7. PostgreSQL: pg_terminate_backend of every bff-fcgi session (5 times),
# then a restart (stopped 3 s), under an order load whose clients retry
# with their Idempotency-Key. During the outage the app answers 503 in the
# SPEC's JSON (never nginx's 502/504); after the restart the first request
# succeeds within 2 s of PostgreSQL accepting connections.
SCENARIO="7 PostgreSQL restart and pg_terminate_backend"
scenario()
{
    local stop=$RL_TMP/s7.stop ready=$RL_TMP/s7.ready out=$RL_TMP/s7.out pid rc=0 i n=0 t
    local body code ra
    RL_TOKEN=$("$RL" token)
    rm -f "$stop" "$ready"
    "$RL" orders --scenario "$SCENARIO" --clients 4 --retry --expect-json-errors --no-502 \
        --stop-file "$stop" --ready-file "$ready" --seconds 600 >"$out" 2>&1 &
    pid=$!
    wait_file "$ready" 60 || { kill $pid; return 1; }
    sleep 1
    for ((i = 0; i < 5; i++)); do
        t=$(sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                  WHERE datname = current_database() AND application_name LIKE 'bff-fcgi%'")
        n=$((n + t))
        sleep 1
    done
    figure "$SCENARIO" "bff-fcgi sessions terminated (5 rounds)" "$n" - INFO
    stackctl stop postgres >/dev/null 2>&1
    sleep 1
    body=$(curl -s -D "$RL_TMP/s7.h" -H "Authorization: Bearer $RL_TOKEN" "$BFF_TEST_HTTP_URL/api/orders/?limit=1")
    code=$(jq -r '.error.code // empty' <<<"$body" 2>/dev/null)
    ra=$(grep -ci '^Retry-After:' "$RL_TMP/s7.h")
    figure_eq "$SCENARIO" "answer while PostgreSQL is down" "$(head -n 1 "$RL_TMP/s7.h" | cut -d' ' -f2) $code, Retry-After $ra" "503 unavailable, Retry-After 1"
    sleep 2
    stackctl start postgres >/dev/null 2>&1 # returns once it accepts connections
    t=$("$RL" probe --token "$RL_TOKEN" --path "/api/orders/?limit=1" --timeout-ms 10000 --interval-ms 10)
    figure_le "$SCENARIO" "first success after PostgreSQL accepts" "${t%% *}" 2000 ms
    sleep 2
    touch "$stop"
    wait $pid || rc=1
    cat "$out"
    figure_invariants "$SCENARIO"
    return $rc
}
