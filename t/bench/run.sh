#!/bin/bash
#
# ngx_spiffe against stock nginx: handshakes, kept-alive requests with 0 to
# 10,000 allow rules (exact IDs, "*" and "/**" patterns, regexes) and each
# pattern set against one exact rule, SVID rotation under load, worker memory, the crypto
# ceiling of the machine, instruction counts under callgrind, and rotation
# the way it is done without the module (new files, "nginx -s reload").
# What each number means: t/bench/README.md.
#
#   t/bench/run.sh            full run (about 15 minutes)
#   QUICK=1 t/bench/run.sh    smoke run (about two minutes)
#
# The table goes to stdout and to build/bench/results.txt, every client
# result line to build/bench/raw.txt.  Overrides from the environment:
# ROUNDS DUR WARMUP CONNS_NEW CONNS_KA ROT_SECS ROT_BASE_SECS ROT_INTERVAL
# ROT_CONNS ROT_RATE MEM_ROTATIONS MEM_SECS MEM_DUR SPEED_SECS CG_HS CG_REQ CALLGRIND=0
# HELPER_INTERVAL SERVER_CPU CLIENT_CPU PORT_BASE NGINX MODULE OUT KEEP=1
# (keep the scratch directory).

set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE_SRC=${MODULE:-$ROOT/build/ngx_http_spiffe_module.so}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-$ROOT/build/bench}
CLIENT=$OUT/mtls_load
AGENTCTL="$PYTHON $ROOT/t/bench/agentctl.py"
NGINXPROCS="$PYTHON $ROOT/t/bench/nginxprocs.py"

if [ "${QUICK:-0}" = 1 ]; then
    : "${ROUNDS:=2}" "${DUR:=1}" "${WARMUP:=0.3}" "${ROT_SECS:=4}"
    : "${ROT_BASE_SECS:=2}" "${MEM_ROTATIONS:=10000}" "${MEM_SECS:=5}"
    : "${MEM_DUR:=1}" "${SPEED_SECS:=1}" "${CG_HS:=20}" "${CG_REQ:=200}"
else
    : "${ROUNDS:=5}" "${DUR:=5}" "${WARMUP:=0.3}" "${ROT_SECS:=30}"
    : "${ROT_BASE_SECS:=10}" "${MEM_ROTATIONS:=10000}" "${MEM_SECS:=60}"
    : "${MEM_DUR:=3}" "${SPEED_SECS:=3}" "${CG_HS:=60}" "${CG_REQ:=600}"
fi

: "${CONNS_NEW:=32}" "${CONNS_KA:=100}" "${ROT_INTERVAL:=0.1}"
: "${ROT_CONNS:=4}" "${ROT_RATE:=}" "${SERVER_CPU:=0}" "${CLIENT_CPU:=1}"
: "${PORT_BASE:=18443}" "${CALLGRIND:=1}" "${HELPER_INTERVAL:=1}"

CLIENT_ID=spiffe://example.org/ns/bench/sa/web
SERVER_ID=spiffe://example.org/ns/bench/sa/nginx
BODY=$'ok\n'
VARIANTS="r0 r1 r100 r10000 w10000 g10000 m1000"
PATTERNS="w10000 g10000 m1000"

T_BEGIN=$(date +%s)


# ------------------------------------------------------------ helpers

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }
since() { echo "$(( $(date +%s) - T_BEGIN ))s"; }

# value of key in a "k=v k=v" line
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }

# "min median max" of the numbers given
mmm() {
    printf '%s\n' "$@" | grep -E '^[0-9.eE+-]+$' | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "- - -"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            print v[1], m, v[NR]
        }'
}
med() { mmm "$@" | awk '{ print $2 }'; }
maxof() { mmm "$@" | awk '{ print $3 }'; }

# printf that prints "-" for a missing number
fmt() {
    awk -v f="$1" -v v="${2:-}" 'BEGIN {
        if (v == "" || v == "-") print "-"; else printf f "\n", v }'
}
calc() { awk "BEGIN { $1 }"; }
div() {
    awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
        if (a == "" || a == "-" || b == "" || b == "-" || b + 0 == 0) print "-"
        else printf "%.4f\n", a / b }'
}
# 100 * a / b, no decimals ("-" when a number is missing)
pct() {
    awk -v a="${1:-}" -v b="${2:-1}" 'BEGIN {
        if (a == "" || a == "-" || b == "" || b == "-" || b + 0 == 0) print "-"
        else printf "%.0f\n", 100 * a / b }'
}
us2ms() { awk -v v="${1:-}" 'BEGIN { if (v == "" || v == "-") print "-"; else printf "%.2f\n", v / 1000 }'; }

rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }

if [ "$(id -u)" = 0 ]; then
    NICE="nice -n -10"
    NICE_NOTE="both reniced to -10"
else
    NICE=""
    NICE_NOTE="not reniced (not root)"
fi

SCRATCH=""
AGENT_PID=""
declare -A MASTER=() CGPID=()

cleanup() {
    local pid
    for pid in "${MASTER[@]}"; do
        kill -QUIT "$pid" 2>/dev/null
    done
    for pid in "${CGPID[@]}"; do
        kill -TERM "$pid" 2>/dev/null
    done
    [ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null
    sleep 0.5
    for pid in "${MASTER[@]}"; do
        kill -KILL "$pid" 2>/dev/null
    done
    if [ -n "$SCRATCH" ]; then
        if [ "${KEEP:-0}" = 1 ]; then
            say "bench: scratch directory kept: $SCRATCH"
        else
            rm -rf "$SCRATCH"
        fi
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ------------------------------------------------------------ checks, build

[ -x "$NGINX" ] || die "no nginx at $NGINX"
[ -f "$MODULE_SRC" ] || die "no module at $MODULE_SRC: run 'make modules' first"
command -v taskset >/dev/null || die "taskset is missing (util-linux)"
[ -x "$PYTHON" ] || die "no $PYTHON (the test agent needs Debian's python3)"

NCPU=$(nproc)
if [ "$NCPU" -lt 2 ]; then
    say "bench: only $NCPU CPU: server and client share CPU 0"
    SERVER_CPU=0 CLIENT_CPU=0
fi

mkdir -p "$OUT"
cc -O2 -Wall -Wextra -o "$CLIENT" "$ROOT/t/bench/mtls_load.c" -lssl -lcrypto \
    || die "cannot build the load client"

SCRATCH=$(mktemp -d /tmp/ngx-spiffe-bench.XXXXXX)
chmod 755 "$SCRATCH"

# a private copy: a rebuild during the run must not change running workers
MODULE=$SCRATCH/ngx_http_spiffe_module.so
cp "$MODULE_SRC" "$MODULE"
MODULE_SUM=$(sha256sum "$MODULE" | cut -c1-12)
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
git -C "$ROOT" diff --quiet HEAD -- module include config 2>/dev/null \
    || GIT_REV="$GIT_REV+uncommitted"

RAW=$OUT/raw.txt
RESULTS=$OUT/results.txt
: > "$RAW"


# ------------------------------------------------------------ agent

A=$SCRATCH/agent
mkdir -p "$A"
say "bench: starting the Workload API agent (CPU $CLIENT_CPU)"
$NICE taskset -c "$CLIENT_CPU" "$PYTHON" "$ROOT/t/agent/agent.py" \
    --state "$A" --socket "$A/agent.sock" --control "$A/control.sock" \
    --pidfile "$A/pid" --log "$A/agent.log" --spiffe-id "$SERVER_ID" \
    >/dev/null 2>&1 &
AGENT_PID=$!

for _ in $(seq 300); do
    [ -s "$A/pid" ] && break
    kill -0 "$AGENT_PID" 2>/dev/null \
        || die "the agent did not start: $(tail -5 "$A/agent.log" 2>/dev/null)"
    sleep 0.1
done
[ -s "$A/pid" ] || die "the agent is not ready after 30 s"

ctl() { $AGENTCTL "$A/control.sock" "$@"; }

ctl mint "$CLIENT_ID" "$SCRATCH/client" >/dev/null \
    || die "cannot mint the client SVID"
CERT=$SCRATCH/client.pem
KEY=$SCRATCH/client.key


# ------------------------------------------------------------ nginx

mkdir -p "$SCRATCH/rules"
awk -v id="$CLIENT_ID" 'BEGIN {
    for (i = 1; i < 100; i++)
        printf "spiffe_allow spiffe://example.org/ns/gen/sa/svc%05d;\n", i
    printf "spiffe_allow %s;\n", id }' > "$SCRATCH/rules/exact100.conf"
awk -v id="$CLIENT_ID" 'BEGIN {
    for (i = 1; i < 10000; i++)
        printf "spiffe_allow spiffe://example.org/ns/gen/sa/svc%05d;\n", i
    printf "spiffe_allow %s;\n", id }' > "$SCRATCH/rules/exact10000.conf"
awk 'BEGIN {
    for (i = 1; i < 10000; i++)
        printf "spiffe_allow spiffe://example.org/ns/*/sa/svc%05d;\n", i
    print "spiffe_allow spiffe://example.org/ns/*/sa/web;" }' \
    > "$SCRATCH/rules/wild10000.conf"
awk 'BEGIN {
    for (i = 1; i < 10000; i++)
        printf "spiffe_allow spiffe://example.org/ns/g%05d/**;\n", i
    print "spiffe_allow spiffe://example.org/ns/bench/**;" }' \
    > "$SCRATCH/rules/glob10000.conf"
# exact IDs, "*" and "/**" patterns in turn, a regex every 100 rules (none
# matches the client, so each one is tried on every request)
awk 'BEGIN {
    for (i = 1; i < 1000; i++) {
        if (i % 100 == 50)
            printf "spiffe_deny \"~^spiffe://example\\.org/ns/ops-%d/sa/[a-z]+$\";\n", i
        else if (i % 3 == 0)
            printf "spiffe_allow spiffe://example.org/ns/gen/sa/svc%05d;\n", i
        else if (i % 3 == 1)
            printf "spiffe_deny spiffe://example.org/ns/*/sa/svc%05d;\n", i
        else
            printf "spiffe_allow spiffe://example.org/ns/g%05d/**;\n", i
    }
    print "spiffe_allow spiffe://example.org/ns/*/sa/web;" }' \
    > "$SCRATCH/rules/mixed1000.conf"

# write_conf NAME KIND PORT RULESETS LOGLEVEL [single|helper]
#   KIND stock|spiffe; RULESETS all|small (r0 and r1 only); "single": no
#   master process, in the foreground (for valgrind); "helper": stock reads
#   its SVID from its own copy of the files, which section g rewrites
write_conf() {
    local name=$1 kind=$2 port=$3 sets=$4 level=$5 mode=${6:-}
    local p=$SCRATCH/$name v

    mkdir -p "$p/conf" "$p/logs"
    for v in $VARIANTS; do
        mkdir -p "$p/html/$v"
        printf '%s' "$BODY" > "$p/html/$v/ok.txt"
    done

    {
        if [ "$kind" = spiffe ]; then
            echo "load_module $MODULE;"
            echo "spiffe_workload_api unix:$A/agent.sock;"
        fi
        if [ "$(id -u)" = 0 ]; then
            echo "user root;"
        fi
        if [ "$mode" = single ]; then
            echo "master_process off;"
            echo "daemon off;"
        fi
        cat <<EOF
worker_processes 1;
worker_rlimit_nofile 8192;
pcre_jit on;
error_log logs/error.log $level;
pid logs/nginx.pid;

events {
    worker_connections 4096;
    accept_mutex off;
}

http {
    access_log off;
    default_type text/plain;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    open_file_cache max=64;

    server {
        listen 127.0.0.1:$port ssl;
        ssl_protocols TLSv1.2 TLSv1.3;
        root $p/html;

EOF
        if [ "$kind" = spiffe ]; then
            cat <<EOF
        spiffe_svid on;
        spiffe_verify_client on;

        location /r0/ { }
        location /r1/ { spiffe_allow $CLIENT_ID; }
EOF
            if [ "$sets" = all ]; then
                cat <<EOF
        location /r100/ { include $SCRATCH/rules/exact100.conf; }
        location /r10000/ { include $SCRATCH/rules/exact10000.conf; }
        location /w10000/ { include $SCRATCH/rules/wild10000.conf; }
        location /g10000/ { include $SCRATCH/rules/glob10000.conf; }
        location /m1000/ { include $SCRATCH/rules/mixed1000.conf; }
EOF
            fi
        else
            local files=$A
            [ "$mode" = helper ] && files=$p
            cat <<EOF
        ssl_certificate $files/svid.pem;
        ssl_certificate_key $files/svid_key.pem;
        ssl_verify_client on;
        ssl_client_certificate $A/bundle.pem;

EOF
            for v in $VARIANTS; do
                echo "        location /$v/ { }"
            done
        fi
        echo "    }"
        echo "}"
    } > "$p/conf/nginx.conf"
}

declare -A PORT=() WORKER=()
PORT[stock]=$PORT_BASE
PORT[spiffe]=$((PORT_BASE + 1))
PORT[mstock]=$((PORT_BASE + 2))
PORT[mspiffe]=$((PORT_BASE + 3))
PORT[cgstock]=$((PORT_BASE + 4))
PORT[cgspiffe]=$((PORT_BASE + 5))
PORT[gstock]=$((PORT_BASE + 6))
PORT[gspiffe]=$((PORT_BASE + 7))

# ready NAME: waits until the server at PORT[NAME] answers one request
ready() {
    local line
    for _ in $(seq "${2:-40}"); do
        line=$("$CLIENT" --port "${PORT[$1]}" --cert "$CERT" --key "$KEY" \
               --path /r0/ok.txt --requests 1 --conns 1 --quiet \
               --timeout 20000 2>/dev/null)
        [ "$(kv "$line" ok)" = 1 ] && return 0
        sleep 0.5
    done
    return 1
}

# start_nginx NAME: one worker, pinned to SERVER_CPU; waits until it answers
start_nginx() {
    local name=$1 p=$SCRATCH/$1

    $NICE taskset -c "$SERVER_CPU" "$NGINX" -p "$p/" -c conf/nginx.conf \
        -e logs/error.log \
        || die "$name: nginx did not start: $(tail -3 "$p/logs/error.log")"

    for _ in $(seq 100); do
        [ -s "$p/logs/nginx.pid" ] && break
        sleep 0.05
    done
    MASTER[$name]=$(cat "$p/logs/nginx.pid")

    for _ in $(seq 100); do
        WORKER[$name]=$(pgrep -P "${MASTER[$name]}" | head -n1)
        [ -n "${WORKER[$name]}" ] && break
        sleep 0.05
    done
    [ -n "${WORKER[$name]}" ] || die "$name: no worker process"

    ready "$name" || die "$name: does not answer: $(tail -3 "$p/logs/error.log")"
}

stop_nginx() {
    local name=$1 pid=${MASTER[$1]}
    kill -QUIT "$pid" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    unset "MASTER[$name]"
}

# load NAME LABEL CLIENT-ARGS...: one client run pinned to CLIENT_CPU; the
# client also reports the worker's CPU time and the other processes' share
# of the server's CPU over its measured window
load() {
    local name=$1 label=$2 line
    shift 2
    line=$($NICE taskset -c "$CLIENT_CPU" "$CLIENT" --port "${PORT[$name]}" \
           --cert "$CERT" --key "$KEY" --label "$label" --quiet \
           --server-pid "${WORKER[$name]}" --server-cpu "$SERVER_CPU" "$@")
    line="$line server=$name"
    printf '%s\n' "$line" >> "$RAW"
    printf '%s\n' "$line"
}

# ab TEST CLIENT-ARGS...: ROUNDS rounds of stock and ngx_spiffe, the order
# alternating (AB, BA, AB, ...).  Per side: rps, ok per worker CPU-second,
# p99, worker CPU share; per round: the ngx_spiffe / stock ratios.
declare -A RPS=() EFF=() P99=() SCPU=() CCPU=() RATIO=() ERATIO=() OTHER=() FAILS=()
ab() {
    local test=$1 r order side line
    local -A got=() eff=()
    shift
    for side in stock spiffe; do
        RPS[${side}_$test]="" EFF[${side}_$test]="" P99[${side}_$test]=""
        SCPU[${side}_$test]="" CCPU[${side}_$test]=""
    done
    RATIO[$test]="" ERATIO[$test]="" OTHER[$test]="" FAILS[$test]=0
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then order="stock spiffe"; else order="spiffe stock"; fi
        for side in $order; do
            line=$(load "$side" "$test/$r" "$@")
            got[$side]=$(kv "$line" rps)
            eff[$side]=$(kv "$line" ok_per_server_cpu_s)
            RPS[${side}_$test]+=" ${got[$side]}"
            EFF[${side}_$test]+=" ${eff[$side]}"
            P99[${side}_$test]+=" $(kv "$line" p99_us)"
            SCPU[${side}_$test]+=" $(kv "$line" server_cpu)"
            CCPU[${side}_$test]+=" $(kv "$line" client_cpu)"
            OTHER[$test]+=" $(kv "$line" other_on_server_cpu)"
            FAILS[$test]=$(( FAILS[$test] + $(kv "$line" fail) ))
        done
        RATIO[$test]+=" $(div "${got[spiffe]}" "${got[stock]}")"
        ERATIO[$test]+=" $(div "${eff[spiffe]}" "${eff[stock]}")"
        say "  $test round $r: stock $(fmt %.0f "${got[stock]}")/s ($(fmt %.0f "${eff[stock]}")/CPU-s), ngx_spiffe $(fmt %.0f "${got[spiffe]}")/s ($(fmt %.0f "${eff[spiffe]}")/CPU-s)"
    done
}

write_conf stock stock "${PORT[stock]}" all warn
write_conf spiffe spiffe "${PORT[spiffe]}" all warn
say "bench: starting stock nginx and nginx with ngx_spiffe (1 worker each, CPU $SERVER_CPU)"
start_nginx stock
start_nginx spiffe

AFFINITY="worker affinity: stock $(taskset -pc "${WORKER[stock]}" | sed 's/.*: //'), ngx_spiffe $(taskset -pc "${WORKER[spiffe]}" | sed 's/.*: //')"

COMMON=(--warmup "$WARMUP" --duration "$DUR" --expect-body "$BODY")


# ------------------------------------------------------------ a. handshakes

say "bench: [$(since)] a. new mTLS handshakes ($CONNS_NEW connections, $ROUNDS rounds x ${DUR}s)"
ab hs --new --conns "$CONNS_NEW" --path /r1/ok.txt "${COMMON[@]}"


# ------------------------------------------------------------ b. keepalive

for v in $VARIANTS; do
    say "bench: [$(since)] b. kept-alive requests on /$v/ ($CONNS_KA connections)"
    ab "ka_$v" --keepalive --conns "$CONNS_KA" --path "/$v/ok.txt" "${COMMON[@]}"
done

# each pattern set against one exact rule, on ngx_spiffe alone: /r1/ and
# /P/ in turn, the order flipping every round; per round the ratio of
# requests per worker CPU-second, P / r1
declare -A PEFF=() PRATIO=() got=()
for v in $PATTERNS; do
    say "bench: [$(since)] b. /$v/ against /r1/ on ngx_spiffe ($CONNS_KA connections)"
    PEFF[r1_$v]="" PEFF[$v]="" PRATIO[$v]=""
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then order="r1 $v"; else order="$v r1"; fi
        for loc in $order; do
            line=$(load spiffe "pe_$v/$loc/$r" --keepalive --conns "$CONNS_KA" \
                   --path "/$loc/ok.txt" "${COMMON[@]}")
            got[$loc]=$(kv "$line" ok_per_server_cpu_s)
            FAILS[pe_$v]=$(( ${FAILS[pe_$v]:-0} + $(kv "$line" fail) ))
        done
        PEFF[r1_$v]+=" ${got[r1]}"
        PEFF[$v]+=" ${got[$v]}"
        PRATIO[$v]+=" $(div "${got[$v]}" "${got[r1]}")"
        say "  pe_$v round $r: /r1/ $(fmt %.0f "${got[r1]}")/CPU-s, /$v/ $(fmt %.0f "${got[$v]}")/CPU-s"
    done
done

RSS_MAIN_STOCK=$(rss_kb "${WORKER[stock]}" VmRSS)
RSS_MAIN_SPIFFE=$(rss_kb "${WORKER[spiffe]}" VmRSS)


# ------------------------------------------------------------ c. rotation

# closed loop on a few connections by default: the worker stays busy, yet
# no queue builds up when other processes take the CPU for a while
ROTC=(--new --conns "$ROT_CONNS" --path /r1/ok.txt --expect-body "$BODY"
      --ca "$A/bundle.pem")
if [ -n "$ROT_RATE" ]; then
    ROTC+=(--rate "$ROT_RATE")
    ROT_LOAD_NOTE="--new on $ROT_CONNS connections at $ROT_RATE/s"
else
    ROT_LOAD_NOTE="--new on $ROT_CONNS connections, closed loop"
fi
say "bench: [$(since)] c. rotation every ${ROT_INTERVAL}s for ${ROT_SECS}s under $ROT_LOAD_NOTE"

LINE_NOROT=$(load spiffe rot/none "${ROTC[@]}" --warmup "$WARMUP" --duration "$ROT_BASE_SECS")

: > "$SCRATCH/rot.log"
: > "$SCRATCH/seen.log"
$NICE taskset -c "$CLIENT_CPU" $AGENTCTL "$A/control.sock" \
    --rotate-every "$ROT_INTERVAL" --for "$ROT_SECS" --log "$SCRATCH/rot.log" \
    > "$SCRATCH/rot.out" 2>&1 &
ROT_PID=$!
LINE_ROT=$(load spiffe rot/on "${ROTC[@]}" --duration "$ROT_SECS" --serials "$SCRATCH/seen.log")
wait "$ROT_PID"
ROT_SUMMARY=$(grep '^ROTATE' "$SCRATCH/rot.out" || echo "ROTATE rotations=0 errors=?")

# propagation ROTLOG SEENLOG: from the agent's reply to the first handshake
# that got the new serial, "p50 p99 max n" in ms
propagation() {
    awk 'NR == FNR { sent[$2] = $1; next }
         ($2 in sent) && !($2 in done) { done[$2] = 1; print ($1 - sent[$2]) / 1e6 }' \
        "$1" "$2" | sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "- - - 0"; exit }
        i50 = int(NR * 0.50); if (i50 < NR * 0.50) i50++; if (i50 < 1) i50 = 1
        i99 = int(NR * 0.99); if (i99 < NR * 0.99) i99++; if (i99 < 1) i99 = 1
        printf "%.1f %.1f %.1f %d\n", v[i50], v[i99], v[NR], NR }'
}
read -r p50 p99 pmax PROP_N <<< "$(propagation "$SCRATCH/rot.log" "$SCRATCH/seen.log")"
PROP="$p50 $p99 $pmax"

stop_nginx stock
stop_nginx spiffe


# ------------------------------------------------------------ d. memory

say "bench: [$(since)] d. worker memory (fresh instances, /r0 and /r1 only)"
write_conf mstock stock "${PORT[mstock]}" small warn
write_conf mspiffe spiffe "${PORT[mspiffe]}" small info
start_nginx mstock
start_nginx mspiffe
sleep 1

declare -A MEM=()
mem() { MEM[${1}_$2]="$(rss_kb "${WORKER[$1]}" VmRSS)/$(rss_kb "${WORKER[$1]}" RssAnon)"; }
rss() { printf '%s' "${MEM[$1]%%/*}"; }

mem mstock start
mem mspiffe start

MEMLOAD=(--duration "$MEM_DUR" --path /r1/ok.txt --expect-body "$BODY")
MEM_FAILS=0
for n in mstock mspiffe; do
    for mode in --new --keepalive; do
        line=$(load "$n" "mem/$n$mode" "$mode" --conns "$CONNS_NEW" "${MEMLOAD[@]}")
        MEM_FAILS=$(( MEM_FAILS + $(kv "$line" fail) ))
    done
    mem "$n" load
done

say "bench: [$(since)]    $MEM_ROTATIONS rotations, at most ${MEM_SECS}s"
MEM_ROT=$($NICE taskset -c "$CLIENT_CPU" $AGENTCTL "$A/control.sock" \
          --rotate-count "$MEM_ROTATIONS" --max-seconds "$MEM_SECS" | grep '^ROTATE')
sleep 2
MEM_APPLIED=$(grep -c 'spiffe: SVID .* version' "$SCRATCH/mspiffe/logs/error.log")
mem mspiffe rot

line=$(load mspiffe mem/after-rotations --new --conns "$CONNS_NEW" "${MEMLOAD[@]}" --ca "$A/bundle.pem")
MEM_FAILS=$(( MEM_FAILS + $(kv "$line" fail) ))
mem mspiffe rotload
line=$(load mstock mem/mstock-again --new --conns "$CONNS_NEW" "${MEMLOAD[@]}")
MEM_FAILS=$(( MEM_FAILS + $(kv "$line" fail) ))
mem mstock rotload

ALIVE=$(pgrep -P "${MASTER[mspiffe]}" | wc -l)
stop_nginx mstock
stop_nginx mspiffe

ERRLOG_LINES=0
SIGNALLED=0
for n in stock spiffe mstock mspiffe; do
    c=$(grep -cE '\[(alert|crit|emerg|error)\]' "$SCRATCH/$n/logs/error.log")
    ERRLOG_LINES=$(( ERRLOG_LINES + c ))
    c=$(grep -c 'exited on signal' "$SCRATCH/$n/logs/error.log")
    SIGNALLED=$(( SIGNALLED + c ))
done


# ------------------------------------------------------------ e. ceiling

say "bench: [$(since)] e. openssl speed -seconds $SPEED_SECS ecdsap256 ecdhp256 (CPU $SERVER_CPU)"
SPEED=$($NICE taskset -c "$SERVER_CPU" openssl speed -seconds "$SPEED_SECS" \
        ecdsap256 ecdhp256 2>/dev/null)
SIGN=$(printf '%s\n' "$SPEED" | awk '/ecdsa \(nistp256\)/ { print $(NF-1) }')
VERIFY=$(printf '%s\n' "$SPEED" | awk '/ecdsa \(nistp256\)/ { print $NF }')
ECDH=$(printf '%s\n' "$SPEED" | awk '/ecdh \(nistp256\)/ { print $NF }')
CEIL=""
if [ -n "$SIGN" ] && [ -n "$VERIFY" ] && [ -n "$ECDH" ]; then
    CEIL=$(calc "printf \"%.0f\", 1 / (2 / $SIGN + 2 / $VERIFY + 1 / $ECDH)")
fi


# ------------------------------------------------------------ f. callgrind

# instructions the worker executes per handshake and per kept-alive
# request: deterministic, so it shows what the shared, noisy CPUs cannot
declare -A IR=()
CG_NOTE=""

# cg_fn KEY FUNCTION DIVISOR: FUNCTION's inclusive instructions in the
# annotated dump of KEY, divided by DIVISOR ("-" when not there)
cg_fn() {
    local f=$OUT/callgrind-${1#cg}.txt
    [ -f "$f" ] || { echo -; return; }
    awk -v fn="$2" -v d="$3" '
        $0 ~ (":" fn "( \\[.*)?$") {
            v = $1; gsub(",", "", v); if (v + 0 > max) max = v + 0 }
        END { if (max == 0) print "-"; else printf "%.0f\n", max / d }' "$f"
}

cg_newest() {   # the newest dump of callgrind output $1
    ls -1 "$1".* 2>/dev/null | awk -F. '{ print $NF, $0 }' | sort -n \
        | tail -n1 | cut -d' ' -f2-
}
declare -A CGFILE=()

# cg_measure NAME KEY N CLIENT-ARGS...: Ir of N requests, zeroed before
cg_measure() {
    local name=$1 key=$2 n=$3 pid=${CGPID[$1]} out=$SCRATCH/$1.cg
    shift 3
    callgrind_control -z "$pid" >/dev/null 2>&1
    "$CLIENT" --port "${PORT[$name]}" --cert "$CERT" --key "$KEY" --quiet \
        --timeout 60000 --expect-body "$BODY" --requests "$n" "$@" > "$SCRATCH/cg.line"
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 0.2
    if [ "$(kv "$(cat "$SCRATCH/cg.line")" ok)" != "$n" ]; then
        say "bench: callgrind $name $key: $(cat "$SCRATCH/cg.line")"
        IR[$key]=""
        return
    fi
    CGFILE[$key]=$(cg_newest "$out")
    IR[$key]=$(awk '/^totals:/ { print $2 }' "${CGFILE[$key]}")
}

if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
    say "bench: [$(since)] f. instructions per handshake / request under callgrind"
    write_conf cgstock stock "${PORT[cgstock]}" small warn single
    write_conf cgspiffe spiffe "${PORT[cgspiffe]}" all warn single
    for n in cgstock cgspiffe; do
        taskset -c "$SERVER_CPU" valgrind --tool=callgrind --instr-atstart=no \
            --callgrind-out-file="$SCRATCH/$n.cg" "$NGINX" -p "$SCRATCH/$n/" \
            -c conf/nginx.conf -e logs/error.log > "$SCRATCH/$n.vg" 2>&1 &
        CGPID[$n]=$!
    done
    for n in cgstock cgspiffe; do
        if ! ready "$n" 120; then
            CG_NOTE="skipped: $n did not start under valgrind"
            break
        fi
        callgrind_control -i on "${CGPID[$n]}" >/dev/null 2>&1
        # warm-up, then measure; for kept-alive requests, two runs of
        # different lengths on the same number of connections: the
        # difference is requests only, no handshakes
        "$CLIENT" --port "${PORT[$n]}" --cert "$CERT" --key "$KEY" --quiet \
            --timeout 60000 --new --conns 2 --requests 20 --path /r1/ok.txt >/dev/null
        cg_measure "$n" "${n}_hs" "$CG_HS" --new --conns 4 --path /r1/ok.txt
        for v in r0 r1 r10000 $PATTERNS; do
            [ "$n" = cgstock ] && [ "$v" != r0 ] && continue
            req=$CG_REQ
            cg_measure "$n" "${n}_${v}_a" "$req" --keepalive --conns 10 --path "/$v/ok.txt"
            cg_measure "$n" "${n}_${v}_b" "$(( req * 3 ))" --keepalive --conns 10 --path "/$v/ok.txt"
            IR[${n}_$v]=$(awk -v a="${IR[${n}_${v}_a]}" -v b="${IR[${n}_${v}_b]}" -v r="$req" \
                'BEGIN { if (a == "" || b == "") print ""; else printf "%.0f\n", (b - a) / (2 * r) }')
        done
        IR[${n}_hs]=$(awk -v a="${IR[${n}_hs]}" -v n="$CG_HS" 'BEGIN { if (a == "") print ""; else printf "%.0f\n", a / n }')
    done
    for n in cgstock cgspiffe; do
        kill -TERM "${CGPID[$n]}" 2>/dev/null
    done
    wait "${CGPID[@]}" 2>/dev/null
    CGPID=()
    # where the instructions go: inclusive costs per function
    if command -v callgrind_annotate >/dev/null; then
        for k in cgstock_hs cgspiffe_hs cgstock_r0_b cgspiffe_r0_b cgspiffe_r1_b \
                 cgspiffe_r10000_b cgspiffe_w10000_b cgspiffe_g10000_b \
                 cgspiffe_m1000_b; do
            [ -f "${CGFILE[$k]:-}" ] || continue
            callgrind_annotate --inclusive=yes --threshold=100 "${CGFILE[$k]}" \
                2>/dev/null > "$OUT/callgrind-${k#cg}.txt"
        done
    fi
elif [ "$CALLGRIND" = 1 ]; then
    CG_NOTE="skipped: valgrind is not installed"
else
    CG_NOTE="skipped: CALLGRIND=0"
fi


# ------------------------------------------------------------ g. reloads

# The way it is done without the module: a helper (spiffe-helper) writes
# each new SVID to the files of ssl_certificate and runs "nginx -s
# reload": new workers start, the old ones drain.  Both servers get the
# same load as in c. and a new SVID every HELPER_INTERVAL s for ROT_SECS s,
# after ROT_BASE_SECS s of the same load without rotation (the steady
# state); nginxprocs.py samples the processes of each nginx meanwhile.
say "bench: [$(since)] g. a new SVID every ${HELPER_INTERVAL}s for ${ROT_SECS}s: stock nginx with files and reloads, ngx_spiffe"
write_conf gstock stock "${PORT[gstock]}" small warn helper
write_conf gspiffe spiffe "${PORT[gspiffe]}" small warn
G=$SCRATCH/gstock
HELPER_CMD="cp $A/svid.pem $G/svid.pem.new && cp $A/svid_key.pem $G/svid_key.pem.new && mv -f $G/svid.pem.new $G/svid.pem && mv -f $G/svid_key.pem.new $G/svid_key.pem && $NGINX -p $G/ -c conf/nginx.conf -s reload 2>>$SCRATCH/helper.log"
cp "$A/svid.pem" "$A/svid_key.pem" "$G/"
start_nginx gstock
start_nginx gspiffe
# each reload replaces stock's worker: the CPU time of all the processes
# of each nginx comes from nginxprocs.py instead of the client
WORKER[gstock]=0 WORKER[gspiffe]=0

declare -A GLINE=() GPROCS=() GROT=() GPROP=()
# sampled NAME LABEL CMD...: CMD, with the processes of nginx NAME sampled;
# sets GPROCS[LABEL]
sampled() {
    local name=$1 label=$2 spid
    shift 2
    $NICE taskset -c "$CLIENT_CPU" $NGINXPROCS "${MASTER[$name]}" \
        > "$SCRATCH/procs.out" &
    spid=$!
    "$@"
    kill -TERM "$spid"
    wait "$spid"
    GPROCS[$label]=$(grep '^PROCS' "$SCRATCH/procs.out")
}
g_load() { GLINE[$2]=$(load "$1" "g/$2" "${@:3}"); }
# g_rotating NAME LABEL CLIENT-ARGS...: the client for ROT_SECS s while the
# agent makes a new SVID every HELPER_INTERVAL s (for stock, the helper
# then copies it and reloads nginx); sets GLINE, GPROCS, GROT, GPROP[LABEL]
g_rotating() {
    local name=$1 label=$2 rpid exec_arg=()
    shift 2
    [ "$name" = gstock ] && exec_arg=(--exec "$HELPER_CMD")
    : > "$SCRATCH/grot-$label.log"
    : > "$SCRATCH/gseen-$label.log"
    $NICE taskset -c "$CLIENT_CPU" $AGENTCTL "$A/control.sock" \
        --rotate-every "$HELPER_INTERVAL" --for "$ROT_SECS" \
        --log "$SCRATCH/grot-$label.log" "${exec_arg[@]}" \
        > "$SCRATCH/grot-$label.out" 2>&1 &
    rpid=$!
    sampled "$name" "$label" g_load "$name" "$label" "$@" \
        --duration "$ROT_SECS" --serials "$SCRATCH/gseen-$label.log"
    wait "$rpid"
    GROT[$label]=$(grep '^ROTATE' "$SCRATCH/grot-$label.out" || echo "ROTATE rotations=0 errors=?")
    GPROP[$label]=$(propagation "$SCRATCH/grot-$label.log" "$SCRATCH/gseen-$label.log")
}
# the load of c., and the same on kept-alive connections
ROTK=(--keepalive --conns "$ROT_CONNS" --path /r1/ok.txt --expect-body "$BODY"
      --ca "$A/bundle.pem")
for side in gspiffe gstock; do
    sampled "$side" "${side}_none" g_load "$side" "${side}_none" \
        "${ROTC[@]}" --warmup "$WARMUP" --duration "$ROT_BASE_SECS"
    g_rotating "$side" "${side}_on" "${ROTC[@]}"
    g_rotating "$side" "${side}_ka" "${ROTK[@]}"
done
G_RELOAD_ERR=$(grep -c '\[\(alert\|crit\|emerg\|error\)\]' "$SCRATCH/helper.log" 2>/dev/null)
stop_nginx gstock
stop_nginx gspiffe
for n in gstock gspiffe; do
    c=$(grep -cE '\[(alert|crit|emerg|error)\]' "$SCRATCH/$n/logs/error.log")
    ERRLOG_LINES=$(( ERRLOG_LINES + c ))
    c=$(grep -c 'exited on signal' "$SCRATCH/$n/logs/error.log")
    SIGNALLED=$(( SIGNALLED + c ))
done


# ------------------------------------------------------------ table

T_END=$(date +%s)

ratios() { mmm $1 | awk '{ if ($1 == "-") print "-"; else printf "%.3f %.3f %.3f\n", $1, $2, $3 }'; }

verdict() {     # ratio-median target
    awk -v m="${1:-}" -v t="$2" 'BEGIN {
        if (m == "" || m == "-") print ""
        else if (m >= t) print "ok, >= " t
        else print "BELOW " t }'
}

row() {         # label stock spiffe ratios(min med max) note
    printf '  %-32s %10s %10s  %-21s %s\n' "$1" "$2" "$3" "$4" "$5"
}

cell_ratios() { ratios "$1"; }

OTHER_ALL=${OTHER[hs]}
for v in $VARIANTS; do OTHER_ALL+=" ${OTHER[ka_$v]}"; done

# the label of a location's rule set
label_of() {
    case $1 in
        r0) echo "no rules" ;;
        r1) echo "1 exact ID" ;;
        r100) echo "100 exact IDs" ;;
        r10000) echo "10,000 exact IDs" ;;
        w10000) echo "10,000 '*' patterns" ;;
        g10000) echo "10,000 '/**' patterns" ;;
        m1000) echo "1,000 mixed, 10 regexes" ;;
    esac
}

{
    echo "ngx_spiffe benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), took $(( T_END - T_BEGIN ))s"
    echo "machine   $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $NCPU vCPUs$(grep -qw hypervisor /proc/cpuinfo && echo ' (VM)'), Linux $(uname -r)"
    echo "software  $("$NGINX" -v 2>&1 | sed 's/.*: //'), $(openssl version | awk '{ print $1, $2 }'), module $GIT_REV (.so sha256 $MODULE_SUM)"
    echo "pinning   nginx: 1 worker, taskset CPU $SERVER_CPU; client (and agent): taskset CPU $CLIENT_CPU; $NICE_NOTE; $AFFINITY"
    echo "method    $ROUNDS rounds x ${DUR}s (+${WARMUP}s warm-up), stock / ngx_spiffe alternating AB, BA, ...; TLS 1.3, group P-256, ECDSA P-256 SVIDs"
    echo "noise     other processes took median $(pct "$(med $OTHER_ALL)")%, max $(pct "$(maxof $OTHER_ALL)")% of the server CPU during a.-b. runs"
    echo "          (/s = throughput; /CPU-s = per second of worker CPU time, less sensitive to that noise; f. is not sensitive at all)"
    echo
    row "" "stock" "ngx_spiffe" "ratio min med max" "target"
    echo "a. new mTLS handshakes, $CONNS_NEW conns, one request each, no resumption"
    row "handshakes /s" "$(fmt %.0f "$(med ${RPS[stock_hs]})")" "$(fmt %.0f "$(med ${RPS[spiffe_hs]})")" \
        "$(cell_ratios "${RATIO[hs]}")" "$(verdict "$(med ${RATIO[hs]})" 0.97)"
    row "handshakes /CPU-s" "$(fmt %.0f "$(med ${EFF[stock_hs]})")" "$(fmt %.0f "$(med ${EFF[spiffe_hs]})")" \
        "$(cell_ratios "${ERATIO[hs]}")" "$(verdict "$(med ${ERATIO[hs]})" 0.97)"
    row "p99 latency ms" "$(us2ms "$(med ${P99[stock_hs]})")" "$(us2ms "$(med ${P99[spiffe_hs]})")" "" ""
    row "CPU share: worker, client" "$(fmt %.2f "$(med ${SCPU[stock_hs]})"), $(fmt %.2f "$(med ${CCPU[stock_hs]})")" \
        "$(fmt %.2f "$(med ${SCPU[spiffe_hs]})"), $(fmt %.2f "$(med ${CCPU[spiffe_hs]})")" "" ""
    echo "b. kept-alive requests, $CONNS_KA conns (ngx_spiffe rules: client ID last; stock: no rules; flat = same ratio)"
    for v in $VARIANTS; do
        label=$(label_of "$v")
        if [ "$v" = r0 ]; then
            n1=$(verdict "$(med ${RATIO[ka_r0]})" 0.98)
            n2=$(verdict "$(med ${ERATIO[ka_r0]})" 0.98)
        else
            n1="" n2=""
        fi
        row "$label /s" "$(fmt %.0f "$(med ${RPS[stock_ka_$v]})")" "$(fmt %.0f "$(med ${RPS[spiffe_ka_$v]})")" \
            "$(cell_ratios "${RATIO[ka_$v]}")" "$n1"
        row "$label /CPU-s" "$(fmt %.0f "$(med ${EFF[stock_ka_$v]})")" "$(fmt %.0f "$(med ${EFF[spiffe_ka_$v]})")" \
            "$(cell_ratios "${ERATIO[ka_$v]}")" "$n2"
    done
    row "p99 latency ms, no rules" "$(us2ms "$(med ${P99[stock_ka_r0]})")" "$(us2ms "$(med ${P99[spiffe_ka_r0]})")" "" ""
    row "CPU share: worker, client" "$(fmt %.2f "$(med ${SCPU[stock_ka_r0]})"), $(fmt %.2f "$(med ${CCPU[stock_ka_r0]})")" \
        "$(fmt %.2f "$(med ${SCPU[spiffe_ka_r0]})"), $(fmt %.2f "$(med ${CCPU[spiffe_ka_r0]})")" "" "(no rules)"
    echo "  each pattern set against 1 exact ID, ngx_spiffe alone: worker CPU per request (us), and the ratio of requests per CPU-second"
    row "" "1 exact ID" "patterns" "ratio min med max" "target"
    for v in $PATTERNS; do
        row "$(label_of "$v")" "$(fmt %.2f "$(div 1000000 "$(med ${PEFF[r1_$v]})")")" \
            "$(fmt %.2f "$(div 1000000 "$(med ${PEFF[$v]})")")" \
            "$(cell_ratios "${PRATIO[$v]}")" "$(verdict "$(med ${PRATIO[$v]})" 0.95)"
    done
    FAILS_AB=0
    for t in hs $(for v in $VARIANTS; do echo "ka_$v"; done) \
             $(for v in $PATTERNS; do echo "pe_$v"; done); do
        FAILS_AB=$(( FAILS_AB + ${FAILS[$t]:-0} ))
    done
    echo "  failed requests in a. and b.: $FAILS_AB"
    echo "c. SVID rotation every ${ROT_INTERVAL}s for ${ROT_SECS}s, ngx_spiffe, $ROT_LOAD_NOTE; the client verifies the server chain"
    for which in none on; do
        if [ $which = none ]; then l=$LINE_NOROT; t="no rotation, ${ROT_BASE_SECS}s"; else l=$LINE_ROT; t="rotating"; fi
        printf '  %-19s ok %6s (%s/s)  failed %s (connect %s handshake %s io %s status %s body %s timeout %s)  p50 %s  p99 %s  max %s ms\n' \
            "$t" "$(kv "$l" ok)" "$(fmt %.0f "$(kv "$l" rps)")" "$(kv "$l" fail)" "$(kv "$l" fail_connect)" "$(kv "$l" fail_handshake)" \
            "$(kv "$l" fail_io)" "$(kv "$l" fail_status)" "$(kv "$l" fail_body)" "$(kv "$l" fail_timeout)" \
            "$(us2ms "$(kv "$l" p50_us)")" "$(us2ms "$(kv "$l" p99_us)")" "$(us2ms "$(kv "$l" max_us)")"
    done
    echo "  rotations $(kv "$ROT_SUMMARY" rotations) (errors $(kv "$ROT_SUMMARY" errors), sent late $(kv "$ROT_SUMMARY" late), agent reply $(kv "$ROT_SUMMARY" reply_ms_mean) ms mean); distinct serials the client got: $(kv "$LINE_ROT" serials)"
    set -- $PROP
    echo "  agent push -> first handshake with the new serial: p50 $1 ms, p99 $2 ms, max $3 ms over $PROP_N serials (target p99 <= 50 ms)"
    echo "  other processes took $(pct "$(kv "$LINE_NOROT" other_on_server_cpu)")% / $(pct "$(kv "$LINE_ROT" other_on_server_cpu)")% of the server CPU"
    echo "d. worker RSS KiB (VmRSS/RssAnon); fresh instances with /r0 and /r1 only"
    row "after start" "${MEM[mstock_start]}" "${MEM[mspiffe_start]}" \
        "+$(( $(rss mspiffe_start) - $(rss mstock_start) )) KiB" ""
    row "after the same load" "${MEM[mstock_load]}" "${MEM[mspiffe_load]}" \
        "+$(( $(rss mspiffe_load) - $(rss mstock_load) )) KiB" "(${MEM_DUR}s --new + ${MEM_DUR}s keepalive)"
    row "after $(kv "$MEM_ROT" rotations) rotations" "" "${MEM[mspiffe_rot]}" \
        "$(( $(rss mspiffe_rot) - $(rss mspiffe_load) )) KiB vs load" "in $(kv "$MEM_ROT" secs)s; worker applied $MEM_APPLIED SVIDs"
    row "then ${MEM_DUR}s more --new load" "${MEM[mstock_rotload]}" "${MEM[mspiffe_rotload]}" \
        "+$(( $(rss mspiffe_rotload) - $(rss mstock_rotload) )) KiB" "failed requests in d.: $MEM_FAILS; workers alive: $ALIVE"
    row "a.-c. instances (31k rules)" "$RSS_MAIN_STOCK" "$RSS_MAIN_SPIFFE" \
        "+$(( RSS_MAIN_SPIFFE - RSS_MAIN_STOCK )) KiB" "VmRSS after a.-c."
    if [ -n "$CEIL" ]; then
        echo "e. crypto ceiling, CPU $SERVER_CPU, openssl speed: ECDSA P-256 sign $(fmt %.0f "$SIGN")/s verify $(fmt %.0f "$VERIFY")/s, ECDH P-256 $(fmt %.0f "$ECDH")/s"
        echo "  per handshake the server does 2 sign-sized ops (CertificateVerify, ECDHE key), 2 verifies (client chain, CertificateVerify), 1 ECDH"
        row "ceiling $CEIL handshakes/s" \
            "$(pct "$(med ${EFF[stock_hs]})" "$CEIL")%" \
            "$(pct "$(med ${EFF[spiffe_hs]})" "$CEIL")%" "" "(handshakes /CPU-s vs ceiling)"
    else
        echo "e. crypto ceiling: skipped, openssl speed gave no numbers"
    fi
    if [ -z "$CG_NOTE" ]; then
        echo "f. instructions executed by the worker (callgrind; deterministic)"
        row "per handshake" "$(fmt %.0f "${IR[cgstock_hs]}")" "$(fmt %.0f "${IR[cgspiffe_hs]}")" \
            "$(fmt %.4f "$(div "${IR[cgspiffe_hs]}" "${IR[cgstock_hs]}")")" "($CG_HS handshakes)"
        for v in r0 r1 r10000 $PATTERNS; do
            label="per request, $(label_of "$v")"
            row "$label" "$(fmt %.0f "${IR[cgstock_r0]}")" "$(fmt %.0f "${IR[cgspiffe_$v]}")" \
                "$(fmt %.4f "$(div "${IR[cgspiffe_$v]}" "${IR[cgstock_r0]}")")" ""
        done
        echo "  the module's own code, inclusive:"
        echo "    per handshake: certificate callback $(cg_fn cgspiffe_hs ngx_spiffe_ssl_certificate "$CG_HS"), verify callback $(cg_fn cgspiffe_hs ngx_spiffe_ssl_verify "$CG_HS") (of which X509_verify_cert $(cg_fn cgspiffe_hs X509_verify_cert "$CG_HS")); stock's X509_verify_cert $(cg_fn cgstock_hs X509_verify_cert "$CG_HS")"
        per="$(( CG_REQ * 3 ))"
        echo "    per request: verify phase handler $(cg_fn cgspiffe_r1_b ngx_http_spiffe_verify_handler "$per"), access phase handler: no rules $(cg_fn cgspiffe_r0_b ngx_http_spiffe_access_handler "$per"), 1 ID $(cg_fn cgspiffe_r1_b ngx_http_spiffe_access_handler "$per"), 10,000 IDs $(cg_fn cgspiffe_r10000_b ngx_http_spiffe_access_handler "$per"), 10,000 '*' $(cg_fn cgspiffe_w10000_b ngx_http_spiffe_access_handler "$per"), 10,000 '/**' $(cg_fn cgspiffe_g10000_b ngx_http_spiffe_access_handler "$per"), 1,000 mixed $(cg_fn cgspiffe_m1000_b ngx_http_spiffe_access_handler "$per")"
    else
        echo "f. instructions under callgrind: $CG_NOTE"
    fi
    echo "g. a new SVID every ${HELPER_INTERVAL}s for ${ROT_SECS}s, $ROT_LOAD_NOTE; stock: files + nginx -s reload (spiffe-helper's way)"
    grow() { printf '  %-36s %18s %18s  %s\n' "$@"; }
    gk() { kv "${GLINE[${1}_$2]}" "$3"; }
    gp() { kv "${GPROCS[${1}_$2]}" "$3"; }
    gfail() {   # failed requests of a run, and their kinds
        printf '%s (handshake %s, io %s, connect %s, timeout %s)' "$(gk "$1" "$2" fail)" \
            "$(gk "$1" "$2" fail_handshake)" "$(gk "$1" "$2" fail_io)" \
            "$(gk "$1" "$2" fail_connect)" "$(gk "$1" "$2" fail_timeout)"
    }
    grow "" "stock+reload" "ngx_spiffe" ""
    grow "rotations (failed)" "$(kv "${GROT[gstock_on]}" rotations) ($(( $(kv "${GROT[gstock_on]}" errors) + $(kv "${GROT[gstock_on]}" exec_errors) )))" \
        "$(kv "${GROT[gspiffe_on]}" rotations) ($(kv "${GROT[gspiffe_on]}" errors))" \
        "helper: copy + reload $(fmt %.0f "$(kv "${GROT[gstock_on]}" exec_ms_mean)") ms mean"
    grow "distinct serials served" "$(gk gstock on serials)" "$(gk gspiffe on serials)" ""
    grow "requests ok (/s)" "$(gk gstock on ok) ($(fmt %.0f "$(gk gstock on rps)"))" \
        "$(gk gspiffe on ok) ($(fmt %.0f "$(gk gspiffe on rps)"))" ""
    grow "failed requests" "$(gk gstock on fail)" "$(gk gspiffe on fail)" "stock: $(gfail gstock on)"
    grow "p50 / p99 ms, no rotation" "$(us2ms "$(gk gstock none p50_us)") / $(us2ms "$(gk gstock none p99_us)")" \
        "$(us2ms "$(gk gspiffe none p50_us)") / $(us2ms "$(gk gspiffe none p99_us)")" "(${ROT_BASE_SECS}s before)"
    grow "p50 / p99 ms, rotating" "$(us2ms "$(gk gstock on p50_us)") / $(us2ms "$(gk gstock on p99_us)")" \
        "$(us2ms "$(gk gspiffe on p50_us)") / $(us2ms "$(gk gspiffe on p99_us)")" \
        "max $(us2ms "$(gk gstock on max_us)") / $(us2ms "$(gk gspiffe on max_us)") ms"
    read -r p50 p99 _ <<< "${GPROP[gstock_on]}"
    read -r s50 s99 _ <<< "${GPROP[gspiffe_on]}"
    grow "new serial served after, p50 / p99 ms" "$p50 / $p99" "$s50 / $s99" "from the agent's reply"
    grow "nginx workers alive at once, max" "$(gp gstock on workers_max)" "$(gp gspiffe on workers_max)" \
        "no rotation: $(gp gstock none workers_max) / $(gp gspiffe none workers_max)"
    grow "all nginx RSS KiB, no rotation" "$(gp gstock none rss_kb_median)" "$(gp gspiffe none rss_kb_median)" \
        "master + workers, median of samples"
    grow "... rotating: median / peak" "$(gp gstock on rss_kb_median) / $(gp gstock on rss_kb_max)" \
        "$(gp gspiffe on rss_kb_median) / $(gp gspiffe on rss_kb_max)" ""
    grow "all nginx PSS KiB, no rotation" "$(gp gstock none pss_kb_median)" "$(gp gspiffe none pss_kb_median)" \
        "pages shared by N processes count 1/N"
    grow "... rotating: median / peak" "$(gp gstock on pss_kb_median) / $(gp gstock on pss_kb_max)" \
        "$(gp gspiffe on pss_kb_median) / $(gp gspiffe on pss_kb_max)" ""
    grow "nginx CPU-s per s, no rotation" "$(fmt %.3f "$(div "$(gp gstock none cpu_s)" "$(gp gstock none secs)")")" \
        "$(fmt %.3f "$(div "$(gp gspiffe none cpu_s)" "$(gp gspiffe none secs)")")" "master and all workers"
    grow "... rotating" "$(fmt %.3f "$(div "$(gp gstock on cpu_s)" "$(gp gstock on secs)")")" \
        "$(fmt %.3f "$(div "$(gp gspiffe on cpu_s)" "$(gp gspiffe on secs)")")" ""
    echo "  the same rotations, $ROT_CONNS kept-alive connections in a closed loop:"
    grow "requests ok (/s)" "$(gk gstock ka ok) ($(fmt %.0f "$(gk gstock ka rps)"))" \
        "$(gk gspiffe ka ok) ($(fmt %.0f "$(gk gspiffe ka rps)"))" ""
    grow "failed requests" "$(gk gstock ka fail)" "$(gk gspiffe ka fail)" "stock: $(gfail gstock ka)"
    grow "idle connections closed by nginx" "$(gk gstock ka reconnects)" "$(gk gspiffe ka reconnects)" \
        "the client reconnects (a full handshake)"
    grow "p50 / p99 ms" "$(us2ms "$(gk gstock ka p50_us)") / $(us2ms "$(gk gstock ka p99_us)")" \
        "$(us2ms "$(gk gspiffe ka p50_us)") / $(us2ms "$(gk gspiffe ka p99_us)")" \
        "max $(us2ms "$(gk gstock ka max_us)") / $(us2ms "$(gk gspiffe ka max_us)") ms"
    grow "nginx workers alive at once, max" "$(gp gstock ka workers_max)" "$(gp gspiffe ka workers_max)" \
        "reload errors logged by the helper: ${G_RELOAD_ERR:-0}"
    echo "nginx logs: $ERRLOG_LINES lines at [error] or worse, $SIGNALLED workers exited on a signal"
} | tee "$RESULTS"

say "bench: results in $RESULTS, every client run in $RAW"
