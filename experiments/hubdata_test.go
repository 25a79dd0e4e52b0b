package experiments

import (
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

// hubDatasetRepo is a dataset repository of the fake hub: two shards of a
// conversational training split and a test split (the Parquet fixtures of
// experiments/data, written by another implementation).
func hubDatasetRepo(t *testing.T) *hubtest.Repo {
	t.Helper()
	files := map[string][]byte{"README.md": []byte("# prefs\n")}
	for repoPath, fixture := range map[string]string{
		"data/train_prefs-00000-of-00002.parquet": "messages-00000-of-00002.parquet",
		"data/train_prefs-00001-of-00002.parquet": "messages-00001-of-00002.parquet",
		"data/test_prefs-00000-of-00001.parquet":  "strings.parquet",
	} {
		b, err := os.ReadFile(filepath.Join("data", "testdata", "parquet", fixture))
		if err != nil {
			t.Fatal(err)
		}
		files[repoPath] = b
	}
	return &hubtest.Repo{Files: files}
}

const hubDataGrid = `name = "hubdata"
[data]
dataset = "hf://datasets/acme/prefs/data/train_prefs-*.parquet"
eval_dataset = "hf://datasets/acme/prefs/data/test_prefs-00000-of-00001.parquet"
max_prompt_tokens = 24
max_response_tokens = 24
probe_examples = 4
[train]
sft_epochs = 1
pref_epochs = 1
batch_pairs = 2
eval_every = 2
checkpoint_every = 100
[grid]
arch = ["transformer-xs"]
seed = [1]
[[grid.objective]]
name = "dpo"
beta = 0.1
[[grid.gate]]
kind = "none"
`

// TestSweepHubDataset: a sweep whose dataset is a glob over a hub
// dataset's shards and whose eval_dataset is another file of it downloads
// both through the hub client into the HF cache (the glob through the
// listing API), trains on the shards' pairs and probes the eval file's; a
// rerun offline resolves from the cache alone and keeps the cell.
func TestSweepHubDataset(t *testing.T) {
	s := hubtest.New(map[string]*hubtest.Repo{"datasets/acme/prefs": hubDatasetRepo(t)})
	defer s.Close()
	s.PageSize = 2
	cache := hubEnv(t, s)
	dir := t.TempDir()
	gp := filepath.Join(dir, "g.toml")
	if err := os.WriteFile(gp, []byte(hubDataGrid), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	o, err := Run(context.Background(), quietOptions(gp, out, 1))
	if err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(out)
	if err != nil {
		t.Fatal(err)
	}
	if o.Complete != 1 || len(sw.Cells) != 1 {
		t.Fatalf("%d cells, %d complete", len(sw.Cells), o.Complete)
	}
	cfg := sw.Cells[0].Config
	if cfg.Dataset != "hf://datasets/acme/prefs/data/train_prefs-*.parquet" || cfg.Data["dataset_hash"] == nil || cfg.Data["eval_dataset_hash"] == nil {
		t.Errorf("cell config %+v", cfg.Data)
	}
	if s.Count("GET", "/api/datasets/acme/prefs/tree/main/data") != 2 {
		t.Errorf("listing pages: %d, want 2", s.Count("GET", "/api/datasets/acme/prefs/tree/main/data"))
	}
	shards, _ := filepath.Glob(filepath.Join(cache, "datasets--acme--prefs", "snapshots", "*", "data", "*.parquet"))
	if len(shards) != 3 {
		t.Errorf("cache holds %v", shards)
	}
	g, err := loadGrid(gp)
	if err != nil {
		t.Fatal(err)
	}
	// the data the cell saw: 9 training pairs of the two shards, 4 held-out of the eval file
	if err := g.ResolveHubDatasets(context.Background(), out, newHubClientForTest(), nil); err != nil {
		t.Fatal(err)
	}
	if err := g.LoadDatasets(); err != nil {
		t.Fatal(err)
	}
	pd, err := prepareData(g, cfg.Dataset, cfg.Arch)
	if err != nil {
		t.Fatal(err)
	}
	if len(pd.Train) != 9 || len(pd.Probe[results.SplitHeldout]) != 4 {
		t.Errorf("%d training pairs, %d held out; want 9 and 4", len(pd.Train), len(pd.Probe[results.SplitHeldout]))
	}
	if got := pd.Tok.Decode(pd.Probe[results.SplitHeldout][0].Prompt); !strings.Contains(got, "kettle") {
		t.Errorf("held-out prompt %q is not the eval file's first pair", got)
	}
	// offline rerun: nothing requested, the cell is complete already
	t.Setenv("HF_HUB_OFFLINE", "1")
	s.ResetCounts()
	o2, err := Run(context.Background(), quietOptions(gp, out, 1))
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests() != 0 || o2.Skipped != 1 || o2.Ran != 0 {
		t.Errorf("offline rerun: %d requests, %d skipped, %d ran; want 0, 1 (the complete cell), 0", s.Requests(), o2.Skipped, o2.Ran)
	}
}

// TestHubDatasetErrors: bad references are config errors naming the key;
// a glob matching nothing names the key and the listing.
func TestHubDatasetErrors(t *testing.T) {
	s := hubtest.New(map[string]*hubtest.Repo{"datasets/acme/prefs": hubDatasetRepo(t)})
	defer s.Close()
	hubEnv(t, s)
	dir := t.TempDir()
	for _, c := range []struct{ from, to, want string }{
		{"data/train_prefs-*.parquet", "../x", "g.toml:3: data.dataset: \"hf://datasets/acme/prefs/../x\": \"../x\" is not a clean path"},
		{"data/train_prefs-*.parquet", "data/valid-*.parquet", "g.toml:3: data.dataset: hub datasets/acme/prefs: data/valid-*.parquet: no file matches at revision main"},
		{"data/test_prefs-00000-of-00001.parquet", "data/nope.parquet", "g.toml:4: data.eval_dataset: hub datasets/acme/prefs: data/nope.parquet: no such file"},
	} {
		gp := filepath.Join(dir, "g.toml")
		if err := os.WriteFile(gp, []byte(strings.Replace(hubDataGrid, c.from, c.to, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Run(context.Background(), quietOptions(gp, filepath.Join(dir, "out"), 1))
		if err == nil || !strings.Contains(err.Error(), c.want) || !config.IsConfigError(err) {
			t.Errorf("%s: got %v, want %q", c.to, err, c.want)
		}
		if _, serr := os.Stat(filepath.Join(dir, "out")); serr == nil {
			t.Errorf("%s: the sweep directory was created", c.to)
		}
	}
}

// newHubClientForTest is the client a sweep makes (from the environment),
// without progress output.
func newHubClientForTest() *hub.Client { return hub.New(nil) }

// TestSweepHubChatTemplate: a hub model whose tokenizer_config.json has a
// chat template renders a hub dataset's conversational records in a sweep
// (the template's hash in the cell's data table, EOS appended with the
// model's tokenizer).
func TestSweepHubChatTemplate(t *testing.T) {
	model, err := hubtest.RepoFromDir(sharedHFModel(t, "pythia-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	model.Files["tokenizer.json"] = smallTokenizerJSON(t)
	tmpl, err := os.ReadFile(filepath.Join("data", "testdata", "chat", "qwen2-style.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	model.Files["tokenizer_config.json"], _ = json.Marshal(map[string]any{"chat_template": string(tmpl), "eos_token": "<|eos|>"})
	s := hubtest.New(map[string]*hubtest.Repo{"datasets/acme/prefs": hubDatasetRepo(t), "org/chat-tiny": model})
	defer s.Close()
	hubEnv(t, s)
	dir := t.TempDir()
	gp := filepath.Join(dir, "g.toml")
	src := strings.NewReplacer(`arch = ["transformer-xs"]`, `arch = ["hf:org/chat-tiny"]`,
		"max_prompt_tokens = 24", "max_prompt_tokens = 60", "max_response_tokens = 24", "max_response_tokens = 64").Replace(hubDataGrid)
	if err := os.WriteFile(gp, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), quietOptions(gp, out, 1)); err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(out)
	if err != nil {
		t.Fatal(err)
	}
	d := sw.Cells[0].Config.Data
	if d["chat_template_sha256"] == nil || d["append_eos"] != true || d["tokenizer"] != "model" {
		t.Errorf("cell data table %v", d)
	}
	g, err := loadGrid(gp)
	if err != nil {
		t.Fatal(err)
	}
	c := newHubClientForTest()
	if err := g.ResolveHubDatasets(context.Background(), out, c, nil); err != nil {
		t.Fatal(err)
	}
	if err := g.LoadDatasets(); err != nil {
		t.Fatal(err)
	}
	if err := g.ResolveHub(context.Background(), out, c, nil); err != nil {
		t.Fatal(err)
	}
	pd, err := prepareData(g, sw.Cells[0].Config.Dataset, "hf:org/chat-tiny")
	if err != nil {
		t.Fatal(err)
	}
	if got := pd.Tok.Decode(pd.Train[0].Prompt); !strings.HasSuffix(got, "<|im_start|>assistant\n") {
		t.Errorf("training prompt %q, want the chat template's", got)
	}
	if ch := pd.Train[0].Chosen; ch[len(ch)-1] != data.Specials(pd.Tok).EOS {
		t.Errorf("chosen %v does not end with EOS", ch)
	}
}

// TestHubDatasetLock: the commit a hub dataset resolved to is pinned in
// hub-lock.json; a rerun in the same sweep directory reads that commit's
// files although the branch has moved, a new directory the new commit.
func TestHubDatasetLock(t *testing.T) {
	repo := hubDatasetRepo(t)
	s := hubtest.New(map[string]*hubtest.Repo{"datasets/acme/prefs": repo})
	defer s.Close()
	hubEnv(t, s)
	dir := t.TempDir()
	gp := filepath.Join(dir, "g.toml")
	if err := os.WriteFile(gp, []byte(hubDataGrid), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), quietOptions(gp, out, 1)); err != nil {
		t.Fatal(err)
	}
	lock, err := readHubLock(out)
	if err != nil {
		t.Fatal(err)
	}
	name := "hf://datasets/acme/prefs/data/train_prefs-*.parquet"
	if e := lock[name]; e.Commit != repo.Commit || e.Repo != "datasets/acme/prefs" || e.Revision != "main" || len(e.Files) != 2 ||
		e.Files["data/train_prefs-00001-of-00002.parquet"] != sha256Hex(repo.Files["data/train_prefs-00001-of-00002.parquet"]) {
		t.Fatalf("lock %+v", lock)
	}
	// main moves: a third shard appears
	moved := hubDatasetRepo(t)
	moved.Files["data/train_prefs-00002-of-00002.parquet"] = repo.Files["data/train_prefs-00000-of-00002.parquet"]
	s.SetRepo("datasets/acme/prefs", moved)
	g, err := loadGrid(gp)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.ResolveHubDatasets(context.Background(), out, newHubClientForTest(), nil); err != nil {
		t.Fatal(err)
	}
	if len(g.dataFiles[name]) != 2 || g.hubDatasets[name].Commit != repo.Commit {
		t.Errorf("rerun resolved %v at %s, want the 2 shards of %s", g.dataFiles[name], g.hubDatasets[name].Commit, repo.Commit)
	}
	g2, _ := loadGrid(gp)
	if err := g2.ResolveHubDatasets(context.Background(), filepath.Join(dir, "out2"), newHubClientForTest(), nil); err != nil {
		t.Fatal(err)
	}
	if len(g2.dataFiles[name]) != 3 || g2.hubDatasets[name].Commit != moved.Commit {
		t.Errorf("new directory resolved %v at %s, want the 3 shards of %s", g2.dataFiles[name], g2.hubDatasets[name].Commit, moved.Commit)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
