#!/bin/sh
# make_oracle.sh - regenerates texts.jsonl, tiny_*.json, cases_*.jsonl (the Qwen2-, Llama-3- and
# Pythia-style oracles, the added-token options oracle, the tiny tokenizers' oracles) and
# pieces.jsonl with Hugging Face's tokenizers.
#
#   sh make_oracle.sh NPM_DIR [SHARED_DIR]
#
# NPM_DIR: a scratch folder (outside the repository) prepared once with
#   mkdir -p NPM_DIR && cd NPM_DIR && npm init -y && npm install --ignore-scripts tokenizers@0.23.2
# SHARED_DIR: the shared spec folder holding hf/tokenizer/tokenizer.json (default: ../shared
# beside the module root). Needs node (20). The test tokenizers are never written to disk here:
# make_oracle.js and the Go tests both build them in memory from families.json + the base file.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
NPM_DIR=$(cd "$1" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
SHARED=${2:-$ROOT/../shared}
node "$HERE/make_texts.js" > "$HERE/texts.jsonl"
node "$HERE/make_tiny.js" "$HERE"
node "$HERE/make_oracle.js" "$NPM_DIR" "$SHARED/hf/tokenizer/tokenizer.json" "$HERE/families.json" \
  "$HERE/texts.jsonl" "$HERE"
