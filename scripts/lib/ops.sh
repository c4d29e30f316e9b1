# shellcheck shell=bash
#
# scripts/lib/ops.sh — what the operational scripts share (health_check.sh,
# daily_health_check.sh, backup.sh, restore.sh, log_cleanup.sh, deploy.sh,
# rollback.sh): messages, the settings file, finding bffctl and the
# PostgreSQL tools, and the FastCGI pool that deploy.sh and rollback.sh
# switch. It only defines functions and never changes shell options.
#
# Settings, each overridable by the environment (never a hard-coded path a
# test cannot redirect; the defaults are the production layout of
# docs/deployment.md):
#   BFF_ENV_FILE    /etc/bff/bff.env — KEY=VALUE lines (systemd
#                   EnvironmentFile syntax). Read when it exists; a variable
#                   already set in the environment wins over the file.
#   BFF_PREFIX      /opt/bff — releases/ and the `current` symlink
#   BFF_LOG_DIR     /var/log/bff
#   BFF_BACKUP_DIR  /var/backups/bff
#   BFF_RUN_DIR     /run/bff — pool sockets and pid files (no-systemd mode)
#   BFF_URL         http://127.0.0.1:8000 — nginx in front of bff
#   BFF_BFFCTL      bffctl to run (default: $BFF_PREFIX/current/bin/bffctl,
#                   else bffctl on PATH, else ctl/bffctl of this checkout,
#                   else the bin/bffctl of the release these scripts are in)

OPS_PROG=${0##*/}
OPS_SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)

ops_say() { printf '%s: %s\n' "$OPS_PROG" "$*" >&2; }
ops_warn() { printf '%s: warning: %s\n' "$OPS_PROG" "$*" >&2; }
ops_die()
{
    printf '%s: error: %s\n' "$OPS_PROG" "$*" >&2
    exit 1
}
# A usage error: exit 2 with a pointer to --help.
ops_usage_die()
{
    printf "%s: %s (see '%s --help')\n" "$OPS_PROG" "$*" "$OPS_PROG" >&2
    exit 2
}

# ops_need_arg OPTION VALUE... — die unless the option has a value.
ops_need_arg()
{
    [[ $# -ge 2 && -n $2 ]] || ops_usage_die "$1 needs a value"
}

ops_is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }

# Variables that steer these scripts, not the app: never passed to bff-fcgi.
ops_is_knob()
{
    case $1 in
    BFF_ENV_FILE | BFF_PREFIX | BFF_LOG_DIR | BFF_BACKUP_DIR | BFF_RUN_DIR | BFF_URL | \
        BFF_TOKEN | BFF_BFFCTL | BFF_PG_BINDIR | BFF_FCGI_* | BFF_DRAIN_SECONDS | \
        BFF_STOP_TIMEOUT | BFF_SERVICE_MANAGER | BFF_KEEP_RELEASES | BFF_REPO | BFF_TEST_* | \
        BFF_DEV_* | BFF_HTTP_TIMEOUT | BFF_SYSTEMD_UNITS | BFF_SERVICES | BFF_DISK_* | \
        BFF_MAX_ERRORS | BFF_BACKUP_* | BFF_LOG_COMPRESS_DAYS | BFF_LOG_DELETE_DAYS | \
        BFF_SUPERUSER_PASSWORD | BFF_KEEP | BFF_HTTP_PORT | BFF_PG_PORT | BFF_REDIS_PORT)
        return 0
        ;;
    esac
    return 1
}

# ops_load_env_file — export the KEY=VALUE lines of $BFF_ENV_FILE (else
# /etc/bff/bff.env, when it exists) for every KEY not already set.
# The file is parsed, never executed: comments, blank lines, and values in
# single or double quotes, as systemd's EnvironmentFile= reads them.
ops_load_env_file()
{
    local f=${BFF_ENV_FILE:-/etc/bff/bff.env} line k v
    if [[ ! -e $f ]]; then
        [[ -z ${BFF_ENV_FILE:-} ]] || ops_die "settings file $f not found"
        return 0
    fi
    [[ -r $f ]] || ops_die "settings file $f is not readable"
    while IFS= read -r line || [[ -n $line ]]; do
        line=${line#"${line%%[![:space:]]*}"}
        [[ -z $line || $line == '#'* || $line == ';'* ]] && continue
        line=${line#export }
        [[ $line =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]] || continue
        k=${BASH_REMATCH[1]} v=${BASH_REMATCH[2]}
        if [[ $v =~ ^\"(.*)\"$ || $v =~ ^\'(.*)\'$ ]]; then
            v=${BASH_REMATCH[1]}
        fi
        [[ -n ${!k+set} ]] && continue
        export "$k=$v"
    done <"$f"
}

# ops_defaults — the path settings above, after ops_load_env_file.
ops_defaults()
{
    BFF_PREFIX=${BFF_PREFIX:-/opt/bff}
    BFF_LOG_DIR=${BFF_LOG_DIR:-/var/log/bff}
    BFF_BACKUP_DIR=${BFF_BACKUP_DIR:-/var/backups/bff}
    BFF_RUN_DIR=${BFF_RUN_DIR:-/run/bff}
    BFF_URL=${BFF_URL:-http://127.0.0.1:8000}
    BFF_URL=${BFF_URL%/}
}

# Print the bffctl to use, or fail.
ops_bffctl()
{
    local c
    # A release installs these scripts in PREFIX/share/bff/scripts: its own
    # bffctl is ../../bin/bffctl from there.
    for c in "${BFF_BFFCTL:-}" "${BFF_PREFIX:-/opt/bff}/current/bin/bffctl" \
        "$(command -v bffctl 2>/dev/null || true)" "$OPS_SRCDIR/ctl/bffctl" \
        "$OPS_SRCDIR/../../bin/bffctl"; do
        if [[ -n $c && -x $c ]]; then
            printf '%s\n' "$c"
            return 0
        fi
    done
    return 1
}

# ops_bffctl_has CMD — true when this bffctl knows the subcommand.
ops_bffctl_has()
{
    local b
    b=$(ops_bffctl) || return 1
    "$b" "$1" --help >/dev/null 2>&1
}

# ops_pg TOOL — the path of a PostgreSQL client (pg_dump, pg_restore, psql):
# $BFF_PG_BINDIR/TOOL when set, else TOOL on PATH.
ops_pg()
{
    if [[ -n ${BFF_PG_BINDIR:-} && -x $BFF_PG_BINDIR/$1 ]]; then
        printf '%s\n' "$BFF_PG_BINDIR/$1"
    elif command -v "$1" >/dev/null 2>&1; then
        command -v "$1"
    else
        ops_die "$1 not found (apt-get install postgresql-client)"
    fi
}

# ops_psql CONNINFO SQL — one query, unaligned tuples, no psqlrc.
ops_psql()
{
    "$(ops_pg psql)" -X -q -v ON_ERROR_STOP=1 -d "$1" -tAc "$2"
}

# ops_conninfo_for_db BASE NAME — BASE (a libpq URI or key=value string)
# pointed at database NAME instead.
ops_conninfo_for_db()
{
    local base=$1 name=$2 rest query=
    if [[ $base =~ ^postgres(ql)?:// ]]; then
        rest=${base#*://}
        if [[ $rest == *'?'* ]]; then
            query="?${rest#*\?}"
            rest=${rest%%\?*}
        fi
        rest=${rest%%/*}
        printf '%s://%s/%s%s\n' "${base%%://*}" "$rest" "$name" "$query"
    else
        # In a key=value string the last of two equal keywords wins.
        printf "%s dbname='%s'\n" "$base" "$name"
    fi
}

# True when systemd is the running init (not merely installed).
ops_have_systemd()
{
    [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1
}

# ops_pid_alive PID — a live process (a zombie counts as gone).
ops_pid_alive()
{
    local stat
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# ops_pidfile_pids FILE — the live pids listed in FILE (one a line).
ops_pidfile_pids()
{
    local pid
    [[ -f $1 ]] || return 0
    while read -r pid || [[ -n $pid ]]; do
        if ops_pid_alive "$pid"; then printf '%s\n' "$pid"; fi
    done <"$1"
    return 0
}

# ops_http_get URL [TOKEN] — GET URL: the HTTP status on the first line
# (000 when curl could not connect or timed out), then the body.
ops_http_get()
{
    local url=$1 token=${2:-} out code
    local -a h=()
    [[ -n $token ]] && h=(-H "Authorization: Bearer $token")
    out=$(mktemp)
    code=$(curl -sS --max-time "${BFF_HTTP_TIMEOUT:-10}" -o "$out" -w '%{http_code}' \
        "${h[@]}" "$url" 2>/dev/null) || code=000
    printf '%s\n' "$code"
    cat "$out"
    rm -f "$out"
}

# ------------------------------------------------------------ releases

# A release directory name: UTC timestamp, then the short commit.
OPS_RELEASE_RE='^[0-9]{14}-[0-9a-f]{7,40}(-[0-9]+)?$'

# The releases under $BFF_PREFIX/releases, oldest first.
ops_releases()
{
    local d n
    [[ -d $BFF_PREFIX/releases ]] || return 0
    for d in "$BFF_PREFIX"/releases/*/; do
        n=$(basename "$d")
        [[ $n =~ $OPS_RELEASE_RE ]] && printf '%s\n' "$n"
    done | LC_ALL=C sort
}

# The release `current` points at (its name), or nothing.
ops_current_release()
{
    local t
    t=$(readlink "$BFF_PREFIX/current" 2>/dev/null) || return 0
    basename "$t"
}

# ops_switch_current NAME — point $BFF_PREFIX/current at releases/NAME in
# one rename: a reader sees the old target or the new one, never neither.
ops_switch_current()
{
    local tmp=$BFF_PREFIX/.current.$$
    [[ -d $BFF_PREFIX/releases/$1 ]] || ops_die "no release $1 in $BFF_PREFIX/releases"
    ln -sfn "releases/$1" "$tmp"
    mv -T "$tmp" "$BFF_PREFIX/current"
}

# --------------------------------------------------------- the FastCGI pool
#
# Without systemd (dev, test and single-host installs), each pool is one
# spawn-fcgi -F N on its own socket $BFF_RUN_DIR/bff-web-ID.sock with the
# children's pids in bff-web-ID.pid. nginx connects to $BFF_RUN_DIR/bff.sock,
# a symlink to the socket of the live pool: a graceful reload starts the new
# pool, renames a new symlink over bff.sock (connect(2) follows it, so new
# requests go to the new pool at once), lets the old pool's accept queue
# drain, then SIGTERMs the old pool, whose processes finish the request in
# flight and exit 0. No request is refused and nginx is not reloaded.
#
# With systemd, bff-web.service is spawn-fcgi -n + multiwatch on one socket
# and `systemctl reload bff-web` restarts the children one by one on that
# socket (deploy/systemd/bff-web.service).
#
# Pool settings (environment): BFF_FCGI_PROCS (4), BFF_FCGI_USER (bff when
# run as root, else none), BFF_DRAIN_SECONDS (2), BFF_STOP_TIMEOUT (30).

# The pid file of the pool whose socket bff.sock points at (a socket that
# is not ours, e.g. a scripts/dev stack's run/bff.sock, maps to fcgi.pid).
ops_pool_live_pidfile()
{
    local link=$BFF_RUN_DIR/bff.sock t
    if [[ -L $link ]]; then
        t=$(readlink "$link")
        t=${t##*/}
        printf '%s\n' "$BFF_RUN_DIR/${t%.sock}.pid"
    elif [[ -S $link && -f $BFF_RUN_DIR/fcgi.pid ]]; then
        printf '%s\n' "$BFF_RUN_DIR/fcgi.pid"
    fi
}

# ops_pool_start BIN ID — start a pool of BIN on bff-web-ID.sock with the
# BFF_* settings of the environment; fails unless every process is up.
ops_pool_start()
{
    local bin=$1 id=$2 n=${BFF_FCGI_PROCS:-4} user=${BFF_FCGI_USER-} pids rc=0 k
    local sock=$BFF_RUN_DIR/bff-web-$id.sock pidf=$BFF_RUN_DIR/bff-web-$id.pid
    local errlog=$BFF_LOG_DIR/fcgi-stderr.log
    local -a args envv=()
    [[ $n =~ ^[1-9][0-9]*$ ]] || ops_die "BFF_FCGI_PROCS must be a positive integer"
    [[ -x $bin ]] || ops_die "$bin is not executable"
    if [[ -z ${BFF_FCGI_USER+set} && $(id -u) -eq 0 ]]; then
        user=bff
    fi
    mkdir -p "$BFF_RUN_DIR" "$BFF_LOG_DIR"
    touch "$errlog"
    [[ -n $user ]] && chown "$user:" "$errlog" 2>/dev/null
    rm -f "$sock" "$pidf"
    args=(-s "$sock" -M 0660 -F "$n" -P "$pidf" -d /)
    [[ -n $user ]] && args+=(-u "$user" -g "$(id -gn "$user")")
    # Only the app's BFF_* settings reach it, as with the systemd unit.
    for k in $(compgen -e); do
        [[ $k == BFF_* ]] && ! ops_is_knob "$k" && envv+=("$k=${!k}")
    done
    # spawn-fcgi points the children's stdout/stderr at /dev/null; the sh
    # wrapper (replaced by exec) sends them to fcgi-stderr.log instead.
    # shellcheck disable=SC2016,SC2094 # $1 and $2 belong to the wrapper
    env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TZ=UTC "${envv[@]}" \
        spawn-fcgi "${args[@]}" -- /bin/sh -c 'exec "$1" >>"$2" 2>&1' bff-fcgi "$bin" "$errlog" \
        >/dev/null 2>>"$errlog" 9>&- || rc=$?
    sleep 0.3
    pids=$(ops_pidfile_pids "$pidf")
    if [[ $rc -ne 0 || $(wc -w <<<"$pids") -ne $n ]]; then
        # shellcheck disable=SC2086
        [[ -n $pids ]] && kill -KILL $pids 2>/dev/null
        rm -f "$sock" "$pidf"
        tail -n 20 "$errlog" >&2
        ops_die "the new FastCGI pool did not start (spawn-fcgi exit $rc, $(wc -w <<<"$pids")/$n alive)"
    fi
}

# ops_pool_stop PIDFILE — SIGTERM the pool, wait for it (each process
# finishes its request first), SIGKILL after BFF_STOP_TIMEOUT seconds.
ops_pool_stop()
{
    local pidf=$1 secs=${BFF_STOP_TIMEOUT:-30} pids i base
    pids=$(ops_pidfile_pids "$pidf")
    if [[ -n $pids ]]; then
        # shellcheck disable=SC2086
        kill -TERM $pids 2>/dev/null || true
        for ((i = 0; i < secs * 10; i++)); do
            pids=$(ops_pidfile_pids "$pidf")
            [[ -z $pids ]] && break
            sleep 0.1
        done
        if [[ -n $pids ]]; then
            ops_warn "pool still running after ${secs}s, sending SIGKILL: ${pids//$'\n'/ }"
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
        fi
    fi
    base=${pidf%.pid}
    if [[ $base == "$BFF_RUN_DIR"/bff-web-* ]]; then
        rm -f "$pidf" "$base.sock"
    fi
}

# ops_pool_reload BIN — the graceful reload described above; BIN is the
# release's bff-fcgi.
ops_pool_reload()
{
    local bin=$1 id old tmp
    id=$(date -u +%Y%m%d%H%M%S)-$$
    old=$(ops_pool_live_pidfile)
    ops_say "starting ${BFF_FCGI_PROCS:-4} x $bin on $BFF_RUN_DIR/bff-web-$id.sock"
    ops_pool_start "$bin" "$id"
    tmp=$BFF_RUN_DIR/.bff.sock.$$
    ln -sfn "bff-web-$id.sock" "$tmp"
    mv -T "$tmp" "$BFF_RUN_DIR/bff.sock"
    ops_say "switched $BFF_RUN_DIR/bff.sock to bff-web-$id.sock"
    if [[ -n $old && -f $old ]]; then
        sleep "${BFF_DRAIN_SECONDS:-2}"
        ops_say "stopping the old pool ($(ops_pidfile_pids "$old" | paste -sd' ' -))"
        ops_pool_stop "$old"
    fi
}

# ops_restart_daemon NAME BIN — restart a bff-worker/bff-beat that runs from a
# pid file in BFF_RUN_DIR with the new release's binary, same arguments and
# user. Nothing to do when it does not run that way.
ops_restart_daemon()
{
    local name=$1 bin=$2 pidf pid user k
    local -a args=() envv=()
    for pidf in "$BFF_RUN_DIR/$name.pid" "$BFF_RUN_DIR/${name#bff-}.pid"; do
        pid=$(ops_pidfile_pids "$pidf")
        pid=${pid%%$'\n'*}
        [[ -n $pid ]] && break
    done
    [[ -n $pid ]] || return 0
    if [[ ! -x $bin ]]; then
        ops_warn "$name runs (pid $pid) but the release has no $bin: left running"
        return 0
    fi
    mapfile -d '' -t args <"/proc/$pid/cmdline"
    args=("${args[@]:1}")
    user=$(stat -c %U "/proc/$pid")
    ops_say "restarting $name (pid $pid) as $bin ${args[*]}"
    kill -TERM "$pid"
    for ((k = 0; k < ${BFF_STOP_TIMEOUT:-30} * 10; k++)); do
        ops_pid_alive "$pid" || break
        sleep 0.1
    done
    ops_pid_alive "$pid" && kill -KILL "$pid"
    for k in $(compgen -e); do
        [[ $k == BFF_* ]] && ! ops_is_knob "$k" && envv+=("$k=${!k}")
    done
    if [[ $(id -u) -eq 0 && $user != root ]]; then
        setsid runuser -u "$user" -- env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TZ=UTC \
            "${envv[@]}" "$bin" "${args[@]}" </dev/null >>"$BFF_LOG_DIR/$name-stderr.log" 2>&1 9>&- &
    else
        setsid env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TZ=UTC \
            "${envv[@]}" "$bin" "${args[@]}" </dev/null >>"$BFF_LOG_DIR/$name-stderr.log" 2>&1 9>&- &
    fi
    echo "$!" >"$pidf"
}

# ops_use_systemd — true when bff runs as systemd units here
# (BFF_SERVICE_MANAGER=systemd|pidfile|auto; auto: systemd is running and
# knows bff-web.service, so a dev stack on a systemd machine is pidfile).
ops_use_systemd()
{
    case ${BFF_SERVICE_MANAGER:-auto} in
    systemd) return 0 ;;
    pidfile) return 1 ;;
    *) ops_have_systemd && systemctl cat bff-web.service >/dev/null 2>&1 ;;
    esac
}

# ops_reload_services RELEASE_DIR — reload the web pool the way this host
# runs it, then restart the worker and the scheduler (each finishes its job
# first) on the release's binaries.
ops_reload_services()
{
    local rel=$1
    if ops_use_systemd; then
        ops_say "systemctl reload bff-web; systemctl try-restart bff-worker bff-beat"
        systemctl reload bff-web || ops_die "systemctl reload bff-web failed"
        systemctl try-restart bff-worker bff-beat || ops_die "restarting bff-worker/bff-beat failed"
        return 0
    fi
    ops_pool_reload "$rel/bin/bff-fcgi"
    ops_restart_daemon bff-worker "$rel/bin/bff-worker"
    ops_restart_daemon bff-beat "$rel/bin/bff-beat"
}

# ops_wait_version VERSION SECS — poll $BFF_URL/health/ until it reports
# VERSION; fails after SECS seconds.
ops_wait_version()
{
    local want=$1 secs=$2 i got=
    for ((i = 0; i < secs * 5; i++)); do
        got=$(curl -s --max-time 2 "$BFF_URL/health/" | jq -r '.version // empty' 2>/dev/null) || got=
        [[ $got == "$want" ]] && return 0
        sleep 0.2
    done
    ops_warn "$BFF_URL/health/ reports version '${got:-?}', expected '$want'"
    return 1
}
