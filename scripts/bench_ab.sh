#!/usr/bin/env bash
# scripts/bench_ab.sh - one benchmark script on two builds of the appliance, in one run, each
# beside its own reference (nginx / fio / the native API) as the script does it: the ratios of
# the two tables compare the builds on the same machine state.
#
#   BEFORE=/path/to/old/appliance AFTER=.build/release/appliance bash scripts/bench_ab.sh scripts/bench_small.sh
#
# Knobs: PASSES (1): before, after, before, after... ; every other knob goes to the script.
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRIPT=${1:?usage: bench_ab.sh SCRIPT}
BEFORE=${BEFORE:?BEFORE=path to the old build}
AFTER=${AFTER:-$ROOT/.build/release/appliance}
PASSES=${PASSES:-1}
run() {
    case "$SCRIPT" in
        *.py) BIN="$2" python3 "$SCRIPT" ;;
        *) BIN="$2" bash "$SCRIPT" ;;
    esac 2>&1 | grep -v "^\[bench" | sed "s/^/[$1] /"
}
for pass in $(seq "$PASSES"); do
    echo "== pass $pass: before ($BEFORE)"
    run before "$BEFORE"
    echo "== pass $pass: after ($AFTER)"
    run after "$AFTER"
done
