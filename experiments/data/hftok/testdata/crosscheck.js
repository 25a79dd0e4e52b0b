// crosscheck.js - encodes JSON-line texts with Hugging Face's tokenizers and writes the lines
// `inspect tokenize` writes ({"text", "ids"} a line), so the two outputs can be compared with cmp.
//
//   node crosscheck.js NPM_DIR TOKENIZER_JSON [--special] < texts.jsonl > hf.jsonl
//   node crosscheck.js NPM_DIR --family NAME BASE_TOKENIZER_JSON families.json OUT_TOKENIZER_JSON
//
// The second form writes the test tokenizer NAME of families.json (built from the base file as
// the Go tests build it) to OUT_TOKENIZER_JSON, for use outside the repository.
'use strict';
const fs = require('fs');
const path = require('path');

async function main() {
  const args = process.argv.slice(2);
  const npmDir = args[0];
  if (args[1] === '--family') {
    const [, , name, basePath, famPath, outPath] = args;
    const base = JSON.parse(fs.readFileSync(basePath, 'utf8'));
    const fam = JSON.parse(fs.readFileSync(famPath, 'utf8')).families[name];
    for (const [k, v] of Object.entries(fam.override)) base[k] = v;
    for (const [k, v] of Object.entries(fam.model || {})) base.model[k] = v;
    fs.writeFileSync(outPath, JSON.stringify(base));
    return;
  }
  const hf = require(path.join(path.resolve(npmDir), 'node_modules', 'tokenizers'));
  const tok = hf.Tokenizer.fromFile(args[1]);
  const special = args[2] === '--special';
  const lines = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l.trim().length > 0);
  const out = [];
  for (const l of lines) {
    const text = JSON.parse(l).text;
    const e = await tok.encode(text, null, { addSpecialTokens: special });
    out.push(JSON.stringify({ text, ids: Array.from(e.getIds()) }));
  }
  process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
}

main().catch((e) => { console.error(e); process.exit(1); });
