# shellcheck shell=bash
# 4. FastCGI crash: kill -9 of a random bff-fcgi worker every second during
# an order load; the master (bff-fcgi --workers N) respawns it. Clients
# retry failed attempts with their Idempotency-Key.
SCENARIO="4 FastCGI crash"
scenario()
{
    local stop=$RL_TMP/s4.stop ready=$RL_TMP/s4.ready out=$RL_TMP/s4.out pid rc=0
    local kills=0 late=0 worst=0 i victim t0 dt end n
    rm -f "$stop" "$ready"
    "$RL" orders --scenario "$SCENARIO" --clients 8 --retry \
        --stop-file "$stop" --ready-file "$ready" --seconds 120 >"$out" 2>&1 &
    pid=$!
    wait_file "$ready" 60 || { kill "$pid"; return 1; }
    sleep 1
    for ((i = 0; i < 15; i++)); do
        victim=$(fcgi_workers | shuf -n 1)
        [[ -n $victim ]] || { late=$((late + 1)); sleep 1; continue; }
        t0=$(now_ms)
        kill -KILL "$victim" 2>/dev/null && kills=$((kills + 1))
        # replaced: $STACK_FCGI_PROCS workers again, the victim not among them
        while :; do
            n=$(fcgi_workers | grep -cvx "$victim")
            [[ $n -ge $(cat "$RL_STATE/run/fcgi.workers") ]] && break
            if (($(now_ms) - t0 > 3000)); then break; fi
            sleep 0.01
        done
        dt=$(($(now_ms) - t0))
        ((dt > worst)) && worst=$dt
        ((dt > 1000)) && late=$((late + 1))
        sleep "$(awk -v d="$dt" 'BEGIN { s = (1000 - d) / 1000; print (s > 0 ? s : 0) }')"
    done
    touch "$stop"
    wait "$pid" || rc=1
    end=$(now_ms)
    cat "$out"
    figure "$SCENARIO" "workers killed (kill -9, 1 per second)" "$kills" - INFO
    figure_eq "$SCENARIO" "workers not replaced within 1 s" "$late" 0
    figure_le "$SCENARIO" "longest time to replace a worker" "$worst" 1000 ms
    # sessions idle in a transaction 10 s after the load
    sleep "$(awk -v e="$end" -v n="$(now_ms)" 'BEGIN { s = (e + 10000 - n) / 1000; print (s > 0 ? s : 0) }')"
    figure_eq "$SCENARIO" "sessions idle in transaction after 10 s" "$(idle_in_tx)" 0
    figure_invariants "$SCENARIO"
    return $rc
}
