#!/bin/sh
# crosscheck.sh - compares `inspect tokenize` with Hugging Face's tokenizers on every prompt,
# chosen and rejected text of the shared preference datasets, for the shared GPT-2 tokenizer and
# the Qwen2-, Llama-3- and Pythia-style test tokenizers. Writes only to a temporary folder.
#
#   sh crosscheck.sh NPM_DIR [SHARED_DIR]
#
# NPM_DIR as for make_oracle.sh. Prints one line per (tokenizer, dataset): texts, tokens, and
# "identical" or the first differing line; exits 1 if any output differs.
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
NPM_DIR=$(cd "$1" && pwd)
ROOT=$(cd "$HERE/../../../.." && pwd)
SHARED=${2:-$ROOT/../shared}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
(cd "$ROOT" && go build -o "$TMP/inspect" ./cmd/inspect)
cp "$SHARED/hf/tokenizer/tokenizer.json" "$TMP/gpt2.json"
for fam in qwen2 llama3 pythia; do
  node "$HERE/crosscheck.js" "$NPM_DIR" --family $fam "$SHARED/hf/tokenizer/tokenizer.json" "$HERE/families.json" "$TMP/$fam.json"
done
# texts: prompt, chosen, rejected of each record (JSON lines {"text": ...})
python3 - "$SHARED/data" "$TMP" <<'PY'
import gzip, json, os, sys
src, out = sys.argv[1], sys.argv[2]
for name, rel in [("hh-probe", "hh-probe/train.jsonl"), ("ultrafeedback", "ultrafeedback/train.jsonl"),
                  ("harmless", "hh-rlhf/harmless-base-test.jsonl.gz"), ("helpful", "hh-rlhf/helpful-base-test.jsonl.gz")]:
    p = os.path.join(src, rel)
    op = gzip.open if p.endswith(".gz") else open
    with op(p, "rt", encoding="utf-8") as f, open(os.path.join(out, name + ".texts.jsonl"), "w", encoding="utf-8") as g:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            for k in ("prompt", "chosen", "rejected"):
                if isinstance(r.get(k), str):
                    g.write(json.dumps({"text": r[k]}, ensure_ascii=False) + "\n")
PY
status=0
for tok in gpt2 qwen2 llama3 pythia; do
  for ds in hh-probe ultrafeedback harmless helpful; do
    for sp in "" --special; do
      "$TMP/inspect" tokenize -tokenizer "$TMP/$tok.json" $sp < "$TMP/$ds.texts.jsonl" > "$TMP/go.jsonl"
      node "$HERE/crosscheck.js" "$NPM_DIR" "$TMP/$tok.json" $sp < "$TMP/$ds.texts.jsonl" > "$TMP/hf.jsonl"
      n=$(wc -l < "$TMP/go.jsonl")
      ntok=$(python3 -c "import json,sys; print(sum(len(json.loads(l)['ids']) for l in open(sys.argv[1])))" "$TMP/go.jsonl")
      if cmp -s "$TMP/go.jsonl" "$TMP/hf.jsonl"; then
        echo "$tok $ds ${sp:-plain}: $n texts, $ntok tokens: identical"
      else
        echo "$tok $ds ${sp:-plain}: $n texts: DIFFER at $(cmp "$TMP/go.jsonl" "$TMP/hf.jsonl" | head -1)"
        status=1
      fi
    done
  done
done
exit $status
