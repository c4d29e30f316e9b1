#!/usr/bin/env bash
# shellcheck disable=SC2016 # single quotes: bash -c scripts take "$1"
#
# t/check_ops_logs.sh — scripts/log_cleanup.sh gzips and deletes exactly the
# right files (dated with touch -d) and runs bffctl clearsessions;
# scripts/health_check.sh and daily_health_check.sh report the test stack
# as up, count the ERROR lines of the last 24 h only, and fail when
# something is down.
set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=ops_lib.sh
. "$(dirname "$0")/ops_lib.sh"
t_init
t_need_stack

CLEAN=$T_SRC/scripts/log_cleanup.sh
HC=$T_SRC/scripts/health_check.sh
DAILY=$T_SRC/scripts/daily_health_check.sh
export BFF_ENV_FILE=/dev/null BFF_BFFCTL=$T_BUILD/ctl/bffctl

echo "# log_cleanup.sh"
L=$T_TMP/logs
mkdir -p "$L/sub"
mk() { echo "{\"ts\":\"x\",\"level\":\"INFO\",\"msg\":\"$1\"}" >"$L/$1" && touch -d "$2" "$L/$1"; }
mk application.log '-1 hour'           # live: kept
mk old.log '-8 days'                   # gzipped
mk week.log '-6 days -23 hours'        # under 7 days: kept
mk ancient.log '-40 days'              # gzipped, then deleted as a .gz over 30 days
mk sub/worker.log '-10 days'           # subdirectories too: gzipped
mk held.log '-10 days'                 # open by a process: kept as is
mk recent.log.gz '-29 days -22 hours'  # kept
mk stale.log.gz '-31 days'             # deleted
mk application.log-20200101.gz '-45 days'  # logrotate's name: deleted
mk application.log.3.gz '-35 days'     # logrotate's numbered name: deleted
mk notes.txt '-90 days'                # not a log: kept
mk other.gz '-90 days'                 # not a log: kept
tail -f "$L/held.log" >/dev/null 2>&1 &
holder=$!
t_on_exit "kill $holder 2>/dev/null"
touch -d '-10 days' "$L/held.log"

snapshot() { (cd "$L" && find . -type f -printf '%P\n' | LC_ALL=C sort | paste -sd' ' -); }
before=$(snapshot)
t_rc "--dry-run" 0 "$CLEAN" --dir "$L" --dry-run --no-clearsessions
t_eq "--dry-run changes nothing" "$before" "$(snapshot)"
t_check "--dry-run says what it would do" grep -q 'would gzip .*old.log' "$T_TMP/out"

t_rc "log_cleanup.sh" 0 "$CLEAN" --dir "$L" --no-clearsessions
t_eq "exactly the right files are left" \
    "application.log held.log notes.txt old.log.gz other.gz recent.log.gz sub/worker.log.gz week.log" \
    "$(snapshot)"
t_check "old.log.gz holds old.log's line" bash -c 'zcat "$1" | grep -q "\"msg\":\"old.log\""' _ "$L/old.log.gz"
t_check "old.log.gz keeps the log's mtime (8 days)" \
    test -n "$(find "$L/old.log.gz" -mmin +$((8 * 1440 - 10)) -mmin -$((8 * 1440 + 10)))"
t_check "the open held.log was skipped with a warning" grep -q 'held.log: a process still has it open' "$T_TMP/out"

kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
t_rc "a second run" 0 "$CLEAN" --dir "$L" --no-clearsessions
t_eq "... gzips held.log once nobody holds it" \
    "application.log held.log.gz notes.txt old.log.gz other.gz recent.log.gz sub/worker.log.gz week.log" \
    "$(snapshot)"

echo "# clearsessions"
printf '#!/bin/sh\n[ "$1" = clearsessions ] && exit 2\nexit 0\n' >"$T_TMP/oldctl"
chmod +x "$T_TMP/oldctl"
t_rc "with a bffctl that has no clearsessions" 0 env BFF_BFFCTL="$T_TMP/oldctl" "$CLEAN" --dir "$L"
t_check "... it warns and goes on" grep -q 'no clearsessions command: skipped' "$T_TMP/out"
if "$BFF_BFFCTL" clearsessions --help >/dev/null 2>&1; then
    uid=$(t_psql "INSERT INTO users (username, password_hash) VALUES ('ops_cs_$$',
        '\$argon2id\$v=19\$m=65536,t=2,p=1\$unusable') RETURNING id")
    t_psql "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at)
        VALUES ($uid, 'expired', sha256('ops-expired-$uid'::bytea), now() - interval '31 days',
                now() - interval '1 day')" >/dev/null
    t_eq "an expired token is in the database" 1 "$(t_psql "SELECT count(*) FROM api_tokens WHERE user_id = $uid")"
    t_rc "log_cleanup.sh runs bffctl clearsessions" 0 "$CLEAN" --dir "$L"
    t_eq "... which deleted the expired token" 0 \
        "$(t_psql "SELECT count(*) FROM api_tokens WHERE user_id = $uid")"
else
    t_not_ok "$BFF_BFFCTL has no clearsessions command"
fi
t_rc "a missing log directory is an error" 1 "$CLEAN" --dir "$T_TMP/nope" --no-clearsessions
t_rc "a bad --compress-days is a usage error" 2 "$CLEAN" --compress-days x

echo "# health_check.sh"
export BFF_URL=$BFF_TEST_HTTP_URL BFF_RUN_DIR=$BFF_TEST_STATE/run BFF_SERVICE_MANAGER=pidfile
t_rc "the test stack is healthy" 0 "$HC"
t_check "... the pool, PostgreSQL, Redis and /health/ are OK" \
    bash -c 'grep -q "OK ] service web: [0-9]" "$1" && grep -q "OK ] postgres" "$1" &&
             grep -q "OK ] redis: PONG" "$1" && grep -q "OK ] http: /health/ ok" "$1"' _ "$T_TMP/out"
t_rc "nginx unreachable is critical" 1 env BFF_URL=http://127.0.0.1:1 "$HC"
t_check "... reported as such" grep -q 'CRIT] http: .* not reachable' "$T_TMP/out"
t_rc "PostgreSQL unreachable is critical" 1 \
    env BFF_DATABASE_URL="host=127.0.0.1 port=1 dbname=bff connect_timeout=2" "$HC"
t_rc "a run dir without the pool is critical" 1 "$HC" --run-dir "$T_TMP"
t_rc "an unknown option is a usage error" 2 "$HC" --bogus

echo "# daily_health_check.sh: errors of the last 24 h"
D=$T_TMP/dlog
mkdir -p "$D"
ts() { date -u -d "$1" +%Y-%m-%dT%H:%M:%S.000Z; }
{
    echo "{\"ts\":\"$(ts '-1 hour')\",\"level\":\"ERROR\",\"msg\":\"recent 1\"}"
    echo "{\"ts\":\"$(ts '-23 hours')\",\"level\":\"ERROR\",\"msg\":\"recent 2\"}"
    echo "{\"ts\":\"$(ts '-25 hours')\",\"level\":\"ERROR\",\"msg\":\"too old\"}"
    echo "{\"ts\":\"$(ts '-2 hours')\",\"level\":\"INFO\",\"msg\":\"ERROR in text only\"}"
} >"$D/application.log"
echo "{\"ts\":\"$(ts '-20 hours')\",\"level\":\"ERROR\",\"msg\":\"rotated\"}" | gzip >"$D/application.log-20990101.gz"
echo "{\"ts\":\"$(ts '-3 hours')\",\"level\":\"ERROR\",\"msg\":\"not the app log\"}" >"$D/other.log"
t_rc "daily check with 3 recent errors (no limit)" 0 "$DAILY" --no-services --log-dir "$D"
t_check "... counts 3 errors within 24 h (rotated file included)" grep -q '^Errors in last 24h: 3$' "$T_TMP/out"
t_check "... which is a warning" grep -q 'WARN] errors: 3 ERROR lines' "$T_TMP/out"
t_rc "--max-errors 2 makes 3 errors critical" 1 "$DAILY" --no-services --log-dir "$D" --max-errors 2
t_check "... disk usage is reported" grep -q '] disk / ' "$T_TMP/out"

echo "# daily_health_check.sh: /api/metrics/system/ statuses (a fake server)"
F=$T_TMP/fake
mkdir -p "$F/api/metrics/system" "$T_TMP/nolog"
: >"$T_TMP/nolog/application.log"
fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
python3 -m http.server --bind 127.0.0.1 --directory "$F" "$fport" >/dev/null 2>&1 &
t_on_exit "kill $! 2>/dev/null"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$fport/" && break; sleep 0.1; done
metrics()
{
    cat >"$F/api/metrics/system/index.html" <<EOF
{"status":"$1","window_seconds":300,"checks":{
 "response_time_ms":{"value":$2,"normal_below":200,"critical_above":1000,"status":"$3"},
 "error_rate_pct":{"value":0,"normal_below":1,"critical_above":5,"status":"normal"},
 "db_connections_pct":{"value":4,"normal_below":80,"critical_above":95,"status":"normal"},
 "cache_hit_rate_pct":{"value":null,"normal_above":80,"critical_below":50,"status":"normal"},
 "queue_length":{"value":0,"normal_below":100,"critical_above":1000,"status":"normal"}}}
EOF
}
fake() { "$DAILY" --no-services --url "http://127.0.0.1:$fport" --token bff_fake --log-dir "$T_TMP/nolog"; }
metrics normal 12.5 normal
t_rc "all checks normal: exit 0" 0 fake
t_check "... each check is listed with value, status and thresholds" \
    grep -Eq 'response_time_ms +12.5 +normal +\(normal < 200, critical > 1000\)' "$T_TMP/out"
t_check "... a null value (no cache) prints as null" \
    grep -Eq 'cache_hit_rate_pct +null +normal +\(normal > 80, critical < 50\)' "$T_TMP/out"
metrics warning 500 warning
t_rc "a warning check: exit 0" 0 fake
t_check "... reported as a warning naming it" grep -q 'WARN] metrics: warning (response_time_ms)' "$T_TMP/out"
metrics critical 1500 critical
t_rc "a critical check: exit 1" 1 fake
t_check "... reported as critical naming it" grep -q 'CRIT] metrics: critical (response_time_ms)' "$T_TMP/out"
rm -f "$F/api/metrics/system/index.html"
t_rc "no metrics endpoint (404): critical" 1 fake

echo "# daily_health_check.sh against the stack"
if t_route_exists "GET /api/metrics/system/"; then
    T_TOKEN=$(t_token)
    rc=0
    "$DAILY" --token "$T_TOKEN" --log-dir "$BFF_TEST_STATE/log" >"$T_TMP/out" 2>&1 || rc=$?
    want=0
    grep -q '^\[CRIT\]' "$T_TMP/out" && want=1
    t_eq "full daily check with a token: exit 1 exactly when a line is critical" "$want" "$rc"
    [[ $want -eq 1 ]] && grep '^\[CRIT\]' "$T_TMP/out" | sed 's/^/#      /'
    t_eq "... summarises the five checks of /api/metrics/system/" 5 \
        "$(grep -Ec '^  (response_time_ms|error_rate_pct|db_connections_pct|cache_hit_rate_pct|queue_length) ' "$T_TMP/out")"
    t_check "... runs health_check.sh" grep -q 'OK ] http: /health/ ok' "$T_TMP/out"
    t_rc "a bad token is critical" 1 "$DAILY" --no-services --token bff_wrong --log-dir "$D"
    t_check "... showing the 401" grep -q 'answered HTTP 401' "$T_TMP/out"
else
    t_not_ok "GET /api/metrics/system/ is not in fcgi/routes.c"
fi
t_rc "without a token the metrics are skipped with a warning" 0 env -u BFF_TOKEN "$DAILY" --no-services --log-dir "$D"
t_check "... saying so" grep -q 'WARN] metrics: no BFF_TOKEN' "$T_TMP/out"

t_done
