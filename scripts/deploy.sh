#!/usr/bin/env bash
#
# scripts/deploy.sh — build a git ref into a new release directory, migrate,
# switch `current` atomically and reload the FastCGI pool without failing a
# request (docs/deployment.md). scripts/rollback.sh goes back.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=lib/ops.sh
. "$here/lib/ops.sh"

usage()
{
    cat <<'EOF'
usage: scripts/deploy.sh REF [--repo DIR] [--prefix DIR] [--keep N]
                         [--configure-flags FLAGS] [--no-verify] [--no-reload]
                         [--env-file FILE]

  1. build    REF (branch, tag or commit of the git repository) is exported
              with `git archive` and built with autoreconf, configure
              --prefix=PREFIX/releases/<UTC timestamp>-<commit> and make
              install; the release gets a RELEASE file (commit, ref, version)
  2. migrate  the new release's `bffctl migrate` (BFF_DATABASE_URL)
  3. switch   PREFIX/current -> releases/<new>, by rename (atomic)
  4. reload   with systemd: `systemctl reload bff-web` (the pool restarts its
              processes one by one on the same socket) and `systemctl
              try-restart bff-worker bff-beat`. Without systemd: a new
              spawn-fcgi pool on a new socket in BFF_RUN_DIR, the bff.sock
              symlink nginx connects to renamed onto it, then SIGTERM to the
              old pool, whose processes finish their request and exit; a
              bff-worker/bff-beat running from a pid file in BFF_RUN_DIR is
              restarted with the new binary and the same arguments
  5. verify   GET BFF_URL/health/ reports the new version (15 s)
  6. prune    keep the newest N releases (and always the current one)
A failure before step 3 leaves everything as it was (the half-built release
is removed); a reload that fails switches `current` back.

Migrations must stay backward compatible for one release (the rule in
docs/deployment.md): the previous release must run on the new schema, so
that rollback.sh never touches the database.

Options (and environment):
  --repo DIR               git repository (BFF_REPO, this checkout)
  --prefix DIR             install root (BFF_PREFIX, /opt/bff)
  --keep N                 releases to keep (BFF_KEEP_RELEASES, 5)
  --configure-flags FLAGS  extra ./configure flags (BFF_CONFIGURE_FLAGS)
  --no-verify              skip step 5
  --no-reload              skip steps 4 and 5 (first installation: no
                           service runs yet)
  --env-file FILE          settings for bffctl and the pool (BFF_ENV_FILE,
                           /etc/bff/bff.env if present)
Pool (no systemd): BFF_RUN_DIR (/run/bff), BFF_LOG_DIR (/var/log/bff),
BFF_FCGI_PROCS (4), BFF_FCGI_USER (bff when root), BFF_DRAIN_SECONDS (2),
BFF_STOP_TIMEOUT (30); BFF_SERVICE_MANAGER=systemd|pidfile|auto (auto).

Prints the new release directory on stdout.
Exit status: 0 deployed, 1 failure, 2 usage error.
EOF
}

BUILD=
FAILED_RELEASE=
# shellcheck disable=SC2317 # reached from the EXIT trap
cleanup()
{
    [[ -n $BUILD ]] && rm -rf "$BUILD"
    [[ -n $FAILED_RELEASE ]] && rm -rf "$FAILED_RELEASE"
    return 0
}

# prune N — delete all but the newest N releases, never the current one.
prune()
{
    local keep=$1 cur r i=0
    local -a all
    cur=$(ops_current_release)
    mapfile -t all < <(ops_releases | LC_ALL=C sort -r)
    for r in "${all[@]}"; do
        i=$((i + 1))
        [[ $i -le $keep || $r == "$cur" ]] && continue
        rm -rf "${BFF_PREFIX:?}/releases/$r"
        ops_say "pruned release $r"
    done
}

main()
{
    local a ref='' repo=${BFF_REPO:-$OPS_SRCDIR} keep=${BFF_KEEP_RELEASES:-5} verify=1 reload=1
    local flags=${BFF_CONFIGURE_FLAGS:-} sha name rel prev version rc i
    while [[ $# -gt 0 ]]; do
        a=$1
        case $a in
        -h | --help)
            usage
            exit 0
            ;;
        --repo | --prefix | --keep | --configure-flags | --env-file)
            ops_need_arg "$@"
            case $a in
            --repo) repo=$2 ;;
            --prefix) BFF_PREFIX=$2 ;;
            --keep) keep=$2 ;;
            --configure-flags) flags=$2 ;;
            --env-file) BFF_ENV_FILE=$2 ;;
            esac
            shift
            ;;
        --no-verify) verify=0 ;;
        --no-reload) reload=0 ;;
        -*) ops_usage_die "unknown option '$a'" ;;
        *)
            [[ -z $ref ]] || ops_usage_die "one REF only"
            ref=$a
            ;;
        esac
        shift
    done
    [[ -n $ref ]] || ops_usage_die "missing REF (a branch, tag or commit)"
    [[ $keep =~ ^[1-9][0-9]*$ ]] || ops_usage_die "--keep needs a positive integer"
    ops_load_env_file
    ops_defaults
    export BFF_PREFIX BFF_RUN_DIR BFF_LOG_DIR BFF_URL
    [[ -n ${BFF_DATABASE_URL:-} ]] || ops_die "BFF_DATABASE_URL is not set (env file: ${BFF_ENV_FILE:-/etc/bff/bff.env})"
    sha=$(git -C "$repo" rev-parse --verify --quiet "$ref^{commit}") ||
        ops_die "'$ref' is not a commit of $repo"

    mkdir -p "$BFF_PREFIX/releases"
    exec 9>"$BFF_PREFIX/.deploy.lock"
    flock -n 9 || ops_die "another deploy or rollback is running on $BFF_PREFIX"
    trap cleanup EXIT

    # 1. build
    name=$(date -u +%Y%m%d%H%M%S)-${sha:0:12}
    for ((i = 1; i < 100; i++)); do
        [[ -e $BFF_PREFIX/releases/$name ]] || break
        name=$(date -u +%Y%m%d%H%M%S)-${sha:0:12}-$i
    done
    rel=$BFF_PREFIX/releases/$name
    prev=$(ops_current_release)
    BUILD=$(mktemp -d "${TMPDIR:-/tmp}/bff-build.XXXXXX")
    ops_say "building $ref ($sha) into $rel"
    FAILED_RELEASE=$rel
    # A chain of &&: errexit does not apply inside a command followed by ||.
    # shellcheck disable=SC2086 # flags are words
    {
        git -C "$repo" archive --format=tar "$sha" | tar -x -C "$BUILD" &&
            cd "$BUILD" && mkdir -p m4 && autoreconf -fi &&
            ./configure -q --prefix="$rel" $flags && make -j"$(nproc)" && make install &&
            cd /
    } >"$BUILD.log" 2>&1 || {
        tail -n 30 "$BUILD.log" >&2
        ops_die "build of $ref failed (log: $BUILD.log)"
    }
    rm -f "$BUILD.log"
    version=$(cd "$BUILD" && ./configure --version | sed -n '1s/.* //p')
    printf 'commit=%s\nref=%s\nversion=%s\nbuilt_at=%s\n' "$sha" "$ref" "$version" \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >"$rel/RELEASE"
    chmod -R a+rX "$rel"
    [[ -x $rel/bin/bff-fcgi && -x $rel/bin/bffctl ]] || ops_die "the build installed no bin/bff-fcgi or bin/bffctl"

    # 2. migrate
    ops_say "$rel/bin/bffctl migrate"
    "$rel/bin/bffctl" migrate >&2 || ops_die "bffctl migrate failed: nothing switched"

    # 3. switch
    ops_switch_current "$name"
    FAILED_RELEASE=
    ops_say "current -> releases/$name (was ${prev:-none})"

    # 4. reload; on failure, back to the previous release
    rc=0
    if [[ $reload -eq 1 ]]; then
        set +e
        (
            set -e
            ops_reload_services "$rel"
        )
        rc=$?
        set -e
    else
        verify=0
        ops_say "--no-reload: no service reloaded"
    fi
    if [[ $rc -ne 0 ]]; then
        if [[ -n $prev ]]; then
            ops_switch_current "$prev"
            ops_warn "reload failed: current switched back to releases/$prev"
            if ops_use_systemd; then systemctl reload bff-web || true; fi
        fi
        ops_die "reload of the FastCGI pool failed"
    fi

    # 5. verify
    if [[ $verify -eq 1 ]]; then
        ops_wait_version "$version" 15 ||
            ops_die "the new release does not answer on $BFF_URL/health/ (scripts/rollback.sh goes back)"
        ops_say "$BFF_URL/health/ serves version $version"
    fi

    # 6. prune
    prune "$keep"
    ops_say "deployed $ref ($sha, version $version) as releases/$name"
    printf '%s\n' "$rel"
}

main "$@"; exit $?
