package data

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"gatedpo/internal/cliflag"
)

// dataReport is what `inspect data -json` prints (one object); pairs,
// skipped, truncated and probe_fields are the keys tools rely on.
type dataReport struct {
	Dataset     string                    `json:"dataset"`
	Path        string                    `json:"path,omitempty"`
	Format      string                    `json:"format"`
	Hash        string                    `json:"hash"`
	Pairs       int                       `json:"pairs"`
	TrainPairs  int                       `json:"train_pairs"`
	EvalPairs   int                       `json:"eval_pairs"`
	Skipped     map[string]int            `json:"skipped"`
	Truncated   int                       `json:"truncated"`
	Tokenizer   string                    `json:"tokenizer"`
	VocabSize   int                       `json:"vocab_size"`
	Limits      map[string]int            `json:"limits"`
	Lengths     map[string]lengthQuantile `json:"lengths"`
	RawLengths  map[string]lengthQuantile `json:"lengths_untruncated"`
	ProbeFields []string                  `json:"probe_fields"`
	ProbeCounts map[string]int            `json:"probe_counts"`
}

// lengthQuantile summarises token lengths; quantiles interpolate linearly
// at q·(n−1) of the sorted values.
type lengthQuantile struct {
	Min  int     `json:"min"`
	Q10  float64 `json:"q10"`
	Q50  float64 `json:"q50"`
	Q90  float64 `json:"q90"`
	Max  int     `json:"max"`
	Mean float64 `json:"mean"`
}

func quantiles(v []int) lengthQuantile {
	if len(v) == 0 {
		return lengthQuantile{}
	}
	s := append([]int(nil), v...)
	sort.Ints(s)
	at := func(q float64) float64 {
		x := q * float64(len(s)-1)
		i := int(x)
		if i+1 >= len(s) {
			return float64(s[len(s)-1])
		}
		return float64(s[i]) + (x-float64(i))*float64(s[i+1]-s[i])
	}
	sum := 0
	for _, x := range s {
		sum += x
	}
	return lengthQuantile{Min: s[0], Q10: at(0.1), Q50: at(0.5), Q90: at(0.9), Max: s[len(s)-1], Mean: float64(sum) / float64(len(s))}
}

// Inspect implements `inspect data` (cmd/inspect): it loads a dataset
// (or generates the synthetic one), tokenizes it with the default
// truncation limits and prints pairs, skips by reason, truncated pairs,
// token-length quantiles and the probe fields present; -json prints one
// object (dataReport). It returns the exit status: 0 ok, 1 run failed, 2
// bad input (with a one-line error on stderr).
func Inspect(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inspect data", flag.ContinueOnError)
	dataset := fs.String("dataset", "", "JSONL preference file (.gz read transparently) or \"synthetic\"")
	format := fs.String("format", "", "record format: auto (default), prompt, probe, hh, conversational (aliases jsonl, ultrafeedback = auto); the file type (JSONL, gzip, Parquet) is detected")
	onBad := fs.String("on-bad-record", "error", "error | skip: what to do with a malformed record")
	tokName := fs.String("tokenizer", "byte", "byte | bpe (trained on the train split)")
	vocab := fs.Int("vocab-size", 1024, "BPE vocabulary size (with -tokenizer bpe)")
	tokCache := fs.String("tokenizer-cache", "", "directory to cache the trained BPE tokenizer.json in (default: none)")
	maxPrompt := fs.Int("max-prompt-tokens", DefaultLimits().MaxPromptTokens, "keep the last N prompt tokens (0 = no limit)")
	maxResp := fs.Int("max-response-tokens", DefaultLimits().MaxResponseTokens, "keep the first N response tokens (0 = no limit)")
	evalFrac := fs.Float64("eval-fraction", 0.2, "share of pairs held out when the file has no split")
	seed := fs.Uint64("seed", 1, "seed of the split (and of the synthetic dataset)")
	synTrain := fs.Int("synthetic-train", 0, "synthetic: training pairs (0 = default 400)")
	synEval := fs.Int("synthetic-eval", 0, "synthetic: held-out pairs (0 = default 100)")
	export := fs.String("export", "", "also write the pairs (train then eval) as probe-format JSONL to this path")
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	maxLine := fs.Int("max-line-bytes", DefaultMaxLineBytes, "longest JSONL line read ([data] max_line_bytes of a grid)")
	maxData := fs.Int64("max-data-bytes", DefaultMaxDataBytes, "largest dataset after decompression ([data] max_data_bytes of a grid)")
	if code, done := cliflag.Parse(fs, args, stdout, stderr); done {
		return code
	}
	bad := cliflag.BadInput(stderr, "inspect data")
	if fs.NArg() > 0 {
		return bad("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if *dataset == "" {
		return bad("-dataset is required: a JSONL file or \"synthetic\"")
	}
	if *tokName != "byte" && *tokName != "bpe" {
		return bad("-tokenizer = %q, expected byte or bpe", *tokName)
	}
	if *maxLine < 1 || *maxData < 1 {
		return bad("-max-line-bytes and -max-data-bytes must be ≥ 1")
	}
	ds, err := Open(*dataset, LoadOptions{Format: *format, OnBadRecord: *onBad, EvalFraction: *evalFrac, Seed: *seed,
		MaxLineBytes: *maxLine, MaxDataBytes: *maxData},
		SyntheticConfig{Seed: *seed, TrainPairs: *synTrain, EvalPairs: *synEval})
	if err != nil {
		return bad("%v", err)
	}
	tok, err := NewTokenizer(*tokName, *vocab, *tokCache, ds.Train)
	if err != nil {
		return bad("%v", err)
	}
	lim := Limits{MaxPromptTokens: *maxPrompt, MaxResponseTokens: *maxResp}
	all := append(append([]Pair{}, ds.Train...), ds.Eval...)
	enc, truncated := Encode(tok, all, lim)
	raw, _ := Encode(tok, all, Limits{})
	rep := dataReport{
		Dataset: ds.Name, Path: ds.Path, Format: ds.Format, Hash: ds.Hash,
		Pairs: ds.Pairs(), TrainPairs: len(ds.Train), EvalPairs: len(ds.Eval),
		Skipped: ds.Skipped, Truncated: truncated, Tokenizer: tok.Name(), VocabSize: tok.VocabSize(),
		Limits:      map[string]int{"max_prompt_tokens": lim.MaxPromptTokens, "max_response_tokens": lim.MaxResponseTokens},
		Lengths:     lengthsOf(enc),
		RawLengths:  lengthsOf(raw),
		ProbeFields: ds.ProbeFields,
		ProbeCounts: map[string]int{},
	}
	for _, f := range ds.ProbeFields {
		seqs, _ := ProbeSequences(enc, f)
		rep.ProbeCounts[f] = len(seqs)
	}
	if *export != "" {
		out, err := os.Create(*export)
		if err == nil {
			err = WriteJSONL(out, all)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "inspect data: -export %s: %v\n", *export, err)
			return 1
		}
	}
	if *asJSON {
		b, _ := json.Marshal(rep)
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	printReport(stdout, rep)
	return 0
}

func lengthsOf(enc []EncodedPair) map[string]lengthQuantile {
	var p, c, r []int
	for _, e := range enc {
		p, c, r = append(p, len(e.Prompt)), append(c, len(e.Chosen)), append(r, len(e.Rejected))
	}
	return map[string]lengthQuantile{"prompt": quantiles(p), "chosen": quantiles(c), "rejected": quantiles(r)}
}

func printReport(w io.Writer, r dataReport) {
	fmt.Fprintf(w, "dataset    %s (format %s, sha256 %.12s)\n", r.Dataset, r.Format, r.Hash)
	fmt.Fprintf(w, "pairs      %d (train %d, eval %d)\n", r.Pairs, r.TrainPairs, r.EvalPairs)
	var skipped []string
	for _, reason := range SkipReasons {
		if n := r.Skipped[reason]; n > 0 {
			skipped = append(skipped, fmt.Sprintf("%s %d", reason, n))
		}
	}
	if len(skipped) == 0 {
		skipped = []string{"none"}
	}
	fmt.Fprintf(w, "skipped    %s\n", strings.Join(skipped, ", "))
	fmt.Fprintf(w, "tokenizer  %s (vocab %d), limits prompt %d / response %d tokens\n", r.Tokenizer, r.VocabSize, r.Limits["max_prompt_tokens"], r.Limits["max_response_tokens"])
	fmt.Fprintf(w, "truncated  %d pairs\n", r.Truncated)
	fmt.Fprintf(w, "tokens     %-9s %6s %8s %8s %8s %6s %8s   (untruncated q50 / max)\n", "", "min", "q10", "q50", "q90", "max", "mean")
	for _, k := range []string{"prompt", "chosen", "rejected"} {
		q, u := r.Lengths[k], r.RawLengths[k]
		fmt.Fprintf(w, "           %-9s %6d %8.1f %8.1f %8.1f %6d %8.1f   (%.1f / %d)\n", k, q.Min, q.Q10, q.Q50, q.Q90, q.Max, q.Mean, u.Q50, u.Max)
	}
	var fields []string
	for _, f := range r.ProbeFields {
		fields = append(fields, fmt.Sprintf("%s (%d)", f, r.ProbeCounts[f]))
	}
	fmt.Fprintf(w, "probes     %s\n", strings.Join(fields, ", "))
}
