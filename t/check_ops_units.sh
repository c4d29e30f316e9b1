#!/usr/bin/env bash
# shellcheck disable=SC2001,SC2013,SC2016 # single quotes: bash -c scripts take "$1"
#
# t/check_ops_units.sh — the deploy/ files and the scripts as files:
# `systemd-analyze verify` on the units (with the install prefix pointed at
# the binaries of this build), `logrotate -d` on deploy/logrotate/bff,
# deploy/bff.env.example covering every setting of `bffctl diffsettings`,
# diffsettings itself, and every script under scripts/ shellcheck-clean with
# --help, set -euo pipefail and a usage error for a bad option.
# Needs no stack.
set -uo pipefail

# shellcheck source-path=SCRIPTDIR source=ops_lib.sh
. "$(dirname "$0")/ops_lib.sh"
t_init

BFFCTL=$T_BUILD/ctl/bffctl

echo "# systemd units"
if command -v systemd-analyze >/dev/null; then
    # The units name /opt/bff/current/bin/... and /etc/bff/bff.env: point
    # them at this build's binaries (verify checks they are executable).
    pfx=$T_TMP/opt/current
    mkdir -p "$pfx/bin" "$T_TMP/units"
    for b in fcgi/bff-fcgi ctl/bffctl worker/bff-worker worker/bff-beat; do
        if [[ -x $T_BUILD/$b ]]; then
            ln -s "$T_BUILD/$b" "$pfx/bin/"
        else
            t_not_ok "$b is not built"
        fi
    done
    cp "$T_SRC/deploy/bff.env.example" "$T_TMP/bff.env"
    for u in "$T_SRC"/deploy/systemd/*.service; do
        sed -e "s|/opt/bff/current|$pfx|g" -e "s|/etc/bff/bff.env|$T_TMP/bff.env|g" "$u" \
            >"$T_TMP/units/${u##*/}"
    done
    for u in bff-web bff-worker bff-beat; do
        if [[ ! -f $T_TMP/units/$u.service ]]; then
            t_not_ok "deploy/systemd/$u.service is missing"
            continue
        fi
        # verify exits 0 on unknown keys and bad values: any message fails.
        out=$(cd "$T_TMP/units" && SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$u.service" 2>&1)
        rc=$?
        if [[ $rc -eq 0 && -z $out ]]; then
            t_ok "systemd-analyze verify $u.service: clean"
        else
            t_not_ok "systemd-analyze verify $u.service (exit $rc):"
            sed 's/^/#      /' <<<"$out"
        fi
    done
    t_check "bff-web: spawn-fcgi -n on a unix socket, mode 0660" \
        grep -q '^ExecStart=/usr/bin/spawn-fcgi -n -s ${BFF_FCGI_SOCKET} -M 0660 ' "$T_SRC/deploy/systemd/bff-web.service"
    t_check "bff-web: reload is SIGHUP to the pool's master" \
        grep -q '^ExecReload=/bin/kill -HUP $MAINPID' "$T_SRC/deploy/systemd/bff-web.service"
    for u in bff-web bff-worker bff-beat; do
        f=$T_SRC/deploy/systemd/$u.service
        t_check "$u: User=bff, EnvironmentFile, Restart=on-failure" \
            bash -c 'grep -qx User=bff "$1" && grep -qx EnvironmentFile=/etc/bff/bff.env "$1" &&
                     grep -qx Restart=on-failure "$1"' _ "$f"
    done
else
    t_not_ok "systemd-analyze not found (apt-get install systemd)"
fi

echo "# logrotate"
if command -v logrotate >/dev/null || [[ -x /usr/sbin/logrotate ]]; then
    lr=$(command -v logrotate || echo /usr/sbin/logrotate)
    mkdir -p "$T_TMP/log"
    echo '{"level":"INFO"}' >"$T_TMP/log/application.log"
    sed -e "s|/var/log/bff|$T_TMP/log|g" -e "s|su bff bff|su $(id -un) $(id -gn)|" \
        "$T_SRC/deploy/logrotate/bff" >"$T_TMP/logrotate.conf"
    out=$("$lr" -d -s "$T_TMP/logrotate.state" "$T_TMP/logrotate.conf" 2>&1)
    rc=$?
    if [[ $rc -eq 0 ]] && ! grep -qi 'error' <<<"$out"; then
        t_ok "logrotate -d deploy/logrotate/bff: no error"
    else
        t_not_ok "logrotate -d deploy/logrotate/bff (exit $rc):"
        sed 's/^/#      /' <<<"$out" | head -n 20
    fi
    t_check "... it considers application.log" grep -q 'application.log' <<<"$out"
    out=$("$lr" -f -s "$T_TMP/logrotate.state" "$T_TMP/logrotate.conf" 2>&1)
    t_check "a forced rotation leaves application.log-YYYYMMDD (copytruncate, dateext)" \
        bash -c 'ls "$1"/application.log-[0-9]* >/dev/null 2>&1 && [[ ! -s $1/application.log ]]' _ "$T_TMP/log"
else
    t_not_ok "logrotate not found (apt-get install logrotate)"
fi

echo "# bffctl diffsettings"
if [[ -x $BFFCTL ]]; then
    all=$(env -i PATH="$PATH" "$BFFCTL" diffsettings)
    n=$(grep -c '^BFF_[A-Z0-9_]*=' <<<"$all")
    rows=$(grep -c '^    {"BFF_' "$T_SRC/lib/config.c")
    t_eq "with a clean environment it prints every setting of lib/config.c" "$rows" "$n"
    t_eq "... none marked ###" 0 "$(grep -c '###' <<<"$all")"
    t_check "... with their defaults (BFF_CACHE_TTL=300)" grep -qx 'BFF_CACHE_TTL=300' <<<"$all"
    t_eq "--all prints the same" "$all" "$(env -i PATH="$PATH" "$BFFCTL" diffsettings --all)"
    out=$(env -i PATH="$PATH" BFF_CACHE_TTL=301 BFF_LOG_LEVEL=info \
        BFF_DATABASE_URL='postgresql://bff:s3cret@db/bff' "$BFFCTL" diffsettings)
    t_check "a non-default value is marked ###" grep -qx 'BFF_CACHE_TTL=301  ###' <<<"$out"
    t_check "a value set to its default is not marked" grep -qx 'BFF_LOG_LEVEL=info' <<<"$out"
    t_check "a secret is masked, and marked" grep -qx 'BFF_DATABASE_URL=\*\*\*\*\*\*\*\*  ###' <<<"$out"
    t_check "the secret appears nowhere" bash -c '! grep -q s3cret <<<"$1"' _ "$out"
    out=$(env -i PATH="$PATH" BFF_CACHE_TTL=301 BFF_DATABASE_URL='dbname=x' "$BFFCTL" diffsettings --changed)
    t_eq "--changed prints only the non-defaults" \
        "BFF_DATABASE_URL=********  ###|BFF_CACHE_TTL=301  ###" "$(paste -sd'|' - <<<"$out")"
    t_rc "an unknown option is a usage error" 2 "$BFFCTL" diffsettings --bogus
    t_rc "a malformed setting is an error naming it" 1 env BFF_CACHE_TTL=abc "$BFFCTL" diffsettings
    t_check "... by name" grep -q BFF_CACHE_TTL "$T_TMP/out"

    echo "# deploy/bff.env.example"
    for name in $(sed 's/=.*//' <<<"$all"); do
        grep -Eq "^#?$name=" "$T_SRC/deploy/bff.env.example" || missing+=" $name"
    done
    t_eq "every setting of diffsettings is in deploy/bff.env.example" "" "${missing:-}"
    # (logs redirected: bffctl opens BFF_LOG_FILE, /var/log/bff may not exist)
    vals=$(grep -E '^BFF_[A-Z0-9_]*=' "$T_SRC/deploy/bff.env.example" | sed 's/^/export /'
        echo "export BFF_LOG_FILE=$T_TMP/app.log BFF_ERROR_LOG_FILE=$T_TMP/error.log")
    t_check "its values are accepted by bffctl (no malformed setting)" \
        env -i PATH="$PATH" bash -c "$vals"$'\n''"$1" diffsettings >/dev/null' _ "$BFFCTL"
else
    t_not_ok "$BFFCTL is not built"
fi

echo "# scripts"
for s in "$T_SRC"/scripts/*.sh; do
    n=${s#"$T_SRC"/}
    t_rc "$n --help" 0 "$s" --help
    t_check "$n: --help prints a usage line" grep -q '^usage: ' "$T_TMP/out"
    t_check "$n: set -euo pipefail" grep -qx 'set -euo pipefail' "$s"
    t_rc "$n: a bad option is a usage error" 2 env BFF_ENV_FILE=/dev/null "$s" --no-such-option
done
if command -v shellcheck >/dev/null; then
    t_rc "shellcheck -x scripts/*.sh scripts/lib/ops.sh t/check_ops_*.sh" 0 \
        bash -c 'cd "$1" && shellcheck -x scripts/*.sh scripts/lib/ops.sh t/ops_lib.sh t/check_ops_*.sh' _ "$T_SRC"
else
    t_not_ok "shellcheck not found (apt-get install shellcheck)"
fi

t_done
