// make_tiny.js - writes tiny_gpt2.json, tiny_llama3.json and tiny_qwen2.json: small byte-level
// BPE tokenizers (the 256 byte tokens plus about 60 hand-picked merges) in the three layouts, so
// the tests can check the whole pipeline against Hugging Face without the shared GPT-2 vocabulary.
//
//   node make_tiny.js OUT_DIR
'use strict';
const fs = require('fs');
const path = require('path');

// GPT-2 byte -> printable character map.
const byteChar = [];
{
  let n = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    byteChar[b] = String.fromCodePoint(printable ? b : 256 + n++);
  }
}
const bl = (s) => Array.from(Buffer.from(s, 'utf8')).map((b) => byteChar[b]).join('');

// merges as pairs of raw strings, in rank order ([c, null]: the first two bytes of c)
const pairs = [
  [' ', 't'], ['h', 'e'], [' t', 'he'], ['i', 'n'], ['e', 'r'], [' ', 'a'], ['o', 'n'], ['r', 'e'],
  [' ', 's'], ['e', 'n'], ['a', 't'], ['o', 'r'], ['in', 'g'], [' ', 'w'], ['e', 's'], [' ', 'c'],
  ['i', 's'], [' ', 'o'], ['a', 'n'], [' a', 'n'], [' an', 'd'], [' ', 'i'], [' i', 's'], ['l', 'l'],
  ["'", 's'], ["'", 't'], ["'", 're'], ["'", 'l'], ["'l", 'l'], ['1', '2'], ['12', '3'], ['123', '4'],
  [' ', '1'], ['0', '0'], [' ', ' '], ['  ', '  '], ['\n', '\n'], ['\r', '\n'], ['.', '\n'],
  ['!', '!'], ['!!', '!'], ['.', '.'], ['..', '.'], ['\u00e9', null], ['e', '\u0301'],
  ['H', 'e'], ['He', 'll'], ['Hell', 'o'], [' ', 'W'], ['W', 'or'],
  ['Wor', 'l'], ['Worl', 'd'], ['\u4f60', '\u597d'], ['c', 'a'], ['ca', 'f'], [' ', 'he'], [' he', 'll'],
  [' hell', 'o'], ['t', 'h'], [' th', 'e'], ['<', '|'], ['|', '>'], ['\ud83d\ude00', null],
];
function build(style) {
  const vocab = {};
  for (let b = 0; b < 256; b++) vocab[byteChar[b]] = b;
  const merges = [];
  const seen = new Set();
  for (const [a0, b0] of pairs) {
    // [c, null]: merge the first two bytes of character c (e.g. the two bytes of é)
    const whole = bl(a0);
    const a = b0 === null ? whole[0] : whole;
    const b = b0 === null ? whole[1] : bl(b0);
    if (!(a in vocab) || !(b in vocab)) continue;
    const key = a + ' ' + b;
    if (seen.has(key)) continue;
    seen.add(key);
    merges.push([a, b]);
    if (!((a + b) in vocab)) vocab[a + b] = Object.keys(vocab).length;
  }
  const n = Object.keys(vocab).length;
  const sp = (id, content) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const Q = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
  const L = Q.replace('|\\p{N}|', '|\\p{N}{1,3}|');
  const t = { version: '1.0', truncation: null, padding: null };
  const blv = (aps, trim, re) => ({ type: 'ByteLevel', add_prefix_space: aps, trim_offsets: trim, use_regex: re });
  if (style === 'gpt2') {
    t.added_tokens = [sp(n, '<|endoftext|>')];
    t.normalizer = null;
    t.pre_tokenizer = blv(false, true, true);
    t.post_processor = blv(true, false, true);
    t.decoder = blv(true, true, true);
  } else if (style === 'qwen2') {
    t.added_tokens = [sp(n, '<|endoftext|>'), sp(n + 1, '<|im_start|>'), sp(n + 2, '<|im_end|>')];
    t.normalizer = { type: 'NFC' };
    t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: Q }, behavior: 'Isolated', invert: false }, blv(false, false, false)] };
    t.post_processor = blv(false, false, false);
    t.decoder = blv(false, false, false);
  } else {
    t.added_tokens = [sp(n, '<|begin_of_text|>'), sp(n + 1, '<|end_of_text|>'), sp(n + 2, '<|eot_id|>')];
    t.normalizer = null;
    t.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: L }, behavior: 'Isolated', invert: false }, blv(false, true, false)] };
    t.post_processor = { type: 'Sequence', processors: [blv(true, false, true), {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: '<|begin_of_text|>', type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [n], tokens: ['<|begin_of_text|>'] } } }] };
    t.decoder = blv(true, true, true);
  }
  t.model = { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
    fuse_unk: false, byte_fallback: false, ignore_merges: style === 'llama3', vocab, merges };
  return t;
}
const out = process.argv[2];
for (const style of ['gpt2', 'llama3', 'qwen2']) {
  const p = path.join(out, `tiny_${style}.json`);
  fs.writeFileSync(p, JSON.stringify(build(style), null, 1) + '\n');
  console.log(`-> ${p}`);
}
