#!/usr/bin/env bash
#
# scripts/restore.sh — restore a backup of scripts/backup.sh into a named
# database, in one transaction: it is restored whole or not at all.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=lib/ops.sh
. "$here/lib/ops.sh"

usage()
{
    cat <<'EOF'
usage: scripts/restore.sh FILE --db NAME [--force] [--server CONNINFO]
                          [--env-file FILE]

Restores FILE into database NAME on the server of BFF_DATABASE_URL (or
--server), creating NAME when it does not exist. FILE is a backup of
scripts/backup.sh (bff_*.dump.gz: pg_dump custom format, gzipped), a plain
custom-format .dump, or a plain SQL dump, gzipped or not.

A database that already holds tables is refused (exit 3) unless --force is
given; then its public schema is dropped and rebuilt from the backup, in the
same transaction as the restore. Restoring over the live database needs the
app stopped first (systemctl stop bff-web bff-worker bff-beat) — or restore
into a new name and point BFF_DATABASE_URL at it (docs/RUNBOOK.md).

Owners and grants are not restored (--no-owner --no-acl): the objects
belong to the role that restores them. The database is ANALYZEd afterwards.

Options (and environment):
  --db NAME            target database name ([A-Za-z0-9_-], required)
  --force              replace the contents of a non-empty database
  --server CONNINFO    server and role to use (BFF_DATABASE_URL); its own
                       database name is ignored
  --env-file FILE      settings file (BFF_ENV_FILE, /etc/bff/bff.env if present)

Exit status: 0 restored, 1 failure (the target is unchanged), 2 usage error,
3 refused: the target database is not empty and --force was not given.
EOF
}

SQLF=

main()
{
    local a file='' name='' force=0 server target maint exists n kind head
    while [[ $# -gt 0 ]]; do
        a=$1
        case $a in
        -h | --help)
            usage
            exit 0
            ;;
        --db | --server | --env-file)
            ops_need_arg "$@"
            case $a in
            --db) name=$2 ;;
            --server) BFF_DATABASE_URL=$2 ;;
            --env-file) BFF_ENV_FILE=$2 ;;
            esac
            shift
            ;;
        --force) force=1 ;;
        -*) ops_usage_die "unknown option '$a'" ;;
        *)
            [[ -z $file ]] || ops_usage_die "one backup file only"
            file=$a
            ;;
        esac
        shift
    done
    [[ -n $file ]] || ops_usage_die "missing backup FILE"
    [[ -n $name ]] || ops_usage_die "missing --db NAME"
    [[ $name =~ ^[A-Za-z0-9_-]{1,63}$ ]] || ops_usage_die "--db: '$name' is not a plain database name"
    [[ -f $file && -r $file ]] || ops_die "$file: no such readable file"
    ops_load_env_file
    ops_defaults
    server=${BFF_DATABASE_URL:-}
    [[ -n $server ]] || ops_usage_die "no server: set BFF_DATABASE_URL or pass --server"
    target=$(ops_conninfo_for_db "$server" "$name")
    maint=$(ops_conninfo_for_db "$server" postgres)

    ops_say "checking $file"
    gzip -t "$file" 2>/dev/null || [[ $(head -c 2 "$file" | od -An -tx1 | tr -d ' ') != 1f8b ]] ||
        ops_die "$file: gzip data is corrupt"
    head=$(zcat -f -- "$file" 2>/dev/null | head -c 5 | tr -d '\0') || true
    if [[ $head == PGDMP ]]; then
        kind=archive
        # --list stops reading after the table of contents (zcat: SIGPIPE)
        { zcat -f -- "$file" || true; } | "$(ops_pg pg_restore)" --list >/dev/null ||
            ops_die "$file: pg_restore cannot read this archive"
    else
        kind=sql
    fi

    exists=$(ops_psql "$maint" "SELECT count(*) FROM pg_database WHERE datname = '$name'") ||
        ops_die "cannot connect to the server of BFF_DATABASE_URL"
    if [[ $exists == 0 ]]; then
        ops_say "creating database $name"
        ops_psql "$maint" "CREATE DATABASE \"$name\"" >/dev/null ||
            ops_die "CREATE DATABASE $name failed"
        n=0
    else
        n=$(ops_psql "$target" "SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S')
              AND s.nspname NOT IN ('pg_catalog', 'information_schema') AND s.nspname NOT LIKE 'pg_toast%'
              AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                              AND d.objid = c.oid AND d.deptype = 'e')") ||
            ops_die "cannot connect to database $name"
    fi
    if [[ $n -gt 0 && $force -eq 0 ]]; then
        printf '%s: refused: database %s is not empty (%d relations); --force replaces its public schema\n' \
            "$OPS_PROG" "$name" "$n" >&2
        exit 3
    fi

    # The whole script is written out first: psql -1 commits at the end of
    # its input, so a stream cut short by a read error must never reach it.
    SQLF=$(mktemp "${TMPDIR:-/tmp}/bff-restore.XXXXXX")
    trap 'rm -f "$SQLF"' EXIT
    {
        echo "SET client_min_messages = warning;"
        if [[ $n -gt 0 ]]; then
            echo "DROP SCHEMA IF EXISTS public CASCADE;"
            echo "CREATE SCHEMA public;"
        fi
    } >"$SQLF"
    if [[ $kind == archive ]]; then
        zcat -f -- "$file" | "$(ops_pg pg_restore)" --no-owner --no-acl -f - >>"$SQLF" ||
            ops_die "$file: pg_restore failed reading the archive; database $name is unchanged"
    else
        zcat -f -- "$file" >>"$SQLF" || ops_die "$file: read error; database $name is unchanged"
    fi
    if [[ $n -gt 0 ]]; then
        ops_say "restoring $file ($kind) into $name, replacing its public schema"
    else
        ops_say "restoring $file ($kind) into $name"
    fi
    "$(ops_pg psql)" -X -q -v ON_ERROR_STOP=1 --single-transaction -d "$target" -f "$SQLF" >/dev/null ||
        ops_die "restore failed; database $name is unchanged"
    rm -f "$SQLF"
    ops_psql "$target" "ANALYZE" >/dev/null || ops_warn "ANALYZE failed"
    n=$(ops_psql "$target" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
    ops_say "restored $name: $n tables; last migration: $(ops_psql "$target" \
        "SELECT coalesce(max(name), '-') FROM schema_migrations" 2>/dev/null || echo '?')"
}

main "$@"; exit $?
