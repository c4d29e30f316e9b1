#!/usr/bin/env bash
#
# scripts/backup.sh — back up the bff database (docs/RUNBOOK.md, "Backup y
# Verificación"): pg_dump in custom format, gzip, `gunzip -t`, a
# restore-ability check with pg_restore, then 30-day retention.
#
# Format: `pg_dump -Fc -Z0 | gzip`, so the file passes the runbook's
# `gunzip -t` and is still a pg_restore archive (`gunzip -c F | pg_restore
# --list`, selective restores, parallel-safe object order). Plain SQL would
# only be checkable by restoring it whole.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=lib/ops.sh
. "$here/lib/ops.sh"

usage()
{
    cat <<'EOF'
usage: scripts/backup.sh [--dir DIR] [--db CONNINFO] [--retention-days N]
                         [--env-file FILE] [--no-retention]

Writes DIR/bff_YYYYmmdd_HHMMSS.dump.gz (a pg_dump custom-format archive,
gzipped; _N is added when that name is taken) and prints its path on stdout.
The file appears under that name only after every check passed:
  1. gunzip -t                         the gzip stream is intact
  2. pg_restore --list                 the archive's table of contents reads
  3. pg_restore -f /dev/null           every data block decompresses
Then backups (bff_*.dump.gz, and bff_*.sql.gz of older scripts) whose mtime
is more than N days old are deleted; nothing else in DIR is touched.

Options (and environment):
  --dir DIR             where backups go (BFF_BACKUP_DIR, /var/backups/bff)
  --db CONNINFO         database to dump (BFF_DATABASE_URL)
  --retention-days N    keep N days (BFF_BACKUP_RETENTION_DAYS, 30)
  --no-retention        delete nothing
  --env-file FILE       settings file (BFF_ENV_FILE, /etc/bff/bff.env if present)

Restore with scripts/restore.sh FILE --db NAME.
Exit status: 0 backup written and verified, 1 failure (nothing left behind
but the log lines), 2 usage error.
EOF
}

TMPF=
# shellcheck disable=SC2317 # reached from the EXIT trap
cleanup()
{
    [[ -n $TMPF ]] && rm -f "$TMPF"
    return 0
}

# retention DIR DAYS — delete backups modified more than DAYS days ago
# (age in minutes, so a file 29 days and 23 hours old stays).
retention()
{
    local dir=$1 days=$2 f n=0
    while IFS= read -r -d '' f; do
        rm -f -- "$f"
        ops_say "retention: deleted $f"
        n=$((n + 1))
    done < <(find "$dir" -maxdepth 1 -type f \( -name 'bff_*.dump.gz' -o -name 'bff_*.sql.gz' \) \
        -mmin +$((days * 1440)) -print0)
    ops_say "retention: $n backup(s) older than $days days deleted"
}

main()
{
    local a days=${BFF_BACKUP_RETENTION_DAYS:-30} keep_all=0 dir db stamp out n size toc
    while [[ $# -gt 0 ]]; do
        a=$1
        case $a in
        -h | --help)
            usage
            exit 0
            ;;
        --dir | --db | --retention-days | --env-file)
            ops_need_arg "$@"
            case $a in
            --dir) BFF_BACKUP_DIR=$2 ;;
            --db) BFF_DATABASE_URL=$2 ;;
            --retention-days) days=$2 ;;
            --env-file) BFF_ENV_FILE=$2 ;;
            esac
            shift
            ;;
        --no-retention) keep_all=1 ;;
        *) ops_usage_die "unknown argument '$a'" ;;
        esac
        shift
    done
    [[ $days =~ ^[1-9][0-9]*$ ]] || ops_usage_die "--retention-days needs a positive integer"
    ops_load_env_file
    ops_defaults
    dir=$BFF_BACKUP_DIR
    db=${BFF_DATABASE_URL:-}
    [[ -n $db ]] || ops_usage_die "no database: set BFF_DATABASE_URL or pass --db"
    mkdir -p "$dir" || ops_die "cannot create $dir"
    [[ -w $dir ]] || ops_die "$dir is not writable"

    # One backup at a time per directory.
    exec 9>"$dir/.backup.lock"
    flock -n 9 || ops_die "another backup is running in $dir"

    trap cleanup EXIT
    stamp=$(date -u +%Y%m%d_%H%M%S)
    out=$dir/bff_$stamp.dump.gz
    n=1
    while [[ -e $out && $n -lt 100 ]]; do
        out=$dir/bff_${stamp}_$n.dump.gz
        n=$((n + 1))
    done
    [[ -e $out ]] && ops_die "$out already exists"
    TMPF=$(mktemp "$dir/.bff_$stamp.XXXXXX")
    chmod 600 "$TMPF"

    ops_say "pg_dump -Fc | gzip > $out"
    "$(ops_pg pg_dump)" -d "$db" -Fc -Z0 --no-password | gzip -6 >"$TMPF" ||
        ops_die "pg_dump failed"
    ops_say "check 1/3: gunzip -t"
    gunzip -t "$TMPF" 2>/dev/null || ops_die "gunzip -t failed: the backup is corrupt"
    ops_say "check 2/3: pg_restore --list"
    # pg_restore --list stops reading after the table of contents: gunzip
    # may then die of SIGPIPE, which is no fault (check 1 read it all).
    toc=$({ gunzip -c "$TMPF" || true; } | "$(ops_pg pg_restore)" --list) ||
        ops_die "pg_restore --list cannot read the archive"
    n=$(grep -c ' TABLE DATA ' <<<"$toc" || true)
    ops_say "check 3/3: pg_restore -f /dev/null (reads every data block)"
    gunzip -c "$TMPF" | "$(ops_pg pg_restore)" -f /dev/null ||
        ops_die "pg_restore cannot read the archive's data"
    mv -T "$TMPF" "$out"
    TMPF=
    size=$(du -h "$out" | cut -f1)
    ops_say "backup OK: $out ($size, $n tables with data)"

    if [[ $keep_all -eq 0 ]]; then
        retention "$dir" "$days"
    fi
    printf '%s\n' "$out"
}

main "$@"; exit $?
