#!/bin/sh
# libFuzzer targets of the plain-C core (module/spiffe_*.c), from anywhere:
#
#   t/fuzz/run.sh [FUZZ_SECONDS]    build, seed, fuzz each target
#                                   FUZZ_SECONDS (default 60), one line
#                                   per target
#   t/fuzz/run.sh --replay          build, then run each target once on
#                                   its inputs in t/fuzz/regressions/
#                                   (for CI)
#
# Binaries, corpora, logs and findings go to build/fuzz/.  A finding is a
# crash, leak, timeout or out-of-memory input that libFuzzer saved; the
# exit status is 1 when there is any, or when a replayed input fails.
# FUZZ_CC (clang-14), FUZZ_TARGETS (all) and FUZZ_FLAGS (more libFuzzer
# flags) can be set.

set -eu

cd "$(dirname "$0")/../.."

CC=${FUZZ_CC:-clang-14}
CFLAGS="-g -O1 -fsanitize=fuzzer,address,undefined"
CFLAGS="$CFLAGS -fno-sanitize-recover=undefined -Wall -Wextra -Iinclude"
LIBS="-lssl -lcrypto -ljansson -lcurl"
# one target per parser: a finding names the parser
ALL="fuzz_pb fuzz_grpc_reader fuzz_grpc_call fuzz_address fuzz_id
     fuzz_rules fuzz_x509_certs fuzz_x509_key fuzz_x509_crl fuzz_svid_resp
     fuzz_snapshot fuzz_svid_dir fuzz_bundle fuzz_jwks fuzz_base64 fuzz_jwt
     fuzz_jwt_bundles"
TARGETS=${FUZZ_TARGETS:-$ALL}
OUT=build/fuzz

export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"

# the core and t/fuzz/fuzz.c are compiled once, then linked into each

build() {
    rm -rf "$OUT/obj"
    mkdir -p "$OUT/obj"
    for c in module/spiffe_*.c t/fuzz/fuzz.c; do
        o=$OUT/obj/$(basename "$c" .c).o
        # shellcheck disable=SC2086
        $CC $CFLAGS -c -o "$o" "$c"
    done
    for t in $TARGETS; do
        echo "CC $OUT/$t"
        # shellcheck disable=SC2086
        $CC $CFLAGS -o "$OUT/$t" "t/fuzz/$t.c" "$OUT"/obj/*.o $LIBS
    done
}

# the value of "NAME: VALUE" or "NAME VALUE" in the last line having it

field() {
    v=$(sed -n "s/.*$2[: ]\{1,\}\([0-9][0-9]*\).*/\1/p" "$1" | tail -n 1)
    echo "${v:--}"
}

# every input of t/fuzz/regressions/ is named TARGET-NAME: one whose
# target does not exist fails the replay of all targets

replay() {
    status=0
    if [ -z "${FUZZ_TARGETS:-}" ]; then
        for f in t/fuzz/regressions/*; do
            t=$(basename "$f")
            case $t in
                *.md | *.txt) continue ;;
            esac
            t=${t%%-*}
            case " $(echo $ALL) " in
                *" $t "*) ;;
                *)
                    echo "replay: $f: no target $t" >&2
                    status=1
                    ;;
            esac
        done
    fi
    for t in $TARGETS; do
        set --
        for f in t/fuzz/regressions/"$t"-*; do
            case $f in
                *'*'* | *.md | *.txt) ;;
                *) set -- "$@" "$f" ;;
            esac
        done
        if [ $# -eq 0 ]; then
            printf '%-16s replay: no inputs\n' "$t"
            continue
        fi
        log=$OUT/logs/$t.replay.log
        mkdir -p "$OUT/logs"
        if "$OUT/$t" -rss_limit_mb=2048 -timeout=30 "$@" >"$log" 2>&1; then
            printf '%-16s replay: %d inputs, ok\n' "$t" $#
        else
            printf '%-16s replay: %d inputs, FAILED (see %s)\n' "$t" $# "$log"
            grep -E 'ERROR|runtime error|property failed|Running' "$log" \
                | tail -n 5 | sed 's/^/    /'
            status=1
        fi
    done
    return $status
}

fuzz() {
    secs=$1
    status=0
    summary=""
    mkdir -p "$OUT/logs"

    for t in $TARGETS; do
        corpus=$OUT/corpus/$t
        found=$OUT/findings/$t
        log=$OUT/logs/$t.log
        rm -rf "$found"
        mkdir -p "$corpus" "$found"

        echo "fuzzing $t for ${secs}s (log: $log)"

        # shellcheck disable=SC2086
        "$OUT/$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=30 \
            -print_final_stats=1 -artifact_prefix="$found/" \
            ${FUZZ_FLAGS:-} "$corpus" >"$log" 2>&1 || true

        n=$(find "$found" -type f \( -name 'crash-*' -o -name 'leak-*' \
                -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
        fmt='%-16s execs %9s  exec/s %6s  cov %4s  ft %5s  findings %s'
        # shellcheck disable=SC2059
        line=$(printf "$fmt" \
            "$t" "$(field "$log" number_of_executed_units)" \
            "$(field "$log" average_exec_per_sec)" \
            "$(field "$log" ' cov')" "$(field "$log" ' ft')" "$n")
        summary="$summary$line
"
        if [ "$n" -ne 0 ]; then
            status=1
            for f in "$found"/*; do
                summary="$summary    $f
"
            done
            why=$(grep -E 'property failed|SUMMARY: ' "$log" | head -n 1)
            summary="$summary    $why
"
        fi
    done

    echo
    printf '%s' "$summary" | tee "$OUT/logs/summary.txt"
    return $status
}

case ${1:-60} in
    --replay)
        build
        replay
        ;;
    *[!0-9]* | '')
        echo "usage: $0 [FUZZ_SECONDS] | --replay" >&2
        exit 2
        ;;
    *)
        build
        t/fuzz/seeds.sh "$OUT/corpus"
        fuzz "$1"
        ;;
esac
