#!/usr/bin/env bash
#
# scripts/log_cleanup.sh — the runbook's "Limpieza de Logs": gzip logs not
# written for 7 days, delete compressed logs older than 30 days, then
# `bffctl clearsessions` (expired API tokens, Django's clearsessions).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=lib/ops.sh
. "$here/lib/ops.sh"

usage()
{
    cat <<'EOF'
usage: scripts/log_cleanup.sh [--dir DIR] [--compress-days N] [--delete-days N]
                              [--no-clearsessions] [--dry-run] [--env-file FILE]

Under DIR (subdirectories included), by modification time:
  1. *.log not modified for more than N days (7) are gzipped (the .gz
     keeps the log's mtime); a log some process still has open is skipped,
     since its writer would go on writing into the deleted file
  2. *.log.gz, and logrotate's *.log.N.gz / *.log-DATE.gz, older than
     N days (30) are deleted
  3. bffctl clearsessions deletes expired API tokens; skipped with a warning
     when this bffctl has no such command
Nothing else is touched. Ages are counted in minutes: "more than 7 days" is
more than 7 x 1440 minutes.

Options (and environment):
  --dir DIR            log directory (BFF_LOG_DIR, /var/log/bff)
  --compress-days N    (BFF_LOG_COMPRESS_DAYS, 7)
  --delete-days N      (BFF_LOG_DELETE_DAYS, 30)
  --no-clearsessions   skip step 3
  --dry-run            print what would be done, change nothing
  --env-file FILE      settings file (BFF_ENV_FILE, /etc/bff/bff.env if present)

Exit status: 0 done, 1 a step failed, 2 usage error.
EOF
}

# Every file some process has open (those we may look at), one per line.
open_files()
{
    find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 -type l -printf '%l\n' 2>/dev/null | LC_ALL=C sort -u
    return 0
}

main()
{
    local a cdays=${BFF_LOG_COMPRESS_DAYS:-7} ddays=${BFF_LOG_DELETE_DAYS:-30} clear=1 dry=0
    local dir f nz=0 nd=0 bffctl
    local -A busy=()
    while [[ $# -gt 0 ]]; do
        a=$1
        case $a in
        -h | --help)
            usage
            exit 0
            ;;
        --dir | --compress-days | --delete-days | --env-file)
            ops_need_arg "$@"
            case $a in
            --dir) BFF_LOG_DIR=$2 ;;
            --compress-days) cdays=$2 ;;
            --delete-days) ddays=$2 ;;
            --env-file) BFF_ENV_FILE=$2 ;;
            esac
            shift
            ;;
        --no-clearsessions) clear=0 ;;
        --dry-run) dry=1 ;;
        *) ops_usage_die "unknown argument '$a'" ;;
        esac
        shift
    done
    ops_is_uint "$cdays" || ops_usage_die "--compress-days needs a non-negative integer"
    ops_is_uint "$ddays" || ops_usage_die "--delete-days needs a non-negative integer"
    ops_load_env_file
    ops_defaults
    dir=$BFF_LOG_DIR
    [[ -d $dir ]] || ops_die "log directory $dir does not exist"

    while IFS= read -r f; do
        [[ -n $f ]] && busy[$f]=1
    done < <(open_files)

    while IFS= read -r -d '' f; do
        if [[ -n ${busy[$(realpath -- "$f")]:-} ]]; then
            ops_warn "not compressing $f: a process still has it open"
            continue
        fi
        if [[ -e $f.gz ]]; then
            ops_warn "not compressing $f: $f.gz exists"
            continue
        fi
        if [[ $dry -eq 1 ]]; then
            echo "would gzip $f"
        else
            gzip -- "$f" || ops_die "gzip $f failed"
            echo "gzipped $f"
        fi
        nz=$((nz + 1))
    done < <(find "$dir" -type f -name '*.log' -mmin +$((cdays * 1440)) -print0)

    while IFS= read -r -d '' f; do
        if [[ $dry -eq 1 ]]; then
            echo "would delete $f"
        else
            rm -f -- "$f"
            echo "deleted $f"
        fi
        nd=$((nd + 1))
    done < <(find "$dir" -type f \( -name '*.log.gz' -o -name '*.log.[0-9]*.gz' -o -name '*.log-*.gz' \) \
        -mmin +$((ddays * 1440)) -print0)
    ops_say "$nz log(s) compressed, $nd compressed log(s) deleted in $dir"

    [[ $clear -eq 1 ]] || return 0
    if ! bffctl=$(ops_bffctl); then
        ops_warn "bffctl not found (BFF_BFFCTL): clearsessions skipped"
        return 0
    fi
    if ! "$bffctl" clearsessions --help >/dev/null 2>&1; then
        ops_warn "$bffctl has no clearsessions command: skipped"
        return 0
    fi
    if [[ $dry -eq 1 ]]; then
        echo "would run $bffctl clearsessions"
        return 0
    fi
    "$bffctl" clearsessions || ops_die "bffctl clearsessions failed"
}

main "$@"; exit $?
