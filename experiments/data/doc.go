// Package data reads preference datasets, tokenizes them and lays them out
// as batches; it also generates the built-in synthetic dataset.
//
// Import path gatedpo/experiments/data. The sweep (experiments) and
// `inspect data` (cmd/inspect) use it; it depends on nothing else in the
// module.
//
// # Formats
//
// Load reads JSON Lines, one record a line (blank lines ignored); a file
// starting with the gzip magic bytes is decompressed transparently,
// whatever its name. The record format is one vocabulary for
// LoadOptions.Format, the grid's data.format and inspect data's -format
// (FormatNames): "" or "auto" detects it from the first good record;
// "jsonl" and "ultrafeedback" (older grid spellings) are aliases of auto.
// CanonicalFormat maps a name to its canonical form.
//
// A file starting with Parquet's magic bytes "PAR1" (the format Hugging
// Face datasets are published in) is read with
// github.com/parquet-go/parquet-go (pure Go): every row becomes the JSON
// object of its columns (list columns as lists, struct columns as objects,
// e.g. chosen/rejected as list<struct<content, role>>; nulls as null) and
// follows the same rules as a JSONL line, with errors naming "path: row N"
// (1-based across row groups). Text must be UTF-8. The data limits bound
// it as they bound JSONL: a file, or row groups declaring an uncompressed
// size, over max_data_bytes is refused before any column is decoded, a
// row larger than max_line_bytes as JSON is refused; a damaged file is a
// one-line error (a footer longer than the file is refused before
// parquet-go reads it; a damaged page header can still make it allocate
// up to the page size it declares, at most 2 GiB, before failing).
// FuzzLoadParquet fuzzes the reader from the fixtures. The tests
// read fixtures written by another implementation (hyparquet-writer;
// testdata/parquet/gen.mjs) and compare them with their JSONL twins.
//
// The formats:
//
//   - "prompt" (TRL's explicit-prompt format, e.g.
//     ../shared/data/ultrafeedback/train.jsonl): string fields prompt,
//     chosen, rejected. Every other field is kept in Pair.Extra, decoded
//     as encoding/json does (numbers are float64).
//   - "probe" (../shared/data/hh-probe/train.jsonl): the prompt format plus
//     probe fields (AllProbeFields; see ../shared/data/README.md). They go
//     to Pair.Probes, where an empty string means "absent for this
//     record". Auto-detection calls a prompt file with any probe field
//     "probe"; an explicit "prompt" keeps probe-named fields in Extra.
//     chosen_selfr is commentary, not a response (docs/method.md §5), and stays
//     in Extra.
//   - "hh" (Anthropic HH-RLHF raw, ../shared/data/hh-rlhf/*.jsonl.gz):
//     chosen and rejected are whole dialogues. The prompt is their longest
//     common prefix cut after its last "\n\nAssistant:"; the responses are
//     the rest of each dialogue (SplitHH). A response may span several
//     turns when the dialogues differ before the last one (4 records of
//     harmless-base-test, 2 of helpful-base-test).
//   - "conversational": chosen and rejected are lists of {role, content}.
//     With a prompt (a list of messages, or a string) they are the
//     responses; without one, or when both start with a turn that is not
//     the assistant's (HuggingFaceH4/ultrafeedback_binarized repeats its
//     prompt string as the first user turn; the prompt field then stays in
//     Extra), they are whole conversations and the prompt is their common
//     messages up to the last assistant turn both share a position for.
//     Pair.Messages keeps the turns. Messages are rendered the HH way: "\n\nHuman: …",
//     "\n\nAssistant: …", "\n\nSystem: …", the prompt ending with
//     "\n\nAssistant:" and each response starting with a space.
//
// A record may carry a "split" string ("train"; "eval", "test",
// "validation", "valid" or "dev"); if any record does, the file's split is
// used. Otherwise round(EvalFraction·n) usable pairs, picked by a PCG
// permutation seeded with LoadOptions.Seed, form Eval; both splits keep
// file order. Dataset.Hash is the SHA-256 of the file as stored.
//
// # Chat templates
//
// LoadChatTemplate reads a model directory's chat template
// (chat_template.jinja, else tokenizer_config.json's chat_template: a
// string or the "default" of a list of named templates) with its
// bos_token and eos_token; ApplyChatTemplate renders conversational pairs
// (Pair.Messages) with it as TRL does: the prompt turns with
// add_generation_prompt, each response as what rendering prompt plus
// response turns adds after the common prefix. The engine is
// github.com/ardanlabs/jinja v1.8.0 (pure Go; later versions need a newer
// Go), with transformers' settings (trim_blocks, lstrip_blocks,
// raise_exception). testdata/chat holds a Qwen2-style, a Llama-3-style and
// a feature template (namespace, set, elif, loop.*, filters, ~,
// raise_exception) with the outputs Python Jinja2 3.1 rendered for nine
// conversations (gen.py); the tests compare all 54 renderings. Variables a
// template may use beyond messages, add_generation_prompt, bos_token and
// eos_token (tools, documents, date functions) are not provided.
//
// # Skip rule and errors
//
// The skip rule of ../shared/data/README.md, exactly: a pair is skipped
// and counted in Dataset.Skipped when prompt, chosen or rejected is a
// zero-length string (empty_prompt, empty_chosen, empty_rejected) or
// chosen == rejected byte for byte (chosen_equals_rejected), checked in
// that order, one reason per record. Whitespace-only text is kept. For HH
// and conversational records the rule applies to the extracted prompt and
// responses.
//
// A bad record is an error "path:line: what was expected": malformed JSON
// (a truncated line included), a line that is not an object, a missing
// field, a field of the wrong type (null is not a string), invalid UTF-8
// (with its byte offset in the line). With OnBadRecord = "skip" such a
// record is counted instead (malformed_json, wrong_type, missing_field,
// invalid_utf8). A missing file, a directory or a file with no records is
// a one-line error naming the path. Observed on ../shared/data (pinned in
// the tests, recomputed there by an independent scan):
//
//	hh-probe/train.jsonl                500 records → 500 pairs
//	ultrafeedback/train.jsonl          1000 records → 994 pairs (4 chosen_equals_rejected, 1 empty_chosen, 1 empty_rejected)
//	hh-rlhf/harmless-base-test.jsonl.gz 2312 records → 2312 pairs
//	hh-rlhf/helpful-base-test.jsonl.gz  2354 records → 2352 pairs (2 chosen_equals_rejected)
//
// # Tokenizers
//
// Every Tokenizer here is byte-level: ids 0, 1, 2 are the specials
// <|pad|>, <|bos|>, <|eos|> (PadID, BOSID, EOSID), byte b is id b + 3, so
// the byte tokenizer (NewByteTokenizer) has 259 ids and a BPE's first 259
// ids are the same. Encode never adds specials and never maps text to
// them; Decode skips them, so Decode(Encode(s)) == s for every string,
// valid UTF-8 or not. BOS/EOS are added only by Encode (the pair encoder)
// when Limits.AddBOS / AddEOS say so (default off, as in docs/method.md §9):
// BOS before the prompt, EOS after each response, both before truncation,
// so a truncated side loses its special (TRL's convention).
//
// TrainBPE is a byte-level BPE trainer written here: text is split into
// pieces by GPT-2's pre-tokenizer regex (implemented by hand, since Go's
// regexp has no look-ahead; see preTokenize), and each step merges the
// most frequent adjacent pair inside pieces, ties broken by the smaller
// (left, right) id pair, so training is deterministic. Encoding applies
// merges in rank order. SaveJSON writes a Hugging Face tokenizer.json
// (ByteLevel pre-tokenizer and decoder, BPE model with vocab and
// "left right" merges, specials as added tokens) and LoadTokenizerJSON
// reads it back, as well as other byte-level BPE files (GPT-2 style).
// Why not github.com/sugarme/tokenizer: it is not in go.mod, its Save is a
// stub (no tokenizer.json writer), and the framework needs a deterministic
// trainer whose output it can hash and cache; the trainer plus writer is
// about 400 lines. The HF layout follows the published format; it could
// not be checked against the Python tokenizers package here (not
// installed, no network), so treat HF interchange as untested. One known
// difference: Hugging Face matches added-token strings such as "<|pad|>"
// inside input text; this package never does.
//
// The tokenizer.json of a Hugging Face model (GPT-2, Pythia, Qwen2,
// Llama-3) is read by package gatedpo/experiments/data/hftok, which gives
// the library's ids exactly (added tokens matched in the text, NFC where
// the model normalizes) and adapts it to Tokenizer (hftok.Tokenizer.Data).
//
// CachedBPE trains once per (corpus, vocabulary size) and stores
// dir/bpe-<V>-<corpus hash>.tokenizer.json (write to a temporary file,
// then rename, so sweep cells running at once are safe). Train the BPE on
// TokenizerTexts(ds.Train). On ../shared/data a 1024-id BPE trained on
// hh-probe's 400 training pairs (0.16 s) encodes all 23,453 texts of the
// four files (9.0 MB) into 3.5 M tokens (2.56 bytes/token) in 0.7 s and
// decodes every one back exactly.
//
// # Truncation and batches
//
// Encode truncates with Limits (DefaultLimits: 96 prompt, 96 response
// tokens, docs/method.md §9): the prompt keeps its end, responses and probes
// keep their start; the prompt keeps at least one token. MakeBatch lays
// pairs out exactly as ../shared/golden/batch.json (tested against it):
// rows prompt ++ response ++ pad, right padded to T (the longest row, or a
// fixed t), mask[i][t] = 1 iff token t is a response token. For probes,
// ProbeSequences gives the (prompt, response) rows of any probe field and
// MakeSeqBatch lays them out the same way. Batches shuffles pair indices
// per epoch with PCG(seed, epoch).
//
// # The synthetic dataset
//
// Synthetic builds a dataset in memory from SyntheticConfig (no files,
// deterministic in the config; ProbeFields = AllProbeFields). Its language:
// a prompt "Q: <phrasing> the <place>?\nA:" names one of Topics places
// and asks in one of three phrasings for 4, 5 or 6 words (MinWords + k);
// a response is " " + words of WordLen letters from a 16-letter alphabet,
// separated by spaces, ending with "." (at most 31 bytes). Letters follow
// a first-order Markov chain per topic: given the topic and the previous
// letter, a seeded ranking orders the 16 letters; ranks 0..HeadSize−1 are
// the head (weights HeadDecay^k), ranks TailStart..15 are the valleys.
//
//   - chosen: every letter from the head (a likely continuation).
//   - rejected: every letter from the head, except that each is a valley
//     with probability RejectedValleyProb (default 0.1: about two valley
//     letters per response). The rest of y⁻ is as typical as y⁺, as real
//     rejected responses are; DPO's negative gradient lands on the
//     valleys and on ordinary letters alike.
//   - chosen_initial: another chosen sample for the same prompt.
//   - chosen_gptsemantic / reject_gptsemantic (paraphrases): the same
//     word stems (first letters) with the other letters redrawn the same
//     way as the original's (head, or head-with-valleys).
//   - chosen_gptformat / reject_gptformat: the same shape (number of
//     words), drawn as chosen / rejected for another topic.
//   - irr_train: the chosen response of a training pair on another topic;
//     irr_test: a chosen-style response for a place no prompt names;
//     irr_hum: an English sentence (outside the language).
//   - random_permute: the words of chosen shuffled; random_nonhum: the
//     words of irr_train shuffled.
//
// Knobs and defaults (SyntheticConfig): Seed; TrainPairs 400; EvalPairs
// 100 (negative: none); Topics 8 (≤ 11); WordLen 4; MinWords 4; HeadSize
// 6; HeadDecay 0.75 (head weights .30 .23 .17 .13 .10 .07); TailStart 8;
// RejectedValleyProb 0.1.
//
// Why it squeezes. The head is flat, so a tiny model fitted by SFT stays
// uncertain (top-1 mass ≈ 0.40 after SFT in the default grid), and a
// chosen letter is the argmax less than a third of the time.
// Chosen and rejected are nearly indistinguishable pair by pair: DPO's
// cheapest way to raise the margin is to sharpen the distributions, which
// lowers the rare valley letters of y⁻ most, moves mass to each
// position's argmax, and takes it from every non-argmax letter, chosen
// ones included. Measured with the PyTorch peer (testdata/squeeze_peer.py,
// the §6b setup: byte tokens, TinyGPT d64 2 heads 2 layers, SFT 20 epochs,
// DPO β 0.1, Adam 1e-3 with 10 warm-up steps, batch 8, 300 steps; held-out
// probe of 100 pairs), for data and model seeds 0, 1, 2:
//
//	LP_chosen   −51 → −120, −51 → −119, −52 → −104
//	LP_rejected −54 → −124, −52 → −119, −54 → −109
//	LP_argmax   −31 → −23,  −30 → −23,  −31 → −20
//	gap          20 → 98,    20 → 96,    21 → 84
//	top-1 mass  0.40 → 0.52, 0.41 → 0.50, 0.40 → 0.54
//
// and every other probe field of the language falls by 44–75 nats
// (irr_hum, English outside the language, by 13–19).
// Without warm-up (seed 0) the end points are alike (argmax −31 → −23,
// top-1 0.40 → 0.49, chosen −51 → −126). At d128 (4 heads), which fits
// the 400 training pairs more closely, the squeeze is weak: top-1 0.53 →
// 0.60, argmax −20.4 → −19.6, while chosen (−53 → −158) and the gap
// (33 → 138) move as before. The curves are noisy
// from step to step at lr 1e-3 (LP_argmax moves by ±5 between probes);
// the end points above held for all three seeds. Rejected responses made
// entirely of valleys (RejectedValleyProb 1), or a peaked head (HeadSize
// 4, HeadDecay 0.6), did not squeeze: the argmax fell with everything
// else, because the pairs became easy to tell apart and DPO learned
// that instead of sharpening.
//
// The end-to-end check in Go (SFT then DPO with the framework's own
// transformer and objectives) belongs to the training pipeline's tests;
// this package's tests check the generator's invariants (every chosen
// letter in the head, every rejected letter of an all-valley config in the
// valleys, lengths, determinism, probe fields).
//
// # Fuzzing
//
// FuzzParseJSONL checks that the loader never panics and that every error
// is one line naming the file. Its seed corpus runs with go test; run it
// by hand for 60 s with
//
//	go test ./experiments/data -run '^$' -fuzz FuzzParseJSONL -fuzztime 60s
//
// (the fuzzer pauses at "0/sec" while it minimises a new interesting
// input; that is not a hang).
package data
