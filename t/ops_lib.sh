# shellcheck shell=bash
#
# t/ops_lib.sh — sourced by the shell tests of the operations (t/check_ops_*.sh):
# pass/fail counting with the "N passed, N failed" closing line, the test
# stack of `scripts/dev test` (BFF_TEST_*), temp directories and tokens.
# A missing stack is a failure, never a skip.

T_PASS=0
T_FAIL=0
T_SKIP=0
T_NAME=${0##*/}
T_SRC=${BFF_TEST_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd -P)}
# shellcheck disable=SC2034 # for the tests that source this
T_BUILD=${BFF_TEST_BUILDDIR:-$T_SRC}
T_TMP=
T_CLEANUPS=()

t_ok()
{
    T_PASS=$((T_PASS + 1))
    printf 'ok   - %s\n' "$*"
}
t_not_ok()
{
    T_FAIL=$((T_FAIL + 1))
    printf 'FAIL - %s\n' "$*"
}
t_skip()
{
    T_SKIP=$((T_SKIP + 1))
    printf 'SKIP - %s\n' "$*"
}
t_note() { printf '#      %s\n' "$*"; }

# t_check DESCRIPTION COMMAND... — pass when the command succeeds.
t_check()
{
    local d=$1
    shift
    if "$@"; then t_ok "$d"; else t_not_ok "$d"; fi
}

# t_eq DESCRIPTION EXPECTED ACTUAL
t_eq()
{
    if [[ $2 == "$3" ]]; then
        t_ok "$1"
    else
        t_not_ok "$1: expected '$2', got '$3'"
    fi
}

# t_rc DESCRIPTION EXPECTED-STATUS COMMAND... — output goes to $T_TMP/out.
t_rc()
{
    local d=$1 want=$2 rc=0
    shift 2
    "$@" >"$T_TMP/out" 2>&1 || rc=$?
    if [[ $rc -eq $want ]]; then
        t_ok "$d (exit $rc)"
    else
        t_not_ok "$d: exit $rc, expected $want; output:"
        sed 's/^/#      /' "$T_TMP/out" | tail -n 25
    fi
}

# The closing line, and the exit status for automake (0 pass, 1 fail).
t_done()
{
    if [[ $T_SKIP -gt 0 ]]; then
        echo "$T_PASS passed, $T_FAIL failed, $T_SKIP skipped"
    else
        echo "$T_PASS passed, $T_FAIL failed"
    fi
    [[ $T_FAIL -eq 0 ]]
}

# Run on exit: registered cleanups (last first), then the temp directory.
t_cleanup()
{
    local rc=$? i
    set +e
    for ((i = ${#T_CLEANUPS[@]} - 1; i >= 0; i--)); do
        eval "${T_CLEANUPS[$i]}"
    done
    [[ -n $T_TMP && ${BFF_KEEP:-0} != 1 ]] && rm -rf "$T_TMP"
    exit "$rc"
}
t_on_exit() { T_CLEANUPS+=("$1"); }

# t_init — a temp directory (mode 755: the service user `bff` reads it) and
# the EXIT trap.
t_init()
{
    T_TMP=$(mktemp -d /tmp/bff-ops.XXXXXX)
    chmod 755 "$T_TMP"
    trap t_cleanup EXIT
    echo "# $T_NAME (source $T_SRC)"
}

# The stack of scripts/dev test must be there: fail (exit 1) otherwise.
t_need_stack()
{
    local v
    for v in BFF_TEST_HTTP_URL BFF_TEST_DATABASE_URL BFF_TEST_STATE; do
        if [[ -z ${!v:-} ]]; then
            t_not_ok "$v is not set: run the tests through scripts/dev test"
            t_done
            exit 1
        fi
    done
}

# t_psql [CONNINFO] SQL — one query against the test database.
t_psql()
{
    local db=$BFF_TEST_DATABASE_URL
    if [[ $# -eq 2 ]]; then
        db=$1
        shift
    fi
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -tAc "$1"
}

# t_token — a superuser API token, created straight in the test database
# (like t/harness.c's t_token). Prints the token.
t_token()
{
    local tok h uid
    tok="bff_$(head -c 32 /dev/urandom | base64 -w0 | tr '+/' '-_' | tr -d '=')"
    h=$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)
    uid=$(t_psql "INSERT INTO users (username, password_hash, is_superuser)
        VALUES ('ops_$$_$RANDOM', '\$argon2id\$v=19\$m=65536,t=2,p=1\$unusable', true) RETURNING id")
    t_psql "INSERT INTO api_tokens (user_id, name, token_hash, expires_at)
        VALUES ($uid, 'ops-test', decode('$h', 'hex'), now() + interval '1 day')" >/dev/null
    printf '%s\n' "$tok"
}

# t_route_exists "METHOD /pattern/" — the route is in fcgi/routes.c.
t_route_exists()
{
    local m=${1%% *} p=${1#* }
    grep -Eq "\{\"$m\", *\"$p\"" "$T_SRC/fcgi/routes.c"
}

# t_api METHOD PATH [JSON] — call the API of the test stack with $T_TOKEN;
# prints the body, fails unless the status is 2xx.
t_api()
{
    local code
    code=$(curl -s -o "$T_TMP/api.out" -w '%{http_code}' -X "$1" \
        -H "Authorization: Bearer $T_TOKEN" -H 'Content-Type: application/json' \
        ${3:+--data "$3"} "$BFF_TEST_HTTP_URL$2") || code=000
    cat "$T_TMP/api.out"
    [[ $code == 2* ]]
}
