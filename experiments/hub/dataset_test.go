package hub_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gatedpo/experiments/hub"
	"gatedpo/experiments/hub/hubtest"
)

// datasetRepo is a dataset repository with two shards of a split, a test
// split, a gzipped JSONL file and a README.
func datasetRepo(t *testing.T) *hubtest.Repo {
	t.Helper()
	files := map[string][]byte{"README.md": []byte("# prefs\n"), "hh/train.jsonl.gz": {0x1f, 0x8b, 1, 2, 3}}
	for repoPath, fixture := range map[string]string{
		"data/train_prefs-00000-of-00002.parquet": "messages-00000-of-00002.parquet",
		"data/train_prefs-00001-of-00002.parquet": "messages-00001-of-00002.parquet",
		"data/test_prefs-00000-of-00001.parquet":  "strings.parquet",
	} {
		b, err := os.ReadFile(filepath.Join("..", "data", "testdata", "parquet", fixture))
		if err != nil {
			t.Fatal(err)
		}
		files[repoPath] = b
	}
	return &hubtest.Repo{Files: files}
}

func TestParseDatasetURL(t *testing.T) {
	good := map[string]hub.DatasetRef{
		"hf://datasets/Anthropic/hh-rlhf/helpful-base/train.jsonl.gz":                    {Repo: "Anthropic/hh-rlhf", Path: "helpful-base/train.jsonl.gz"},
		"hf://datasets/HuggingFaceH4/ultrafeedback_binarized/data/train_prefs-*.parquet": {Repo: "HuggingFaceH4/ultrafeedback_binarized", Path: "data/train_prefs-*.parquet"},
		"hf://datasets/org/name@v1.0/x.parquet":                                          {Repo: "org/name", Revision: "v1.0", Path: "x.parquet"},
	}
	for s, want := range good {
		got, err := hub.ParseDatasetURL(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("ParseDatasetURL(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"hf://datasets/org/name", "hf://datasets/org/name/", "hf://datasets/org/name/../x", "hf://datasets/a--b/c/x", "hf://models/a/b/x", "hf://datasets/org/name/x[", "hf://datasets/org/name//x"} {
		if _, err := hub.ParseDatasetURL(s); err == nil {
			t.Errorf("ParseDatasetURL(%q) accepted", s)
		}
	}
	if !hub.IsDatasetURL("hf://datasets/a/b/c") || hub.IsDatasetURL("data/x.parquet") {
		t.Error("IsDatasetURL")
	}
}

// TestDatasetGlob: a glob over sharded files is expanded with the listing
// API (paged), every match is fetched into datasets--ORG--NAME at one
// commit, and a second resolution downloads nothing.
func TestDatasetGlob(t *testing.T) {
	repo := datasetRepo(t)
	s := hubtest.New(map[string]*hubtest.Repo{"datasets/acme/prefs": repo})
	defer s.Close()
	s.PageSize = 1 // data/ holds 3 files: three pages
	c, _ := newClient(t, s)
	ref, _ := hub.ParseDatasetURL("hf://datasets/acme/prefs/data/train_prefs-*.parquet")
	snap, err := c.DatasetFiles(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"data/train_prefs-00000-of-00002.parquet", "data/train_prefs-00001-of-00002.parquet"}
	if !reflect.DeepEqual(snap.Files, want) || snap.Commit != repo.Commit || snap.Downloaded != 2 {
		t.Fatalf("files %v commit %s downloaded %d", snap.Files, snap.Commit, snap.Downloaded)
	}
	if snap.Dir != filepath.Join(c.CacheDir, "datasets--acme--prefs", "snapshots", repo.Commit) {
		t.Errorf("dir %s", snap.Dir)
	}
	for i, p := range snap.Paths {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(b, repo.Files[want[i]]) {
			t.Errorf("%s: %v", p, err)
		}
	}
	if n := s.Count("GET", "/api/datasets/acme/prefs/tree/main/data"); n != 3 {
		t.Errorf("%d listing pages, want 3", n)
	}
	if b, err := os.ReadFile(filepath.Join(c.CacheDir, "datasets--acme--prefs", "refs", "main")); err != nil || string(b) != repo.Commit {
		t.Errorf("refs/main: %q %v", b, err)
	}
	s.ResetCounts()
	again, err := c.DatasetFiles(context.Background(), ref)
	if err != nil || again.Downloaded != 0 || s.Gets() != 3 {
		t.Errorf("second resolution: %v, downloaded %d, %d GETs (the listing only)", err, again.Downloaded, s.Gets())
	}
	// offline: the glob is expanded over the cached snapshot
	off := *c
	off.Offline = true
	s.ResetCounts()
	o, err := off.DatasetFiles(context.Background(), ref)
	if err != nil || !reflect.DeepEqual(o.Files, want) || s.Requests() != 0 {
		t.Errorf("offline: %v %v, %d requests", err, o, s.Requests())
	}
	// a single file needs no listing; a glob at the root lists the root
	s.ResetCounts()
	one, err := c.DatasetFiles(context.Background(), hub.DatasetRef{Repo: "acme/prefs", Path: "hh/train.jsonl.gz"})
	if err != nil || len(one.Paths) != 1 || s.Count("GET", "/api/datasets/acme/prefs/tree/main/hh") != 0 {
		t.Errorf("one file: %v %+v", err, one)
	}
	root, err := c.DatasetFiles(context.Background(), hub.DatasetRef{Repo: "acme/prefs", Path: "*.md"})
	if err != nil || !reflect.DeepEqual(root.Files, []string{"README.md"}) {
		t.Errorf("root glob: %v %+v", err, root)
	}
}

func TestDatasetErrors(t *testing.T) {
	s := hubtest.New(map[string]*hubtest.Repo{"datasets/acme/prefs": datasetRepo(t)})
	defer s.Close()
	c, _ := newClient(t, s)
	for _, x := range []struct{ url, want string }{
		{"hf://datasets/acme/prefs/data/valid-*.parquet", "hub datasets/acme/prefs: data/valid-*.parquet: no file matches at revision main (3 entries listed under data)"},
		{"hf://datasets/acme/nope/data/*.parquet", "hub datasets/acme/nope: data/*.parquet: repository not found"},
		{"hf://datasets/acme/prefs@v9/data/*.parquet", `revision "v9" not found`},
		{"hf://datasets/acme/prefs/data/missing.parquet", "hub datasets/acme/prefs: data/missing.parquet: no such file at revision main (404)"},
	} {
		ref, err := hub.ParseDatasetURL(x.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.DatasetFiles(context.Background(), ref)
		if err == nil || !strings.Contains(err.Error(), x.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want %q", x.url, err, x.want)
		}
	}
	off := *c
	off.Offline = true
	ref, _ := hub.ParseDatasetURL("hf://datasets/acme/prefs/data/*.parquet")
	if _, err := off.DatasetFiles(context.Background(), ref); err == nil || !strings.Contains(err.Error(), "offline (HF_HUB_OFFLINE=1)") {
		t.Errorf("offline, empty cache: %v", err)
	}
}
