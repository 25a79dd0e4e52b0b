#!/bin/bash
# Run a gatedpo grid as a Slurm job array: each array task is one shard,
# and every shard writes into the same sweep directory (cells are keyed by
# id; summary.csv, figures and report.html are rebuilt by whichever shard
# finishes last). Resubmitting the same command resumes: complete cells are
# skipped, interrupted ones continue from their last checkpoint.
#
# Build the binary once, on the login node, then submit:
#
#   go build -o bin/sweep ./cmd/sweep
#   sbatch --array=0-15 deploy/slurm-array.sh paper /scratch/$USER/gatedpo-paper
#   sbatch --array=0-30:2 deploy/slurm-array.sh …    # arrays with a step work too (16 shards)
#
# Every task runs the same prebuilt binary (GATEDPO_SWEEP, default
# bin/sweep); no task compiles. The shard index and count come from
# SLURM_ARRAY_TASK_ID, _MIN, _STEP and _COUNT; nothing else to set.
#SBATCH --job-name=gatedpo-sweep
#SBATCH --cpus-per-task=4
#SBATCH --mem=8G
#SBATCH --time=24:00:00
#SBATCH --output=gatedpo-%A_%a.log
#SBATCH --signal=B:TERM@120           # SIGTERM two minutes before the limit: cells checkpoint and stop

set -euo pipefail
GRID=${1:-paper}                        # a built-in grid name or a grid file
OUT=${2:-runs/${GRID%.toml}}

cd "${SLURM_SUBMIT_DIR:-.}"             # the repository root (../shared/data beside it for `paper`)
SWEEP=${GATEDPO_SWEEP:-bin/sweep}
if [ ! -x "$SWEEP" ]; then
  echo "slurm-array.sh: $SWEEP not found; build it once before sbatch: go build -o bin/sweep ./cmd/sweep" >&2
  exit 2
fi
export OPENBLAS_NUM_THREADS=1            # if built with -tags openblas: one thread per cell
exec "$SWEEP" -grid "$GRID" -out "$OUT" -workers "${SLURM_CPUS_PER_TASK:-1}"
# exit status (sacct): 0 all of this shard's cells complete, 1 some failed
# deterministically, 2 bad input (nothing run), 3 interrupted or an
# environmental failure (rerun to continue).
