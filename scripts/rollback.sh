#!/usr/bin/env bash
#
# scripts/rollback.sh — go back to an earlier release of scripts/deploy.sh:
# switch `current`, reload the FastCGI pool gracefully, never touch the
# database schema (docs/deployment.md).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
# shellcheck source-path=SCRIPTDIR source=lib/ops.sh
. "$here/lib/ops.sh"

usage()
{
    cat <<'EOF'
usage: scripts/rollback.sh [RELEASE] [--prefix DIR] [--no-verify] [--env-file FILE]
       scripts/rollback.sh --list [--prefix DIR]

Switches PREFIX/current to RELEASE (a directory name under PREFIX/releases),
by default the newest release older than the current one, and reloads the
pool exactly as deploy.sh does (systemd: `systemctl reload bff-web`; else a
new pool on a new socket, the bff.sock symlink renamed onto it, SIGTERM to
the old pool). No migration runs: the schema stays as the newer release
left it, which the older release handles because migrations are backward
compatible for one release (docs/deployment.md). Migrations the target
release does not know are listed.

  --list           print the releases, oldest first, marking the current one
  --prefix DIR     install root (BFF_PREFIX, /opt/bff)
  --no-verify      do not wait for BFF_URL/health/ to report the version
  --env-file FILE  settings (BFF_ENV_FILE, /etc/bff/bff.env if present)

Exit status: 0 rolled back, 1 failure (nothing to roll back to, reload
failed), 2 usage error.
EOF
}

release_field()
{
    sed -n "/^$2=/{s///p;q}" "$BFF_PREFIX/releases/$1/RELEASE" 2>/dev/null || true
}

main()
{
    local a target='' list=0 verify=1 cur r prev='' version rc unknown
    while [[ $# -gt 0 ]]; do
        a=$1
        case $a in
        -h | --help)
            usage
            exit 0
            ;;
        --prefix | --env-file)
            ops_need_arg "$@"
            case $a in
            --prefix) BFF_PREFIX=$2 ;;
            --env-file) BFF_ENV_FILE=$2 ;;
            esac
            shift
            ;;
        --list) list=1 ;;
        --no-verify) verify=0 ;;
        -*) ops_usage_die "unknown option '$a'" ;;
        *)
            [[ -z $target ]] || ops_usage_die "one RELEASE only"
            target=${a%/}
            target=${target##*/}
            ;;
        esac
        shift
    done
    ops_load_env_file
    ops_defaults
    export BFF_PREFIX BFF_RUN_DIR BFF_LOG_DIR BFF_URL
    cur=$(ops_current_release)

    if [[ $list -eq 1 ]]; then
        for r in $(ops_releases); do
            printf '%s %s  %s %s\n' "$([[ $r == "$cur" ]] && echo '*' || echo ' ')" "$r" \
                "$(release_field "$r" version)" "$(release_field "$r" ref)"
        done
        return 0
    fi

    exec 9>"$BFF_PREFIX/.deploy.lock"
    flock -n 9 || ops_die "another deploy or rollback is running on $BFF_PREFIX"
    [[ -n $cur ]] || ops_die "$BFF_PREFIX/current does not point at a release"
    if [[ -z $target ]]; then
        for r in $(ops_releases); do
            [[ $r < $cur ]] && prev=$r
        done
        [[ -n $prev ]] || ops_die "no release older than $cur in $BFF_PREFIX/releases"
        target=$prev
    fi
    [[ $target =~ $OPS_RELEASE_RE && -d $BFF_PREFIX/releases/$target ]] ||
        ops_die "no release '$target' in $BFF_PREFIX/releases (see --list)"
    [[ $target != "$cur" ]] || ops_die "$target is already current"
    [[ -x $BFF_PREFIX/releases/$target/bin/bff-fcgi ]] ||
        ops_die "$BFF_PREFIX/releases/$target/bin/bff-fcgi is missing"
    version=$(release_field "$target" version)

    ops_switch_current "$target"
    ops_say "current -> releases/$target (was $cur); the schema is not touched"
    set +e
    (
        set -e
        ops_reload_services "$BFF_PREFIX/releases/$target"
    )
    rc=$?
    set -e
    if [[ $rc -ne 0 ]]; then
        ops_switch_current "$cur"
        ops_die "reload failed: current switched back to releases/$cur"
    fi
    if [[ $verify -eq 1 && -n $version ]]; then
        ops_wait_version "$version" 15 || ops_die "release $target does not answer on $BFF_URL/health/"
        ops_say "$BFF_URL/health/ serves version $version"
    fi
    if [[ -n ${BFF_DATABASE_URL:-} ]]; then
        unknown=$("$BFF_PREFIX/releases/$target/bin/bffctl" showmigrations 2>/dev/null | grep '^\[?\]' || true)
        [[ -z $unknown ]] || ops_say "migrations newer than this release (kept):"$'\n'"$unknown"
    fi
    ops_say "rolled back to releases/$target (version ${version:-?})"
}

main "$@"; exit $?
