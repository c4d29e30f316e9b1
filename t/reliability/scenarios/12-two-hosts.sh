# shellcheck shell=bash disable=SC2034 # STACK_* are read by stack.sh
# 12. Two hosts: a second supervised pool ("host B", its own socket and
# state directory) next to the stack's ("host A"), behind a dedicated nginx
# whose upstream holds both (fastcgi_next_upstream error timeout: a request
# nginx could not hand to one pool goes to the other; a POST already sent
# is never resent). Under a read and an order load, host B is killed
# (kill -9 of its master and workers), then started again. GETs keep
# succeeding; a POST caught on host B fails fast with a JSON 502 and
# succeeds when the client retries with its Idempotency-Key; nothing is
# duplicated.
SCENARIO="12 two hosts"

hostb() # start|stop
{
    (
        # shellcheck source=/dev/null
        . "$BFF_TEST_SRCDIR/scripts/lib/stack.sh"
        stack_load "$RL_STATE"
        STACK_STATE=$HB
        "stack_${1}_fcgi"
    )
}

scenario()
{
    local nx=$RL_TMP/nginx2 port url stop=$RL_TMP/s12.stop ready=$RL_TMP/s12.ready p1 p2 rc=0
    local o1=$RL_TMP/s12-reads.out o2=$RL_TMP/s12-orders.out m kids
    HB=$RL_TMP/hostb
    mkdir -p "$HB/run" "$HB/log" "$HB/bin" "$nx/tmp"
    cp "$RL_STATE/env" "$HB/env"
    if [[ $(id -u) -eq 0 ]]; then chown bff:bff "$HB/run" "$HB/log"; fi
    hostb start >/dev/null 2>&1 || { figure "$SCENARIO" "host B started" no yes FAIL; return 1; }
    # shellcheck source=/dev/null
    port=$(. "$BFF_TEST_SRCDIR/scripts/lib/stack.sh" && stack_free_port)
    sed -e "s|^\( *\)server unix:$RL_STATE/run/bff.sock;|\1server unix:$RL_STATE/run/bff.sock max_fails=1 fail_timeout=3s;\n\1server unix:$HB/run/bff.sock max_fails=1 fail_timeout=3s;|" \
        -e "s|fastcgi_next_upstream off;|fastcgi_next_upstream error timeout;|" \
        -e "s|listen 127.0.0.1:[0-9]* |listen 127.0.0.1:$port |" \
        -e "s|^pid .*|pid $nx/nginx.pid;|" \
        -e "s|$RL_STATE/nginx/tmp|$nx/tmp|g" \
        -e "s|$RL_STATE/log/nginx-access.log|$nx/access.log|" \
        "$RL_STATE/nginx/nginx.conf" >"$nx/nginx.conf"
    nginx -p "$nx/" -c "$nx/nginx.conf" -e "$nx/error.log" ||
        { figure "$SCENARIO" "nginx with two upstreams" no yes FAIL; hostb stop; return 1; }
    figure "$SCENARIO" "upstream" "$(grep -c 'server unix:' "$nx/nginx.conf") unix sockets, next_upstream error timeout" - INFO
    url=http://127.0.0.1:$port
    rm -f "$stop" "$ready"
    BFF_TEST_HTTP_URL=$url "$RL" reads --scenario "$SCENARIO" --label GETs --clients 4 \
        --products 10 --stop-file "$stop" >"$o1" 2>&1 &
    p1=$!
    BFF_TEST_HTTP_URL=$url "$RL" orders --scenario "$SCENARIO" --label POSTs --clients 4 --retry \
        --expect-json-errors --max-fail-ms 1000 --stop-file "$stop" --ready-file "$ready" \
        --seconds 600 >"$o2" 2>&1 &
    p2=$!
    wait_file "$ready" 60 || { kill $p1 $p2; return 1; }
    sleep 3
    m=$(head -n 1 "$HB/run/fcgi.pid")
    kids=$(pgrep -P "$m" | paste -sd' ' -)
    # shellcheck disable=SC2086
    kill -KILL "$m" $kids
    figure "$SCENARIO" "host B killed (master + workers)" "$(wc -w <<<"$m $kids")" - INFO
    sleep 5
    hostb start >/dev/null 2>&1 || rc=1
    sleep 4
    touch "$stop"
    wait $p1 || rc=1
    wait $p2 || rc=1
    cat "$o1" "$o2"
    kill -QUIT "$(cat "$nx/nginx.pid")" 2>/dev/null
    hostb stop >/dev/null 2>&1
    figure_invariants "$SCENARIO"
    return $rc
}
