// make_oracle.js - builds each test tokenizer of families.json from the shared GPT-2
// tokenizer.json and encodes/decodes every text of texts.jsonl with Hugging Face's tokenizers
// (the Rust library through its Node binding), writing cases_<family>.jsonl; the same for the
// standalone tiny_<style>.json files of OUT_DIR (cases_tiny_<style>.jsonl, whose header's
// base_sha256 is the tiny file's own hash).
//
//   node make_oracle.js NPM_DIR BASE_TOKENIZER_JSON families.json texts.jsonl OUT_DIR
//
// NPM_DIR: a scratch folder where `npm install --ignore-scripts tokenizers@0.23.2` was run.
// Each case, for the text of texts.jsonl with the same id: {"id", "ids" (add_special_tokens
// false), "ids_special" (add_special_tokens true; absent: = ids), "decoded" (skip_special_tokens
// false; absent: = the text), "decoded_skip" (true; absent: = decoded), "decoded_tail" (ids[1:],
// false; absent when there are fewer than 2 ids)}.
// The first line of each file is a header {"family", "base_sha256", "tokenizers"}.
// pieces.jsonl: for each text, the lengths in code points of the pre-tokenizer pieces of each
// Split regex of families.json's "patterns" (GPT-2, Llama-3, Qwen2) on the raw text.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

// build applies a family's overrides to the base tokenizer.json object (the Go tests do the same).
function build(base, fam) {
  const t = JSON.parse(JSON.stringify(base));
  for (const [k, v] of Object.entries(fam.override)) t[k] = v;
  for (const [k, v] of Object.entries(fam.model || {})) t.model[k] = v;
  return t;
}

async function main() {
  const [npmDir, basePath, famPath, textsPath, outDir] = process.argv.slice(2);
  const req = (p) => require(path.join(path.resolve(npmDir), 'node_modules', p));
  const hf = req('tokenizers');
  const version = req('tokenizers/package.json').version;
  const baseRaw = fs.readFileSync(basePath);
  const baseSha = crypto.createHash('sha256').update(baseRaw).digest('hex');
  const base = JSON.parse(baseRaw.toString('utf8'));
  const fams = JSON.parse(fs.readFileSync(famPath, 'utf8')).families;
  const texts = fs.readFileSync(textsPath, 'utf8').split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l));
  // the families (built from the base file) and the standalone tiny tokenizers (files here)
  const jobs = Object.entries(fams).map(([name, fam]) => [name, JSON.stringify(build(base, fam)), baseSha]);
  for (const style of ['gpt2', 'llama3', 'qwen2']) {
    const raw = fs.readFileSync(path.join(outDir, `tiny_${style}.json`));
    jobs.push([`tiny_${style}`, raw.toString('utf8'), crypto.createHash('sha256').update(raw).digest('hex')]);
  }
  for (const [name, json, sha] of jobs) {
    const tok = hf.Tokenizer.fromString(json);
    const lines = [JSON.stringify({ family: name, base_sha256: sha, tokenizers: version })];
    for (const r of texts) {
      const e = await tok.encode(r.text, null, { addSpecialTokens: false });
      const ids = Array.from(e.getIds());
      const es = await tok.encode(r.text, null, { addSpecialTokens: true });
      // fields equal to their default are left out to keep the files small (see the header above)
      const rec = { id: r.id, ids };
      const idsSpecial = Array.from(es.getIds());
      if (JSON.stringify(idsSpecial) !== JSON.stringify(ids)) rec.ids_special = idsSpecial;
      const decoded = ids.length ? await tok.decode(ids, false) : '';
      if (decoded !== r.text) rec.decoded = decoded;
      const skip = ids.length ? await tok.decode(ids, true) : '';
      if (skip !== decoded) rec.decoded_skip = skip;
      // without the first id: a cut multi-byte character exercises the U+FFFD replacement
      if (ids.length > 1) rec.decoded_tail = await tok.decode(ids.slice(1), false);
      lines.push(JSON.stringify(rec));
    }
    const out = path.join(outDir, `cases_${name}.jsonl`);
    fs.writeFileSync(out, lines.join('\n') + '\n');
    console.log(`${name}: ${texts.length} cases -> ${out}`);
  }
  // The pre-tokenizer alone: a WordLevel model with only an unknown token gives one token per
  // piece, so the offsets (in code points) are the piece boundaries of each Split regex.
  const patterns = JSON.parse(fs.readFileSync(famPath, 'utf8')).patterns;
  const lines = [JSON.stringify({ patterns: Object.keys(patterns), tokenizers: version })];
  const toks = {};
  for (const [pname, re] of Object.entries(patterns)) {
    toks[pname] = hf.Tokenizer.fromString(JSON.stringify({
      version: '1.0', truncation: null, padding: null, added_tokens: [], normalizer: null,
      pre_tokenizer: { type: 'Split', pattern: { Regex: re }, behavior: 'Isolated', invert: false },
      post_processor: null, decoder: null,
      model: { type: 'WordLevel', vocab: { '[UNK]': 0 }, unk_token: '[UNK]' },
    }));
  }
  for (const r of texts) {
    const rec = { id: r.id };
    for (const [pname, tok] of Object.entries(toks)) {
      const e = await tok.encode(r.text, null, { addSpecialTokens: false });
      rec[pname] = e.getOffsets().map(([a, b]) => b - a);
    }
    lines.push(JSON.stringify(rec));
  }
  fs.writeFileSync(path.join(outDir, 'pieces.jsonl'), lines.join('\n') + '\n');
  console.log(`pieces: ${texts.length} texts x ${Object.keys(patterns).length} patterns -> pieces.jsonl`);
}

main().catch((e) => { console.error(e); process.exit(1); });
