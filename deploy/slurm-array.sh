#!/bin/bash
# Run a gatedpo grid as a Slurm job array: each array task is one shard,
# and every shard writes into the same sweep directory (cells are keyed by
# id; summary.csv, figures and report.html are rebuilt by whichever shard
# finishes last). Resubmitting the same script resumes: complete cells are
# skipped, interrupted ones continue from their last checkpoint.
#
#   sbatch --array=0-15 deploy/slurm-array.sh paper /scratch/$USER/gatedpo-paper
#
# The shard index and count come from SLURM_ARRAY_TASK_ID (minus
# SLURM_ARRAY_TASK_MIN) and SLURM_ARRAY_TASK_COUNT; nothing else to set.
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
go build -o "${TMPDIR:-/tmp}/gatedpo-sweep-$SLURM_JOB_ID" ./cmd/sweep
export OPENBLAS_NUM_THREADS=1            # if built with -tags openblas: one thread per cell
exec "${TMPDIR:-/tmp}/gatedpo-sweep-$SLURM_JOB_ID" \
    -grid "$GRID" -out "$OUT" -workers "${SLURM_CPUS_PER_TASK:-1}"
# exit status: 0 all of this shard's cells complete, 1 some failed (or
# interrupted), 2 bad input — visible in `sacct`.
