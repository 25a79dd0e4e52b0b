#!/usr/bin/env bash
# scripts/bench.sh - the speed table of BENCHMARKS.md, in one command.
#
#   scripts/bench.sh                 # 3 rounds × 2 configs, rewrites the table in BENCHMARKS.md
#   ROUNDS=5 STEPS=30 scripts/bench.sh
#   OUT=/tmp/b.md scripts/bench.sh   # write the table elsewhere
#   CONFIGS=pythia160m scripts/bench.sh   # only the Pythia-160M rows (≈ 15 min on 2 cores)
#
# The Pythia-160M row (config pythia160m, not in the default CONFIGS): random
# weights of scripts/hf-configs/pythia-160m/config.json (gpt_neox, hidden 768,
# 12 layers, vocab 50304), 4 pairs at T 256, float32; PY_ROUNDS (2) rounds of
# the Hugging Face peer ../shared/hf/peer/bench_hf.py (through
# scripts/peer_hf.py, which adds CPU and load keys), Go pure and Go OpenBLAS,
# each also with packed pairs (-pack: the same step, the prompt computed once
# per pair), each PY_STEPS (3) timed steps after PY_WARMUP (1) warm-up step; the summary
# replaces the "bench:pythia" part of BENCHMARKS.md.
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
# CONFIGS ("d128 d256"; add pythia160m), PYTHON (/usr/bin/python3), HF_PEER (../shared/hf/peer),
# PY_ROUNDS (2), PY_STEPS (3), PY_WARMUP (1).
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
HF_PEER=${HF_PEER:-$ROOT/../shared/hf/peer}
PY_ROUNDS=${PY_ROUNDS:-2}
PY_STEPS=${PY_STEPS:-3}
PY_WARMUP=${PY_WARMUP:-1}
PY_SEQ=${PY_SEQ:-256}
PYTHIA=${PYTHIA_CONFIG:-scripts/hf-configs/pythia-160m} # (override only to test this script on a small config)

TINY_CONFIGS=""
WANT_PYTHIA=0
for cfg in $CONFIGS; do
	case $cfg in
	pythia160m) WANT_PYTHIA=1 ;;
	*) TINY_CONFIGS="$TINY_CONFIGS $cfg" ;;
	esac
done
if [ "$WANT_PYTHIA" = 1 ]; then
	[ -f "$HF_PEER/bench_hf.py" ] || { echo "bench.sh: no $HF_PEER/bench_hf.py (set HF_PEER)" >&2; exit 2; }
fi

[ -z "$TINY_CONFIGS" ] || [ -f "$PEER/bench.py" ] || { echo "bench.sh: no $PEER/bench.py (set PEER)" >&2; exit 2; }
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

CPU=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
NCPU=$(nproc)
GOV=$(go env GOVERSION)
TORCHV=$("$PYTHON" -c 'import torch; print(torch.__version__)')
OBV=$(dpkg-query -W -f='${Version}' libopenblas0-pthread 2>/dev/null || echo unknown)

if [ "$WANT_PYTHIA" = 1 ]; then
	LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
	for round in $(seq 1 "$PY_ROUNDS"); do
		echo "round $round/$PY_ROUNDS pythia160m" >&2
		record pythia160m "$round" peer "$("$PYTHON" scripts/peer_hf.py "$HF_PEER" --config "$PYTHIA" --pairs 4 --seq-len "$PY_SEQ" --steps "$PY_STEPS" --warmup "$PY_WARMUP" --dtype float32)"
		record pythia160m "$round" go-pure "$("$BIN/bench-pure" -model "hf:$PYTHIA" -pairs 4 -seq-len "$PY_SEQ" -steps "$PY_STEPS" -warmup "$PY_WARMUP" -dtype float32)"
		record pythia160m "$round" go-openblas "$("$BIN/bench-openblas" -model "hf:$PYTHIA" -pairs 4 -seq-len "$PY_SEQ" -steps "$PY_STEPS" -warmup "$PY_WARMUP" -dtype float32)"
		record pythia160m "$round" go-pure-pack "$("$BIN/bench-pure" -model "hf:$PYTHIA" -pairs 4 -seq-len "$PY_SEQ" -steps "$PY_STEPS" -warmup "$PY_WARMUP" -dtype float32 -pack)"
		record pythia160m "$round" go-openblas-pack "$("$BIN/bench-openblas" -model "hf:$PYTHIA" -pairs 4 -seq-len "$PY_SEQ" -steps "$PY_STEPS" -warmup "$PY_WARMUP" -dtype float32 -pack)"
	done
	LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
	MARK=pythia "$PYTHON" scripts/bench_table.py "$RUNS" "$OUT" "$STAMP" "$CPU" "$NCPU" "$GOV" "$TORCHV" "$OBV" "$LOAD_BEFORE" "$LOAD_AFTER" "$PY_ROUNDS" "$PY_STEPS"
fi
[ -n "$TINY_CONFIGS" ] || exit 0

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq 1 "$ROUNDS"); do
	for cfg in $TINY_CONFIGS; do
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

"$PYTHON" scripts/bench_table.py "$RUNS" "$OUT" "$STAMP" "$CPU" "$NCPU" "$GOV" "$TORCHV" "$OBV" "$LOAD_BEFORE" "$LOAD_AFTER" "$ROUNDS" "$STEPS"
