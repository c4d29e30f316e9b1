# shellcheck shell=bash disable=SC2034 # RL_TOKEN is read by api()
#
# t/reliability/lib.sh — helpers for the scenario scripts in scenarios/.
# Sourced by t/reliability/run after the test stack's env and test.env; it
# only defines functions and variables.

RL=${RL:-$BFF_TEST_BUILDDIR/t/reliability/rl}
RL_STATE=$BFF_TEST_STATE
RL_TMP=${RL_TMP:-$BFF_TEST_STATE/reliability}
BFFCTL=$BFF_TEST_BUILDDIR/ctl/bffctl

rl_say() { printf '%s\n' "$*"; }

# figure SCENARIO NAME VALUE EXPECTED PASS|FAIL|INFO
figure() { "$RL" figure "$@" || true; }

# figure_eq SCENARIO NAME VALUE EXPECTED: PASS when VALUE = EXPECTED.
figure_eq()
{
    local v=PASS
    [[ $3 == "$4" ]] || v=FAIL
    figure "$1" "$2" "$3" "$4" "$v"
}

# figure_le SCENARIO NAME VALUE MAX [UNIT]: PASS when VALUE <= MAX (numbers).
figure_le()
{
    local v=PASS
    awk -v a="$3" -v b="$4" 'BEGIN { exit !(a + 0 <= b + 0) }' || v=FAIL
    figure "$1" "$2" "$3${5:+ $5}" "<= $4${5:+ $5}" "$v"
}

stackctl() { "$BFF_TEST_STACKCTL" "$RL_STATE" "$@"; }

# psql against the test database: one value.
sql() { psql "$BFF_TEST_DATABASE_URL" -X -q -tA -v ON_ERROR_STOP=1 -c "$1"; }

# alive PID: the process runs. A zombie (a worker that has exited and that
# its master has not reaped yet: a few ms on a busy machine) is not alive.
alive()
{
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# The pool: master pid, live worker pids.
fcgi_master() { head -n 1 "$RL_STATE/run/fcgi.pid"; }
fcgi_workers()
{
    local p
    for p in $(pgrep -P "$(fcgi_master)"); do
        if alive "$p"; then echo "$p"; fi
    done
}

# The pool as ps sees it (state, kernel wait channel, age), for the
# post-mortem of a failed figure.
fcgi_ps()
{
    local m
    m=$(fcgi_master)
    ps -o pid,ppid,stat,wchan:24,etime,args -p "$m" --ppid "$m" 2>&1 || true
}

# Workers the master saw die (log lines) — a crash counts here.
worker_deaths() { grep -c '"msg":"worker died' "$RL_STATE/log/application.log" || true; }

# Workers the master SIGKILLed because they outlived their stop grace.
stuck_kills() { grep -c 'ignored SIGTERM: killing it' "$RL_STATE/log/application.log" || true; }

# bffctl verify (every stock invariant); prints the violations it found.
# Falls back to the bff_violations view when bffctl has no verify.
violations()
{
    local out n
    if "$BFFCTL" verify --help >/dev/null 2>&1; then
        out=$("$BFFCTL" verify 2>&1) && n=0 || n=$(grep -c . <<<"$out")
        [[ $n -eq 0 ]] || printf '%s\n' "$out" | head -n 20 >&2
        echo "$n"
    else
        sql "SELECT count(*) FROM bff_violations"
    fi
}

# figure_invariants SCENARIO: bffctl verify must find nothing.
figure_invariants() { figure_eq "$1" "bffctl verify: violations" "$(violations)" 0; }

# Sessions of the app left idle in a transaction.
idle_in_tx()
{
    sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
           AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
}

now_ms() { date +%s%3N; }

# Wait for a file to appear (up to $2 seconds).
wait_file()
{
    local i
    for ((i = 0; i < ${2:-30} * 10; i++)); do
        [[ -e $1 ]] && return 0
        sleep 0.1
    done
    return 1
}

# api METHOD PATH [BODY] — the API with $RL_TOKEN (rl token); prints the
# body, then a last line with the status.
api()
{
    local args=(-s --max-time 40 -X "$1" -H "Authorization: Bearer $RL_TOKEN" -w '\n%{http_code}')
    [[ $# -ge 3 ]] && args+=(-H 'Content-Type: application/json' --data-binary "$3")
    curl "${args[@]}" "$BFF_TEST_HTTP_URL$2"
}
api_body() { api "$@" | sed '$d'; }

# A product of its own (prints its id): warehouse, product, one lot.
mk_product()
{
    local tag=$1 qty=${2:-1000} wid pid
    wid=$(api_body POST /api/warehouses/ "{\"code\":\"$tag\",\"name\":\"$tag\"}" | jq -r .id)
    pid=$(api_body POST /api/products/ "{\"sku\":\"$tag\",\"name\":\"before\"}" | jq -r .id)
    api_body POST /api/lots/ "{\"product_id\":$pid,\"warehouse_id\":$wid,\"lot_code\":\"$tag\",\"expires_on\":\"2031-01-01\",\"quantity\":$qty}" >/dev/null
    echo "$pid"
}

rl_redis_port() { local u=${BFF_TEST_REDIS_URL#redis://127.0.0.1:}; echo "${u%%/*}"; }
redis() { redis-cli -h 127.0.0.1 -p "$(rl_redis_port)" "$@"; }
