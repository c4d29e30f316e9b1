# shellcheck shell=bash disable=SC2034 # RL_TOKEN is read by api() (lib.sh), STACK_* by stack.sh
# 8. The timeout ladder (SPEC §4): Redis 100 ms < lock_timeout <
# statement_timeout < app budget < nginx fastcgi_read_timeout. A request
# stuck behind a lock, or in a statement past statement_timeout, gets the
# app's 503 JSON well before nginx would answer 504; a transaction left idle
# is killed by idle_in_transaction_session_timeout and blocked clients go on.
SCENARIO="8 timeout ladder"

# timed METHOD PATH [BODY]: "status code seconds"
timed()
{
    local t0 out st
    t0=$(now_ms)
    out=$(api "$@")
    st=$(tail -n 1 <<<"$out")
    printf '%s %s %s\n' "$st" "$(sed '$d' <<<"$out" | jq -r '.error.code // "-"' 2>/dev/null)" \
        "$(awk -v ms=$(($(now_ms) - t0)) 'BEGIN { printf "%.1f", ms / 1000 }')"
}

scenario()
{
    local lock=${BFF_LOCK_TIMEOUT_MS:-2000} stmt=${BFF_STATEMENT_TIMEOUT_MS:-5000}
    local idle=${BFF_IDLE_TX_TIMEOUT_MS:-10000} nginx_s r hp t0 gone pid out rc=0 i
    local stop=$RL_TMP/s8.stop ready=$RL_TMP/s8.ready
    nginx_s=$(sed -n 's/^ *fastcgi_read_timeout \([0-9]*\)s;.*/\1/p' "$RL_STATE/nginx/nginx.conf" | head -n 1)
    figure "$SCENARIO" "ladder: lock / statement / idle tx / nginx read" \
        "$lock / $stmt / $idle ms / ${nginx_s}s" - INFO
    RL_TOKEN=$("$RL" token)
    PID=$(mk_product "RL8-$$" 100000000)

    # a) every lot locked by another session for 15 s
    sql "SELECT 1" >/dev/null
    psql "$BFF_TEST_DATABASE_URL" -X -q -c "BEGIN" -c "LOCK TABLE lots IN ACCESS EXCLUSIVE MODE" \
        -c "SELECT pg_sleep(15)" -c "COMMIT" >/dev/null 2>&1 &
    hp=$!
    sleep 0.5
    r=$(timed POST /api/orders/ "{\"lines\":[{\"product_id\":$PID,\"quantity\":1}]}")
    figure_eq "$SCENARIO" "order behind a held lock: status" "${r% *}" "503 unavailable"
    figure_le "$SCENARIO" "order behind a held lock: answered after" "${r##* }" "$((nginx_s - 10))" s
    r=$(timed GET "/api/products/$PID/stock/")
    figure_eq "$SCENARIO" "stock read behind a held lock: status" "${r% *}" "503 unavailable"
    figure_le "$SCENARIO" "stock read behind a held lock: answered after" "${r##* }" \
        "$(awk -v l="$lock" 'BEGIN { print l / 1000 + 1 }')" s
    wait $hp

    # b) a statement that runs past statement_timeout (a test trigger sleeps)
    sql "CREATE FUNCTION rl_slow() RETURNS trigger LANGUAGE plpgsql AS \$\$
           BEGIN PERFORM pg_sleep(${stmt}::float / 1000 + 3); RETURN NEW; END \$\$;
         CREATE TRIGGER rl_slow BEFORE INSERT ON warehouses FOR EACH ROW
           WHEN (NEW.code LIKE 'RLSLOW%') EXECUTE FUNCTION rl_slow();" >/dev/null
    r=$(timed POST /api/warehouses/ "{\"code\":\"RLSLOW-$$\",\"name\":\"slow\"}")
    sql "DROP TRIGGER rl_slow ON warehouses; DROP FUNCTION rl_slow();" >/dev/null
    figure_eq "$SCENARIO" "statement past statement_timeout: status" "${r% *}" "503 unavailable"
    figure_le "$SCENARIO" "statement past statement_timeout: answered after" "${r##* }" \
        "$(awk -v s="$stmt" 'BEGIN { print s / 1000 + 1.5 }')" s
    figure_eq "$SCENARIO" "its warehouse was not created" \
        "$(sql "SELECT count(*) FROM warehouses WHERE code = 'RLSLOW-$$'")" 0

    # c) a session with the app's settings takes the product's lots FOR
    # UPDATE and goes idle; orders for the product wait, retry, and go on
    # once PostgreSQL kills it.
    rm -f "$stop" "$ready"
    "$RL" orders --scenario "$SCENARIO" --label "orders during the idle transaction" --product "$PID" \
        --clients 2 --retry --stop-file "$stop" --seconds 600 >"$RL_TMP/s8.out" 2>&1 &
    pid=$!
    sleep 1
    printf 'BEGIN;\nSELECT count(*) FROM (SELECT id FROM lots WHERE product_id = %s FOR UPDATE) l;\n\\! sleep %s\nCOMMIT;\n' \
        "$PID" $((idle / 1000 + 10)) >"$RL_TMP/s8-idle.sql"
    t0=$(now_ms)
    psql "$BFF_TEST_DATABASE_URL options='-c idle_in_transaction_session_timeout=$idle' application_name=rl-idle" \
        -X -q -f "$RL_TMP/s8-idle.sql" >/dev/null 2>&1 &
    hp=$!
    gone=
    for ((i = 0; i < (idle / 1000 + 8) * 10; i++)); do
        sleep 0.1
        if [[ $(sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rl-idle'") == 0 ]] && ((i > 5)); then
            gone=$(($(now_ms) - t0))
            break
        fi
    done
    figure_le "$SCENARIO" "idle transaction killed after" "$(awk -v g="${gone:-999999}" 'BEGIN { printf "%.1f", g / 1000 }')" \
        "$(awk -v l="$idle" 'BEGIN { print l / 1000 + 1.5 }')" s
    # the product's orders go through again
    r=$(timed POST /api/orders/ "{\"lines\":[{\"product_id\":$PID,\"quantity\":1}]}")
    figure_eq "$SCENARIO" "order right after the kill" "${r% *}" "201 -"
    sleep 1
    touch "$stop"
    wait $pid || rc=1
    kill $hp 2>/dev/null
    wait $hp 2>/dev/null
    cat "$RL_TMP/s8.out"
    figure_invariants "$SCENARIO"
    return $rc
}
