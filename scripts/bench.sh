#!/usr/bin/env bash
# scripts/bench.sh - the speed table of BENCHMARKS.md, in one command.
#
#   scripts/bench.sh                 # 3 rounds × 2 configs, rewrites the table in BENCHMARKS.md
#   ROUNDS=5 STEPS=30 scripts/bench.sh
#   OUT=/tmp/b.md scripts/bench.sh   # write the table elsewhere
#
# It builds cmd/bench twice (pure Go, and -tags openblas), then for each
# config (D128: V512 D128 H4 L2 T128 8 pairs; D256: same with D256 L4) runs,
# round after round, the PyTorch peer (../shared/peer/bench.py, its tuned
# defaults), Go pure, Go OpenBLAS, and Go OpenBLAS with precomputed reference
# log-probs, one process each, alternating, so that load from other
# processes hits all programs alike. Every JSON line goes to
# scripts/bench-runs/<date>.jsonl (RUNS_DIR); the summary (median over rounds of each
# program's median step time, and the median over rounds of the
# per-round ratio Go / PyTorch) replaces the part of BENCHMARKS.md between
# the "bench:table" markers, with the machine, date, versions and load.
#
# Needs: Go, /usr/bin/python3 with torch (Debian python3-torch), libopenblas-dev.
# The table is written by scripts/bench_table.py (rerun it on a kept .jsonl to rebuild the table).
# Environment: ROUNDS (3), STEPS (20), WARMUP (3), PEER (../shared/peer), OUT (BENCHMARKS.md),
# CONFIGS ("d128 d256"), PYTHON (/usr/bin/python3).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROUNDS=${ROUNDS:-3}
STEPS=${STEPS:-20}
WARMUP=${WARMUP:-3}
PEER=${PEER:-$ROOT/../shared/peer}
OUT=${OUT:-$ROOT/BENCHMARKS.md}
CONFIGS=${CONFIGS:-"d128 d256"}
PYTHON=${PYTHON:-/usr/bin/python3}

[ -f "$PEER/bench.py" ] || { echo "bench.sh: no $PEER/bench.py (set PEER)" >&2; exit 2; }
"$PYTHON" -c 'import torch' 2>/dev/null || { echo "bench.sh: $PYTHON cannot import torch (apt-get install python3-torch)" >&2; exit 2; }

BIN=$(mktemp -d)
trap 'rm -rf "$BIN"' EXIT
go build -o "$BIN/bench-pure" ./cmd/bench
go build -tags openblas -o "$BIN/bench-openblas" ./cmd/bench

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
RUNS_DIR=${RUNS_DIR:-scripts/bench-runs}
mkdir -p "$RUNS_DIR"
RUNS=$RUNS_DIR/$STAMP.jsonl
: >"$RUNS"

config_flags() {
	case $1 in
	d128) echo "--vocab 512 --d-model 128 --heads 4 --layers 2 --seq-len 128 --pairs 8" ;;
	d256) echo "--vocab 512 --d-model 256 --heads 4 --layers 4 --seq-len 128 --pairs 8" ;;
	*) echo "bench.sh: unknown config $1" >&2; exit 2 ;;
	esac
}

# tag CONFIG ROUND PROGRAM JSON-LINE → one line of $RUNS
record() {
	"$PYTHON" -c 'import json,sys; d=json.loads(sys.argv[4]); d.update(cfg=sys.argv[1], round=int(sys.argv[2]), prog=sys.argv[3]); print(json.dumps(d))' "$@" >>"$RUNS"
}

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
	for cfg in $CONFIGS; do
		flags=$(config_flags "$cfg")
		gflags=$(echo "$flags" | sed 's/--/-/g')
		echo "round $round/$ROUNDS $cfg" >&2
		record "$cfg" "$round" peer "$("$PYTHON" "$PEER/bench.py" $flags --steps "$STEPS" --warmup "$WARMUP")"
		record "$cfg" "$round" go-pure "$("$BIN/bench-pure" $gflags -steps "$STEPS" -warmup "$WARMUP")"
		record "$cfg" "$round" go-openblas "$("$BIN/bench-openblas" $gflags -steps "$STEPS" -warmup "$WARMUP")"
		record "$cfg" "$round" go-openblas-precomp "$("$BIN/bench-openblas" $gflags -steps "$STEPS" -warmup "$WARMUP" -precompute-ref)"
	done
done
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

CPU=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
NCPU=$(nproc)
GOV=$(go env GOVERSION)
TORCHV=$("$PYTHON" -c 'import torch; print(torch.__version__)')
OBV=$(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo unknown)

"$PYTHON" scripts/bench_table.py "$RUNS" "$OUT" "$STAMP" "$CPU" "$NCPU" "$GOV" "$TORCHV" "$OBV" "$LOAD_BEFORE" "$LOAD_AFTER" "$ROUNDS" "$STEPS"
