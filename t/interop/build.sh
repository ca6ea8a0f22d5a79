#!/bin/sh
# Builds SPIRE's server and agent (the version that t/interop/spire/go.mod
# names) and the go-spiffe peers (t/interop/peer) into the directory $1.
# Go keeps its module and build caches where it always does ($HOME/go,
# $HOME/.cache/go-build), so that later builds are quick.  A machine
# without Go, or that cannot reach the Go module proxy, gets
# $1/unavailable instead, the one line the SPIRE suite skips with.
set -eu

out=$(realpath -m "$1")
cd "$(dirname "$0")"

GO=${GO:-$(command -v /usr/local/go/bin/go go | head -n 1)}

mkdir -p "$out"
rm -f "$out/unavailable"

skip() {
    echo "$*" > "$out/unavailable"
    echo "interop: $*: the SPIRE suite will be skipped" >&2
    exit 0
}

[ -n "$GO" ] || skip "no Go toolchain (/usr/local/go/bin/go, or go on PATH)"

if (cd spire && GOBIN=$out "$GO" install tool) \
   && GOBIN=$out "$GO" install ./peer
then
    exit 0
fi

proxy=$("$GO" env GOPROXY | cut -d, -f1)
curl -s -o /dev/null --max-time 20 "$proxy/github.com/spiffe/spire/@v/list" \
    || skip "the Go module proxy $proxy is unreachable"
exit 1
