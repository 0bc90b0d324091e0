#!/bin/bash
# The browser client's test (client.test.js) in headless Debian Chromium.
# Prints TAP.  Used by util/test-all.sh through t/browser/10-client.t
# with the test stack's dev.env exported; run by hand it starts its own
# throwaway stack (nginx + module, no sender):
#   t/browser/run.sh
# Needs (util/deps.sh test installs them): chromium, dbus-daemon
# (dbus-run-session), python3-gi, Node.js >= 20 with npm.  playwright-core
# comes from t/browser/package-lock.json (npm ci, into
# t/browser/node_modules, on first run or when the lock changes).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${WEBPUSH_BUILD:-$top/${BUILD:-build}}

fail() {
    echo "1..1"
    echo "not ok 1 - browser test prerequisites: $*"
    exit 1
}

chromium=${CHROMIUM:-/usr/bin/chromium}
[ -x "$chromium" ] || fail "no $chromium (Debian package chromium: util/deps.sh test)"
command -v dbus-run-session >/dev/null || fail "no dbus-run-session (Debian package dbus-daemon)"
/usr/bin/python3 -c 'import gi' 2>/dev/null || fail "no python3-gi for /usr/bin/python3"
command -v node >/dev/null && command -v npm >/dev/null || fail "no node/npm"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' \
    || fail "Node.js $(node --version) is too old for playwright-core (need 20+)"
[ -x "$build/webpush-cli" ] || fail "no $build/webpush-cli (make bins)"

# playwright-core, exactly as locked; reinstalled only when the lock changed
# (under a lock: two test runs at once must not both rebuild node_modules).
stamp=$here/node_modules/.lock-stamp
if ! out=$(
    exec 9>>"${TMPDIR:-/tmp}/webpush-browser-npm.lock"
    flock 9
    if ! cmp -s "$here/package-lock.json" "$stamp" 2>/dev/null; then
        (cd "$here" && npm ci --no-audit --no-fund --loglevel=error 2>&1) &&
            cp "$here/package-lock.json" "$stamp"
    fi); then
    printf '%s\n' "$out" | sed 's/^/# /'
    fail "npm ci in t/browser failed (is the npm registry reachable?)"
fi

# Everything of this run (browser profile, logs) in one dir, gone at exit.
work=$(mktemp -d "${TMPDIR:-/tmp}/webpush-browser.XXXXXX")
chmod 0755 "$work"      # a stack in it: nginx's workers (nobody) traverse it
stack=""
cleanup() {
    if [ -n "$stack" ]; then
        "$top/util/stack.sh" stop "$stack" >/dev/null 2>&1
        rm -rf "$stack"
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# No stack given: start one for this run.
if [ -z "${API_URL:-}" ]; then
    stack=$work/stack
    if ! out=$(STACK_SKIP=sender BUILD=$build "$top/util/stack.sh" start "$stack" 2>&1); then
        printf '%s\n' "$out" | sed 's/^/# /'
        fail "could not start a stack"
    fi
    set -a
    # shellcheck disable=SC1091
    . "$stack/dev.env"
    set +a
fi
export WEBPUSH_CLI=$build/webpush-cli CHROMIUM=$chromium
# The certificate's key hash, with the command client/README.md shows (the
# test checks it against its own computation, then trusts that key).
WEBPUSH_SPKI=$(openssl x509 -in "$API_CA_FILE" -pubkey -noout \
       | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
export WEBPUSH_SPKI

# A private session bus: notifyd.py plays the desktop's notification
# service on it, and Chromium finds it through DBUS_SESSION_BUS_ADDRESS.
# Chromium's own chatter (D-Bus, GPU) goes to a log, shown on failure.
log=$work/chromium.log
TMPDIR=$work DEBUG=pw:browser dbus-run-session -- node "$here/client.test.js" 2>"$log"
rc=$?
if [ "$rc" -ne 0 ]; then
    echo "# chromium's log (last 30 lines):"
    grep -v 'dbus/\|Fontconfig' "$log" | tail -n 30 | sed 's/^/#   /'
fi
exit $rc
