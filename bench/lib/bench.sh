# shellcheck shell=bash
#
# bench/lib/bench.sh — functions of bench/run: the release build, the extra
# FastCGI pools (bff without cache, the ceiling program), nginx's bench
# config, and one measurement with wrk or pgbench. Sourced after
# scripts/lib/stack.sh, whose stack_* functions run PostgreSQL, Redis, the
# bff pool and nginx; this file only defines functions.

bench_say() { printf 'bench: %s\n' "$*" >&2; }

# ------------------------------------------------------------------ build

# bench_build SRC BUILD — a release build (-O2, no --enable-werror) of SRC's
# working tree (tracked and untracked files, what git does not ignore) in
# BUILD, a copy of its own: the checkout keeps its own configuration. Only
# changed files are copied, so make rebuilds only what changed.
bench_build()
{
    local src=$1 build=$2 f n=0
    mkdir -p "$build/src"
    (
        cd "$src" || exit 1
        if git rev-parse --git-dir >/dev/null 2>&1; then
            git ls-files -co --exclude-standard -z
        else
            find . -type f ! -path './.git/*' ! -name '*.o' ! -name '*.a' -print0
        fi
    ) >"$build/files"
    while IFS= read -r -d '' f; do
        f=${f#./}
        [[ -f $src/$f ]] || continue
        if ! cmp -s "$src/$f" "$build/src/$f"; then
            mkdir -p "$build/src/$(dirname "$f")"
            cp -p "$src/$f" "$build/src/$f"
            n=$((n + 1))
        fi
    done <"$build/files"
    bench_say "release build in $build/src ($n files changed)"
    (
        cd "$build/src" || exit 1
        mkdir -p m4
        if [[ ! -x configure || configure.ac -nt configure || Makefile.am -nt configure ]]; then
            autoreconf -fi >"$build/autoreconf.log" 2>&1 || {
                cat "$build/autoreconf.log" >&2
                exit 1
            }
        fi
        if [[ ! -f config.status || configure -nt config.status ]]; then
            ./configure -q CFLAGS='-O2 -g' >"$build/configure.log" 2>&1 || {
                cat "$build/configure.log" >&2
                exit 1
            }
        fi
        # -k: a half-finished part of someone else's (docs, tests) must not
        # stop the bench; the three programs it runs must build.
        make -k -j"$(nproc)" >"$build/make.log" 2>&1 || true
        make -C fcgi bff-fcgi >>"$build/make.log" 2>&1 &&
            make -C ctl bffctl >>"$build/make.log" 2>&1 &&
            make bench/fcgi-ceiling >>"$build/make.log" 2>&1 || {
            tail -n 40 "$build/make.log" >&2
            exit 1
        }
    ) || stack_die "release build failed (logs in $build)"
    chmod -R a+rX "$build"
}

# ------------------------------------------------------------ extra pools

# bench_spawn NAME BIN [ARGS...] — a spawn-fcgi pool of STACK_FCGI_PROCS
# processes on unix:$STACK_STATE/run/NAME.sock with the app's environment
# (stack_app_env: the env file overridden by exported BFF_* variables),
# running as the service user like the bff pool.
bench_spawn()
{
    local name=$1 bin=$2 envv=() args=() pids rc=0
    shift 2
    local sock=$STACK_STATE/run/$name.sock pidf=$STACK_STATE/run/$name.pid
    rm -f "$sock" "$pidf"
    mapfile -d '' -t envv < <(stack_app_env)
    args=(-s "$sock" -M 0660 -F "$STACK_FCGI_PROCS" -P "$pidf" -d "$STACK_STATE")
    [[ -n $STACK_USER ]] && args+=(-u "$STACK_USER" -g "$STACK_USER")
    # shellcheck disable=SC2016 # $1 $2 are the wrapper's
    env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TZ=UTC "${envv[@]}" \
        spawn-fcgi "${args[@]}" -- /bin/sh -c 'exec "$@" >>"$0" 2>&1' \
        "$STACK_STATE/log/$name-stderr.log" "$bin" "$@" \
        >>"$STACK_STATE/log/spawn-fcgi.log" 2>&1 || rc=$?
    sleep 0.3
    pids=$(bench_pool_pids "$name")
    if [[ $rc -ne 0 || $(wc -w <<<"$pids") -ne $STACK_FCGI_PROCS ]]; then
        stack_tail "$STACK_STATE/log/spawn-fcgi.log" "$STACK_STATE/log/$name-stderr.log"
        stack_die "pool $name did not start (spawn-fcgi exit $rc)"
    fi
}

bench_pool_pids()
{
    local f=$STACK_STATE/run/$1.pid pid
    [[ -f $f ]] || return 0
    while read -r pid || [[ -n $pid ]]; do
        stack_alive "$pid" && printf '%s\n' "$pid"
    done <"$f"
    return 0
}

bench_stop_pool()
{
    local pids
    pids=$(bench_pool_pids "$1")
    # shellcheck disable=SC2086
    [[ -z $pids ]] || stack_kill 10 $pids || true
    rm -f "$STACK_STATE/run/$1.pid" "$STACK_STATE/run/$1.sock"
}

# ------------------------------------------------------------------ nginx

# bench_nginx_conf KEEPALIVE — nginx/bff.conf.in rendered as for any stack,
# plus, for the bench only: upstreams for the extra pools, locations that
# reach them (/nocache/ → bff without cache, /ceiling/MODE/ → the ceiling
# program), the static JSON file under /bench-static/, all in the same
# server (same headers, same access log). KEEPALIVE on: every upstream keeps
# up to STACK_FCGI_PROCS / (nginx workers) idle connections per worker and
# nginx asks for FastCGI keep-alive (fastcgi_keep_conn on).
bench_nginx_conf()
{
    local ka=$1 conf=$STACK_STATE/nginx/nginx.conf sock=$STACK_STATE/run/bff.sock
    local workers k up loc u tmp
    workers=$(nproc)
    k=$((STACK_FCGI_PROCS / workers))
    [[ $k -ge 1 ]] || k=1
    stack_render_nginx "$conf.base"
    up="" loc=""
    for u in nocache ceil-fixed ceil-redis ceil-pg; do
        up+="    upstream bench_${u//-/_} {\n        server unix:$STACK_STATE/run/$u.sock;\n"
        [[ $ka == on ]] && up+="        keepalive $k;\n"
        up+="    }\n"
    done
    loc+="        location /bench-static/ {\n            alias $STACK_STATE/static/;\n        }\n"
    loc+="        location /nocache/ {\n            rewrite ^/nocache(/.*)\$ \$1 break;\n"
    loc+="            fastcgi_pass bench_nocache;\n        }\n"
    for u in fixed redis pg; do
        loc+="        location /ceiling/$u/ {\n            fastcgi_pass bench_ceil_$u;\n        }\n"
    done
    tmp=$(awk -v up="$up" -v loc="$loc" -v sock="server unix:$sock;" -v ka="$ka" -v k="$k" '
        BEGIN { gsub(/\\n/, "\n", up); gsub(/\\n/, "\n", loc) }
        index($0, "upstream bff_fcgi {") { print up; n_up++ }
        { print }
        index($0, sock) && ka == "on" { print "        keepalive " k ";"; n_ka++ }
        /^[ \t]*fastcgi_next_upstream off;/ && ka == "on" { print "        fastcgi_keep_conn on;"; n_kc++ }
        /^[ \t]*location \/api \{/ { n_api++ }
        END { if (n_up != 1 || (ka == "on" && (n_ka != 1 || n_kc != 1))) exit 3 }
    ' "$conf.base") || stack_die "nginx/bff.conf.in changed shape: cannot add the bench upstreams"
    # the locations go in front of `location /api {`
    awk -v loc="$loc" 'BEGIN { gsub(/\\n/, "\n", loc) }
        /^[ \t]*location \/api \{/ && !done { printf "%s", loc; done = 1 } { print }
        END { if (!done) exit 3 }' <<<"$tmp" >"$conf" ||
        stack_die "nginx/bff.conf.in has no 'location /api {'"
    stack_nginx_test
}

bench_start_nginx()
{
    local pid
    bench_nginx_conf "$1"
    if pid=$(stack_nginx_pid); then
        kill -HUP "$pid"
        sleep 1
        return 0
    fi
    rm -f "$STACK_STATE/run/nginx.pid"
    stack_nginx || stack_die "nginx did not start"
    stack_wait_for 10 stack_nginx_pid || stack_die "nginx did not write its pid"
    stack_wait_for 10 stack_port_in_use "$STACK_HTTP_PORT" || stack_die "nginx not listening"
}

# ------------------------------------------------------------ measuring

# bench_wrk OUT SCRIPT DURATION [VAR=VALUE...] — one wrk run; the Lua
# scripts write their JSON result to OUT.
bench_wrk()
{
    local out=$1 script=$2 dur=$3
    shift 3
    rm -f "$out"
    env "$@" BENCH_OUT="$out" BENCH_WRK_DIR="$BENCH_DIR/wrk" BENCH_TOKEN="$BENCH_TOKEN" \
        BENCH_ID_MIN="$BENCH_ID_MIN" BENCH_ID_MAX="$BENCH_ID_MAX" BENCH_SALT="$RANDOM$RANDOM" \
        BENCH_THREADS="$BENCH_THREADS" \
        wrk -t "$BENCH_THREADS" -c "$BENCH_CONNS" -d "${dur}s" --timeout 5s \
        -s "$BENCH_DIR/wrk/$script" "http://127.0.0.1:$STACK_HTTP_PORT" >"$out.log" 2>&1 || true
    [[ -s $out ]] || {
        cat "$out.log" >&2
        echo '{"requests":0,"rps":0,"p50_ms":null,"p99_ms":null,"non2xx":0,"socket_errors":1,"timeouts":0,"statuses":{},"sample":"wrk failed"}' >"$out"
    }
}

# bench_pgbench OUT SCRIPT DURATION CLIENTS [-D VAR=VALUE...] — one pgbench
# run with the app's session settings; JSON like the wrk runs (rps = tps,
# latency percentiles from the per-transaction log, failed transactions
# and aborted clients as errors).
bench_pgbench()
{
    local out=$1 script=$2 dur=$3 clients=$4 dir rc=0 tps failed n p50 p90 p99 max
    shift 4
    dir=$(mktemp -d "$BENCH_WORK/pgb.XXXXXX")
    (
        cd "$dir" || exit 1
        PGOPTIONS="-c TimeZone=UTC -c statement_timeout=5000 -c lock_timeout=2000 -c idle_in_transaction_session_timeout=10000" \
            "$STACK_PGBIN/pgbench" -n -M prepared -c "$clients" -j "$BENCH_THREADS" -T "$dur" \
            --max-tries=5 -l --log-prefix="$dir/tx" -f "$BENCH_DIR/pgbench/$script" "$@" \
            -h "$STACK_STATE/run" -p "$STACK_PG_PORT" -U bff bff >"$dir/out" 2>&1
    ) || rc=$?
    tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$dir/out" | tail -n 1)
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$dir/out")
    [[ -n $tps ]] || tps=0
    [[ -n $failed ]] || failed=0
    [[ $rc -eq 0 ]] || failed=$((failed + 1))
    # per-transaction log: client tx latency_us script epoch us
    cat "$dir"/tx.* 2>/dev/null | awk '{print $3}' | sort -n >"$dir/lat"
    n=$(wc -l <"$dir/lat")
    if [[ $n -gt 0 ]]; then
        p50=$(sed -n "$(((n * 50 + 99) / 100))p" "$dir/lat")
        p90=$(sed -n "$(((n * 90 + 99) / 100))p" "$dir/lat")
        p99=$(sed -n "$(((n * 99 + 99) / 100))p" "$dir/lat")
        max=$(tail -n 1 "$dir/lat")
    else
        p50=0 p90=0 p99=0 max=0
    fi
    jq -n --argjson tps "$tps" --argjson n "$n" --argjson failed "$failed" \
        --argjson p50 "$p50" --argjson p90 "$p90" --argjson p99 "$p99" --argjson max "$max" \
        --arg sample "$(grep -m1 -iE 'error|abort' "$dir/out" || true)" \
        '{requests:$n, rps:$tps, p50_ms:($p50/1000), p90_ms:($p90/1000), p99_ms:($p99/1000),
          max_ms:($max/1000), non2xx:$failed, socket_errors:0, timeouts:0, statuses:{},
          sample:$sample}' >"$out"
    [[ $rc -eq 0 ]] || { bench_say "pgbench exit $rc:"; grep -m3 -iE 'error|abort' "$dir/out" >&2; }
    cp "$dir/out" "$out.log"
    rm -rf "$dir"
}
