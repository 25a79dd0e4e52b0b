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

// fakeHub serves ../shared/hf/models/pythia-tiny as org/pythia-tiny and,
// gated, as org/gated-tiny.
func fakeHub(t *testing.T) (*hubtest.Server, *hubtest.Repo) {
	t.Helper()
	repo, err := hubtest.RepoFromDir(sharedHFModel(t, "pythia-tiny"))
	if err != nil {
		t.Fatal(err)
	}
	gated, _ := hubtest.RepoFromDir(sharedHFModel(t, "pythia-tiny"))
	gated.Gated = true
	s := hubtest.New(map[string]*hubtest.Repo{"org/pythia-tiny": repo, "org/gated-tiny": gated})
	t.Cleanup(s.Close)
	return s, repo
}

func writeGrid(t *testing.T, dir, name, arch string) string {
	t.Helper()
	g := strings.Replace(hfGridHead, "%SFT%", "0", 1) + "[grid]\narch = [\"" + arch + "\"]\n"
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
	gp := writeGrid(t, dir, "hub.toml", "hf:org/pythia-tiny")
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
	g, err := LoadGrid(gp)
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
		if !IsConfigError(err) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "grid.arch[0]") {
			t.Errorf("%s: %v, want a config error at grid.arch[0] containing %q", arch, err, want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			ents, _ := os.ReadDir(out)
			t.Errorf("%s: the sweep directory was written: %v", arch, ents)
		}
	}
	t.Setenv("HF_TOKEN", s.Token)
	gp := writeGrid(t, dir, "g.toml", "hf:org/gated-tiny")
	g, err := LoadGrid(gp)
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
	if !IsConfigError(err) || !strings.Contains(err.Error(), "cannot reach") {
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
	g, err := LoadGrid(writeGrid(t, dir, "g.toml", "hf:org/pythia-tiny"))
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
