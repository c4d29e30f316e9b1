#!/usr/bin/env bash
# shellcheck disable=SC2016,SC2034 # bash -c scripts take "$1"; STACK_* are read by stack.sh
#
# t/check_ops_deploy.sh — scripts/deploy.sh and scripts/rollback.sh on a
# stack of their own: releases under a temp prefix, nginx (rendered from
# nginx/bff.conf.in by scripts/lib/stack.sh) in front of the bff.sock
# symlink, a fresh database on the test stack's PostgreSQL.
#
#   v1 = the checkout's HEAD; v2 = a commit on top of it (in a temp clone)
#   that changes the version in configure.ac and adds a migration.
#   deploy v1 -> deploy v2 -> rollback, while 4 clients loop on /health/:
#   no request may fail, v2 is served after its deploy, v1 again after the
#   rollback, the v2 migration stays (rollback does not touch the schema),
#   old pools are gone, only the newest 5 releases are kept.
set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=ops_lib.sh
. "$(dirname "$0")/ops_lib.sh"
t_init
t_need_stack

DEPLOY=$T_SRC/scripts/deploy.sh
ROLLBACK=$T_SRC/scripts/rollback.sh
git -C "$T_SRC" rev-parse --verify -q HEAD >/dev/null || {
    t_not_ok "$T_SRC is not a git checkout with a HEAD"
    t_done
    exit 1
}

# ---- a repository with v1 and v2 -------------------------------------------
R=$T_TMP/repo
git clone -q --no-hardlinks "$T_SRC" "$R" || exit 1
git -C "$R" tag v1
V1=$(sed -n 's/^AC_INIT(\[bff\], *\[\([^]]*\)\].*/\1/p' "$R/configure.ac")
V2=$V1-deploytest
sed -i "s/^AC_INIT(\[bff\], *\[$V1\]/AC_INIT([bff], [$V2]/" "$R/configure.ac"
echo "CREATE TABLE deploy_test_v2 (id int PRIMARY KEY);" >"$R/schema/9999_deploy_test_v2.sql"
git -C "$R" add -A
git -C "$R" -c user.name=t -c user.email=t@example.invalid commit -q -m "v2: $V2"
git -C "$R" tag v2
t_check "repository with v1 ($V1) and v2 ($V2)" test -n "$V1" -a "$(git -C "$R" rev-parse v1)" != "$(git -C "$R" rev-parse v2)"

# ---- nginx of its own, a database of its own -------------------------------
# shellcheck source=/dev/null
. "$T_SRC/scripts/lib/stack.sh"
PGPORT=$(sed -n 's/.*port=\([0-9]*\).*/\1/p' <<<"$BFF_TEST_DATABASE_URL")
{
    STACK_SRCDIR=$T_SRC
    STACK_BUILDDIR=$T_BUILD
    STACK_HTTP_PORT=$(stack_free_port)
    STACK_PG_PORT=$PGPORT
    STACK_REDIS_PORT=1
}
S=$T_TMP/s
(stack_init "$S" test) || exit 1
stack_load "$S"
t_on_exit "(stack_load '$S' && stack_stop_nginx) >/dev/null 2>&1"
(stack_start_nginx) 2>"$T_TMP/nginx.err" || cat "$T_TMP/nginx.err"
URL=http://127.0.0.1:$STACK_HTTP_PORT

DBNAME=bff_deploy_$$
t_psql "CREATE DATABASE $DBNAME" >/dev/null
t_on_exit "t_psql 'DROP DATABASE IF EXISTS $DBNAME' >/dev/null 2>&1"
P=$T_TMP/prefix
mkdir -p "$P"
cat >"$T_TMP/bff.env" <<EOF
# the deploy test's settings (EnvironmentFile syntax)
BFF_DATABASE_URL="host=127.0.0.1 port=$PGPORT dbname=$DBNAME user=bff"
BFF_REDIS_URL=
BFF_LOG_FILE=$S/log/application.log
BFF_ERROR_LOG_FILE=$S/log/error.log
BFF_METRICS_SHM=/bff-metrics-deploytest-$$
BFF_ENV=development
EOF
# deploy.sh and rollback.sh see only this environment.
ops()
{
    env -i PATH="$PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 \
        BFF_ENV_FILE="$T_TMP/bff.env" BFF_PREFIX="$P" BFF_REPO="$R" BFF_RUN_DIR="$S/run" \
        BFF_LOG_DIR="$S/log" BFF_URL="$URL" BFF_SERVICE_MANAGER=pidfile BFF_FCGI_PROCS=2 \
        BFF_DRAIN_SECONDS=1 "$@"
}
stop_pools()
{
    local f
    for f in "$S"/run/bff-web-*.pid; do
        [[ -f $f ]] && xargs -r kill -TERM <"$f" 2>/dev/null
    done
    rm -f /dev/shm/bff-metrics-deploytest-$$
}
t_on_exit stop_pools
version() { curl -s --max-time 5 "$URL/health/" | jq -r '.version // empty'; }
current() { basename "$(readlink "$P/current")"; }

# ---- deploy v1 ---------------------------------------------------------------
echo "# deploy v1"
t_rc "scripts/deploy.sh v1" 0 ops "$DEPLOY" v1
REL1=$(tail -n 1 "$T_TMP/out")
t_note "deploy v1 took ${SECONDS}s since the start"
t_eq "it printed the release directory, which current points at" "$(basename "$REL1")" "$(current)"
t_check "the release is named <UTC timestamp>-<commit>" \
    bash -c '[[ $1 =~ ^[0-9]{14}-[0-9a-f]{12}$ ]]' _ "$(current)"
t_check "its RELEASE file names v1's commit and version" \
    grep -qx "commit=$(git -C "$R" rev-parse v1)" "$REL1/RELEASE"
t_eq "nginx serves v1" "$V1" "$(version)"
t_check "the release carries its scripts and unit files (share/bff/)" \
    test -x "$REL1/share/bff/scripts/backup.sh" -a -f "$REL1/share/bff/deploy/systemd/bff-web.service"
t_check "bff.sock is a symlink to the pool's own socket" \
    bash -c '[[ -L $1/run/bff.sock && $(readlink "$1/run/bff.sock") == bff-web-*.sock ]]' _ "$S"
POOL1=$S/run/$(readlink "$S/run/bff.sock")
POOL1=${POOL1%.sock}.pid
PIDS1=$(cat "$POOL1")
t_eq "the pool runs BFF_FCGI_PROCS=2 processes" 2 "$(grep -c . "$POOL1")"
t_eq "migrations of v1 applied" "" "$(t_psql "host=127.0.0.1 port=$PGPORT dbname=$DBNAME user=bff" \
    "SELECT to_regclass('deploy_test_v2')")"

# Older releases, to see the pruning keep the newest 5.
for i in 1 2 3 4 5 6; do
    mkdir -p "$P/releases/2000010100000$i-00000000000$i/bin"
done

# ---- load -----------------------------------------------------------------------
STOP=$T_TMP/stop-load
load()
{
    local n=$1 out code body v
    while [[ ! -e $STOP ]]; do
        out=$(curl -s --max-time 20 -w '\n%{http_code}' "$URL/health/") || out=$'\n000'
        code=${out##*$'\n'}
        body=${out%$'\n'*}
        v=-
        [[ $body =~ \"version\":\"([^\"]*)\" ]] && v=${BASH_REMATCH[1]}
        printf '%s %s\n' "$code" "$v" >>"$T_TMP/load.$n"
        # Paced, so that the builds of deploy.sh keep the CPUs.
        sleep 0.05
    done
}
LOADERS=()
for n in 1 2 3 4; do
    load "$n" &
    LOADERS+=($!)
done
t_on_exit "touch '$STOP'; kill ${LOADERS[*]} 2>/dev/null"
sleep 1

# ---- deploy v2 -----------------------------------------------------------------
echo "# deploy v2 under load"
t_rc "scripts/deploy.sh v2" 0 ops "$DEPLOY" v2
REL2=$(tail -n 1 "$T_TMP/out")
t_note "deploy v2 done at ${SECONDS}s"
t_eq "current points at the v2 release" "$(basename "$REL2")" "$(current)"
t_eq "nginx serves v2" "$V2" "$(version)"
t_eq "v2's migration ran" deploy_test_v2 "$(t_psql "host=127.0.0.1 port=$PGPORT dbname=$DBNAME user=bff" \
    "SELECT to_regclass('deploy_test_v2')")"
alive=0
for p in $PIDS1; do stack_alive "$p" && alive=$((alive + 1)); done
t_eq "the v1 pool's processes have exited" 0 "$alive"
t_check "the v1 pool's socket and pid file are gone" test ! -e "$POOL1" -a ! -e "${POOL1%.pid}.sock"
t_eq "the newest 5 releases are kept (v2, v1, 3 older)" \
    "$(basename "$REL2") $(basename "$REL1") 20000101000006-000000000006 20000101000005-000000000005 20000101000004-000000000004" \
    "$(find "$P/releases" -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -r | paste -sd' ' -)"
sleep 1

# ---- rollback ---------------------------------------------------------------
echo "# rollback under load"
migrations_before=$(t_psql "host=127.0.0.1 port=$PGPORT dbname=$DBNAME user=bff" "SELECT count(*) FROM schema_migrations")
t_rc "scripts/rollback.sh" 0 ops "$ROLLBACK"
t_check "... which checked that nginx serves the old version" grep -q "serves version $V1\$" "$T_TMP/out"
t_eq "current points at the v1 release again" "$(basename "$REL1")" "$(current)"
t_eq "nginx serves v1 again" "$V1" "$(version)"
t_eq "the schema is untouched (v2's table is still there)" deploy_test_v2 \
    "$(t_psql "host=127.0.0.1 port=$PGPORT dbname=$DBNAME user=bff" "SELECT to_regclass('deploy_test_v2')")"
t_eq "... and so is the migration ledger" "$migrations_before" \
    "$(t_psql "host=127.0.0.1 port=$PGPORT dbname=$DBNAME user=bff" "SELECT count(*) FROM schema_migrations")"
t_check "rollback lists the migration v1 does not know" grep -q '9999_deploy_test_v2' "$T_TMP/out"
sleep 1
touch "$STOP"
wait "${LOADERS[@]}" 2>/dev/null

# ---- what the clients saw -------------------------------------------------------
total=$(cat "$T_TMP"/load.* | wc -l)
failed=$(cat "$T_TMP"/load.* | grep -vc '^200 ')
t_check "the load loop made requests throughout ($total)" test "$total" -gt 100
t_note "rollback done at ${SECONDS}s"
t_eq "no request failed during deploy and rollback" 0 "$failed"
[[ $failed -eq 0 ]] || cat "$T_TMP"/load.* | grep -v '^200 ' | sort | uniq -c | head | sed 's/^/#      /'
t_check "the clients saw v1, then v2, then v1 again" \
    bash -c 'cat "$1" | awk "{print \$2}" | uniq | paste -sd" " - | grep -q "^$2 $3 $2$"' _ "$T_TMP/load.1" "$V1" "$V2"
t_note "client 1 saw: $(awk '{print $2}' "$T_TMP/load.1" | uniq -c | paste -sd' ' -)"

# ---- the rest -------------------------------------------------------------------
echo "# listing, refusals"
t_rc "rollback.sh --list" 0 ops "$ROLLBACK" --list
t_check "... marks the current release with its version and ref" grep -q "^\* $(current)  $V1 v1$" "$T_TMP/out"
t_rc "rollback.sh to a named release (v2)" 0 ops "$ROLLBACK" "$(basename "$REL2")"
t_eq "... serves v2" "$V2" "$(version)"
t_rc "deploy.sh of an unknown ref fails" 1 ops "$DEPLOY" no-such-ref
t_eq "... and changes nothing" "$(basename "$REL2")" "$(current)"
t_rc "rollback.sh to an unknown release fails" 1 ops "$ROLLBACK" 20990101000000-abcdefabcdef
t_rc "deploy.sh without REF is a usage error" 2 ops "$DEPLOY"
t_eq "one pool left running" 1 "$(find "$S/run" -name 'bff-web-*.pid' | wc -l)"

t_done
