#!/bin/bash
#
# ngx_spiffe against stock nginx: handshakes, kept-alive requests with 0 to
# 10,000 allow rules, SVID rotation under load, worker memory, and the
# crypto ceiling of the machine.  See t/bench/README.md.
#
#   t/bench/run.sh            full run (about 8 minutes)
#   QUICK=1 t/bench/run.sh    smoke run (about a minute)
#
# The table goes to stdout and to build/bench/results.txt; every client
# result line to build/bench/raw.txt.  Settings can be overridden from the
# environment: ROUNDS, DUR, WARMUP, CONNS_NEW, CONNS_KA, ROT_SECS,
# ROT_BASE_SECS, ROT_INTERVAL, ROT_LOAD, MEM_ROTATIONS, MEM_SECS,
# SPEED_SECS, SERVER_CPU, CLIENT_CPU, PORT_BASE, NGINX, MODULE, KEEP=1
# (keep the scratch directory).

set -u -o pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NGINX=${NGINX:-/usr/sbin/nginx}
MODULE=${MODULE:-$ROOT/build/ngx_http_spiffe_module.so}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-$ROOT/build/bench}
CLIENT=$OUT/mtls_load
AGENTCTL="$PYTHON $ROOT/t/bench/agentctl.py"

if [ "${QUICK:-0}" = 1 ]; then
    : "${ROUNDS:=2}" "${DUR:=1}" "${WARMUP:=0.3}" "${ROT_SECS:=6}"
    : "${ROT_BASE_SECS:=2}" "${MEM_ROTATIONS:=10000}" "${MEM_SECS:=8}"
    : "${SPEED_SECS:=1}"
else
    : "${ROUNDS:=5}" "${DUR:=5}" "${WARMUP:=0.5}" "${ROT_SECS:=30}"
    : "${ROT_BASE_SECS:=10}" "${MEM_ROTATIONS:=10000}" "${MEM_SECS:=60}"
    : "${SPEED_SECS:=3}"
fi

: "${CONNS_NEW:=32}" "${CONNS_KA:=100}" "${ROT_INTERVAL:=0.1}"
: "${ROT_LOAD:=0.5}" "${SERVER_CPU:=0}" "${CLIENT_CPU:=1}"
: "${PORT_BASE:=18443}"

CLIENT_ID=spiffe://example.org/ns/bench/sa/web
SERVER_ID=spiffe://example.org/ns/bench/sa/nginx
BODY=$'ok\n'
VARIANTS="r0 r1 r100 r10000 w10000"

T_BEGIN=$(date +%s)


# ------------------------------------------------------------ helpers

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }

# key=value lookup in a result line
kv() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }

# "min median max" of numbers
mmm() {
    printf '%s\n' "$@" | grep -v '^$' | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "- - -"; exit }
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%s %s %s\n", v[1], m, v[NR]
        }'
}

med() { mmm "$@" | awk '{ print $2 }'; }

fmt() { awk -v f="$1" -v v="$2" 'BEGIN { if (v == "-" || v == "") print "-"; else printf f, v }'; }

div() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "-") print "-"; else printf "%.4f", a / b }'; }

# ns the process has run on a CPU
cpu_ns() { awk '{ print $1 }' "/proc/$1/schedstat" 2>/dev/null || echo 0; }

# busy and total ticks of one CPU
cpu_ticks() {
    awk -v c="cpu$1" '$1 == c { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6 }' /proc/stat
}

rss_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

if [ "$(id -u)" = 0 ]; then
    NICE="nice -n -10"
    NICE_NOTE="nice -10"
else
    NICE=""
    NICE_NOTE="not reniced (not root)"
fi

SCRATCH=""
AGENT_PID=""
declare -A MASTER=()

cleanup() {
    local name pid
    for name in "${!MASTER[@]}"; do
        pid=${MASTER[$name]}
        [ -n "$pid" ] && kill -QUIT "$pid" 2>/dev/null
    done
    if [ -n "$AGENT_PID" ]; then
        kill -TERM "$AGENT_PID" 2>/dev/null
    fi
    sleep 0.5
    for name in "${!MASTER[@]}"; do
        pid=${MASTER[$name]}
        [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    done
    if [ -n "$SCRATCH" ] && [ "${KEEP:-0}" != 1 ]; then
        rm -rf "$SCRATCH"
    elif [ -n "$SCRATCH" ]; then
        say "bench: scratch directory kept: $SCRATCH"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM


# ------------------------------------------------------------ checks, build

[ -x "$NGINX" ] || die "no nginx at $NGINX"
[ -f "$MODULE" ] || die "no module at $MODULE: run 'make modules' first"
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
RAW=$OUT/raw.txt
RESULTS=$OUT/results.txt
: > "$RAW"


# ------------------------------------------------------------ agent

A=$SCRATCH/agent
mkdir -p "$A"
say "bench: starting the Workload API agent"
$NICE taskset -c "$CLIENT_CPU" "$PYTHON" "$ROOT/t/agent/agent.py" \
    --state "$A" --socket "$A/agent.sock" --control "$A/control.sock" \
    --pidfile "$A/pid" --log "$A/agent.log" --spiffe-id "$SERVER_ID" \
    >/dev/null 2>&1 &
AGENT_PID=$!

for _ in $(seq 300); do
    [ -s "$A/pid" ] && break
    kill -0 "$AGENT_PID" 2>/dev/null || die "the agent did not start: $(tail -5 "$A/agent.log")"
    sleep 0.1
done
[ -s "$A/pid" ] || die "the agent is not ready after 30 s"

ctl() { $AGENTCTL "$A/control.sock" "$@"; }

ctl mint "$CLIENT_ID" "$SCRATCH/client" >/dev/null || die "cannot mint the client SVID"
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

# write_conf NAME KIND(stock|spiffe) PORT FULL(1: all rule sets) LOGLEVEL
write_conf() {
    local name=$1 kind=$2 port=$3 full=$4 level=$5
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
        [ "$(id -u)" = 0 ] && echo "user root;"
        cat <<EOF
worker_processes 1;
worker_rlimit_nofile 8192;
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
            if [ "$full" = 1 ]; then
                cat <<EOF
        location /r100/ { include $SCRATCH/rules/exact100.conf; }
        location /r10000/ { include $SCRATCH/rules/exact10000.conf; }
        location /w10000/ { include $SCRATCH/rules/wild10000.conf; }
EOF
            fi
        else
            cat <<EOF
        ssl_certificate $A/svid.pem;
        ssl_certificate_key $A/svid_key.pem;
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

# start_nginx NAME: pinned to SERVER_CPU, waits until it answers
start_nginx() {
    local name=$1 p=$SCRATCH/$1 line

    $NICE taskset -c "$SERVER_CPU" "$NGINX" -p "$p/" -c conf/nginx.conf \
        -e logs/error.log || die "$name: nginx did not start: $(tail -3 "$p/logs/error.log")"

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

    for _ in $(seq 20); do
        line=$("$CLIENT" --port "${PORT[$name]}" --cert "$CERT" --key "$KEY" \
               --path /r1/ok.txt --requests 1 --conns 1 --quiet 2>/dev/null)
        [ "$(kv "$line" ok)" = 1 ] && return 0
        sleep 0.5
    done
    die "$name: does not answer: $(tail -3 "$p/logs/error.log")"
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

# load NAME LABEL CLIENT-ARGS...: one client run against NAME; prints its
# RESULT line plus the server worker's CPU use and what else ran on the
# server's CPU
load() {
    local name=$1 label=$2 w line s0 s1 c0 c1 t0 t1
    shift 2
    w=${WORKER[$name]}
    s0=$(cpu_ns "$w"); c0=$(cpu_ticks "$SERVER_CPU"); t0=$(date +%s%N)
    line=$($NICE taskset -c "$CLIENT_CPU" "$CLIENT" --port "${PORT[$name]}" \
           --cert "$CERT" --key "$KEY" --label "$label" --quiet "$@")
    s1=$(cpu_ns "$w"); c1=$(cpu_ticks "$SERVER_CPU"); t1=$(date +%s%N)
    line="$line server=$name $(awk -v s0="$s0" -v s1="$s1" -v t0="$t0" -v t1="$t1" \
        -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        split(c0, a, " "); split(c1, b, " ")
        wall = (t1 - t0) / 1e9; srv = (s1 - s0) / 1e9
        busy = (b[1] - a[1]) / hz
        other = busy - srv; if (other < 0) other = 0
        printf "server_cpu=%.2f other_on_server_cpu=%.2f", srv / wall, other / wall }')"
    printf '%s\n' "$line" >> "$RAW"
    printf '%s\n' "$line"
}

# ab NAME CLIENT-ARGS...: ROUNDS rounds, stock and spiffe alternating
# (A B, B A, ...); leaves RES_stock_NAME / RES_spiffe_NAME (rps per round)
# and RATIO_NAME (spiffe / stock per round)
declare -A RES=() RATIO=() OTHER=() SCPU=() FAILS=() P99=()
ab() {
    local test=$1 r order side line
    shift
    RES[stock_$test]="" RES[spiffe_$test]="" RATIO[$test]="" OTHER[$test]=""
    FAILS[$test]=0 P99[stock_$test]="" P99[spiffe_$test]=""
    SCPU[stock_$test]="" SCPU[spiffe_$test]=""
    for r in $(seq "$ROUNDS"); do
        if [ $((r % 2)) = 1 ]; then order="stock spiffe"; else order="spiffe stock"; fi
        declare -A got=()
        for side in $order; do
            line=$(load "$side" "$test/$r" "$@")
            got[$side]=$(kv "$line" rps)
            RES[${side}_$test]+=" ${got[$side]}"
            P99[${side}_$test]+=" $(kv "$line" p99_us)"
            SCPU[${side}_$test]+=" $(kv "$line" server_cpu)"
            OTHER[$test]+=" $(kv "$line" other_on_server_cpu)"
            FAILS[$test]=$((FAILS[$test] + $(kv "$line" fail)))
        done
        RATIO[$test]+=" $(div "${got[spiffe]}" "${got[stock]}")"
        say "  $test round $r: stock $(fmt %.0f "${got[stock]}")/s, ngx_spiffe $(fmt %.0f "${got[spiffe]}")/s"
        unset got
    done
}


PORT[stock]=$PORT_BASE
PORT[spiffe]=$((PORT_BASE + 1))
PORT[mstock]=$((PORT_BASE + 2))
PORT[mspiffe]=$((PORT_BASE + 3))

write_conf stock stock "${PORT[stock]}" 1 warn
write_conf spiffe spiffe "${PORT[spiffe]}" 1 warn
say "bench: starting stock nginx and nginx with ngx_spiffe (1 worker each, CPU $SERVER_CPU)"
start_nginx stock
start_nginx spiffe

AFFINITY="server $(taskset -pc "${WORKER[spiffe]}" | sed 's/.*: //') / client $CLIENT_CPU"

COMMON=(--warmup "$WARMUP" --duration "$DUR" --expect-body "$BODY")


# ------------------------------------------------------------ a. handshakes

say "bench: a. new mTLS handshakes ($CONNS_NEW connections, $ROUNDS rounds x ${DUR}s)"
ab hs --new --conns "$CONNS_NEW" --path /r1/ok.txt "${COMMON[@]}"


# ------------------------------------------------------------ b. keepalive

for v in $VARIANTS; do
    say "bench: b. kept-alive requests, /$v/ ($CONNS_KA connections)"
    ab "ka_$v" --keepalive --conns "$CONNS_KA" --path "/$v/ok.txt" "${COMMON[@]}"
done

RSS_MAIN_STOCK=$(rss_kb "${WORKER[stock]}" VmRSS)
RSS_MAIN_SPIFFE=$(rss_kb "${WORKER[spiffe]}" VmRSS)


# ------------------------------------------------------------ c. rotation

HS_SPIFFE=$(med ${RES[spiffe_hs]})
ROT_RATE=$(awk -v h="$HS_SPIFFE" -v f="$ROT_LOAD" 'BEGIN { printf "%d", h * f }')
say "bench: c. rotation every ${ROT_INTERVAL}s for ${ROT_SECS}s under --new load at $ROT_RATE/s"

ROTC=(--new --conns "$CONNS_NEW" --path /r1/ok.txt --expect-body "$BODY"
      --ca "$A/bundle.pem" --rate "$ROT_RATE")

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

# push (agent's reply) -> first handshake that got the new serial
awk 'NR == FNR { sent[$2] = $1; next }
     ($2 in sent) && !($2 in done) { done[$2] = 1; print ($1 - sent[$2]) / 1e6 }' \
    "$SCRATCH/rot.log" "$SCRATCH/seen.log" > "$SCRATCH/prop.ms"
PROP_N=$(wc -l < "$SCRATCH/prop.ms")
PROP=$(sort -g "$SCRATCH/prop.ms" | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "- - -"; exit }
    i50 = int(NR * 0.50); if (i50 < NR * 0.50) i50++; if (i50 < 1) i50 = 1
    i99 = int(NR * 0.99); if (i99 < NR * 0.99) i99++; if (i99 < 1) i99 = 1
    printf "%.1f %.1f %.1f\n", v[i50], v[i99], v[NR] }')


# ------------------------------------------------------------ d. memory

say "bench: d. worker memory (fresh instances without the big rule sets)"
stop_nginx stock
stop_nginx spiffe

write_conf mstock stock "${PORT[mstock]}" 0 warn
write_conf mspiffe spiffe "${PORT[mspiffe]}" 0 info
start_nginx mstock
start_nginx mspiffe
sleep 1

declare -A MEM=()
for n in mstock mspiffe; do
    MEM[${n}_start]=$(rss_kb "${WORKER[$n]}" VmRSS)
    MEM[${n}_start_anon]=$(rss_kb "${WORKER[$n]}" RssAnon)
done

MEMLOAD=(--duration "$DUR" --path /r1/ok.txt --expect-body "$BODY")
MEM_FAILS=0
for n in mstock mspiffe; do
    for mode in --new --keepalive; do
        line=$(load "$n" "mem/$n$mode" "$mode" --conns "$CONNS_NEW" "${MEMLOAD[@]}")
        MEM_FAILS=$((MEM_FAILS + $(kv "$line" fail)))
    done
    MEM[${n}_load]=$(rss_kb "${WORKER[$n]}" VmRSS)
    MEM[${n}_load_anon]=$(rss_kb "${WORKER[$n]}" RssAnon)
done

say "bench:    $MEM_ROTATIONS rotations, at most ${MEM_SECS}s"
MEM_ROT=$($NICE taskset -c "$CLIENT_CPU" $AGENTCTL "$A/control.sock" \
          --rotate-count "$MEM_ROTATIONS" --max-seconds "$MEM_SECS" | grep '^ROTATE')
sleep 2
MEM_APPLIED=$(grep -c 'spiffe: SVID .* version' "$SCRATCH/mspiffe/logs/error.log" || true)
MEM[mspiffe_rot]=$(rss_kb "${WORKER[mspiffe]}" VmRSS)
MEM[mspiffe_rot_anon]=$(rss_kb "${WORKER[mspiffe]}" RssAnon)

line=$(load mspiffe mem/after-rotations --new --conns "$CONNS_NEW" "${MEMLOAD[@]}" --ca "$A/bundle.pem")
MEM_FAILS=$((MEM_FAILS + $(kv "$line" fail)))
MEM[mspiffe_rotload]=$(rss_kb "${WORKER[mspiffe]}" VmRSS)
MEM[mspiffe_rotload_anon]=$(rss_kb "${WORKER[mspiffe]}" RssAnon)

ERRLOG_LINES=0
for n in stock spiffe mstock mspiffe; do
    c=$(grep -cE '\[(alert|crit|emerg|error)\]' "$SCRATCH/$n/logs/error.log" || true)
    ERRLOG_LINES=$((ERRLOG_LINES + c))
done
ALIVE=$(pgrep -P "${MASTER[mspiffe]}" | wc -l)

stop_nginx mstock
stop_nginx mspiffe


# ------------------------------------------------------------ e. ceiling

say "bench: e. openssl speed -seconds $SPEED_SECS ecdsap256 ecdhp256 (CPU $SERVER_CPU)"
SPEED=$($NICE taskset -c "$SERVER_CPU" openssl speed -seconds "$SPEED_SECS" \
        ecdsap256 ecdhp256 2>/dev/null)
SIGN=$(printf '%s\n' "$SPEED" | awk '/ecdsa \(nistp256\)/ { print $(NF-1) }')
VERIFY=$(printf '%s\n' "$SPEED" | awk '/ecdsa \(nistp256\)/ { print $NF }')
ECDH=$(printf '%s\n' "$SPEED" | awk '/ecdh \(nistp256\)/ { print $NF }')


# ------------------------------------------------------------ table

T_END=$(date +%s)

row3() { # label stock spiffe "min med max" target verdict
    printf '  %-34s %9s %11s   %-22s %s\n' "$1" "$2" "$3" "$4" "$5"
}

ratio_cell() { mmm $1 | awk '{ printf "%.3f / %.3f / %.3f", $1, $2, $3 }'; }

verdict() { # median target
    awk -v m="$1" -v t="$2" 'BEGIN { if (m == "-") print ""; else if (m >= t) print "ok (>= " t ")"; else print "BELOW " t }'
}

{
    echo "ngx_spiffe benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(( T_END - T_BEGIN ))s"
    echo "machine: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo), $NCPU CPUs$(grep -q hypervisor /proc/cpuinfo && echo ', virtual machine'), Linux $(uname -r)"
    echo "software: $("$NGINX" -v 2>&1 | sed 's/.*: //'), $(openssl version | awk '{ print $1, $2 }'), module $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- module include config 2>/dev/null || echo '+changes')"
    echo "pinning: 1 nginx worker on CPU $SERVER_CPU, client on CPU $CLIENT_CPU (taskset; $AFFINITY), $NICE_NOTE"
    echo "rounds: $ROUNDS x ${DUR}s (+${WARMUP}s warm-up), stock and ngx_spiffe alternating (AB, BA, ...); TLS 1.3, P-256, ECDSA P-256 certs"
    echo "other processes on the server CPU during runs: median $(fmt %.0f "$(awk -v m="$(med ${OTHER[hs]} ${OTHER[ka_r0]})" 'BEGIN { print m * 100 }')")%, max $(fmt %.0f "$(awk -v m="$(mmm ${OTHER[hs]} ${OTHER[ka_r0]} | awk '{print $3}')" 'BEGIN { print m * 100 }')")% of the CPU"
    echo
    printf '  %-34s %9s %11s   %-22s %s\n' "" "stock" "ngx_spiffe" "ratio min / med / max" "target"
    echo "a. new mTLS handshakes/s, $CONNS_NEW conns, 1 request each"
    row3 "handshakes/s (median)" "$(fmt %.0f "$(med ${RES[stock_hs]})")" "$(fmt %.0f "$(med ${RES[spiffe_hs]})")" \
         "$(ratio_cell "${RATIO[hs]}")" "$(verdict "$(med ${RATIO[hs]})" 0.97)"
    row3 "  p99 latency ms (median)" "$(fmt %.1f "$(awk -v v="$(med ${P99[stock_hs]})" 'BEGIN{print v/1000}')")" \
         "$(fmt %.1f "$(awk -v v="$(med ${P99[spiffe_hs]})" 'BEGIN{print v/1000}')")" "" ""
    row3 "  worker CPU busy (median)" "$(fmt %.2f "$(med ${SCPU[stock_hs]})")" "$(fmt %.2f "$(med ${SCPU[spiffe_hs]})")" "" ""
    echo "b. kept-alive requests/s, $CONNS_KA conns"
    R0=$(med ${RES[spiffe_ka_r0]})
    for v in $VARIANTS; do
        case $v in
            r0) label="no rules"; target=$(verdict "$(med ${RATIO[ka_$v]})" 0.98) ;;
            r1) label="1 exact rule" ;;
            r100) label="100 exact rules" ;;
            r10000) label="10,000 exact rules" ;;
            w10000) label="10,000 wildcard rules (linear)" ;;
        esac
        if [ "$v" != r0 ]; then
            target="$(fmt %.3f "$(div "$(med ${RES[spiffe_ka_$v]})" "$R0")") of 0 rules"
        fi
        row3 "$label" "$(fmt %.0f "$(med ${RES[stock_ka_$v]})")" "$(fmt %.0f "$(med ${RES[spiffe_ka_$v]})")" \
             "$(ratio_cell "${RATIO[ka_$v]}")" "$target"
    done
    row3 "  worker CPU busy, no rules (median)" "$(fmt %.2f "$(med ${SCPU[stock_ka_r0]})")" "$(fmt %.2f "$(med ${SCPU[spiffe_ka_r0]})")" "" ""
    FAILS_AB=0
    for t in hs ka_r0 ka_r1 ka_r100 ka_r10000 ka_w10000; do FAILS_AB=$((FAILS_AB + FAILS[$t])); done
    echo "   failed requests in a. and b.: $FAILS_AB"
    echo "c. SVID rotation every ${ROT_INTERVAL}s for ${ROT_SECS}s, ngx_spiffe, --new at $ROT_RATE/s ($ROT_LOAD of a.), client verifies the chain"
    for which in none on; do
        if [ $which = none ]; then l=$LINE_NOROT; t="no rotation (${ROT_BASE_SECS}s)"; else l=$LINE_ROT; t="rotating"; fi
        printf '  %-22s ok %7s  failed %s (connect %s, handshake %s, io %s, status %s, body %s, timeout %s)  p50 %s ms  p99 %s ms  max %s ms\n' \
            "$t" "$(kv "$l" ok)" "$(kv "$l" fail)" "$(kv "$l" fail_connect)" "$(kv "$l" fail_handshake)" \
            "$(kv "$l" fail_io)" "$(kv "$l" fail_status)" "$(kv "$l" fail_body)" "$(kv "$l" fail_timeout)" \
            "$(fmt %.2f "$(awk -v v="$(kv "$l" p50_us)" 'BEGIN{print v/1000}')")" \
            "$(fmt %.2f "$(awk -v v="$(kv "$l" p99_us)" 'BEGIN{print v/1000}')")" \
            "$(fmt %.2f "$(awk -v v="$(kv "$l" max_us)" 'BEGIN{print v/1000}')")"
    done
    echo "  rotations sent: $(kv "$ROT_SUMMARY" rotations) (errors $(kv "$ROT_SUMMARY" errors), agent reply mean $(kv "$ROT_SUMMARY" reply_ms_mean) ms, sent late $(kv "$ROT_SUMMARY" late)); serials served to the client: $(kv "$LINE_ROT" serials)"
    set -- $PROP
    echo "  push -> first handshake with the new serial: p50 $1 ms, p99 $2 ms, max $3 ms ($PROP_N serials matched; target p99 <= 50 ms)"
    echo "d. worker RSS (VmRSS / RssAnon, KiB), fresh instances with /r0 and /r1 only"
    printf '  %-34s %9s %11s   %s\n' "after start" "${MEM[mstock_start]}/${MEM[mstock_start_anon]}" "${MEM[mspiffe_start]}/${MEM[mspiffe_start_anon]}" \
        "overhead $(( MEM[mspiffe_start] - MEM[mstock_start] )) KiB"
    printf '  %-34s %9s %11s   %s\n' "after the same load (new + keepalive)" "${MEM[mstock_load]}/${MEM[mstock_load_anon]}" "${MEM[mspiffe_load]}/${MEM[mspiffe_load_anon]}" \
        "overhead $(( MEM[mspiffe_load] - MEM[mstock_load] )) KiB"
    printf '  %-34s %9s %11s   %s\n' "after $(kv "$MEM_ROT" rotations) rotations ($(kv "$MEM_ROT" secs)s)" "" "${MEM[mspiffe_rot]}/${MEM[mspiffe_rot_anon]}" \
        "growth $(( MEM[mspiffe_rot] - MEM[mspiffe_load] )) KiB since load; nginx applied $MEM_APPLIED SVID updates"
    printf '  %-34s %9s %11s   %s\n' "... then ${DUR}s more --new load" "" "${MEM[mspiffe_rotload]}/${MEM[mspiffe_rotload_anon]}" \
        "failed requests in d.: $MEM_FAILS; workers alive: $ALIVE"
    printf '  %-34s %9s %11s\n' "main instances after a.-c. (20k rules)" "$RSS_MAIN_STOCK" "$RSS_MAIN_SPIFFE"
    echo "e. crypto ceiling, CPU $SERVER_CPU: openssl speed: ECDSA P-256 sign $(fmt %.0f "$SIGN")/s, verify $(fmt %.0f "$VERIFY")/s, ECDH P-256 $(fmt %.0f "$ECDH")/s"
    if [ -n "$SIGN" ] && [ -n "$VERIFY" ] && [ -n "$ECDH" ]; then
        CEIL=$(awk -v s="$SIGN" -v v="$VERIFY" -v e="$ECDH" 'BEGIN { printf "%.0f", 1 / (2 / s + 2 / v + 1 / e) }')
        echo "  server crypto per handshake = 2 sign-class ops (CertificateVerify, ECDHE key) + 2 verify (client chain, client CertificateVerify) + 1 ECDH"
        printf '  %-34s %9s %11s\n' "ceiling $CEIL handshakes/s per core" \
            "$(fmt %.1f%% "$(awk -v h="$(med ${RES[stock_hs]})" -v c="$CEIL" 'BEGIN { print 100 * h / c }')")" \
            "$(fmt %.1f%% "$(awk -v h="$(med ${RES[spiffe_hs]})" -v c="$CEIL" 'BEGIN { print 100 * h / c }')")"
    else
        echo "  skipped: openssl speed gave no numbers"
    fi
    echo "errors in nginx logs ([error] and worse): $ERRLOG_LINES"
} | tee "$RESULTS"

say "bench: results in $RESULTS, every run in $RAW"
