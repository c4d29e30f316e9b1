# shellcheck shell=bash
# 5. Graceful restart under load, two ways, three times each:
#  - stackctl reload fcgi: the master re-executes bff-fcgi (same socket),
#    starts new workers and SIGTERMs every old one;
#  - SIGTERM to every worker at once: the master starts new ones.
# Each SIGTERMed worker finishes its request in flight; the listening
# socket is never closed, so nothing is refused. No client retries here:
# any failed request counts.
SCENARIO="5 graceful restart"
scenario()
{
    local stop=$RL_TMP/s5.stop ready=$RL_TMP/s5.ready o1=$RL_TMP/s5-orders.out
    local o2=$RL_TMP/s5-reads.out p1 p2 rc=0 i restarts=0 bad=0 old w out t0 dt
    local slowest=0 killed0 killed
    rm -f "$stop" "$ready"
    "$RL" orders --scenario "$SCENARIO" --clients 6 --stop-file "$stop" \
        --ready-file "$ready" --seconds 120 >"$o1" 2>&1 &
    p1=$!
    "$RL" reads --scenario "$SCENARIO" --label "reads" --clients 4 \
        --stop-file "$stop" --products 10 >"$o2" 2>&1 &
    p2=$!
    wait_file "$ready" 60 || { kill "$p1" "$p2"; return 1; }
    sleep 1
    killed0=$(stuck_kills)
    for ((i = 0; i < 3; i++)); do
        old=$(fcgi_workers | paste -sd' ' -)
        t0=$(now_ms)
        if ! out=$(stackctl reload fcgi 2>&1); then
            bad=$((bad + 1))
            printf 'reload %d failed: %s\n' "$i" "$out"
            fcgi_ps
        fi
        dt=$(($(now_ms) - t0))
        ((dt > slowest)) && slowest=$dt
        ((dt > 5000)) && { printf 'reload %d took %d ms\n' "$i" "$dt"; fcgi_ps; }
        for w in $old; do
            if alive "$w"; then
                bad=$((bad + 1))
                printf 'reload %d: old worker %s still running\n' "$i" "$w"
            fi
        done
        restarts=$((restarts + 1))
        sleep 1.5
        old=$(fcgi_workers | paste -sd' ' -)
        # shellcheck disable=SC2086
        kill -TERM $old
        restarts=$((restarts + 1))
        sleep 1.5
    done
    touch "$stop"
    wait "$p1" || rc=1
    wait "$p2" || rc=1
    cat "$o1" "$o2"
    figure_eq "$SCENARIO" "in-flight requests completed" \
        "$([[ $rc -eq 0 ]] && echo "100 %" || echo "< 100 % (see failed requests)")" "100 %"
    figure "$SCENARIO" "restarts under load (3 reloads, 3 SIGTERM all)" "$restarts" - INFO
    figure_le "$SCENARIO" "longest graceful reload" "$slowest" 10000 ms
    killed=$(($(stuck_kills) - killed0))
    ((killed == 0)) || grep 'ignored SIGTERM' "$RL_STATE/log/application.log" | tail -n 5
    figure_eq "$SCENARIO" "workers SIGKILLed for ignoring SIGTERM" "$killed" 0
    figure_eq "$SCENARIO" "old workers left after a reload" "$bad" 0
    w=$(fcgi_workers | wc -l)
    [[ $w -eq $(cat "$RL_STATE/run/fcgi.workers") ]] || fcgi_ps
    figure_eq "$SCENARIO" "workers serving after the restarts" "$w" \
        "$(cat "$RL_STATE/run/fcgi.workers")"
    figure_invariants "$SCENARIO"
    return $rc
}
