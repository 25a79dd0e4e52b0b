package experiments

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/experiments/config"
	"gatedpo/experiments/data"
	"gatedpo/experiments/hub"
	"gatedpo/experiments/hub/hubtest"
	"gatedpo/results"
)

// hubEnv points the hub client at s with a fresh cache and no token
// (HF_HOME too, so a login token of the machine is not read).
func hubEnv(t *testing.T, s *hubtest.Server) string {
	t.Helper()
	home := t.TempDir()
	cache := filepath.Join(home, "hub")
	t.Setenv("HF_ENDPOINT", s.URL)
	t.Setenv("HF_HOME", home)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	t.Setenv("HF_TOKEN_PATH", "")
	t.Setenv("HF_HUB_OFFLINE", "")
	return cache
}

// smallTokenizerJSON is a byte-level BPE tokenizer.json of 300 ids
// (trained by package data on a few sentences), small enough for the tiny
// models' vocabularies.
func smallTokenizerJSON(t *testing.T) []byte {
	t.Helper()
	texts := []string{"The quick brown fox jumps over the lazy dog.", "Human: hello there\n\nAssistant: hi, how can I help?",
		"the theory of the thing", "preference optimization with gated gradients"}
	tok, err := data.TrainBPE(texts, 300)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := tok.SaveJSON(p); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fakeHub serves ../shared/hf/models/pythia-tiny with a small
// tokenizer.json (and a tokenizer_config.json naming its EOS) as
// org/pythia-tiny and, gated, as org/gated-tiny.
func fakeHub(t *testing.T) (*hubtest.Server, *hubtest.Repo) {
	t.Helper()
	repo, err := hubtest.RepoFromDir(sharedHFModel(t, "pythia-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	repo.Files["tokenizer.json"] = smallTokenizerJSON(t)
	// its EOS (append_eos is on by default with the model's tokenizer)
	repo.Files["tokenizer_config.json"] = []byte(`{"eos_token": "<|eos|>"}`)
	gated, _ := hubtest.RepoFromDir(sharedHFModel(t, "pythia-tiny"))
	gated.Gated = true
	s := hubtest.New(map[string]*hubtest.Repo{"org/pythia-tiny": repo, "org/gated-tiny": gated})
	t.Cleanup(s.Close)
	return s, repo
}

// writeGrid writes hfGridHead with arch; tokenizer "" leaves
// data.tokenizer out (the default for hf: archs is "model").
func writeGrid(t *testing.T, dir, name, arch string, tokenizer ...string) string {
	t.Helper()
	head := hfGridHead
	if len(tokenizer) > 0 {
		tl := ""
		if tokenizer[0] != "" {
			tl = "tokenizer = \"" + tokenizer[0] + "\"\n"
		}
		head = strings.Replace(head, "tokenizer = \"byte\"\n", tl, 1)
	}
	g := strings.Replace(head, "%SFT%", "0", 1) + "[grid]\narch = [\"" + arch + "\"]\n"
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(g), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSweepHubModel runs a sweep on "hf:org/pythia-tiny" served by a fake
// hub: the model lands in the standard cache layout, the sweep pins the
// commit, the provenance records commit and hashes; a rerun makes no
// request, a new sweep directory one HEAD, offline mode none; the pinned
// commit survives a moved branch.
func TestSweepHubModel(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping in -short mode: runs a sweep")
	}
	s, repo := fakeHub(t)
	cache := hubEnv(t, s)
	dir := t.TempDir()
	gp := writeGrid(t, dir, "hub.toml", "hf:org/pythia-tiny", "model")
	out := filepath.Join(dir, "out")
	var stderr bytes.Buffer
	opt := quietOptions(gp, out, 1)
	opt.Stderr = &stderr
	if _, err := Run(context.Background(), opt); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "hub: downloading model.safetensors") {
		t.Errorf("no download lines on stderr: %q", stderr.String())
	}
	snaps, _ := filepath.Glob(filepath.Join(cache, "models--org--pythia-tiny", "snapshots", "*"))
	if len(snaps) != 1 || filepath.Base(snaps[0]) != repo.Commit {
		t.Fatalf("snapshots %v, want one at %s", snaps, repo.Commit)
	}
	sum := sha256.Sum256(repo.Files["model.safetensors"])
	weightsSHA := hex.EncodeToString(sum[:])
	if link, err := os.Readlink(filepath.Join(snaps[0], "model.safetensors")); err != nil || link != filepath.Join("..", "..", "blobs", weightsSHA) {
		t.Errorf("snapshot weights: %q, %v", link, err)
	}
	var lock map[string]hubLockEntry
	b, err := os.ReadFile(filepath.Join(out, HubLockFile))
	if err != nil || json.Unmarshal(b, &lock) != nil || lock["hf:org/pythia-tiny"].Commit != repo.Commit ||
		lock["hf:org/pythia-tiny"].Files["model.safetensors"] != weightsSHA {
		t.Fatalf("%s: %s (%v)", HubLockFile, b, err)
	}
	cells, _ := os.ReadDir(filepath.Join(out, results.CellsDir))
	var ids []string
	for _, c := range cells {
		if !c.IsDir() {
			continue
		}
		ids = append(ids, c.Name())
		cfg, sum, ok := results.ReadCellRecord(filepath.Join(out, results.CellsDir, c.Name()))
		if !ok || sum.Status != results.StatusComplete {
			t.Fatalf("cell %s: %+v", c.Name(), sum)
		}
		if cfg.Arch != "hf:org/pythia-tiny" {
			t.Errorf("cell config arch %q, want the value as written", cfg.Arch)
		}
		tokSum := sha256.Sum256(repo.Files["tokenizer.json"])
		if cfg.Data["tokenizer"] != "model" || cfg.Data["tokenizer_sha256"] != hex.EncodeToString(tokSum[:]) ||
			sum.Provenance.TokenizerHash != hex.EncodeToString(tokSum[:]) {
			t.Errorf("cell data table %v, provenance tokenizer %s: want the model's tokenizer.json", cfg.Data, sum.Provenance.TokenizerHash)
		}
		saved, err := os.ReadFile(filepath.Join(out, results.CellsDir, c.Name(), "ckpt", FinalHFDir, "tokenizer.json"))
		if err != nil || !bytes.Equal(saved, repo.Files["tokenizer.json"]) {
			t.Errorf("final-hf has no copy of the model's tokenizer.json: %v", err)
		}
		m := sum.Provenance.Model
		if m == nil || m.Repo != "org/pythia-tiny" || m.Revision != "main" || m.Commit != repo.Commit ||
			m.FilesSHA256["model.safetensors"] != weightsSHA || len(m.FilesSHA256["config.json"]) != 64 {
			t.Errorf("cell %s provenance.model = %+v", c.Name(), m)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("cells %v", ids)
	}

	// the branch moves on; a rerun of the sweep keeps the pinned commit
	// and makes no request; a new cell is trained to show the model loads
	moved, _ := hubtest.RepoFromDir(sharedHFModel(t, "pythia-tiny"))
	moved.Files["tokenizer.json"] = repo.Files["tokenizer.json"]
	moved.Files["tokenizer_config.json"] = repo.Files["tokenizer_config.json"]
	moved.Files["config.json"] = bytes.Replace(moved.Files["config.json"], []byte(`"use_cache": true`), []byte(`"use_cache": false`), 1)
	s.SetRepo("org/pythia-tiny", moved)
	s.ResetCounts()
	os.RemoveAll(filepath.Join(out, results.CellsDir, ids[0]))
	if _, err := Run(context.Background(), quietOptions(gp, out, 1)); err != nil {
		t.Fatal(err)
	}
	if s.Requests() != 0 {
		t.Errorf("rerun made %d requests, want 0 (the commit is pinned in %s)", s.Requests(), HubLockFile)
	}
	if _, sum, ok := results.ReadCellRecord(filepath.Join(out, results.CellsDir, ids[0])); !ok || sum.Status != results.StatusComplete || sum.Provenance.Model.Commit != repo.Commit {
		t.Errorf("rerun cell: %+v", sum)
	}

	// a new sweep directory resolves main afresh: one HEAD per file at the
	// new commit, and only config.json (whose contents changed) is fetched
	s.ResetCounts()
	out2 := filepath.Join(dir, "out2")
	if _, err := Run(context.Background(), quietOptions(gp, out2, 1)); err != nil {
		t.Fatal(err)
	}
	if s.Gets() != 1 || s.Count("GET", "/org/pythia-tiny/resolve/"+moved.Commit+"/config.json") != 1 {
		t.Errorf("new sweep on a moved branch: %d GETs", s.Gets())
	}
	var lock2 map[string]hubLockEntry
	b, _ = os.ReadFile(filepath.Join(out2, HubLockFile))
	if json.Unmarshal(b, &lock2); lock2["hf:org/pythia-tiny"].Commit != moved.Commit {
		t.Errorf("new sweep lock: %s", b)
	}

	// offline, from the cache: no request at all, same cells
	s.ResetCounts()
	t.Setenv("HF_HUB_OFFLINE", "1")
	out3 := filepath.Join(dir, "out3")
	g, err := loadGrid(gp)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.ResolveHub(context.Background(), out3, hub.New(nil), nil); err != nil {
		t.Fatalf("offline: %v", err)
	}
	if s.Requests() != 0 || g.hubArchs["hf:org/pythia-tiny"].Commit != moved.Commit {
		t.Errorf("offline: %d requests, commit %s", s.Requests(), g.hubArchs["hf:org/pythia-tiny"].Commit)
	}
	if _, err := Run(context.Background(), quietOptions(gp, out3, 1)); err != nil || s.Requests() != 0 {
		t.Errorf("offline sweep: %v, %d requests", err, s.Requests())
	}
}

// TestHubArchRefused: a gated repository without a token, an unknown
// repository or revision, and an unreachable hub are config errors (exit
// status 2) naming the grid key, before anything is written.
func TestHubArchRefused(t *testing.T) {
	s, _ := fakeHub(t)
	hubEnv(t, s)
	dir := t.TempDir()
	for arch, want := range map[string]string{
		"hf:org/gated-tiny":      "gated repository",
		"hf:org/none":            "repository not found",
		"hf:org/pythia-tiny@v9":  `revision "v9" not found`,
		"hf:org/pythia-tiny@bad": `revision "bad" not found`,
	} {
		gp := writeGrid(t, dir, "g.toml", arch)
		out := filepath.Join(dir, "out")
		_, err := Run(context.Background(), quietOptions(gp, out, 1))
		if !config.IsConfigError(err) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "grid.arch[0]") {
			t.Errorf("%s: %v, want a config error at grid.arch[0] containing %q", arch, err, want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			ents, _ := os.ReadDir(out)
			t.Errorf("%s: the sweep directory was written: %v", arch, ents)
		}
	}
	t.Setenv("HF_TOKEN", s.Token)
	gp := writeGrid(t, dir, "g.toml", "hf:org/gated-tiny")
	g, err := loadGrid(gp)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.ResolveHub(context.Background(), filepath.Join(dir, "none"), hub.New(nil), nil); err != nil {
		t.Errorf("gated with the token: %v", err)
	}
	if s.LFSAuth() != 0 {
		t.Errorf("the token reached the LFS host")
	}
	s.Close()
	t.Setenv("HF_TOKEN", "")
	gp = writeGrid(t, dir, "g.toml", "hf:org/other")
	_, err = Run(context.Background(), quietOptions(gp, filepath.Join(dir, "out"), 1))
	if !config.IsConfigError(err) || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("unreachable hub: %v", err)
	}
}

// TestHubArchLocalDirWins: an existing directory of the same name is used
// and the hub is not asked.
func TestHubArchLocalDirWins(t *testing.T) {
	s, _ := fakeHub(t)
	hubEnv(t, s)
	dir := t.TempDir()
	copyDir(t, sharedHFModel(t, "qwen2-tiny"), filepath.Join(dir, "org", "pythia-tiny"))
	g, err := loadGrid(writeGrid(t, dir, "g.toml", "hf:org/pythia-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.ResolveHub(context.Background(), filepath.Join(dir, "out"), hub.New(nil), nil); err != nil {
		t.Fatal(err)
	}
	if s.Requests() != 0 || g.hfArchs["hf:org/pythia-tiny"].Cfg.ModelType != "qwen2" || g.hfArchs["hf:org/pythia-tiny"].Hub != nil {
		t.Errorf("local dir: %d requests, %+v", s.Requests(), g.hfArchs["hf:org/pythia-tiny"])
	}
}

// TestHFTokenizerModel: tokenizer = "model" is the default for hf: archs
// and loads the model's tokenizer.json; it is refused (naming the key)
// when the model has none, when its ids do not fit vocab_size, or for a
// preset arch; the byte tokenizer stays allowed.
func TestHFTokenizerModel(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, sharedHFModel(t, "pythia-tiny"), filepath.Join(dir, "with"))
	if err := os.WriteFile(filepath.Join(dir, "with", "tokenizer.json"), smallTokenizerJSON(t), 0o644); err != nil {
		t.Fatal(err)
	}
	copyDir(t, sharedHFModel(t, "pythia-tiny"), filepath.Join(dir, "without"))
	head := func(tok string) string {
		h := strings.Replace(hfGridHead, "%SFT%", "0", 1)
		if tok == "" {
			return strings.Replace(h, "tokenizer = \"byte\"\n", "", 1)
		}
		return strings.Replace(h, "tokenizer = \"byte\"", "tokenizer = \""+tok+"\"", 1)
	}
	g, err := parseGrid("g.toml", dir, []byte(head("")+"[grid]\narch = [\"hf:with\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if g.TokenizerOf("hf:with") != "model" || g.hfArchs["hf:with"].Tok == nil || g.hfArchs["hf:with"].Tok.VocabSize() > 384 {
		t.Errorf("default tokenizer of an hf: arch: %q", g.TokenizerOf("hf:with"))
	}
	if g.TokenizerOf("transformer-xs") != "byte" {
		t.Errorf("default tokenizer of a preset: %q", g.TokenizerOf("transformer-xs"))
	}
	if c := g.Cells()[0]; c.Config.Data["tokenizer"] != "model" || c.Config.Data["tokenizer_sha256"] != g.hfArchs["hf:with"].Tok.Hash() {
		t.Errorf("cell data table %v", c.Config.Data)
	}
	// the mixed grid: each arch gets its default
	g, err = parseGrid("g.toml", dir, []byte(head("")+"[grid]\narch = [\"hf:with\", \"transformer-xs\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cs := g.Cells(); cs[0].Config.Data["tokenizer"] != "model" || cs[1].Config.Data["tokenizer"] != "byte" {
		t.Errorf("mixed grid data tables %v / %v", cs[0].Config.Data, cs[1].Config.Data)
	}
	if _, err := parseGrid("g.toml", dir, []byte(head("byte")+"[grid]\narch = [\"hf:without\"]\n")); err != nil {
		t.Errorf("byte tokenizer on a model without tokenizer.json: %v", err)
	}
	cases := []struct{ tok, arch, key, want string }{
		{"", "hf:without", "grid.arch[0]", "has no tokenizer.json"},
		{"model", "hf:without", "data.tokenizer", "has no tokenizer.json"},
		{"model", "transformer-xs", "data.tokenizer", "preset"},
	}
	gpt2 := filepath.Join(filepath.Dir(filepath.Dir(sharedHFModel(t, "pythia-tiny"))), "tokenizer", "tokenizer.json")
	if b, err := os.ReadFile(gpt2); err == nil {
		copyDir(t, sharedHFModel(t, "pythia-tiny"), filepath.Join(dir, "big"))
		os.WriteFile(filepath.Join(dir, "big", "tokenizer.json"), b, 0o644)
		cases = append(cases, struct{ tok, arch, key, want string }{"model", "hf:big", "data.tokenizer", "384"})
	}
	for _, tc := range cases {
		_, err := parseGrid("g.toml", dir, []byte(head(tc.tok)+"[grid]\narch = [\""+tc.arch+"\"]\n"))
		if !config.IsConfigError(err) || !strings.Contains(err.Error(), tc.key) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("tokenizer %q, arch %s: %v; want a config error at %s containing %q", tc.tok, tc.arch, err, tc.key, tc.want)
		}
	}
}

// TestHubArchCacheFailure: a cache that cannot be written is an
// environmental failure (exit status 3), not bad input.
func TestHubArchCacheFailure(t *testing.T) {
	s, _ := fakeHub(t)
	hubEnv(t, s)
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	os.WriteFile(blocker, []byte("x"), 0o644)
	t.Setenv("HF_HUB_CACHE", filepath.Join(blocker, "hub"))
	_, err := Run(context.Background(), quietOptions(writeGrid(t, dir, "g.toml", "hf:org/pythia-tiny"), filepath.Join(dir, "out"), 1))
	if err == nil || config.IsConfigError(err) || !IsEnvironmental(err) || !strings.Contains(err.Error(), "cache") {
		t.Errorf("unwritable cache: %v (config error %v, environmental %v)", err, config.IsConfigError(err), IsEnvironmental(err))
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); !os.IsNotExist(err) {
		t.Error("the sweep directory was written")
	}
}
