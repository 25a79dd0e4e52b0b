// make_texts.js - writes texts.jsonl, the inputs of the family oracles: hand-written hard cases
// and seeded random strings from a pool of awkward characters.
//
//   node make_texts.js > texts.jsonl
//
// Every text is written here (no dataset text). Deterministic: the random strings come from a
// fixed-seed xorshift generator.
'use strict';

const hard = [
  // empty and whitespace
  '', ' ', '  ', '   ', '\t', '\t\t', ' \t ', 'a  b', 'a   b', 'a\tb', 'a \tb', '\u00a0', 'a\u00a0b',
  'a\u3000b', '\u2009x', '\u200bzero\u200bwidth', 'trailing   ', '  leading', 'a\u0085b', '\u000b\u000c',
  ' '.repeat(30), 'x' + ' '.repeat(24) + 'y', 'a' + ' '.repeat(5) + 'b', ' '.repeat(25) + 'z',
  '    def f(x):\n        return x + 1\n', '\n    code', 'tab\tseparated\tvalues\n1\t2\t3',
  // newlines
  '\n', '\n\n', '\n\n\n', 'a\nb', 'a\n\nb', 'a \n b', 'a\n \nb', 'line1\r\nline2', '\r\n\r\n',
  'a\r\n\r\n  b', '\r', 'x\n\n\n', ' \n', '\n ', 'foo.\n\nBar', 'end!\n', '?!\n\r\n', '\t\n', 'a \r\n\tb',
  '  \n  \n x', 'Hi.\n\n\n\nBye.', '\n\n\nHuman: hi\n\nAssistant: hello', 'x\r\ny\rz\n',
  // leading spaces
  ' hello', '  hello', '   hello world', ' 123', ' !!!', " 'sup", '  !!', ' \u00e9t\u00e9',
  // contractions in various cases
  "I'm", "you're", "they've", "we'll", "he'd", "it's", "don't", "I'M", "YOU'RE", "They'Ve", "WE'LL",
  "HE'D", "IT'S", "DON'T", "'s", "'S", "'\u017f", "'\u017fam", "'sam", "'Sam", "l'amour", "rock'n'roll",
  "'''", "'re'", "' s", "''s", "'Ll'lL", "\u2019s", "it\u2019s", "'t'T'm'M'd'D", "'rE'Re'vE'VE",
  "O'Neill's", "'90s", "'", "a'", "'\u00e9", "'1", "' ", "'\n", "I'd've", "y'all'll",
  // digits
  '1', '12', '123', '1234', '12345', '123456789', '3.14159', '1,000,000', '2024-01-01',
  'x1y22z333w4444', ' 42', '  42', '\u0661\u0662\u0663\u0664', '\u00b2\u00b3', '\u00bd', '\u216b',
  '\u2460\u2461\u2462\u2463', '\uff10\uff11\uff12\uff13\uff14', 'v1.2.3-rc4', '0x1F2E3D', '10^100',
  '1234567 7654321', 'abc123def', '123abc', 'a1', '$1234.56',
  // CJK and other scripts
  '\u4f60\u597d\uff0c\u4e16\u754c\uff01', '\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8',
  '\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8', '\u4e2d\u6587 English \u6df7\u5408123',
  '\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!', '\u0393\u03b5\u03b9\u03ac \u03c3\u03bf\u03c5',
  '\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645',
  '\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e',
  '\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a', 'Ti\u1ebfng Vi\u1ec7t c\u00f3 d\u1ea5u',
  '\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd',
  // emoji
  '\ud83d\udc4d', '\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66',
  '\ud83c\uddfa\ud83c\uddf8\ud83c\uddec\ud83c\udde7', '\ud83d\ude00\ud83d\ude00\ud83d\ude00',
  'Hi \ud83d\ude00!', '\u2764\ufe0f', 'a\ud83d\udc4db', ' \ud83d\ude80 launch', '\ud83d\udc4d\ud83c\udffd',
  // combining characters (NFC changes them)
  'e\u0301', 'cafe\u0301', 'Cafe\u0301 au lait', 'A\u030a', '\u1100\u1161', '\u00f1 vs n\u0303',
  'e\u0301\u0301', '\u0301', '\u01c5', '\u212b', '\u2126', '\ufb01', 'caf\u00e9 and cafe\u0301',
  'o\u0308\u0304', '\u0915\u093c', 'x\u0301y', ' \u0301', 'A\u0301\u0327',
  // punctuation runs
  '!!!', '...', '?!?!', 'a...b', '(x)', '[{<>}]', '---', '***bold***',
  'http://example.com/a?b=c&d=e#f', 'foo@bar.com', '$100.00', 'C++', '#include <stdio.h>', 'x=y+z;',
  '"quoted"', '\u00abguillemets\u00bb', '\u2014em dash\u2014', '\u2022bullet', '!!!\n\n', ' ...\r\n',
  '<<<>>>', ':-)', '\u00bfQu\u00e9?', '@@@ ###', '_under_score_', 'snake_case_name', 'a_1',
  // literal special and added tokens
  '<|endoftext|>', 'Hello<|endoftext|>World', '<|endoftext|><|endoftext|>', ' <|endoftext|> ',
  '<|endoftext|', '<|endoftext|>>', '<<|endoftext|>', '<|im_start|>user\nHi<|im_end|>\n',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n',
  '<|begin_of_text|>Hi', '<|eot_id|>', '<|start_header_id|>assistant<|end_header_id|>\n\nOK<|eot_id|>',
  '<|padding|>', '<|pad|>', '<mask>', 'a <mask> b', 'a   <mask>', 'x[R]   y', 'x [R]\n\ny', '<sep>',
  '  <sep>  ', 'a<sep>b', '<x>y', ' <x> ', 'hello', 'hello world', 'say hello', 'othello',
  'hello_there', 'hello!', '(hello)', 'Hello', 'caf\u00e9', 'cafe\u0301', 'le caf\u00e9!', '<mask><mask>',
  '<|reserved_special_token_0|><|reserved_special_token_1|>', '<|end_of_text|>', 'end<|endoftext|>\n',
  // prose and code
  'The quick brown fox jumps over the lazy dog.',
  "It's 5 o'clock somewhere; we'll meet at 12:30pm, won't we?",
  'Dear team,\n\nPlease find the Q3 report attached (see p. 14-17). Revenue grew 12.5% YoY.\n\nBest,\nAnn',
  'Q: What is 2+2?\nA: 4.\n\nQ: And 1234*5678?\nA: 7006652.',
  'function add(a, b) {\n  return a + b; // sum\n}\n',
  '{"key": [1, 2, 3], "nested": {"x": null, "y": true}}',
  'SELECT id, name FROM users WHERE age >= 21 ORDER BY name;',
  'Mr. O\'Brien\'s dog\'s bone ISN\'T here. They\'RE gone.',
  '   Indented text with    irregular     spacing   ',
  'Numbers: 1 22 333 4444 55555 666666 and 3.14, 2.718; -1e-9.',
  '\u00a0\u00a0non-breaking\u00a0spaces\u00a0',
  'Mixed \u65e5\u672c and English, with \ud83d\ude00 emoji and caf\u00e9 accents.\r\n',
];

// xorshift32, seed 14
let state = 14;
function rnd() {
  state ^= state << 13; state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5; state >>>= 0;
  return state / 4294967296;
}
const pool = [
  'a', 'b', 'Z', 'e', 's', 'S', 't', 'l', 'L', 'r', 'E', 'v', 'd', 'm', '0', '1', '7', '9',
  ' ', ' ', ' ', '  ', '\n', '\r\n', '\r', '\t', "'", "'", '.', ',', '!', '?', '-', '_', '"', '<', '>', '|',
  '\u00a0', '\u3000', '\u0085', '\u017f', '\u0301', '\u0308', '\u00e9', '\u00c5', '\u212b', '\u1100', '\u1161',
  '\u4e2d', '\u6587', '\uff11', '\u0661', '\u00b2', '\u216b', '\ud83d\ude00', '\ud83d\udc4d', '\u200d', '\ufe0f',
  '\u0928', '\u094d', '\u0e31', '\u2019', '\u2014', '\u00ab',
  '<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|begin_of_text|>', '<|eot_id|>', '<|padding|>',
  '<mask>', '[R]', '<sep>', '<x>', 'hello', 'cafe\u0301', '    ', '     ',
];
const out = [];
hard.forEach((t, i) => out.push({ id: out.length, source: 'hard', text: t }));
for (let k = 0; k < 300; k++) {
  const n = 1 + Math.floor(rnd() * 40);
  let t = '';
  for (let j = 0; j < n; j++) t += pool[Math.floor(rnd() * pool.length)];
  out.push({ id: out.length, source: 'random', text: t });
}
process.stdout.write(out.map((r) => JSON.stringify(r)).join('\n') + '\n');
