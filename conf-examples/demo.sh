#!/usr/bin/env bash
# make demo: a live ngx_spiffe on localhost, from nothing to a rotation.
# Starts the test Workload API agent and nginx, shows who gets in and who
# does not, rotates the SVID under nginx, then stops everything it started.

set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
module=${DEMO_MODULE:-$top/build/ngx_http_spiffe_module.so}
nginx=${DEMO_NGINX:-/usr/sbin/nginx}
python=/usr/bin/python3
url=https://127.0.0.1:18443/

dir=$(mktemp -d /tmp/ngx-spiffe-demo.XXXXXX)
chmod 755 "$dir"
mkdir -p "$dir/nginx/logs"

agent_pid=
cleanup() {
    local pid

    if [ -f "$dir/nginx/logs/nginx.pid" ]; then
        pid=$(cat "$dir/nginx/logs/nginx.pid")
        kill -QUIT "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
    fi
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$dir"
}
trap cleanup EXIT

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
proves() { printf '   -> %s\n' "$*"; }

control() {
    "$python" - "$dir/agent/control.sock" "$*" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
print(s.makefile().readline().strip())
PY
}

served_serial() {
    openssl s_client -connect 127.0.0.1:18443 -cert "$dir/agent/web.pem" \
        -key "$dir/agent/web.key" </dev/null 2>/dev/null \
        | openssl x509 -noout -serial | sed 's/serial=//' | tr 'A-F' 'a-f'
}

step "Start a SPIFFE Workload API agent (t/agent, a real gRPC server)"
mkdir -p "$dir/agent"
"$python" "$top/t/agent/agent.py" --state "$dir/agent" \
    --trust-domain example.org --spiffe-id spiffe://example.org/ns/demo/sa/nginx \
    --pidfile "$dir/agent/pid" --log "$dir/agent/agent.log" >/dev/null &
agent_pid=$!
for _ in $(seq 50); do [ -f "$dir/agent/pid" ] && break; sleep 0.1; done
proves "it serves SVIDs for trust domain example.org on $dir/agent/agent.sock"

control "mint spiffe://example.org/ns/demo/sa/web web" >/dev/null
control "mint spiffe://example.org/ns/demo/sa/batch batch" >/dev/null
proves "two client workloads got SVIDs: .../sa/web and .../sa/batch"

step "Start nginx with conf-examples/demo.conf (no certificate files in it)"
SPIFFE_ENDPOINT_SOCKET="unix://$dir/agent/agent.sock" \
    "$nginx" -p "$dir/nginx/" -c "$top/conf-examples/demo.conf" \
    -g "load_module $module;"
sleep 0.5
proves "nginx fetched its own SVID from the agent at start:"
grep -o 'spiffe: SVID .*' "$dir/nginx/logs/error.log" | head -1 | sed 's/^/      /'

# curl cannot check a SPIFFE ID in a server certificate, hence -k: the
# server's identity is shown with openssl below
step "An allowed workload: spiffe://example.org/ns/demo/sa/web"
curl -sk --cert "$dir/agent/web.pem" --key "$dir/agent/web.key" \
    -w '   HTTP %{http_code}\n' "$url" | sed 's/^hello/   hello/'
proves "mTLS verified against example.org's bundle, the rule allowed it,"
proves "and the backend learned the caller's ID from \$spiffe_id"

step "A workload the rules refuse: spiffe://example.org/ns/demo/sa/batch"
curl -sk --cert "$dir/agent/batch.pem" --key "$dir/agent/batch.key" \
    -o /dev/null -w '   HTTP %{http_code}\n' "$url"
grep -o 'spiffe: access forbidden.*batch"' "$dir/nginx/logs/error.log" \
    | head -1 | sed 's/^/   log: /'
proves "a valid SVID is not enough: spiffe_deny all answered 403"

step "A client without a SPIFFE identity"
code=$(curl -sk -o /dev/null -w '%{http_code}' "$url")
echo "   HTTP $code"
[ "$code" = 400 ] || { echo "   unexpected: it got in"; exit 1; }
grep -o 'spiffe: client sent no required SPIFFE SVID' \
    "$dir/nginx/logs/error.log" | head -1 | sed 's/^/   log: /'
proves "spiffe_verify_client on answers 400 before any location runs,"
proves "as ssl_verify_client on does; no rule or return can let it in"

step "Live rotation: the agent issues nginx a new SVID"
before=$(served_serial)
master=$(cat "$dir/nginx/logs/nginx.pid")
echo "   serving serial $before"
after_rotation=$(control rotate-svid | sed 's/.*serial=\([0-9a-f]*\).*/\1/')
sleep 0.5
after=$(served_serial)
echo "   agent rotated to $after_rotation"
echo "   serving serial $after"
[ "$after" = "$after_rotation" ] || { echo "   rotation not served"; exit 1; }
[ "$master" = "$(cat "$dir/nginx/logs/nginx.pid")" ] || exit 1
grep -c 'signal 1 (SIGHUP)' "$dir/nginx/logs/error.log" >/dev/null \
    && { echo "   unexpected reload"; exit 1; }
proves "the new certificate is served from the next handshake on,"
proves "with no reload and the same nginx processes"

curl -sk --cert "$dir/agent/web.pem" --key "$dir/agent/web.key" \
    -w '   HTTP %{http_code}\n' "$url" | sed 's/^hello/   hello/'
proves "clients keep working across the rotation"

if grep -E '\[(error|crit|alert|emerg)\]' "$dir/nginx/logs/error.log"; then
    echo "   nginx logged errors"; exit 1
fi

step "Done: stopping nginx and the agent"
