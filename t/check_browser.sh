#!/usr/bin/env bash
#
# check_browser.sh — the dashboard (web/) in headless Chromium against the
# test stack of `scripts/dev test`: t/browser/dashboard.test.mjs, driven by
# playwright-core (npm) with Debian's /usr/bin/chromium — never a browser
# that Playwright downloads. Screenshots go to t/artifacts/ (gitignored).
#
# A missing Chromium, node or npm, or a missing stack, is a FAILURE, not a
# skip (STYLE: a missing server is never a silent skip). scripts/dev test
# installs chromium with the other Debian packages when run as root.
set -euo pipefail

fail()
{
    printf 'FAIL: check_browser: %s\n' "$*"
    exit 1
}

for v in BFF_TEST_HTTP_URL BFF_TEST_DATABASE_URL BFF_TEST_SRCDIR BFF_TEST_BUILDDIR BFF_DATABASE_URL; do
    [[ -n ${!v:-} ]] || fail "$v is not set: run through scripts/dev test"
done
chromium=${BFF_CHROMIUM:-/usr/bin/chromium}
[[ -x $chromium ]] || fail "$chromium not found (apt-get install chromium; scripts/dev test does it as root)"
command -v node >/dev/null || fail "node not found (apt-get install nodejs)"
command -v npm >/dev/null || fail "npm not found (apt-get install npm)"
psql=$(command -v psql || ls /usr/lib/postgresql/*/bin/psql 2>/dev/null | sort -V | tail -n 1) ||
    fail "psql not found"
[[ -n $psql ]] || fail "psql not found"
bffctl=$BFF_TEST_BUILDDIR/ctl/bffctl
[[ -x $bffctl ]] || fail "$bffctl not built"

# playwright-core into t/browser/node_modules, exactly as package-lock.json
# says (npm ci). A read-only source tree (distcheck) gets a copy to work in.
src=$BFF_TEST_SRCDIR/t/browser
work=$src
if [[ ! -w $src ]]; then
    work=$BFF_TEST_BUILDDIR/t/browser-work
    mkdir -p "$work"
    cp "$src/package.json" "$src/package-lock.json" "$src/dashboard.test.mjs" "$work/"
fi
stamp=$work/node_modules/.bff-lock
if [[ ! -f $stamp ]] || ! cmp -s "$work/package-lock.json" "$stamp"; then
    (cd "$work" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed in $work"
    cp "$work/package-lock.json" "$stamp"
fi

# Two users made for this run: a superuser whose token seeds data through
# the API, and a metrics.read-only user whose token the page is given.
tag=$(date +%s)-$$
"$bffctl" user create --username "browser-admin-$tag" --superuser --no-password >/dev/null ||
    fail "bffctl user create (superuser) failed"
"$bffctl" user create --username "browser-view-$tag" --perm metrics.read --no-password >/dev/null ||
    fail "bffctl user create (metrics.read) failed"
BROWSER_ADMIN_TOKEN=$("$bffctl" token create --user "browser-admin-$tag" --name browser) ||
    fail "bffctl token create failed"
BROWSER_TOKEN=$("$bffctl" token create --user "browser-view-$tag" --name browser) ||
    fail "bffctl token create failed"
BROWSER_PSQL="$psql $(printf '%q' "$BFF_TEST_DATABASE_URL")"
BROWSER_ARTIFACTS=$BFF_TEST_BUILDDIR/t/artifacts
BROWSER_CHROMIUM=$chromium
export BROWSER_ADMIN_TOKEN BROWSER_TOKEN BROWSER_PSQL BROWSER_ARTIFACTS BROWSER_CHROMIUM

cd "$work"
exec node dashboard.test.mjs
