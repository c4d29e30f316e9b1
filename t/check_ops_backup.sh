#!/usr/bin/env bash
# shellcheck disable=SC2016 # single quotes: bash -c scripts take "$1"
#
# t/check_ops_backup.sh — scripts/backup.sh and scripts/restore.sh against
# the test stack: a backup restored into a fresh database has every table
# with the same row count and the same checksum of its contents (md5 over
# the rows in order) and the same sequence values; the checks catch a
# corrupt file; restore refuses a non-empty database without --force;
# retention deletes exactly the backups older than 30 days.
set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=ops_lib.sh
. "$(dirname "$0")/ops_lib.sh"
t_init
t_need_stack

BACKUP=$T_SRC/scripts/backup.sh
RESTORE=$T_SRC/scripts/restore.sh
DB=$BFF_TEST_DATABASE_URL
R1=bff_ops_restore_$$
R2=bff_ops_plain_$$
t_on_exit "t_psql 'DROP DATABASE IF EXISTS $R1' >/dev/null 2>&1; t_psql 'DROP DATABASE IF EXISTS $R2' >/dev/null 2>&1"
# The scripts must take the database from the environment only.
export BFF_ENV_FILE=/dev/null BFF_DATABASE_URL=$DB

conninfo() { printf "%s dbname='%s'\n" "$DB" "$1"; }

# "table count md5" per table of the public schema, then "seq:NAME value"
# per sequence: a fingerprint of the whole database's contents.
fingerprint()
{
    local db=$1 t
    for t in $(t_psql "$db" "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"); do
        t_psql "$db" "SELECT '$t ' || count(*) || ' ' ||
            md5(coalesce(string_agg(x::text, E'\\n' ORDER BY x::text), '')) FROM public.\"$t\" x"
    done
    t_psql "$db" "SELECT 'seq:' || sequencename || ' ' || coalesce(last_value, 0)
        FROM pg_sequences WHERE schemaname = 'public' ORDER BY 1"
}

echo "# seed data through the API"
T_TOKEN=$(t_token)
sfx=$$$RANDOM
wid=$(t_api POST /api/warehouses/ "{\"code\":\"OPS-W$sfx\",\"name\":\"ops warehouse\"}" | jq -r .id)
pid=$(t_api POST /api/products/ "{\"sku\":\"OPS-P$sfx\",\"name\":\"ops product ñ\"}" | jq -r .id)
t_api POST /api/lots/ "{\"product_id\":$pid,\"warehouse_id\":$wid,\"lot_code\":\"L1-$sfx\",\"expires_on\":\"2099-01-01\",\"quantity\":50}" >/dev/null
t_api POST /api/lots/ "{\"product_id\":$pid,\"warehouse_id\":$wid,\"lot_code\":\"L2-$sfx\",\"expires_on\":\"2098-01-01\",\"quantity\":20}" >/dev/null
oid=$(t_api POST /api/orders/ "{\"lines\":[{\"product_id\":$pid,\"quantity\":25}]}" | jq -r .id)
t_api POST "/api/orders/$oid/ship/" '' >/dev/null
t_api POST /api/orders/ "{\"lines\":[{\"product_id\":$pid,\"quantity\":5}]}" >/dev/null
t_check "seeded a warehouse, a product, two lots and two orders (ids $wid $pid $oid)" \
    test -n "$oid" -a "$oid" != null

echo "# backup"
bdir=$T_TMP/backups
file=
for attempt in 1 2 3; do
    before=$(fingerprint "$DB")
    file=$("$BACKUP" --dir "$bdir" 2>"$T_TMP/backup.err") || {
        cat "$T_TMP/backup.err"
        break
    }
    after=$(fingerprint "$DB")
    [[ $before == "$after" ]] && break
    t_note "the database changed during backup attempt $attempt: again"
    rm -f "$file"
    sleep 1
done
t_check "backup.sh wrote $file" test -s "$file"
t_check "its name is bff_YYYYmmdd_HHMMSS.dump.gz" \
    bash -c '[[ $(basename "$1") =~ ^bff_[0-9]{8}_[0-9]{6}\.dump\.gz$ ]]' _ "$file"
t_check "no temporary file is left in the backup directory" \
    bash -c '[[ -z $(find "$1" -name ".bff_*") ]]' _ "$bdir"
t_check "gunzip -t accepts it" gunzip -t "$file"
t_check "pg_restore --list reads it" bash -c '{ gunzip -c "$1" || true; } | pg_restore --list | grep -q "TABLE DATA public products"' _ "$file"
t_check "the backup log reports the three checks" grep -q 'check 3/3' "$T_TMP/backup.err"
ntables=$(grep -c . <<<"$(grep -v '^seq:' <<<"$before")")
t_check "the source has tables with rows ($ntables tables)" test "$ntables" -gt 5

echo "# restore into a fresh database"
t_rc "restore.sh into new database $R1" 0 "$RESTORE" "$file" --db "$R1"
restored=$(fingerprint "$(conninfo "$R1")")
t_eq "every table's row count and md5, and every sequence, match" "$before" "$restored"
diff <(echo "$before") <(echo "$restored") | head -n 10 | sed 's/^/#      /'
t_check "products row of the seed is there" \
    test "$(t_psql "$(conninfo "$R1")" "SELECT name FROM products WHERE id = $pid")" == "ops product ñ"

echo "# restore refuses a non-empty database"
t_rc "restore.sh into the now non-empty $R1 without --force" 3 "$RESTORE" "$file" --db "$R1"
t_check "... says why" grep -q 'not empty' "$T_TMP/out"
t_psql "$(conninfo "$R1")" "CREATE TABLE ops_extra (x int); UPDATE products SET name = name || 'x'" >/dev/null
t_rc "restore.sh --force" 0 "$RESTORE" "$file" --db "$R1" --force
t_eq "after --force the contents match the backup again" "$before" "$(fingerprint "$(conninfo "$R1")")"
t_eq "--force replaced the public schema (ops_extra is gone)" "" \
    "$(t_psql "$(conninfo "$R1")" "SELECT to_regclass('public.ops_extra')")"

echo "# corrupt files are caught"
head -c $(($(stat -c %s "$file") / 2)) "$file" >"$T_TMP/bff_truncated.dump.gz"
t_rc "restore.sh of a truncated backup fails" 1 "$RESTORE" "$T_TMP/bff_truncated.dump.gz" --db "$R1" --force
t_eq "... and leaves the database as it was" "$before" "$(fingerprint "$(conninfo "$R1")")"
t_rc "backup.sh against an unreachable server fails" 1 \
    env BFF_DATABASE_URL="host=127.0.0.1 port=1 dbname=bff user=bff connect_timeout=2" \
    "$BACKUP" --dir "$T_TMP/nobackup" --no-retention
t_eq "... and leaves no file behind" "" "$(find "$T_TMP/nobackup" -name 'bff_*' 2>/dev/null)"

echo "# a plain SQL backup (of the runbook's old weekly_backup.sh) restores too"
pg_dump -d "$DB" | gzip >"$T_TMP/bff_20240101.sql.gz"
t_rc "restore.sh of a .sql.gz into $R2" 0 "$RESTORE" "$T_TMP/bff_20240101.sql.gz" --db "$R2"
p2=$(fingerprint "$(conninfo "$R2")")
t_eq "its row counts and checksums match" "$(grep -v '^seq:' <<<"$before")" "$(grep -v '^seq:' <<<"$p2")"

echo "# retention: 30 days by mtime, backups only"
rdir=$T_TMP/retention
mkdir -p "$rdir"
mk() { : >"$rdir/$1" && touch -d "$2" "$rdir/$1"; }
mk bff_20200101_000000.dump.gz '-45 days'
mk bff_20200102_000000.dump.gz '-30 days -2 hours'
mk bff_20200103_000000.sql.gz '-31 days'
mk bff_20200104_000000.dump.gz '-29 days -22 hours'
mk bff_20200105_000000.dump.gz '-3 days'
mk notes.txt '-90 days'
mk other_20200101.dump.gz '-90 days'
"$BACKUP" --dir "$rdir" >/dev/null 2>"$T_TMP/retention.err" || cat "$T_TMP/retention.err"
left=$(cd "$rdir" && find . -maxdepth 1 -type f ! -name '.*' ! -newer "$rdir/bff_20200105_000000.dump.gz" -printf '%f\n' | sort | paste -sd' ' -)
t_eq "older than 30 days deleted; 29d22h, 3d, and non-backups kept" \
    "bff_20200104_000000.dump.gz bff_20200105_000000.dump.gz notes.txt other_20200101.dump.gz" "$left"
t_eq "the new backup is there too" 1 "$(find "$rdir" -name 'bff_2*.dump.gz' -newer "$rdir/bff_20200105_000000.dump.gz" | wc -l)"
t_check "retention reported 3 deletions" grep -q '3 backup(s) older than 30 days deleted' "$T_TMP/retention.err"

echo "# usage"
t_rc "restore.sh without --db is a usage error" 2 "$RESTORE" "$file"
t_rc "backup.sh --help" 0 "$BACKUP" --help
t_rc "restore.sh --help" 0 "$RESTORE" --help

t_done
