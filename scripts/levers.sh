#!/usr/bin/env bash
# scripts/levers.sh - what each speed lever gives, measured by alternating
# variants of cmd/bench in one run (the "levers" table of BENCHMARKS.md).
#
#   scripts/levers.sh                    # D128, 3 rounds; prints a markdown table
#   CFG=d256 ROUNDS=5 scripts/levers.sh
#
# Every variant runs once per round, in turn, so load from other processes
# spreads over all of them. Reported per variant: the median over rounds of
# the median step time, the best step, and the CPU seconds per step (the
# process's user+system time / steps), which is far less sensitive to
# other processes than wall time and is the fairer lever metric on a
# shared machine.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-15}
CFG=${CFG:-d128}
PYTHON=${PYTHON:-/usr/bin/python3}
case $CFG in
d128) FLAGS="-vocab 512 -d-model 128 -heads 4 -layers 2 -seq-len 128 -pairs 8" ;;
d256) FLAGS="-vocab 512 -d-model 256 -heads 4 -layers 4 -seq-len 128 -pairs 8" ;;
*) echo "levers.sh: CFG d128 or d256" >&2; exit 2 ;;
esac

BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/pure" ./cmd/bench
go build -tags openblas -o "$BIN/ob" ./cmd/bench

# label | binary | extra flags
VARIANTS=(
	"pure Go, gonum gemm (before blasgemm)|pure|-gemm gonum"
	"pure Go, blasgemm (default build)|pure|"
	"pure Go, float64|pure|-dtype float64"
	"OpenBLAS, 1 thread (default)|ob|"
	"OpenBLAS, 2 threads|ob|-blas-threads 2"
	"OpenBLAS build, blasgemm instead|ob|-gemm blasgemm"
	"OpenBLAS, float64|ob|-dtype float64"
	"OpenBLAS, precomputed reference log-probs|ob|-precompute-ref"
	"OpenBLAS, ramp gate τ=0.05|ob|-gate ramp:tau=0.05"
)
OUT=$(mktemp)
for round in $(seq 1 "$ROUNDS"); do
	for v in "${VARIANTS[@]}"; do
		IFS='|' read -r label bin extra <<<"$v"
		echo "round $round: $label" >&2
		line=$("$BIN/$bin" $FLAGS $extra -steps "$STEPS" -warmup 2)
		"$PYTHON" -c 'import json,sys; d=json.loads(sys.argv[2]); d["variant"]=sys.argv[1]; print(json.dumps(d))' "$label" "$line" >>"$OUT"
	done
done
"$PYTHON" - "$OUT" "$CFG" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
order = []
for r in rows:
    if r["variant"] not in order:
        order.append(r["variant"])
print(f"| {sys.argv[2]} variant | median step (s) | best step (s) | CPU s / step | other procs (cores) |")
print("|---|---|---|---|---|")
for v in order:
    rs = [r for r in rows if r["variant"] == v]
    print(f"| {v} | {statistics.median(r['median_step_s'] for r in rs):.3f} | {min(r['min_step_s'] for r in rs):.3f} | "
          f"{statistics.median(r['cpu_s_per_step'] for r in rs):.3f} | {statistics.mean(r['other_procs_cpu_cores_avg'] for r in rs):.2f} |")
PY
rm -f "$OUT"
