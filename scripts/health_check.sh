#!/usr/bin/env bash
#
# scripts/health_check.sh — is bff up? Services, PostgreSQL, Redis and
# GET /health/ through nginx, one line each; exit 1 when anything is down
# (docs/RUNBOOK.md, "Health Checks").
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=lib/ops.sh
. "$here/lib/ops.sh"

usage()
{
    cat <<'EOF'
usage: scripts/health_check.sh [--url URL] [--services LIST] [--run-dir DIR]
                               [--env-file FILE] [--quiet]

Checks, one line each ([ OK ], [WARN], [CRIT]):
  services   where systemd runs bff-web.service (or BFF_SERVICE_MANAGER=
             systemd): `systemctl is-active` of each unit in
             BFF_SYSTEMD_UNITS (bff-web bff-worker bff-beat postgresql
             redis-server nginx). Otherwise (BFF_SERVICE_MANAGER=pidfile,
             a dev stack): the pid files in
             BFF_RUN_DIR — the FastCGI pool behind bff.sock, nginx.pid,
             redis.pid, bff-worker.pid, bff-beat.pid (worker.pid, beat.pid);
             a service without a pid file is looked up by process name and
             is a warning when absent, a stale pid file is critical.
  postgres   pg_isready on BFF_DATABASE_URL
  redis      PING on BFF_REDIS_URL (skipped when empty: no cache configured)
  http       GET BFF_URL/health/: ok is OK, degraded WARN, down CRIT

Options (and environment):
  --url URL        nginx in front of bff (BFF_URL, http://127.0.0.1:8000)
  --services LIST  services to check without systemd, space separated, of:
                   web nginx worker beat (BFF_SERVICES, all four)
  --run-dir DIR    pid files and sockets (BFF_RUN_DIR, /run/bff; a dev
                   stack's is var/run)
  --env-file FILE  settings file (BFF_ENV_FILE, /etc/bff/bff.env if present;
                   variables already set win)
  --quiet          print only problems and the summary

Exit status: 0 nothing critical (warnings allowed), 1 something is down or
critical, 2 usage error.
EOF
}

HC_OK=0 HC_WARN=0 HC_CRIT=0 HC_QUIET=0

hc_line()
{
    local level=$1
    shift
    case $level in
    ok)
        HC_OK=$((HC_OK + 1))
        [[ $HC_QUIET -eq 1 ]] || printf '[ OK ] %s\n' "$*"
        ;;
    warn)
        HC_WARN=$((HC_WARN + 1))
        printf '[WARN] %s\n' "$*"
        ;;
    crit)
        HC_CRIT=$((HC_CRIT + 1))
        printf '[CRIT] %s\n' "$*"
        ;;
    esac
}

check_systemd_units()
{
    local u st
    for u in ${BFF_SYSTEMD_UNITS:-bff-web bff-worker bff-beat postgresql redis-server nginx}; do
        st=$(systemctl is-active "$u" 2>/dev/null) || true
        if [[ $st == active ]]; then
            hc_line ok "service $u: active"
        else
            hc_line crit "service $u: ${st:-unknown}"
        fi
    done
}

# check_pidfile NAME PROCESS-NAME PIDFILE...
check_pidfile()
{
    local name=$1 proc=$2 f pids
    shift 2
    for f in "$@"; do
        [[ -f $f ]] || continue
        pids=$(ops_pidfile_pids "$f" | paste -sd, -)
        if [[ -n $pids ]]; then
            hc_line ok "service $name: running (pid $pids, $f)"
        else
            hc_line crit "service $name: not running (stale pid file $f)"
        fi
        return 0
    done
    if pids=$(pgrep -x "$proc" | paste -sd, -) && [[ -n $pids ]]; then
        hc_line ok "service $name: running (pid $pids, by process name)"
    else
        hc_line warn "service $name: no pid file in $BFF_RUN_DIR and no $proc process"
    fi
}

check_web_pool()
{
    local pidf pids n
    pidf=$(ops_pool_live_pidfile)
    if [[ -z $pidf ]]; then
        hc_line crit "service web: no FastCGI socket $BFF_RUN_DIR/bff.sock"
        return 0
    fi
    pids=$(ops_pidfile_pids "$pidf")
    n=$(wc -w <<<"$pids")
    if [[ $n -gt 0 ]]; then
        hc_line ok "service web: $n bff-fcgi process(es) on $BFF_RUN_DIR/bff.sock"
    else
        hc_line crit "service web: no live process in $pidf"
    fi
}

check_services()
{
    local s
    if ops_use_systemd; then
        check_systemd_units
        return 0
    fi
    for s in ${BFF_SERVICES:-web nginx worker beat}; do
        case $s in
        web) check_web_pool ;;
        nginx) check_pidfile nginx nginx "$BFF_RUN_DIR/nginx.pid" ;;
        worker) check_pidfile worker bff-worker "$BFF_RUN_DIR/bff-worker.pid" "$BFF_RUN_DIR/worker.pid" ;;
        beat) check_pidfile beat bff-beat "$BFF_RUN_DIR/bff-beat.pid" "$BFF_RUN_DIR/beat.pid" ;;
        *) ops_usage_die "unknown service '$s' in --services" ;;
        esac
    done
}

check_postgres()
{
    local out
    if [[ -z ${BFF_DATABASE_URL:-} ]]; then
        hc_line warn "postgres: BFF_DATABASE_URL not set, not checked"
        return 0
    fi
    if out=$("$(ops_pg pg_isready)" -d "$BFF_DATABASE_URL" -t 5 2>&1); then
        hc_line ok "postgres: accepting connections"
    else
        hc_line crit "postgres: ${out:-not reachable}"
    fi
}

check_redis()
{
    local url=${BFF_REDIS_URL:-} out path db=0
    local -a args
    if [[ -z $url ]]; then
        hc_line ok "redis: not configured (BFF_REDIS_URL empty: no cache)"
        return 0
    fi
    if [[ $url == unix://* ]]; then
        path=${url#unix://}
        [[ $path == *'?db='* ]] && db=${path##*\?db=}
        args=(-s "${path%%\?*}" -n "$db")
    else
        args=(-u "$url")
    fi
    out=$(timeout 5 redis-cli "${args[@]}" ping 2>&1) || true
    if [[ $out == PONG ]]; then
        hc_line ok "redis: PONG"
    else
        hc_line crit "redis: ${out:-no answer}"
    fi
}

check_http()
{
    local resp code body st name cst lat err
    resp=$(ops_http_get "$BFF_URL/health/")
    code=${resp%%$'\n'*}
    body=${resp#*$'\n'}
    if [[ $code == 000 ]]; then
        hc_line crit "http: $BFF_URL/health/ not reachable"
        return 0
    fi
    if ! st=$(jq -er '.status' <<<"$body" 2>/dev/null); then
        hc_line crit "http: $BFF_URL/health/ answered $code without the health JSON"
        return 0
    fi
    while IFS=$'\t' read -r name cst lat err; do
        case $cst in
        ok | not_configured) hc_line ok "health $name: $cst (${lat} ms)" ;;
        *) hc_line warn "health $name: $cst (${lat} ms) $err" ;;
        esac
    done < <(jq -r '.checks // {} | to_entries[] |
        [.key, .value.status, (.value.latency_ms // "-" | tostring), (.value.error // "")] | @tsv' <<<"$body")
    case $st in
    ok) hc_line ok "http: /health/ ok (HTTP $code, version $(jq -r '.version // "?"' <<<"$body"))" ;;
    degraded) hc_line warn "http: /health/ degraded (HTTP $code)" ;;
    *) hc_line crit "http: /health/ $st (HTTP $code)" ;;
    esac
}

main()
{
    local a
    while [[ $# -gt 0 ]]; do
        a=$1
        case $a in
        -h | --help)
            usage
            exit 0
            ;;
        --url)
            ops_need_arg "$@"
            BFF_URL=$2
            shift
            ;;
        --services)
            ops_need_arg "$@"
            BFF_SERVICES=$2
            shift
            ;;
        --run-dir)
            ops_need_arg "$@"
            BFF_RUN_DIR=$2
            shift
            ;;
        --env-file)
            ops_need_arg "$@"
            BFF_ENV_FILE=$2
            shift
            ;;
        --quiet) HC_QUIET=1 ;;
        *) ops_usage_die "unknown argument '$a'" ;;
        esac
        shift
    done
    ops_load_env_file
    ops_defaults
    command -v jq >/dev/null || ops_die "jq not found (apt-get install jq)"

    check_services
    check_postgres
    check_redis
    check_http
    printf 'health: %d ok, %d warning, %d critical\n' "$HC_OK" "$HC_WARN" "$HC_CRIT"
    [[ $HC_CRIT -eq 0 ]]
}

main "$@"; exit $?
