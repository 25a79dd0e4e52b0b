package data

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
)

// LoadFiles reads a dataset split over several files (the shards of a
// Hugging Face dataset, e.g. data/train_prefs-00000-of-00002.parquet …),
// each with Load and opt, and joins them in the order given: Train and
// Eval are the files' splits one after another, Skipped the sums. Every
// file must have the same format. Name is name; Path is the first file;
// Hash is the SHA-256 of the files' names (base names) and hashes, so a
// changed, added or removed shard changes it. One file gives exactly
// Load's dataset.
func LoadFiles(name string, paths []string, opt LoadOptions) (*Dataset, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("%s: no files", name)
	}
	if len(paths) == 1 {
		return Load(paths[0], opt)
	}
	out := &Dataset{Name: name, Path: paths[0], Skipped: map[string]int{}}
	h := sha256.New()
	for _, p := range paths {
		ds, err := Load(p, opt)
		if err != nil {
			return nil, err
		}
		switch {
		case out.Format == "":
			out.Format = ds.Format
		case compatible(out.Format, ds.Format):
			// a prompt-format shard without probe fields joins probe shards
		default:
			return nil, fmt.Errorf("%s: format %q, but %s has format %q; the files of one dataset must share one format (set data.format)", p, ds.Format, paths[0], out.Format)
		}
		out.Train = append(out.Train, ds.Train...)
		out.Eval = append(out.Eval, ds.Eval...)
		for k, v := range ds.Skipped {
			out.Skipped[k] += v
		}
		fmt.Fprintf(h, "%s\x00%s\n", filepath.Base(p), ds.Hash)
	}
	out.ProbeFields = probeFieldsOf(out.Train, out.Eval)
	if out.Format == FormatPrompt && len(out.ProbeFields) > 2 && opt.Format == FormatAuto {
		out.Format = FormatProbe
	}
	out.Hash = hex.EncodeToString(h.Sum(nil))
	return out, nil
}

// compatible reports whether shards of formats a and b make one dataset:
// the same format, or prompt and probe (a prompt file with probe fields is
// detected as probe; a shard may lack them).
func compatible(a, b string) bool {
	isPrompt := func(f string) bool { return f == FormatPrompt || f == FormatProbe }
	return a == b || isPrompt(a) && isPrompt(b)
}
