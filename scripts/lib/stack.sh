# shellcheck shell=bash
#
# scripts/lib/stack.sh — a private bff stack in one state directory:
# PostgreSQL, Redis, the spawn-fcgi pool of bff-fcgi and nginx, each started
# and stopped by pid file, no systemd. Sourced by scripts/dev,
# scripts/stackctl, bench/ and the reliability tests; it only defines
# functions and never changes shell options.
#
# State directory ($STACK_STATE):
#   stack.env     STACK_* settings of this stack (ports, paths, user); sourced
#                 by stack_load, never by the app
#   env           `export BFF_...=` lines for bff-fcgi, bffctl and tests
#   test.env      BFF_TEST_* for a test stack (scripts/dev test)
#   run/          bff.sock (FastCGI), fcgi.pid (one child pid per line),
#                 redis.pid, nginx.pid, PostgreSQL's unix socket
#   log/          postgresql.log redis.log nginx-error.log nginx-access.log
#                 application.log error.log (bff-fcgi, bffctl)
#                 fcgi-stderr.log (anything bff-fcgi writes to stdout/stderr)
#   pg/data/      the PostgreSQL cluster
#   redis/        redis.conf and Redis's working directory
#   nginx/        nginx.conf rendered from nginx/bff.conf.in, tmp/
#   bin/, web/    copies of bff-fcgi and web/ when the service user cannot
#                 reach the originals (e.g. a checkout under /root)
#
# Dev/test only: PostgreSQL trusts every local and loopback connection
# (pg_hba "trust"); Redis has no password. Everything listens on 127.0.0.1.
#
# When run as root, PostgreSQL, Redis, the bff-fcgi processes and nginx's
# workers run as the unprivileged system user `bff` (created if missing):
# initdb and postgres refuse root, and nothing else needs it either.

STACK_SVC_USER=bff
STACK_PACKAGES=(
    build-essential autoconf automake libtool pkg-config
    libfcgi-dev libpq-dev libhiredis-dev libyajl-dev check libsodium-dev
    libcurl4-openssl-dev
    postgresql-15 redis-server nginx-light spawn-fcgi
    curl jq iproute2 procps
    systemd logrotate shellcheck python3-yaml # t/check_ops_*.sh: unit, logrotate, script, OpenAPI checks
    chromium fonts-dejavu-core nodejs npm
)
STACK_SAFE_PATH='^/[A-Za-z0-9._/+-]*$'

stack_say() { printf 'bff: %s\n' "$*" >&2; }
stack_warn() { printf 'bff: warning: %s\n' "$*" >&2; }
stack_die()
{
    printf 'bff: error: %s\n' "$*" >&2
    exit 1
}

stack_is_root() { [[ $(id -u) -eq 0 ]]; }

# Variables that steer these scripts, not the app: never written to the env
# file nor passed to bff-fcgi.
stack_is_knob()
{
    case $1 in
    BFF_TEST_* | BFF_DEV_* | BFF_KEEP | BFF_HTTP_PORT | BFF_PG_PORT | BFF_REDIS_PORT | \
        BFF_FCGI_PROCS | BFF_FCGI_BIN | BFF_PG_BINDIR | BFF_SUPERUSER_PASSWORD)
        return 0
        ;;
    esac
    return 1
}

# ---------------------------------------------------------------- packages

# Print the Debian packages of STACK_PACKAGES that are not installed.
stack_missing_packages()
{
    local p st
    for p in "${STACK_PACKAGES[@]}"; do
        if [[ $p == nginx-light ]] && { command -v nginx || [[ -x /usr/sbin/nginx ]]; } >/dev/null; then
            continue # any nginx flavour will do
        fi
        if [[ $p == npm ]] && command -v npm >/dev/null; then
            continue # nodejs builds that bundle npm (t/check_browser.sh needs it)
        fi
        st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) || st=
        [[ $st == installed ]] || printf '%s\n' "$p"
    done
}

# Install what is missing: apt-get update once, then install, as root only.
# Services are kept from auto-starting during the install (policy-rc.d) so a
# distro PostgreSQL/Redis/nginx does not take the dev stack's ports.
stack_install_packages()
{
    local missing policy=/usr/sbin/policy-rc.d made_policy=0 rc=0
    mapfile -t missing < <(stack_missing_packages)
    [[ ${#missing[@]} -eq 0 ]] && return 0
    if ! stack_is_root; then
        stack_die "missing Debian packages: ${missing[*]} (run as root or: sudo apt-get install ${missing[*]})"
    fi
    stack_say "installing ${missing[*]}"
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\n# temporary, scripts/lib/stack.sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        made_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || rc=$?
    if [[ $rc -eq 0 ]]; then
        apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
    fi
    [[ $made_policy -eq 1 ]] && rm -f "$policy"
    [[ $rc -eq 0 ]] || stack_die "apt-get failed installing: ${missing[*]}"
    mapfile -t missing < <(stack_missing_packages)
    [[ ${#missing[@]} -eq 0 ]] || stack_die "still missing after apt-get: ${missing[*]}"
}

# ------------------------------------------------------------------- build

# autoreconf when configure is missing or older than configure.ac, configure
# when Makefile/config.status are missing or stale, then make -j2 (in-tree).
stack_build()
{
    local src=$1
    (
        cd "$src" || exit 1
        mkdir -p m4 # AC_CONFIG_MACRO_DIRS; git does not keep empty dirs
        if [[ ! -x configure || configure.ac -nt configure ]]; then
            stack_say "autoreconf -fi"
            autoreconf -fi || exit 1
        fi
        if [[ ! -f Makefile || ! -f config.status || configure -nt config.status ]]; then
            stack_say "./configure --enable-werror"
            ./configure -q --enable-werror || exit 1
        fi
        stack_say "make -j2"
        make -j2 || exit 1
    ) || stack_die "build failed (see the output above)"
}

# ------------------------------------------------------------- processes

# True when pid is a live process (zombies count as gone: PID 1 here may
# reap orphans late).
stack_alive()
{
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

# stack_is PID NAME — alive and its command name is NAME: a pid file may be
# stale and pids are reused soon (pid_max is 32768 here).
stack_is()
{
    local comm
    stack_alive "$1" || return 1
    comm=$(cat "/proc/$1/comm" 2>/dev/null) || return 1
    [[ $comm == "${2:0:15}" ]]
}

# Wait up to $1 seconds until none of the pids is alive.
stack_wait_gone()
{
    local secs=$1 pid i any
    shift
    for ((i = 0; i < secs * 10; i++)); do
        any=0
        for pid in "$@"; do stack_alive "$pid" && any=1; done
        [[ $any -eq 0 ]] && return 0
        sleep 0.1
    done
    return 1
}

# SIGTERM the pids, wait up to $1 s, then SIGKILL what is left.
stack_kill()
{
    local secs=$1 pid live=()
    shift
    for pid in "$@"; do stack_alive "$pid" && live+=("$pid"); done
    [[ ${#live[@]} -eq 0 ]] && return 0
    kill -TERM "${live[@]}" 2>/dev/null || true
    stack_wait_gone "$secs" "${live[@]}" && return 0
    stack_warn "still running after ${secs}s, sending SIGKILL: ${live[*]}"
    kill -KILL "${live[@]}" 2>/dev/null || true
    stack_wait_gone 5 "${live[@]}"
}

# Run a command as the service user (as is when not root), from / so that a
# checkout the user cannot enter is not its working directory.
stack_as_user()
{
    if [[ -n ${STACK_USER:-} ]]; then
        (cd / && runuser -u "$STACK_USER" -- "$@")
    else
        (cd / && "$@")
    fi
}

# True when the service user can search/read path (ancestors included).
stack_user_can_reach()
{
    [[ -n ${STACK_USER:-} ]] || return 0
    stack_as_user test -r "$1" 2>/dev/null && stack_as_user test -x "$1" 2>/dev/null
}

stack_ensure_user()
{
    stack_is_root || return 0
    id -u "$STACK_SVC_USER" >/dev/null 2>&1 && return 0
    stack_say "creating system user $STACK_SVC_USER"
    useradd --system --user-group --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin "$STACK_SVC_USER" ||
        stack_die "useradd $STACK_SVC_USER failed"
}

# Wait up to $1 seconds for a command to succeed.
stack_wait_for()
{
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# ------------------------------------------------------------------ ports

stack_port_in_use()
{
    [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]
}

# Print a free loopback TCP port not in STACK_PORTS_TAKEN, below the
# kernel's ephemeral range (ip_local_port_range, 32768-60999 here): a port
# in that range may be the local end of some client connection by the time
# the server binds it ("Address already in use" under load). No socket in
# any state may hold it. It runs in $(...), so the caller adds the port to
# STACK_PORTS_TAKEN.
STACK_PORTS_TAKEN=()
stack_free_port()
{
    local i p lo=20000 hi=32767 eph
    read -r eph _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph=32768
    [[ $eph =~ ^[0-9]+$ && $eph -gt 21000 ]] && hi=$((eph - 1))
    for ((i = 0; i < 200; i++)); do
        p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
        [[ " ${STACK_PORTS_TAKEN[*]} " == *" $p "* ]] && continue
        stack_port_in_use "$p" && continue
        [[ -n $(ss -Htan "sport = :$p" 2>/dev/null) ]] && continue
        printf '%s\n' "$p"
        return 0
    done
    stack_die "no free TCP port found in $lo-$hi"
}

# ------------------------------------------------------- stack definition

stack_pg_bindir()
{
    local d
    if [[ -n ${BFF_PG_BINDIR:-} ]]; then
        printf '%s\n' "$BFF_PG_BINDIR"
        return
    fi
    if [[ -x /usr/lib/postgresql/15/bin/postgres ]]; then
        printf '%s\n' /usr/lib/postgresql/15/bin
        return
    fi
    d=$(find /usr/lib/postgresql -maxdepth 3 -path '*/bin/postgres' 2>/dev/null | sort -V | tail -n 1)
    [[ -n $d ]] || stack_die "PostgreSQL server binaries not found (apt-get install postgresql-15)"
    dirname "$d"
}

# A state directory must be an absolute path of plain characters (it is
# pasted into nginx, Redis and PostgreSQL configs) and short enough for a
# unix socket path (108 bytes).
stack_state_path_ok()
{
    local s=$1 sock=/run/.s.PGSQL.65535.lock
    [[ $s =~ $STACK_SAFE_PATH ]] || return 1
    [[ $((${#s} + ${#sock})) -lt 100 ]]
}

# Quote a value for a shell `export` line.
stack_q() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# stack_init STATE KIND — create the state directory and write stack.env
# and env. KIND is dev or test. The caller sets STACK_SRCDIR,
# STACK_BUILDDIR, STACK_HTTP_PORT, STACK_PG_PORT, STACK_REDIS_PORT and
# optionally STACK_FCGI_PROCS, STACK_FCGI_BIN. BFF_* app variables in the
# environment are copied into env, except the ones that tie the app to this
# stack (database, Redis, logs, metrics segment), which env always sets.
# STACK_PG_EXTRA_CONF / STACK_REDIS_EXTRA_CONF, when set at start time, are
# lines appended to the PostgreSQL / Redis config (bench/run's tuning).
stack_init()
{
    local state=$1 kind=$2 d f
    stack_state_path_ok "$state" ||
        stack_die "state directory '$state' must be a short absolute path of [A-Za-z0-9._/+-]"
    stack_ensure_user
    STACK_STATE=$state
    STACK_KIND=$kind
    STACK_USER=
    stack_is_root && STACK_USER=$STACK_SVC_USER
    STACK_FCGI_PROCS=${STACK_FCGI_PROCS:-${BFF_FCGI_PROCS:-4}}
    STACK_FCGI_BIN=${STACK_FCGI_BIN:-${BFF_FCGI_BIN:-$STACK_BUILDDIR/fcgi/bff-fcgi}}
    STACK_PGBIN=$(stack_pg_bindir)
    STACK_MAX_BODY=${BFF_MAX_BODY:-262144}
    if [[ $kind == test ]]; then
        STACK_METRICS_SHM=/bff-metrics-${state##*/}
    else
        STACK_METRICS_SHM=/bff-metrics-dev-$(printf '%s' "$state" | sha1sum | cut -c1-10)
    fi
    [[ $STACK_FCGI_PROCS =~ ^[1-9][0-9]*$ ]] || stack_die "BFF_FCGI_PROCS must be a positive integer"
    [[ $STACK_MAX_BODY =~ ^[1-9][0-9]*$ ]] || stack_die "BFF_MAX_BODY must be a positive integer"
    for d in "$STACK_HTTP_PORT" "$STACK_PG_PORT" "$STACK_REDIS_PORT"; do
        [[ $d =~ ^[1-9][0-9]*$ && $d -lt 65536 ]] || stack_die "bad port number '$d'"
    done
    [[ $STACK_SRCDIR =~ $STACK_SAFE_PATH ]] ||
        stack_die "source directory '$STACK_SRCDIR' must be a path of [A-Za-z0-9._/+-]"

    mkdir -p "$state"/{run,log,pg,redis,nginx/tmp,bin,web}
    chmod 755 "$state" "$state"/{run,log,pg,redis,nginx,bin,web}
    for f in postgresql.log redis.log application.log error.log fcgi-stderr.log; do
        touch "$state/log/$f"
        chmod 664 "$state/log/$f"
    done
    if [[ -n $STACK_USER ]]; then
        chown "$STACK_USER:$STACK_USER" "$state"/{run,log,pg,redis} \
            "$state"/log/{postgresql,redis,application,error,fcgi-stderr}.log
        stack_as_user test -w "$state/run" ||
            stack_die "user $STACK_USER cannot reach $state (a parent directory is not searchable)"
    fi
    stack_write_stack_env
    stack_write_env
}

stack_write_stack_env()
{
    local v
    {
        echo "# scripts/lib/stack.sh settings of this stack; see scripts/stackctl"
        for v in STACK_STATE STACK_KIND STACK_SRCDIR STACK_BUILDDIR STACK_USER \
            STACK_HTTP_PORT STACK_PG_PORT STACK_REDIS_PORT STACK_FCGI_PROCS \
            STACK_FCGI_BIN STACK_PGBIN STACK_MAX_BODY STACK_METRICS_SHM; do
            printf '%s=%s\n' "$v" "$(stack_q "${!v}")"
        done
    } >"$STACK_STATE/stack.env.tmp"
    mv "$STACK_STATE/stack.env.tmp" "$STACK_STATE/stack.env"
}

stack_write_env()
{
    local n s=$STACK_STATE
    local -A vals=()
    for n in $(compgen -e); do
        [[ $n == BFF_* ]] && ! stack_is_knob "$n" && vals[$n]=${!n}
    done
    vals[BFF_DATABASE_URL]="host=127.0.0.1 port=$STACK_PG_PORT dbname=bff user=bff"
    vals[BFF_REDIS_URL]="redis://127.0.0.1:$STACK_REDIS_PORT/0"
    vals[BFF_LOG_FILE]=$s/log/application.log
    vals[BFF_ERROR_LOG_FILE]=$s/log/error.log
    vals[BFF_METRICS_SHM]=$STACK_METRICS_SHM
    vals[BFF_MAX_BODY]=$STACK_MAX_BODY
    vals[BFF_ENV]=${vals[BFF_ENV]:-development}
    {
        echo "# bff environment of the $STACK_KIND stack in $s"
        echo "# (generated by scripts/lib/stack.sh). Use: . $s/env"
        for n in $(printf '%s\n' "${!vals[@]}" | sort); do
            printf 'export %s=%s\n' "$n" "$(stack_q "${vals[$n]}")"
        done
    } >"$s/env.tmp"
    mv "$s/env.tmp" "$s/env"
}

# stack_load STATE — read a stack made by stack_init.
stack_load()
{
    local state=$1
    [[ -f $state/stack.env ]] || stack_die "$state is not a bff stack (no stack.env)"
    # shellcheck source=/dev/null
    . "$state/stack.env"
}

# Print NUL-separated NAME=VALUE pairs for bff-fcgi: the env file, overridden
# by BFF_* variables exported in the caller's environment (knobs excepted).
stack_app_env()
{
    (
        local n
        local -A ov=()
        for n in $(compgen -e); do
            [[ $n == BFF_* ]] && ! stack_is_knob "$n" && ov[$n]=${!n}
        done
        for n in $(compgen -e); do
            [[ $n == BFF_* ]] && unset "$n"
        done
        set -a
        # shellcheck source=/dev/null
        . "$STACK_STATE/env"
        set +a
        for n in "${!ov[@]}"; do export "$n=${ov[$n]}"; done
        for n in $(compgen -e); do
            [[ $n == BFF_* ]] && ! stack_is_knob "$n" && printf '%s=%s\0' "$n" "${!n}"
        done
        true
    )
}

stack_tail()
{
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        printf -- '---- last lines of %s ----\n' "$f" >&2
        tail -n 30 "$f" >&2
    done
}

# ------------------------------------------------------------- PostgreSQL

stack_pg_pid()
{
    local f=$STACK_STATE/pg/data/postmaster.pid pid
    [[ -f $f ]] || return 1
    read -r pid <"$f" || return 1
    stack_is "$pid" postgres || return 1
    printf '%s\n' "$pid"
}

# Processes left over from a postmaster that died (kill -9): its backends,
# found by their working directory, the data directory.
stack_pg_leftovers()
{
    local data=$STACK_STATE/pg/data p pid
    for p in /proc/[0-9]*; do
        pid=${p#/proc/}
        [[ $(readlink "$p/cwd" 2>/dev/null) == "$data" ]] && stack_alive "$pid" && echo "$pid"
    done
    return 0
}

# After a crash: wait for the dead postmaster's backends to go (they exit when
# it dies), kill any that do not, and drop lock files naming a pid that is no
# postgres any more (a zombie, or reused: postgres would take either for a
# running server). Called only when no postmaster of this stack runs.
stack_pg_cleanup()
{
    local f left pid
    left=$(stack_pg_leftovers)
    if [[ -n $left ]]; then
        stack_warn "waiting for leftover postgres processes: ${left//$'\n'/ }"
        # shellcheck disable=SC2086
        stack_wait_gone 10 $left || stack_kill 5 $left || true
    fi
    for f in "$STACK_STATE/pg/data/postmaster.pid" "$STACK_STATE/run/.s.PGSQL.$STACK_PG_PORT.lock"; do
        pid=
        [[ -f $f ]] && read -r pid <"$f"
        if [[ -n $pid ]] && ! stack_is "$pid" postgres; then
            rm -f "$f"
        fi
    done
    return 0
}

stack_pg_conf()
{
    local fast=
    if [[ $STACK_KIND == test ]]; then
        # Test stacks only: survives a crash of postgres, not of the machine.
        fast=$'fsync = off\nfull_page_writes = off'
    fi
    cat <<EOF
# bff $STACK_KIND stack (scripts/lib/stack.sh); rewritten at every start
listen_addresses = '127.0.0.1'
port = $STACK_PG_PORT
unix_socket_directories = '$STACK_STATE/run'
max_connections = 100
shared_buffers = 128MB
timezone = 'UTC'
log_timezone = 'UTC'
shared_preload_libraries = 'pg_stat_statements'
$fast
${STACK_PG_EXTRA_CONF:-}
EOF
}

stack_start_postgres()
{
    local data=$STACK_STATE/pg/data log=$STACK_STATE/log/postgresql.log pid nosync=
    if pid=$(stack_pg_pid); then
        stack_say "postgres already running (pid $pid, port $STACK_PG_PORT)"
        return 0
    fi
    stack_pg_cleanup
    stack_port_in_use "$STACK_PG_PORT" &&
        stack_die "port $STACK_PG_PORT is in use (another PostgreSQL?); set BFF_PG_PORT"
    if [[ ! -f $data/PG_VERSION ]]; then
        stack_say "initdb $data"
        rm -rf "$data"
        mkdir -m 700 "$data"
        [[ -n $STACK_USER ]] && chown "$STACK_USER:$STACK_USER" "$data"
        [[ $STACK_KIND == test ]] && nosync=--no-sync
        stack_as_user "$STACK_PGBIN/initdb" -D "$data" -U bff -A trust -E UTF8 --no-locale \
            $nosync >"$STACK_STATE/log/initdb.log" 2>&1 || {
            stack_tail "$STACK_STATE/log/initdb.log"
            stack_die "initdb failed"
        }
        cat >"$data/pg_hba.conf" <<'EOF'
# bff dev/test stack only: trust on the unix socket and loopback.
local   all          all                 trust
host    all          all   127.0.0.1/32  trust
host    all          all   ::1/128       trust
local   replication  all                 trust
host    replication  all   127.0.0.1/32  trust
EOF
        echo "include_if_exists = 'bff.conf'" >>"$data/postgresql.conf"
    fi
    stack_pg_conf >"$data/bff.conf"
    [[ -n $STACK_USER ]] && chown "$STACK_USER:$STACK_USER" "$data/bff.conf" "$data/pg_hba.conf"
    stack_say "starting postgres on 127.0.0.1:$STACK_PG_PORT"
    if ! stack_as_user "$STACK_PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 30 -s start; then
        stack_tail "$log"
        stack_die "postgres did not start"
    fi
    if ! stack_wait_for 30 "$STACK_PGBIN/pg_isready" -q -h 127.0.0.1 -p "$STACK_PG_PORT" -U bff -d bff; then
        stack_tail "$log"
        stack_die "postgres not ready after 30s"
    fi
    if [[ $(stack_psql postgres "SELECT 1 FROM pg_database WHERE datname = 'bff'") != 1 ]]; then
        "$STACK_PGBIN/createdb" -h 127.0.0.1 -p "$STACK_PG_PORT" -U bff -O bff bff ||
            stack_die "createdb bff failed"
    fi
}

# stack_psql DB SQL — one query, unaligned tuples only.
stack_psql()
{
    "$STACK_PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$STACK_PG_PORT" -U bff \
        -d "$1" -tAc "$2"
}

stack_stop_postgres()
{
    local pid kids
    if ! pid=$(stack_pg_pid); then
        stack_say "postgres not running"
        stack_pg_cleanup
        return 0
    fi
    stack_say "stopping postgres (pid $pid)"
    if ! stack_as_user "$STACK_PGBIN/pg_ctl" -D "$STACK_STATE/pg/data" -m fast -w -t 20 -s stop; then
        kids=$(pgrep -P "$pid" | tr '\n' ' ') || true
        # shellcheck disable=SC2086
        stack_kill 5 "$pid" $kids
    fi
    stack_wait_gone 10 "$pid" || stack_die "postgres (pid $pid) did not stop"
    stack_pg_cleanup
}

# ------------------------------------------------------------------ Redis

stack_redis_pid()
{
    local f=$STACK_STATE/run/redis.pid pid
    [[ -f $f ]] || return 1
    read -r pid <"$f" || return 1
    stack_is "$pid" redis-server || return 1
    printf '%s\n' "$pid"
}

stack_redis_ping()
{
    [[ $(redis-cli -h 127.0.0.1 -p "$STACK_REDIS_PORT" ping 2>/dev/null) == PONG ]]
}

stack_start_redis()
{
    local s=$STACK_STATE conf=$STACK_STATE/redis/redis.conf pid
    if pid=$(stack_redis_pid); then
        stack_say "redis already running (pid $pid, port $STACK_REDIS_PORT)"
        return 0
    fi
    stack_port_in_use "$STACK_REDIS_PORT" &&
        stack_die "port $STACK_REDIS_PORT is in use (another Redis?); set BFF_REDIS_PORT"
    cat >"$conf" <<EOF
# bff $STACK_KIND stack (scripts/lib/stack.sh); rewritten at every start
bind 127.0.0.1
port $STACK_REDIS_PORT
protected-mode yes
daemonize yes
supervised no
pidfile $s/run/redis.pid
logfile $s/log/redis.log
dir $s/redis
save ""
appendonly no
${STACK_REDIS_EXTRA_CONF:-}
EOF
    rm -f "$s/run/redis.pid"
    stack_say "starting redis on 127.0.0.1:$STACK_REDIS_PORT"
    stack_as_user redis-server "$conf" || {
        stack_tail "$s/log/redis.log"
        stack_die "redis-server failed"
    }
    if ! stack_wait_for 10 stack_redis_ping || ! stack_redis_pid >/dev/null; then
        stack_tail "$s/log/redis.log"
        stack_die "redis not answering PING after 10s"
    fi
}

stack_stop_redis()
{
    local pid
    if ! pid=$(stack_redis_pid); then
        stack_say "redis not running"
        return 0
    fi
    stack_say "stopping redis (pid $pid)"
    stack_kill 10 "$pid" || stack_die "redis (pid $pid) did not stop"
    rm -f "$STACK_STATE/run/redis.pid"
}

# ------------------------------------------------------ the FastCGI pool

# The pool is bff-fcgi --workers N started by spawn-fcgi -F 1: a master
# (the pid in run/fcgi.pid) that forks N workers, respawns any that dies and
# stops them on SIGTERM (fcgi/master.h); run/fcgi.workers marks that mode.
# Another FastCGI program (BFF_FCGI_BIN) runs as spawn-fcgi -F N, whose
# pid file lists every child.
stack_fcgi_supervised() { [[ ${1##*/} == bff-fcgi ]]; }

# True when pid is alive and runs the program $2 (a pid may be reused).
stack_fcgi_is()
{
    local arg0
    stack_alive "$1" || return 1
    arg0=$(tr '\0' '\n' <"/proc/$1/cmdline" 2>/dev/null | head -n 1) || return 1
    [[ $arg0 == "$2" ]]
}

# Live pids of the pool: each pid of run/fcgi.pid that still runs the
# program recorded in run/fcgi.bin, followed by its workers when it is a
# master.
stack_fcgi_pids()
{
    local f=$STACK_STATE/run/fcgi.pid pid bin kid
    [[ -f $f && -f $STACK_STATE/run/fcgi.bin ]] || return 0
    read -r bin <"$STACK_STATE/run/fcgi.bin" || return 0
    while read -r pid || [[ -n $pid ]]; do
        stack_fcgi_is "$pid" "$bin" || continue
        printf '%s\n' "$pid"
        for kid in $(pgrep -P "$pid"); do
            if stack_fcgi_is "$kid" "$bin"; then printf '%s\n' "$kid"; fi
        done
    done <"$f"
    return 0
}

# How many processes serve requests (a master does not).
stack_fcgi_nworkers()
{
    local n
    n=$(stack_fcgi_pids | wc -l)
    [[ $n -gt 0 && -f $STACK_STATE/run/fcgi.workers ]] && n=$((n - 1))
    echo "$n"
}

stack_start_fcgi()
{
    local s=$STACK_STATE bin=$STACK_FCGI_BIN pids envv=() args=() rc=0 pid f i
    local sock=$STACK_STATE/run/bff.sock errlog=$STACK_STATE/log/fcgi-stderr.log
    local nspawn=$STACK_FCGI_PROCS wargs=()
    pids=$(stack_fcgi_pids)
    if [[ -n $pids ]]; then
        stack_say "fcgi pool already running (pids ${pids//$'\n'/ })"
        return 0
    fi
    [[ -x $bin ]] || stack_die "FastCGI program $bin not found (did the build fail?)"
    if ! stack_user_can_reach "$bin"; then
        install -m 755 "$bin" "$s/bin/bff-fcgi"
        bin=$s/bin/bff-fcgi
    fi
    for f in application.log error.log fcgi-stderr.log; do
        touch "$s/log/$f"
        [[ -n $STACK_USER ]] && chown "$STACK_USER:$STACK_USER" "$s/log/$f"
    done
    rm -f "$sock" "$s/run/fcgi.pid" "$s/run/fcgi.workers"
    printf '%s\n' "$bin" >"$s/run/fcgi.bin"
    if stack_fcgi_supervised "$bin"; then
        nspawn=1
        wargs=(--workers "$STACK_FCGI_PROCS")
        echo "$STACK_FCGI_PROCS" >"$s/run/fcgi.workers"
    fi
    mapfile -d '' -t envv < <(stack_app_env)
    # Sanitizer settings reach a sanitizer build of the pool (the
    # reliability suite's memory scenario).
    [[ -n ${ASAN_OPTIONS:-} ]] && envv+=("ASAN_OPTIONS=$ASAN_OPTIONS")
    [[ -n ${LSAN_OPTIONS:-} ]] && envv+=("LSAN_OPTIONS=$LSAN_OPTIONS")
    args=(-s "$sock" -M 0660 -F "$nspawn" -P "$s/run/fcgi.pid" -d "$s")
    [[ -n $STACK_USER ]] && args+=(-u "$STACK_USER" -g "$STACK_USER")
    stack_say "starting $STACK_FCGI_PROCS x $(basename "$bin") on unix:$sock"
    # spawn-fcgi points the children's stdout/stderr at /dev/null; the sh
    # wrapper (replaced by exec) sends them to fcgi-stderr.log instead.
    # shellcheck disable=SC2016 # $1 and $2 are the wrapper's
    env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TZ=UTC "${envv[@]}" \
        spawn-fcgi "${args[@]}" -- /bin/sh -c 'b=$1 l=$2; shift 2; exec "$b" "$@" >>"$l" 2>&1' \
        bff-fcgi "$bin" "$errlog" "${wargs[@]}" >>"$s/log/spawn-fcgi.log" 2>&1 || rc=$?
    for ((i = 0; i < 30; i++)); do
        sleep 0.1
        [[ $(stack_fcgi_nworkers) -eq $STACK_FCGI_PROCS ]] && break
    done
    pids=$(stack_fcgi_pids)
    if [[ $rc -ne 0 || $(stack_fcgi_nworkers) -ne $STACK_FCGI_PROCS ]]; then
        stack_tail "$s/log/spawn-fcgi.log" "$errlog" "$s/log/error.log"
        for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
        stack_die "the FastCGI pool did not start (spawn-fcgi exit $rc, $(stack_fcgi_nworkers)/$STACK_FCGI_PROCS alive)"
    fi
}

stack_stop_fcgi()
{
    local pids
    pids=$(stack_fcgi_pids)
    if [[ -z $pids ]]; then
        stack_say "fcgi pool not running"
    else
        stack_say "stopping fcgi pool (pids ${pids//$'\n'/ })"
        # shellcheck disable=SC2086
        stack_kill 10 $pids || stack_die "fcgi processes did not stop: ${pids//$'\n'/ }"
    fi
    rm -f "$STACK_STATE/run/bff.sock" "$STACK_STATE/run/fcgi.pid" "$STACK_STATE/run/fcgi.bin" \
        "$STACK_STATE/run/fcgi.workers"
}

# Graceful restart: a master re-executes its binary on SIGHUP, starts new
# workers on the same socket and retires the old ones after their request
# in flight. Waits (up to 30 s) until only new workers are left. Without a
# master: stop, then start.
stack_reload_fcgi()
{
    local master old new kid stale pids end
    mapfile -t pids < <(stack_fcgi_pids)
    if [[ ! -f $STACK_STATE/run/fcgi.workers || ${#pids[@]} -eq 0 ]]; then
        stack_stop_fcgi
        stack_start_fcgi
        return
    fi
    master=${pids[0]}
    old=${pids[*]:1}
    stack_say "graceful restart of the fcgi pool (master $master, workers $old)"
    kill -HUP "$master"
    end=$((SECONDS + 40))
    while ((SECONDS < end)); do
        sleep 0.1
        mapfile -t pids < <(stack_fcgi_pids)
        new=${pids[*]:1}
        stale=0
        for kid in $new; do [[ " $old " == *" $kid "* ]] && stale=1; done
        [[ $stale -eq 0 && $(wc -w <<<"$new") -eq $STACK_FCGI_PROCS ]] && return 0
    done
    stack_die "graceful restart: not done after 40 s (old workers $old; now ${pids[*]:-none}, want master + $STACK_FCGI_PROCS new workers)"
}

# ------------------------------------------------------------------ nginx

stack_nginx_pid()
{
    local f=$STACK_STATE/run/nginx.pid pid
    [[ -f $f ]] || return 1
    read -r pid <"$f" || return 1
    stack_is "$pid" nginx || return 1
    printf '%s\n' "$pid"
}

# The dashboard root: web/ of the checkout, or a copy in the state directory
# when the worker user cannot read the checkout.
stack_web_root()
{
    local web=$STACK_SRCDIR/web
    if [[ -d $web ]] && stack_user_can_reach "$web"; then
        printf '%s\n' "$web"
        return
    fi
    rm -rf "$STACK_STATE/web"
    mkdir -p "$STACK_STATE/web"
    [[ -d $web ]] && cp -R "$web/." "$STACK_STATE/web/"
    chmod -R a+rX "$STACK_STATE/web"
    printf '%s\n' "$STACK_STATE/web"
}

# Render nginx/bff.conf.in into $1.
stack_render_nginx()
{
    local out=$1 tpl=$STACK_SRCDIR/nginx/bff.conf.in user_directive web
    [[ -f $tpl ]] || stack_die "missing $tpl"
    if [[ -n $STACK_USER ]]; then
        user_directive="user $STACK_USER $STACK_USER;"
    else
        user_directive="# not started as root: workers run as the invoking user"
    fi
    web=$(stack_web_root)
    sed -e "s|@USER_DIRECTIVE@|$user_directive|g" \
        -e "s|@STATE@|$STACK_STATE|g" \
        -e "s|@HTTP_PORT@|$STACK_HTTP_PORT|g" \
        -e "s|@SOCKET@|$STACK_STATE/run/bff.sock|g" \
        -e "s|@WEB_ROOT@|$web|g" \
        -e "s|@MAX_BODY@|$STACK_MAX_BODY|g" \
        "$tpl" >"$out"
    if grep -n '^[^#]*@[A-Z_]*@' "$out" >&2; then
        stack_die "unsubstituted placeholders in $out"
    fi
}

stack_nginx() { nginx -p "$STACK_STATE/nginx/" -c "$STACK_STATE/nginx/nginx.conf" -e "$STACK_STATE/log/nginx-error.log" "$@"; }

stack_nginx_test()
{
    local out
    out=$(stack_nginx -t -q 2>&1) || {
        printf '%s\n' "$out" >&2
        stack_die "nginx -t failed for $STACK_STATE/nginx/nginx.conf"
    }
}

stack_start_nginx()
{
    local conf=$STACK_STATE/nginx/nginx.conf pid
    mkdir -p "$STACK_STATE/nginx/tmp"
    if pid=$(stack_nginx_pid); then
        stack_render_nginx "$conf.new"
        if cmp -s "$conf" "$conf.new"; then
            rm -f "$conf.new"
            stack_say "nginx already running (pid $pid, port $STACK_HTTP_PORT)"
        else
            mv "$conf.new" "$conf"
            stack_nginx_test
            stack_say "nginx config changed: reloading (pid $pid)"
            kill -HUP "$pid"
        fi
        return 0
    fi
    stack_port_in_use "$STACK_HTTP_PORT" &&
        stack_die "port $STACK_HTTP_PORT is in use; set BFF_HTTP_PORT"
    stack_render_nginx "$conf"
    stack_nginx_test
    rm -f "$STACK_STATE/run/nginx.pid"
    stack_say "starting nginx on http://127.0.0.1:$STACK_HTTP_PORT/"
    stack_nginx || {
        stack_tail "$STACK_STATE/log/nginx-error.log"
        stack_die "nginx did not start"
    }
    if ! stack_wait_for 10 stack_nginx_pid || ! stack_wait_for 10 stack_port_in_use "$STACK_HTTP_PORT"; then
        stack_tail "$STACK_STATE/log/nginx-error.log"
        stack_die "nginx not listening on $STACK_HTTP_PORT after 10s"
    fi
}

stack_stop_nginx()
{
    local pid kids
    if ! pid=$(stack_nginx_pid); then
        stack_say "nginx not running"
        return 0
    fi
    stack_say "stopping nginx (pid $pid)"
    # Workers outlive a SIGKILLed master: collect them first.
    kids=$(pgrep -P "$pid" | tr '\n' ' ') || true
    # shellcheck disable=SC2086
    stack_kill 10 "$pid" $kids || stack_die "nginx (pid $pid) did not stop"
    rm -f "$STACK_STATE/run/nginx.pid"
}

# ------------------------------------------------- bff-worker and bff-beat

# The job worker and the scheduler (SPEC §6): `scripts/dev up` starts them,
# test stacks do not (the suites start their own worker processes to
# control the timing; `scripts/stackctl STATE start worker` still can).
# Each runs in the foreground of a background process as the service user
# (setpriv execs, so $! is its pid), with the stack's env except that its
# JSON log goes to log/worker.log or log/beat.log (the runbook's
# celery.log); anything else it prints lands in log/NAME-stderr.log.

# Live pid of bff-NAME (worker|beat) from run/NAME.pid.
stack_daemon_pid()
{
    local f=$STACK_STATE/run/$1.pid pid
    [[ -f $f ]] || return 1
    read -r pid <"$f" || return 1
    stack_is "$pid" "bff-$1" || return 1
    printf '%s\n' "$pid"
}

# stack_start_daemon NAME ARGS... — start bff-NAME from worker/.
stack_start_daemon()
{
    local name=$1 s=$STACK_STATE pid f bin envv=() as=()
    shift
    bin=$STACK_BUILDDIR/worker/bff-$name
    if pid=$(stack_daemon_pid "$name"); then
        stack_say "bff-$name already running (pid $pid)"
        return 0
    fi
    [[ -x $bin ]] || stack_die "$bin not found (did the build fail?)"
    if ! stack_user_can_reach "$bin"; then
        install -m 755 "$bin" "$s/bin/bff-$name"
        bin=$s/bin/bff-$name
    fi
    for f in "$name.log" "$name-stderr.log" error.log; do
        touch "$s/log/$f"
        chmod 664 "$s/log/$f"
        [[ -n $STACK_USER ]] && chown "$STACK_USER:$STACK_USER" "$s/log/$f"
    done
    [[ -n $STACK_USER ]] && as=(setpriv --reuid="$STACK_USER" --regid="$STACK_USER" --init-groups --)
    mapfile -d '' -t envv < <(stack_app_env)
    stack_say "starting bff-$name $*"
    (cd / && exec env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TZ=UTC "${envv[@]}" \
        BFF_LOG_FILE="$s/log/$name.log" setsid "${as[@]}" "$bin" "$@" \
        </dev/null >>"$s/log/$name-stderr.log" 2>&1) &
    printf '%s\n' "$!" >"$s/run/$name.pid"
    sleep 0.3
    if ! stack_daemon_pid "$name" >/dev/null; then
        stack_tail "$s/log/$name-stderr.log" "$s/log/$name.log"
        stack_die "bff-$name did not start"
    fi
}

# SIGTERM lets the worker finish its running jobs: give it 30 s.
stack_stop_daemon()
{
    local pid
    if ! pid=$(stack_daemon_pid "$1"); then
        stack_say "bff-$1 not running"
        rm -f "$STACK_STATE/run/$1.pid"
        return 0
    fi
    stack_say "stopping bff-$1 (pid $pid)"
    # shellcheck disable=SC2046
    stack_kill 30 "$pid" $(pgrep -P "$pid") || stack_die "bff-$1 (pid $pid) did not stop"
    rm -f "$STACK_STATE/run/$1.pid"
}

stack_start_worker() { stack_start_daemon worker --concurrency 2; }
stack_stop_worker() { stack_stop_daemon worker; }
stack_start_beat() { stack_start_daemon beat; }
stack_stop_beat() { stack_stop_daemon beat; }

# True when bff-NAME runs an older binary than the build's.
stack_daemon_stale()
{
    [[ -f $STACK_STATE/run/$1.pid && $STACK_BUILDDIR/worker/bff-$1 -nt $STACK_STATE/run/$1.pid ]] &&
        stack_daemon_pid "$1" >/dev/null
}

# ------------------------------------------------------------ the stack

# GET /health/ through nginx until the app answers (any status but 502/504
# means nginx reached a FastCGI process). Fails after $1 seconds (15).
stack_check_http()
{
    local secs=${1:-15} i code=000 url="http://127.0.0.1:$STACK_HTTP_PORT/health/"
    for ((i = 0; i < secs * 5; i++)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url") || code=000
        case $code in
        000 | 502 | 504) sleep 0.2 ;;
        *) return 0 ;;
        esac
    done
    stack_tail "$STACK_STATE/log/nginx-error.log" "$STACK_STATE/log/fcgi-stderr.log" \
        "$STACK_STATE/log/error.log"
    stack_die "$url does not reach bff-fcgi (last status $code)"
}

STACK_SERVICES=(postgres redis fcgi nginx)

# stack_start SERVICE|all
stack_start()
{
    case $1 in
    all)
        stack_start_postgres
        stack_start_redis
        stack_start_fcgi
        stack_start_nginx
        stack_check_http 15
        if [[ $STACK_KIND == dev ]]; then
            stack_start_worker
            stack_start_beat
        fi
        ;;
    postgres | redis | fcgi | nginx | worker | beat) "stack_start_$1" ;;
    *) stack_die "unknown service '$1'" ;;
    esac
}

# stack_stop SERVICE|all — all stops every service even when one fails and
# removes the metrics segment.
stack_stop()
{
    local rc=0 svc
    case $1 in
    all)
        for svc in beat worker nginx fcgi redis postgres; do
            ("stack_stop_$svc") || rc=1
        done
        rm -f "/dev/shm/${STACK_METRICS_SHM#/}"
        return $rc
        ;;
    postgres | redis | fcgi | nginx | worker | beat) "stack_stop_$1" ;;
    *) stack_die "unknown service '$1'" ;;
    esac
}

# stack_signal SIGNAL SERVICE — SIGSTOP/SIGCONT a service (freeze tests).
stack_signal()
{
    local sig=$1 pids
    case $2 in
    postgres) pids=$(stack_pg_pid) && pids="$pids $(pgrep -P "$pids" | tr '\n' ' ')" ;;
    redis) pids=$(stack_redis_pid) ;;
    fcgi) pids=$(stack_fcgi_pids) ;;
    nginx) pids=$(stack_nginx_pid) && pids="$pids $(pgrep -P "$pids" | tr '\n' ' ')" ;;
    worker | beat) pids=$(stack_daemon_pid "$2") && pids="$pids $(pgrep -P "$pids" | tr '\n' ' ')" ;;
    *) stack_die "cannot $sig '$2'" ;;
    esac
    [[ -n ${pids// /} ]] || stack_die "$2 is not running"
    # shellcheck disable=SC2086
    kill -"$sig" $pids
}

# stack_status [SERVICE|all] — one line per service; 0 when all are up, 3
# when one is down.
stack_status()
{
    local which=${1:-all} svc rc=0 pid pids n where
    local -a list=("${STACK_SERVICES[@]}")
    [[ $STACK_KIND == dev ]] && list+=(worker beat)   # test stacks run none
    [[ $which != all ]] && list=("$which")
    for svc in "${list[@]}"; do
        pids='' n=0
        case $svc in
        postgres) pid=$(stack_pg_pid) && pids=$pid ;;
        redis) pid=$(stack_redis_pid) && pids=$pid ;;
        fcgi)
            pids=$(stack_fcgi_pids | paste -sd, -)
            n=$(stack_fcgi_nworkers)
            ;;
        nginx) pid=$(stack_nginx_pid) && pids=$pid ;;
        worker | beat)
            pid=$(stack_daemon_pid "$svc") && pids=$pid && n=$(pgrep -c -P "$pid" || true)
            ;;
        *) stack_die "unknown service '$svc'" ;;
        esac
        case $svc in
        postgres) where=127.0.0.1:$STACK_PG_PORT ;;
        redis) where=127.0.0.1:$STACK_REDIS_PORT ;;
        fcgi) where="unix:$STACK_STATE/run/bff.sock ($n/$STACK_FCGI_PROCS processes)" ;;
        nginx) where=http://127.0.0.1:$STACK_HTTP_PORT/ ;;
        worker) where="log/worker.log ($n worker processes)" ;;
        beat) where=log/beat.log ;;
        esac
        if [[ -n $pids ]]; then
            printf '%-9s %-5s %-24s %s\n' "$svc" up "pid $pids" "$where"
            [[ $svc != fcgi || $n -eq $STACK_FCGI_PROCS ]] || rc=3
        else
            printf '%-9s %-5s %-24s %s\n' "$svc" down - "$where"
            rc=3
        fi
    done
    return $rc
}

# Every pid this stack has running (for "nothing left behind" checks).
stack_all_pids()
{
    local pid svc
    if pid=$(stack_pg_pid); then
        echo "$pid"
        pgrep -P "$pid" || true
    fi
    stack_redis_pid || true
    stack_fcgi_pids
    if pid=$(stack_nginx_pid); then
        echo "$pid"
        pgrep -P "$pid" || true
    fi
    for svc in worker beat; do
        if pid=$(stack_daemon_pid "$svc"); then
            echo "$pid"
            pgrep -P "$pid" || true
        fi
    done
}
