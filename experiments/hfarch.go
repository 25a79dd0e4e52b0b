package experiments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"gatedpo/experiments/config"
	"gatedpo/experiments/data"
	"gatedpo/experiments/data/hftok"
	"gatedpo/experiments/hub"
	"gatedpo/models/hf"
	"gatedpo/results"
)

// hfArch is a resolved "hf:…" arch.
type hfArch struct {
	Path  string            // the model directory (for the hub: the cache snapshot)
	Cfg   hf.Config         // its config.json
	Hash  string            // SHA-256 of config.json and the weight files, in order
	Files map[string]string // those files → their SHA-256 (provenance)
	Hub   *hubArch          // nil for a local directory
	Tok   data.Tokenizer    // the model's tokenizer.json, when the cells use tokenizer = "model"
}

// hubArch is an arch value that names a hub model.
type hubArch struct {
	Key    string  // grid key it came from, for errors
	Ref    hub.Ref // as written
	Commit string  // resolved (empty until ResolveHub)
	Local  string  // the local path it would have been, for errors
}

// checkHFDir parses the config.json of a model directory, loads its
// tokenizer.json when the arch's cells use tokenizer = "model", checks
// that the data fit the model (the tokenizer's ids must be < vocab_size
// and max_prompt_tokens + max_response_tokens ≤ max_position_embeddings)
// and records the arch.
func (g *Grid) checkHFDir(key, a, path string, h *hubArch) error {
	raw, err := os.ReadFile(filepath.Join(path, hf.ConfigFile))
	if err != nil {
		return g.Errorf(key, "%v", err)
	}
	cfg, err := hf.ParseConfig(raw, filepath.Join(path, hf.ConfigFile))
	if err != nil {
		return g.Errorf(key, "%v", err)
	}
	name := path
	if h != nil {
		name = h.Ref.String() + " (" + path + ")"
	}
	var tok data.Tokenizer
	vocab, what := byteVocabSize, "the byte tokenizer"
	switch g.TokenizerOf(a) {
	case "bpe":
		vocab, what = g.Data.VocabSize, "data.vocab_size"
	case "model":
		tkey := key
		if g.TokenizerSet {
			tkey = "data.tokenizer"
		}
		if _, err := os.Stat(filepath.Join(path, "tokenizer.json")); err != nil {
			return g.Errorf(tkey, "%s: %s has no tokenizer.json, which data.tokenizer = \"model\" (the default for hf: archs) needs; set data.tokenizer = \"byte\" or \"bpe\" to use the sweep's own", a, name)
		}
		t, err := hftok.ForModel(path, cfg.Vocab)
		if err != nil {
			return g.Errorf(tkey, "%s: the model's tokenizer: %v", a, err)
		}
		tok, vocab = t, 0
	}
	if cfg.Vocab < vocab {
		return g.Errorf(key, "%s has vocab_size %d, but %s uses ids up to %d: the model's vocabulary is too small", name, cfg.Vocab, what, vocab-1)
	}
	if t := g.Data.MaxPromptTokens + g.Data.MaxResponseTokens + seqExtraTokens; t > cfg.MaxPos {
		return g.Errorf(key, "%s accepts at most %d positions (max_position_embeddings), but data.max_prompt_tokens + data.max_response_tokens = %d", name, cfg.MaxPos, t)
	}
	hash, files, err := hashModelDir(path)
	if err != nil {
		return g.Errorf(key, "%v", err)
	}
	if g.hfArchs == nil {
		g.hfArchs = map[string]hfArch{}
	}
	g.hfArchs[a] = hfArch{Path: path, Cfg: cfg, Hash: hash, Files: files, Hub: h, Tok: tok}
	return nil
}

// HubLockFile is the file in a sweep directory that pins each hub arch
// (and hub dataset) of the sweep to the commit its first run resolved, so
// reruns (and other shards) use the same snapshot even when the branch
// has moved. A different revision is a different arch value
// ("hf:ORG/NAME@REV").
const HubLockFile = "hub-lock.json"

// hubLockEntry is one arch of HubLockFile.
type hubLockEntry struct {
	Repo     string            `json:"repo"`
	Revision string            `json:"revision"`
	Commit   string            `json:"commit"`
	Files    map[string]string `json:"files_sha256"`
}

// readHubLock reads <out>/HubLockFile (empty when absent).
func readHubLock(out string) (map[string]hubLockEntry, error) {
	lock := map[string]hubLockEntry{}
	b, err := os.ReadFile(filepath.Join(out, HubLockFile))
	if errors.Is(err, os.ErrNotExist) {
		return lock, nil
	}
	if err != nil {
		return nil, &config.ConfigError{File: filepath.Join(out, HubLockFile), Msg: err.Error()}
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, &config.ConfigError{File: filepath.Join(out, HubLockFile), Msg: fmt.Sprintf("not a hub lock file: %v (delete it to resolve the revisions afresh)", err)}
	}
	return lock, nil
}

// ResolveHub resolves every "hf:ORG/NAME[@REV]" arch of the grid through
// the Hugging Face cache, downloading what is missing (package hub), and
// checks each like a local directory. An arch pinned in <out>/HubLockFile
// uses that commit (no request at all when its snapshot is complete). It
// writes nothing in out; a hub or network failure is a *config.ConfigError on
// the arch's key (exit status 2); a failure of the local cache (disk full,
// permissions) is returned wrapped, as an environmental error. warn
// receives one line per arch resolved from the cache because the endpoint
// was unreachable.
func (g *Grid) ResolveHub(ctx context.Context, out string, c *hub.Client, warn func(string)) error {
	if len(g.hubArchs) == 0 {
		return nil
	}
	lock, err := readHubLock(out)
	if err != nil {
		return err
	}
	for _, a := range g.Arch {
		h, ok := g.hubArchs[a]
		if !ok || h.Commit != "" {
			continue
		}
		ref := h.Ref
		if e, ok := lock[a]; ok && hub.IsCommit(e.Commit) {
			ref.Revision = e.Commit
		}
		snap, err := c.Snapshot(ctx, ref)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var he *hub.Error
			if errors.As(err, &he) && he.Code == hub.CodeCache {
				// the local disk, not the grid: an environmental failure
				return fmt.Errorf("%s: %w", a, err)
			}
			if errors.As(err, &he) && (he.Code == "RepoNotFound" || (he.Status == http.StatusNotFound && he.Code == "")) {
				return g.Errorf(h.Key, "%s: no local directory %s, and %v", a, h.Local, err)
			}
			return g.Errorf(h.Key, "%s: %v", a, err)
		}
		if snap.Stale != "" && warn != nil {
			warn(fmt.Sprintf("%s: using the cached snapshot %s: %s", a, snap.Commit, snap.Stale))
		}
		h.Commit = snap.Commit
		if err := g.checkHFDir(h.Key, a, snap.Dir, h); err != nil {
			return err
		}
		if e, ok := lock[a]; ok && e.Commit == snap.Commit {
			for f, sum := range e.Files {
				if got, ok := g.hfArchs[a].Files[f]; ok && got != sum {
					return g.Errorf(h.Key, "%s: %s in the cache (%s) differs from the file the sweep's first run used (sha256 %s, %s); the cache was modified", a, f, snap.Dir, sum, HubLockFile)
				}
			}
		}
	}
	// the models are in the cache now: read their chat templates
	return g.loadChatTemplates()
}

// writeHubLock adds the sweep's hub archs to <out>/HubLockFile, keeping
// entries of other arch values (call under the sweep lock).
func writeHubLock(out string, g *Grid) error {
	if len(g.hubArchs) == 0 && len(g.hubDatasets) == 0 {
		return nil
	}
	unlock, err := results.LockFile(filepath.Join(out, results.SweepLockFile))
	if err != nil {
		return err
	}
	defer unlock()
	lock, err := readHubLock(out)
	if err != nil {
		return err
	}
	for a, h := range g.hubArchs {
		lock[a] = hubLockEntry{Repo: h.Ref.Repo, Revision: h.Ref.Rev(), Commit: h.Commit, Files: g.hfArchs[a].Files}
	}
	g.hubDatasetLock(lock)
	b, err := json.MarshalIndent(lock, "", "  ")
	if err != nil {
		return err
	}
	return results.WriteBytesAtomic(filepath.Join(out, HubLockFile), append(b, '\n'))
}

// modelProvenance is what a cell's provenance records of an "hf:…" arch:
// the directory or hub commit and the SHA-256 of config.json and the
// weight files; nil for presets.
func (g *Grid) modelProvenance(arch string) *results.ModelProvenance {
	a, ok := g.hfArchs[arch]
	if !ok {
		return nil
	}
	m := &results.ModelProvenance{Arch: arch, Dir: a.Path, FilesSHA256: a.Files}
	if a.Hub != nil {
		m.Repo, m.Revision, m.Commit = a.Hub.Ref.Repo, a.Hub.Ref.Rev(), a.Hub.Commit
	}
	return m
}

// hashModelDir hashes config.json and the weight files (the shard index
// and its shards, or model.safetensors), so changed weights give new cell
// ids as a changed dataset does; it also returns each file's own SHA-256.
func hashModelDir(dir string) (string, map[string]string, error) {
	files := []string{hf.ConfigFile}
	if _, err := os.Stat(filepath.Join(dir, "model.safetensors.index.json")); err == nil {
		names, err := hf.WeightFiles(dir)
		if err != nil {
			return "", nil, err
		}
		files = append(files, "model.safetensors.index.json")
		files = append(files, names...)
	} else {
		files = append(files, hf.WeightsFile)
	}
	h := sha256.New()
	each := map[string]string{}
	for _, f := range files {
		fh, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			return "", nil, err
		}
		fmt.Fprintf(h, "%s\x00", f)
		one := sha256.New()
		_, err = io.Copy(io.MultiWriter(h, one), fh)
		fh.Close()
		if err != nil {
			return "", nil, err
		}
		each[f] = hex.EncodeToString(one.Sum(nil))
	}
	return hex.EncodeToString(h.Sum(nil)), each, nil
}

// hfModelConfig is the model table a cell with an "hf:PATH" arch records.
func (g *Grid) hfModelConfig(a hfArch) map[string]any {
	return map[string]any{
		"kind":                    hf.Kind,
		"model_type":              a.Cfg.ModelType,
		"vocab_size":              a.Cfg.Vocab,
		"max_position_embeddings": a.Cfg.MaxPos,
		"max_seq_len":             g.Data.MaxPromptTokens + g.Data.MaxResponseTokens + seqExtraTokens,
		"dtype":                   g.Train.DType,
		"source_sha256":           a.Hash,
	}
}

// cellModelConfig resolves the model table of an arch value.
func (g *Grid) cellModelConfig(arch string) (map[string]any, error) {
	if a, ok := g.hfArchs[arch]; ok {
		return g.hfModelConfig(a), nil
	}
	return modelConfig(arch, g.Data, g.Train.DType)
}

// FinalHFDir is the directory under a cell's checkpoint folder where the
// final policy of an "hf:…" arch is saved as a Hugging Face model
// directory (besides final.safetensors). The model's tokenizer files are
// copied when the cell's token ids came from it (tokenizer = "model");
// with byte or bpe ids they would not describe the training data, and the
// sweep's own tokenizer.json is in <out>/tokenizers/.
const FinalHFDir = "final-hf"

// finalTokenizerDir is where SaveDir copies the final policy's tokenizer
// files from ("" = none; see FinalHFDir).
func (g *Grid) finalTokenizerDir(arch string) string {
	if a, ok := g.hfArchs[arch]; ok && g.TokenizerOf(arch) == "model" {
		return a.Path
	}
	return ""
}
