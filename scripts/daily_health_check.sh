#!/usr/bin/env bash
#
# scripts/daily_health_check.sh — the runbook's daily check (docs/RUNBOOK.md,
# "Mantenimiento Diario"): services and /health/ (health_check.sh), disk
# space, ERROR lines of the last 24 h in the JSON logs, and the summary of
# GET /api/metrics/system/ with the runbook's thresholds.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=lib/ops.sh
. "$here/lib/ops.sh"

usage()
{
    cat <<'EOF'
usage: scripts/daily_health_check.sh [--url URL] [--token TOKEN] [--log-dir DIR]
                                     [--run-dir DIR] [--env-file FILE]
                                     [--max-errors N] [--no-services]

Sections:
  services  scripts/health_check.sh (systemd units or pid files, PostgreSQL,
            Redis, GET /health/)
  disk      use of the file systems holding /, /var, /tmp, BFF_LOG_DIR and
            BFF_BACKUP_DIR: warning from BFF_DISK_WARN_PCT (80), critical
            from BFF_DISK_CRIT_PCT (90)
  errors    lines with "level":"ERROR" and a ts within the last 24 h in
            BFF_LOG_DIR/application.log (and its rotated copies, gzipped or
            not): any is a warning; more than --max-errors (BFF_MAX_ERRORS,
            default: no limit) is critical
  metrics   GET BFF_URL/api/metrics/system/ with BFF_TOKEN (a token with
            metrics.read: `bffctl token create ...`): each check's value and
            status; a critical check is critical, a warning one a warning.
            Without a token the section is skipped with a warning.

Options (and environment):
  --url URL        nginx in front of bff (BFF_URL, http://127.0.0.1:8000)
  --token TOKEN    API token (BFF_TOKEN)
  --log-dir DIR    JSON logs (BFF_LOG_DIR, /var/log/bff)
  --run-dir DIR    pid files (BFF_RUN_DIR, /run/bff)
  --env-file FILE  settings file (BFF_ENV_FILE, /etc/bff/bff.env if present)
  --max-errors N   critical above N errors in 24 h (BFF_MAX_ERRORS)
  --no-services    skip the services section

Exit status: 0 nothing critical, 1 something critical or down, 2 usage error.
EOF
}

D_WARN=0 D_CRIT=0

d_line()
{
    case $1 in
    ok) printf '[ OK ] %s\n' "$2" ;;
    warn)
        D_WARN=$((D_WARN + 1))
        printf '[WARN] %s\n' "$2"
        ;;
    crit)
        D_CRIT=$((D_CRIT + 1))
        printf '[CRIT] %s\n' "$2"
        ;;
    esac
}

section_disk()
{
    local warn=${BFF_DISK_WARN_PCT:-80} crit=${BFF_DISK_CRIT_PCT:-90} p fs size used avail pct mnt
    local -a paths=()
    local -A seen=()
    if ! ops_is_uint "$warn" || ! ops_is_uint "$crit"; then
        ops_die "BFF_DISK_WARN_PCT/BFF_DISK_CRIT_PCT must be integers"
    fi
    for p in / /var /tmp "$BFF_LOG_DIR" "$BFF_BACKUP_DIR"; do
        [[ -e $p ]] && paths+=("$p")
    done
    echo "== disk =="
    while read -r fs size used avail pct mnt; do
        [[ -n ${seen[$mnt]:-} ]] && continue
        seen[$mnt]=1
        pct=${pct%\%}
        if [[ $pct -ge $crit ]]; then
            d_line crit "disk $mnt ($fs): ${pct}% used, $avail KiB free"
        elif [[ $pct -ge $warn ]]; then
            d_line warn "disk $mnt ($fs): ${pct}% used, $avail KiB free"
        else
            d_line ok "disk $mnt ($fs): ${pct}% used, $avail KiB free"
        fi
    done < <(df -Pk "${paths[@]}" | tail -n +2)
    : "$size" "$used"
}

# Count ERROR lines whose ts is at or after $1 (ISO 8601 UTC, compared as
# text: every bff log line starts its ts as YYYY-MM-DDTHH:MM:SS).
count_errors()
{
    local since=$1 f n total=0
    local -a files=()
    for f in "$BFF_LOG_DIR"/application.log "$BFF_LOG_DIR"/application.log[.-]*; do
        # Rotated files older than two days cannot hold lines of the last 24 h.
        [[ -f $f ]] && [[ -n $(find "$f" -maxdepth 0 -mmin -2880) ]] && files+=("$f")
    done
    for f in "${files[@]}"; do
        n=$(zcat -f -- "$f" | grep -F '"level":"ERROR"' |
            awk -v since="$since" 'match($0, /"ts":"[^"]*"/) { if (substr($0, RSTART + 6, RLENGTH - 7) >= since) n++ } END { print n + 0 }')
        total=$((total + n))
    done
    printf '%s\n' "$total"
}

section_errors()
{
    local since n max=${BFF_MAX_ERRORS:-}
    since=$(date -u -d '24 hours ago' +%Y-%m-%dT%H:%M:%S)
    echo "== errors in the last 24 h =="
    if [[ ! -f $BFF_LOG_DIR/application.log ]]; then
        d_line warn "errors: $BFF_LOG_DIR/application.log not found"
        return 0
    fi
    n=$(count_errors "$since")
    echo "Errors in last 24h: $n"
    if [[ -n $max && $n -gt $max ]]; then
        d_line crit "errors: $n ERROR lines since $since UTC (limit $max)"
    elif [[ $n -gt 0 ]]; then
        d_line warn "errors: $n ERROR lines since $since UTC (grep '\"level\":\"ERROR\"' $BFF_LOG_DIR/application.log)"
    else
        d_line ok "errors: none since $since UTC"
    fi
}

section_metrics()
{
    local resp code body st
    echo "== metrics (/api/metrics/system/) =="
    if [[ -z ${BFF_TOKEN:-} ]]; then
        d_line warn "metrics: no BFF_TOKEN/--token given, skipped"
        return 0
    fi
    resp=$(ops_http_get "$BFF_URL/api/metrics/system/" "$BFF_TOKEN")
    code=${resp%%$'\n'*}
    body=${resp#*$'\n'}
    if [[ $code != 200 ]] || ! st=$(jq -er '.status' <<<"$body" 2>/dev/null); then
        d_line crit "metrics: $BFF_URL/api/metrics/system/ answered HTTP $code: $(head -c 200 <<<"$body")"
        return 0
    fi
    jq -r '.checks | to_entries[] | .key as $k | .value |
        (if has("normal_below") then "< \(.normal_below)" else "> \(.normal_above)" end) as $n |
        (if has("critical_above") then "> \(.critical_above)" else "< \(.critical_below)" end) as $c |
        "  \($k | . + " " * ([22 - length, 0] | max))\(.value // "null" | tostring | . + " " * ([10 - length, 0] | max))\(.status)  (normal \($n), critical \($c))"' \
        <<<"$body"
    case $st in
    normal) d_line ok "metrics: normal" ;;
    warning) d_line warn "metrics: warning ($(jq -r '[.checks | to_entries[] | select(.value.status != "normal") | .key] | join(", ")' <<<"$body"))" ;;
    *) d_line crit "metrics: $st ($(jq -r '[.checks | to_entries[] | select(.value.status == "critical") | .key] | join(", ")' <<<"$body"))" ;;
    esac
}

main()
{
    local a services=1 rc=0 out
    while [[ $# -gt 0 ]]; do
        a=$1
        case $a in
        -h | --help)
            usage
            exit 0
            ;;
        --url | --token | --log-dir | --run-dir | --env-file | --max-errors)
            ops_need_arg "$@"
            case $a in
            --url) BFF_URL=$2 ;;
            --token) BFF_TOKEN=$2 ;;
            --log-dir) BFF_LOG_DIR=$2 ;;
            --run-dir) BFF_RUN_DIR=$2 ;;
            --env-file) BFF_ENV_FILE=$2 ;;
            --max-errors) BFF_MAX_ERRORS=$2 ;;
            esac
            shift
            ;;
        --no-services) services=0 ;;
        *) ops_usage_die "unknown argument '$a'" ;;
        esac
        shift
    done
    [[ -z ${BFF_MAX_ERRORS:-} ]] || ops_is_uint "$BFF_MAX_ERRORS" ||
        ops_usage_die "--max-errors needs a non-negative integer"
    ops_load_env_file
    ops_defaults
    export BFF_URL BFF_RUN_DIR BFF_LOG_DIR
    command -v jq >/dev/null || ops_die "jq not found (apt-get install jq)"

    echo "=== Daily Health Check $(date -u '+%Y-%m-%d %H:%M:%S UTC') ==="
    if [[ $services -eq 1 ]]; then
        echo "== services =="
        out=$("$here/health_check.sh") || rc=$?
        printf '%s\n' "$out"
        case $rc in
        0 | 1) ;;
        *) ops_die "health_check.sh failed (exit $rc)" ;;
        esac
        if [[ $out =~ health:\ [0-9]+\ ok,\ ([0-9]+)\ warning,\ ([0-9]+)\ critical ]]; then
            D_WARN=$((D_WARN + BASH_REMATCH[1]))
            D_CRIT=$((D_CRIT + BASH_REMATCH[2]))
        fi
        [[ $rc -eq 0 || $D_CRIT -gt 0 ]] || D_CRIT=1
    fi
    section_disk
    section_errors
    section_metrics
    echo "=== Health Check Complete: $D_WARN warning(s), $D_CRIT critical ==="
    [[ $D_CRIT -eq 0 ]]
}

main "$@"; exit $?
