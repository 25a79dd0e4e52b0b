// Package hftok reads the tokenizer.json that ships with a Hugging Face
// model and encodes and decodes text exactly as Hugging Face's tokenizers
// library does, for byte-level BPE tokenizers: GPT-2, Pythia (GPT-NeoX),
// Qwen2/Qwen2.5 and Llama-3 layouts.
//
// Import path gatedpo/experiments/data/hftok. It depends on
// gatedpo/experiments/data (for the data.Tokenizer adapter) and
// golang.org/x/text (NFC); cmd/inspect's `tokenize` subcommand is a thin
// wrapper of Inspect.
//
// # What is supported
//
// Load (a tokenizer.json, or a model directory: LoadDir) accepts:
//
//   - model: BPE with every one of the 256 byte tokens, merges as
//     "left right" strings or [left, right] pairs, ignore_merges (Llama-3:
//     a pre-token that is itself a vocab entry is that token).
//   - normalizer: none, or NFC (Qwen2, Pythia), also inside a Sequence.
//   - pre_tokenizer: ByteLevel (with or without its GPT-2 regex,
//     add_prefix_space), optionally preceded by Split steps whose regex is
//     GPT-2's, Llama-3's or Qwen2's (PatternGPT2, PatternLlama3,
//     PatternQwen2), as a Sequence. Those regexes use look-ahead and
//     Oniguruma semantics that Go's regexp lacks, so each has a
//     hand-written matcher (pretok.go): the alternatives in order, \s as
//     Unicode White_Space, \p{L}/\p{N} as Go's unicode tables, the
//     case-insensitive contractions folding U+017F (ſ) to s as Oniguruma
//     does.
//   - added_tokens: matched in the text before normalization (normalized
//     = false) or after it (normalized = true, against their normalized
//     content), leftmost-longest, with single_word, lstrip and rstrip, and
//     given ids the way the library does (a token already in the
//     vocabulary keeps its id, others get the next free id; a file that
//     says otherwise gets a Warning). A literal "<|endoftext|>" in text
//     is therefore the special token, as in Hugging Face.
//   - decoder: ByteLevel. post_processor: ByteLevel, TemplateProcessing,
//     RobertaProcessing, BertProcessing or a Sequence of them, used by
//     EncodeSpecial (add_special_tokens = true); another post-processor
//     only makes EncodeSpecial fail.
//
// Everything else is refused with a one-line error naming the component
// and what is supported: SentencePiece-style BPE (byte_fallback, Metaspace;
// Llama-1/2, TinyLlama, Mistral), Unigram and WordPiece models, other
// normalizers (NFKC, Lowercase, Prepend/Replace), other Split regexes,
// BPE dropout, continuing_subword_prefix, a model directory with only a
// tokenizer.model. truncation and padding in the file are ignored (with a
// Warning): the caller truncates and pads.
//
// # Encoding and decoding
//
// Encode is add_special_tokens = false; EncodeSpecial adds the
// post-processor's tokens (Llama-3: <|begin_of_text|> first; GPT-2,
// Pythia, Qwen2: none). Decode maps ids back to bytes as the ByteLevel
// decoder does (an added token's text passes through it too); skipSpecial
// drops added tokens marked special. Decode returns the bytes as they are,
// so Decode(Encode(s), false) == s for every s, invalid UTF-8 included, when
// the tokenizer has no normalizer, and == s with the text between added
// tokens in NFC otherwise (a ByteLevel add_prefix_space, used by none of
// the four families, adds a space). Hugging Face's decode replaces invalid UTF-8 (a
// character cut between ids) by U+FFFD; DecodeLossy does the same. Input
// that is not valid UTF-8 cannot reach Hugging Face; here an invalid byte
// is a one-byte character of class "other" in the pre-tokenizer.
//
// Character classes and NFC come from Go's Unicode tables (unicode,
// golang.org/x/text; Unicode 15); a character assigned in a later Unicode
// version may be classed or composed differently from the library.
//
// BPE merges the pair of lowest rank, leftmost first, with a priority
// queue (O(n log n) for a long pre-token, as the library); pieces up to 256
// bytes are cached (at most 2^17 of them). A Tokenizer is safe for
// concurrent use.
//
// # Vocabulary check and the data adapter
//
// CheckVocab(n) is an error when the tokenizer has an id ≥ n, the model's
// vocab_size: the tokenizer does not belong to that model. LoadDir runs
// it against the directory's config.json; ForModel loads and checks in one
// call. Data adapts a Tokenizer to data.Tokenizer (the grid's
// tokenizer = "model"): Encode as above, Decode skipping specials, PadID
// the pad token else EOS, data.Specials from tokenizer_config.json's
// bos/eos/pad tokens when loaded from a model directory.
//
// # Tests and oracles
//
// The references are Hugging Face's tokenizers 0.23.2 (the Rust library,
// through its npm binding), never this package:
//
//   - ../shared/hf/tokenizer/cases.jsonl: 539 GPT-2 cases (all match).
//   - testdata/families.json builds, from ../shared's GPT-2 tokenizer.json,
//     a Qwen2-style, a Llama-3-style and a Pythia-style tokenizer and one
//     exercising added-token options; testdata/texts.jsonl holds 541 texts
//     written for this (contractions in every case, digit runs, CJK,
//     emoji, combining characters that NFC changes, whitespace runs, \r\n,
//     leading spaces, punctuation runs, literal special tokens, seeded
//     random strings); cases_<family>.jsonl holds the library's ids with
//     and without special tokens and its decoded texts. The family tokenizers
//     are built in memory at test time, so the tests skip without
//     ../shared.
//   - testdata/tiny_{gpt2,llama3,qwen2}.json are small standalone
//     tokenizers (256 bytes + 60 merges) with their own oracles, and
//     pieces.jsonl holds the library's pre-tokenizer pieces for the three
//     regexes: these tests need no ../shared.
//
// Regenerate with testdata/make_oracle.sh NPM_DIR (node 20 and
// `npm install --ignore-scripts tokenizers@0.23.2` in a scratch NPM_DIR);
// testdata/crosscheck.sh NPM_DIR compares `inspect tokenize` with the
// library on every text of ../shared/data for the four layouts.
// FuzzRoundTrip checks the round trip, known ids, cover of the pieces and
// the merge loop against a textbook BPE; run it with
//
//	go test ./experiments/data/hftok -run '^$' -fuzz FuzzRoundTrip -fuzztime 60s
//
// BenchmarkEncode measures tokens/s on ../shared/data/ultrafeedback:
//
//	go test ./experiments/data/hftok -run '^$' -bench Encode -benchtime 3x
package hftok
