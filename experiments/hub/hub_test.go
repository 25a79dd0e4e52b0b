package hub_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/experiments/hub"
	"gatedpo/experiments/hub/hubtest"
)

// fakeFiles is a repository with a config, a tokenizer and random weights.
func fakeFiles(seed uint64, weights int) map[string][]byte {
	w := make([]byte, weights)
	rng := rand.New(rand.NewPCG(seed, 2))
	for i := range w {
		w[i] = byte(rng.UintN(256))
	}
	return map[string][]byte{
		"config.json":       []byte(`{"model_type": "gpt2", "seed": ` + string(rune('0'+seed%10)) + `}`),
		"tokenizer.json":    []byte(`{"model": {"type": "BPE"}}`),
		"model.safetensors": w,
		"README.md":         []byte("not fetched"),
	}
}

func newClient(t *testing.T, s *hubtest.Server) (*hub.Client, *bytes.Buffer) {
	t.Helper()
	var log bytes.Buffer
	return &hub.Client{Endpoint: s.URL, CacheDir: filepath.Join(t.TempDir(), "hub"), Progress: &log, Retries: 2}, &log
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestParseRef(t *testing.T) {
	good := map[string]hub.Ref{
		"EleutherAI/pythia-14m":  {Repo: "EleutherAI/pythia-14m"},
		"gpt2":                   {Repo: "gpt2"},
		"Qwen/Qwen2.5-0.5B@v1.0": {Repo: "Qwen/Qwen2.5-0.5B", Revision: "v1.0"},
		"org/name@refs/pr/1":     {Repo: "org/name", Revision: "refs/pr/1"},
		"a/b@0123456789abcdef0123456789abcdef01234567": {Repo: "a/b", Revision: "0123456789abcdef0123456789abcdef01234567"},
	}
	for s, want := range good {
		got, err := hub.ParseRef(s)
		if err != nil || got != want {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", s, got, err, want)
		}
		if got.String() != s {
			t.Errorf("String() = %q, want %q", got.String(), s)
		}
	}
	for _, s := range []string{"", "a/b/c", "a/b@", "a--b/c", "a/b.", "-a/b", "a/..", "a/b@../x", "a b/c", "/a"} {
		if _, err := hub.ParseRef(s); err == nil {
			t.Errorf("ParseRef(%q) accepted", s)
		}
	}
	if !hub.IsCommit("0123456789abcdef0123456789abcdef01234567") || hub.IsCommit("main") {
		t.Error("IsCommit")
	}
}

func TestCacheDirEnv(t *testing.T) {
	for _, k := range []string{"HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", "/home/u")
	if got := hub.CacheDir(); got != filepath.FromSlash("/home/u/.cache/huggingface/hub") {
		t.Errorf("default: %s", got)
	}
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	if got := hub.CacheDir(); got != filepath.FromSlash("/xdg/huggingface/hub") {
		t.Errorf("XDG_CACHE_HOME: %s", got)
	}
	t.Setenv("HF_HOME", "/hfhome")
	if got := hub.CacheDir(); got != filepath.FromSlash("/hfhome/hub") {
		t.Errorf("HF_HOME: %s", got)
	}
	t.Setenv("HF_HUB_CACHE", "/cache")
	if got := hub.CacheDir(); got != "/cache" {
		t.Errorf("HF_HUB_CACHE: %s", got)
	}
	t.Setenv("HF_ENDPOINT", "http://mirror.example/")
	if hub.Endpoint() != "http://mirror.example" {
		t.Errorf("Endpoint %s", hub.Endpoint())
	}
	t.Setenv("HF_TOKEN", "")
	t.Setenv("HUGGING_FACE_HUB_TOKEN", "")
	dir := t.TempDir()
	t.Setenv("HF_HOME", dir)
	t.Setenv("HF_TOKEN_PATH", "")
	os.WriteFile(filepath.Join(dir, "token"), []byte("hf_file\n"), 0o600)
	if hub.Token() != "hf_file" {
		t.Errorf("token file: %q", hub.Token())
	}
	t.Setenv("HF_TOKEN", "hf_env")
	if hub.Token() != "hf_env" {
		t.Errorf("HF_TOKEN: %q", hub.Token())
	}
	for v, want := range map[string]bool{"1": true, "true": true, "ON": true, "0": false, "": false} {
		t.Setenv("HF_HUB_OFFLINE", v)
		if hub.Offline() != want {
			t.Errorf("HF_HUB_OFFLINE=%q: %v", v, !want)
		}
	}
}

// TestDownloadLayout checks the cache layout huggingface_hub uses, the
// headers the client relies on, and that the token never reaches the LFS
// host.
func TestDownloadLayout(t *testing.T) {
	files := fakeFiles(1, 300_000)
	s := hubtest.New(map[string]*hubtest.Repo{"org/model": {Files: files}})
	defer s.Close()
	c, log := newClient(t, s)
	c.Token = "hf_secret"
	snap, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(c.CacheDir, "models--org--model")
	if snap.Dir != filepath.Join(repo, "snapshots", snap.Commit) || !hub.IsCommit(snap.Commit) {
		t.Fatalf("snapshot %s at %s", snap.Commit, snap.Dir)
	}
	ref, _ := os.ReadFile(filepath.Join(repo, "refs", "main"))
	if string(ref) != snap.Commit {
		t.Errorf("refs/main = %q, want %s", ref, snap.Commit)
	}
	want := map[string]string{ // file → blob name
		"config.json":       hubtest.GitBlobID(files["config.json"]),
		"tokenizer.json":    hubtest.GitBlobID(files["tokenizer.json"]),
		"model.safetensors": sha(files["model.safetensors"]),
	}
	for f, blob := range want {
		p := filepath.Join(snap.Dir, f)
		link, err := os.Readlink(p)
		if err != nil {
			t.Errorf("%s: not a symbolic link: %v", f, err)
		} else if link != filepath.Join("..", "..", "blobs", blob) {
			t.Errorf("%s → %s, want ../../blobs/%s", f, link, blob)
		}
		got, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(got, files[f]) {
			t.Errorf("%s: contents differ (%v)", f, err)
		}
	}
	if !snap.Has("config.json") || snap.Has("tokenizer_config.json") || snap.Has("README.md") {
		t.Errorf("files %v", snap.Files)
	}
	if _, err := os.Stat(filepath.Join(repo, ".no_exist", snap.Commit, "tokenizer_config.json")); err != nil {
		t.Errorf("no .no_exist marker for the missing optional file: %v", err)
	}
	if matches, _ := filepath.Glob(filepath.Join(repo, "blobs", "*.incomplete")); len(matches) > 0 {
		t.Errorf("left %v", matches)
	}
	if s.LFSAuth() != 0 {
		t.Errorf("the token was sent to the LFS host %d times", s.LFSAuth())
	}
	if n := s.Count("GET", "lfs:/org/model/model.safetensors"); n != 1 {
		t.Errorf("weights fetched %d times from the LFS host", n)
	}
	if snap.Downloaded != 3 || snap.Requests != s.Requests() {
		t.Errorf("downloaded %d, requests %d (server saw %d)", snap.Downloaded, snap.Requests, s.Requests())
	}
	if !strings.Contains(log.String(), "hub: downloading model.safetensors") || !strings.Contains(log.String(), "done") {
		t.Errorf("progress lines: %q", log.String())
	}
}

// TestRerun: a branch costs one HEAD when the snapshot is complete; a
// commit none; nothing is downloaded again.
func TestRerun(t *testing.T) {
	s := hubtest.New(map[string]*hubtest.Repo{"org/model": {Files: fakeFiles(2, 5000)}})
	defer s.Close()
	c, _ := newClient(t, s)
	first, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err != nil {
		t.Fatal(err)
	}
	// first run: HEAD config, tokenizer, tokenizer_config (404), weights
	// (302); GET config, tokenizer, and the weights at the LFS location
	if first.Requests != 4+3 || s.Count("GET", "/org/model/resolve/main/model.safetensors") != 0 {
		t.Errorf("first run: %d requests", first.Requests)
	}
	s.ResetCounts()
	again, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err != nil {
		t.Fatal(err)
	}
	if s.Requests() != 1 || s.Count("HEAD", "/org/model/resolve/main/config.json") != 1 || again.Downloaded != 0 {
		t.Errorf("rerun at main: %d requests, %d downloads", s.Requests(), again.Downloaded)
	}
	if again.Commit != first.Commit || strings.Join(again.Files, ",") != strings.Join(first.Files, ",") {
		t.Errorf("rerun resolved %s %v, first %s %v", again.Commit, again.Files, first.Commit, first.Files)
	}
	s.ResetCounts()
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model", Revision: first.Commit}); err != nil || s.Requests() != 0 {
		t.Errorf("rerun at the commit: %d requests, %v", s.Requests(), err)
	}
}

func TestOffline(t *testing.T) {
	s := hubtest.New(map[string]*hubtest.Repo{"org/model": {Files: fakeFiles(3, 5000)}})
	c, _ := newClient(t, s)
	first, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	c.Offline = true
	for _, rev := range []string{"", first.Commit} {
		snap, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model", Revision: rev})
		if err != nil {
			t.Fatalf("offline at %q: %v", rev, err)
		}
		if snap.Commit != first.Commit || snap.Requests != 0 || !snap.Has("model.safetensors") {
			t.Errorf("offline at %q: %+v", rev, snap)
		}
	}
	_, err = c.Snapshot(context.Background(), hub.Ref{Repo: "org/other"})
	if err == nil || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("offline, not cached: %v", err)
	}
	_, err = c.Snapshot(context.Background(), hub.Ref{Repo: "org/model", Revision: "v2"})
	if err == nil || !strings.Contains(err.Error(), `revision "v2"`) {
		t.Errorf("offline, revision not cached: %v", err)
	}
	// a missing weight file in the snapshot is an error offline
	os.Remove(filepath.Join(first.Dir, "model.safetensors"))
	_, err = c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err == nil || !strings.Contains(err.Error(), "model.safetensors") {
		t.Errorf("offline, weights missing: %v", err)
	}
}

// TestNetworkDown: an unreachable endpoint is a clear error, unless the
// branch has a complete cached snapshot (used with a warning).
func TestNetworkDown(t *testing.T) {
	s := hubtest.New(map[string]*hubtest.Repo{"org/model": {Files: fakeFiles(4, 5000)}})
	c, _ := newClient(t, s)
	first, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	snap, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err != nil || snap.Commit != first.Commit || snap.Stale == "" {
		t.Errorf("cached fallback: %+v, %v", snap, err)
	}
	_, err = c.Snapshot(context.Background(), hub.Ref{Repo: "org/other"})
	var he *hub.Error
	if !errors.As(err, &he) || !strings.Contains(err.Error(), "cannot reach") || !strings.Contains(err.Error(), "HF_HUB_OFFLINE") {
		t.Errorf("unreachable: %v", err)
	}
}

func TestErrors(t *testing.T) {
	s := hubtest.New(map[string]*hubtest.Repo{
		"org/model": {Files: fakeFiles(5, 5000)},
		"org/gated": {Files: fakeFiles(6, 5000), Gated: true},
		"org/empty": {Files: map[string][]byte{"config.json": []byte("{}")}},
	})
	defer s.Close()
	c, _ := newClient(t, s)
	cases := []struct {
		ref    hub.Ref
		status int
		want   string
	}{
		{hub.Ref{Repo: "org/none"}, 404, "repository not found"},
		{hub.Ref{Repo: "org/model", Revision: "v9"}, 404, `revision "v9" not found`},
		{hub.Ref{Repo: "org/gated"}, 401, "gated repository"},
		{hub.Ref{Repo: "org/empty"}, 404, "only safetensors"},
	}
	for _, tc := range cases {
		_, err := c.Snapshot(context.Background(), tc.ref)
		var he *hub.Error
		if !errors.As(err, &he) || he.Status != tc.status || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (status %v), want %d %q", tc.ref, err, he, tc.status, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: message has several lines: %q", tc.ref, err)
		}
	}
	if !strings.Contains(func() string {
		_, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/gated"})
		return err.Error()
	}(), "HF_TOKEN") {
		t.Error("gated error does not mention HF_TOKEN")
	}
	c.Token = "wrong"
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/gated"}); err == nil || !strings.Contains(err.Error(), "no access") {
		t.Errorf("wrong token: %v", err)
	}
	c.Token = s.Token
	s.ResetCounts()
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/gated"}); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	if s.LFSAuth() != 0 || s.Count("GET", "lfs:/org/gated/model.safetensors") != 1 {
		t.Errorf("token sent to LFS %d times; LFS GETs %d", s.LFSAuth(), s.Count("GET", "lfs:/org/gated/model.safetensors"))
	}
}

func TestSharded(t *testing.T) {
	files := map[string][]byte{
		"config.json":                      []byte(`{}`),
		"model-00001-of-00002.safetensors": bytes.Repeat([]byte{1}, 3000),
		"model-00002-of-00002.safetensors": bytes.Repeat([]byte{2}, 2000),
		"model.safetensors.index.json": []byte(`{"metadata": {}, "weight_map": {"a": "model-00001-of-00002.safetensors",
			"b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}`),
	}
	s := hubtest.New(map[string]*hubtest.Repo{"org/sharded": {Files: files}})
	defer s.Close()
	c, _ := newClient(t, s)
	snap, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/sharded"})
	if err != nil {
		t.Fatal(err)
	}
	want := "config.json,model.safetensors.index.json,model-00001-of-00002.safetensors,model-00002-of-00002.safetensors"
	if strings.Join(snap.Files, ",") != want {
		t.Errorf("files %v", snap.Files)
	}
	s.ResetCounts()
	c.Offline = true
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/sharded"}); err != nil || s.Requests() != 0 {
		t.Errorf("offline rerun: %v, %d requests", err, s.Requests())
	}
	c.Offline = false
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/sharded", Revision: snap.Commit}); err != nil || s.Requests() != 0 {
		t.Errorf("rerun at the commit: %v, %d requests", err, s.Requests())
	}
	missing := map[string][]byte{"config.json": []byte(`{}`), "model.safetensors.index.json": []byte(`{"weight_map": {"a": "model-00009.safetensors"}}`)}
	s.SetRepo("org/missing-shard", &hubtest.Repo{Files: missing})
	var he *hub.Error
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/missing-shard"}); !errors.As(err, &he) || he.Status != 404 ||
		he.File != "model-00009.safetensors" || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a shard the repository lacks: %v", err)
	}
	bad := map[string][]byte{"config.json": []byte(`{}`), "model.safetensors.index.json": []byte(`{"weight_map": {"a": "../../x.safetensors"}}`)}
	s.SetRepo("org/evil", &hubtest.Repo{Files: bad})
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/evil"}); err == nil || !strings.Contains(err.Error(), "not a file of the repository") {
		t.Errorf("index escaping the repository: %v", err)
	}
}

// TestResume: a partial blob left by an interrupted run is resumed with a
// Range request; a transfer cut mid-way is resumed within the same call.
func TestResume(t *testing.T) {
	files := fakeFiles(7, 200_000)
	s := hubtest.New(map[string]*hubtest.Repo{"org/model": {Files: files}})
	defer s.Close()
	c, _ := newClient(t, s)
	blobs := filepath.Join(c.CacheDir, "models--org--model", "blobs")
	os.MkdirAll(blobs, 0o755)
	w := files["model.safetensors"]
	inc := filepath.Join(blobs, sha(w)+".incomplete")
	if err := os.WriteFile(inc, w[:77_777], 0o644); err != nil {
		t.Fatal(err)
	}
	snap, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err != nil {
		t.Fatal(err)
	}
	if r := s.Ranges(); len(r) != 1 || r[0] != "bytes=77777-" {
		t.Errorf("LFS Range headers %q", r)
	}
	if got, _ := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors")); !bytes.Equal(got, w) {
		t.Error("resumed file differs")
	}
	if _, err := os.Stat(inc); !os.IsNotExist(err) {
		t.Errorf(".incomplete left: %v", err)
	}

	// a connection cut after 50 000 bytes: the retry resumes
	c2, log := newClient(t, s)
	s.ResetCounts()
	s.CutAfter = 50_000
	snap, err = c2.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if got, _ := os.ReadFile(filepath.Join(snap.Dir, "model.safetensors")); !bytes.Equal(got, w) {
		t.Error("file resumed after a cut differs")
	}
	if r := s.Ranges(); len(r) != 1 || !strings.HasPrefix(r[0], "bytes=") || r[0] == "bytes=0-" {
		t.Errorf("after a cut: Range headers %q", r)
	}
}

// TestSHA256Mismatch: corrupt LFS bytes of the announced size are refused,
// and nothing is left in the cache for them.
func TestSHA256Mismatch(t *testing.T) {
	files := fakeFiles(8, 10_000)
	s := hubtest.New(map[string]*hubtest.Repo{"org/model": {Files: files}})
	defer s.Close()
	bad := append([]byte(nil), files["model.safetensors"]...)
	bad[5000] ^= 1
	s.Corrupt = map[string][]byte{"model.safetensors": bad}
	c, _ := newClient(t, s)
	_, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err == nil || !strings.Contains(err.Error(), "sha256 mismatch") {
		t.Fatalf("corrupt download: %v", err)
	}
	repo := filepath.Join(c.CacheDir, "models--org--model")
	left, _ := filepath.Glob(filepath.Join(repo, "blobs", sha(files["model.safetensors"])+"*"))
	if len(left) > 0 {
		t.Errorf("left %v", left)
	}
	if m, _ := filepath.Glob(filepath.Join(repo, "snapshots", "*", "model.safetensors")); len(m) > 0 {
		t.Errorf("linked %v", m)
	}
	// a short body (size mismatch) is refused too
	s.Corrupt = map[string][]byte{"model.safetensors": bad[:9000]}
	c.Retries = 1
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"}); err == nil || !strings.Contains(err.Error(), "size mismatch") {
		t.Errorf("short download: %v", err)
	}
	s.Corrupt = nil
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"}); err != nil {
		t.Errorf("after the server is fixed: %v", err)
	}
}

// TestConcurrent: two resolutions of one repository into one cache (two
// shards starting together) download each blob once and both succeed.
func TestConcurrent(t *testing.T) {
	s := hubtest.New(map[string]*hubtest.Repo{"org/model": {Files: fakeFiles(9, 400_000)}})
	defer s.Close()
	c, _ := newClient(t, s)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			cc := *c
			cc.Progress = nil
			_, err := cc.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Count("GET", "lfs:/org/model/model.safetensors"); n != 1 {
		t.Errorf("weights fetched %d times", n)
	}
}

// TestProgressBar: on a terminal the download is a redrawn bar ending at
// 100%; otherwise plain lines (TestDownloadLayout).
func TestProgressBar(t *testing.T) {
	s := hubtest.New(map[string]*hubtest.Repo{"org/model": {Files: fakeFiles(10, 100_000)}})
	defer s.Close()
	c, log := newClient(t, s)
	c.Terminal = true
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"}); err != nil {
		t.Fatal(err)
	}
	out := log.String()
	if !strings.Contains(out, "\r\x1b[Kmodel.safetensors") || !strings.Contains(out, "100%") || strings.Contains(out, "hub: downloading") {
		t.Errorf("terminal progress: %q", out)
	}
}

// TestPythonCache: a cache laid out by huggingface_hub (blobs named by
// ETag, snapshot links, refs/main, no .no_exist markers) is used as is:
// offline with no request, and online at its commit with one HEAD for the
// optional file it lacks.
func TestPythonCache(t *testing.T) {
	files := fakeFiles(11, 3000)
	s := hubtest.New(map[string]*hubtest.Repo{"org/model": {Files: files}})
	defer s.Close()
	c, _ := newClient(t, s)
	commit := "89abcdef0123456789abcdef0123456789abcdef"
	repo := filepath.Join(c.CacheDir, "models--org--model")
	for _, f := range []string{"config.json", "tokenizer.json", "model.safetensors"} {
		blob := hubtest.GitBlobID(files[f])
		if f == "model.safetensors" {
			blob = sha(files[f])
		}
		os.MkdirAll(filepath.Join(repo, "blobs"), 0o755)
		os.MkdirAll(filepath.Join(repo, "snapshots", commit), 0o755)
		if err := os.WriteFile(filepath.Join(repo, "blobs", blob), files[f], 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..", "..", "blobs", blob), filepath.Join(repo, "snapshots", commit, f)); err != nil {
			t.Skipf("no symbolic links here: %v", err)
		}
	}
	os.MkdirAll(filepath.Join(repo, "refs"), 0o755)
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644)
	c.Offline = true
	snap, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model"})
	if err != nil || snap.Commit != commit || s.Requests() != 0 || strings.Join(snap.Files, ",") != "config.json,tokenizer.json,model.safetensors" {
		t.Fatalf("offline: %+v, %v, %d requests", snap, err, s.Requests())
	}
	c.Offline = false
	s.SetRepo("org/model", &hubtest.Repo{Files: files, Commit: commit})
	if _, err := c.Snapshot(context.Background(), hub.Ref{Repo: "org/model", Revision: commit}); err != nil {
		t.Fatal(err)
	}
	if s.Requests() != 1 || s.Count("HEAD", "/org/model/resolve/"+commit+"/tokenizer_config.json") != 1 {
		t.Errorf("online at the commit: %d requests", s.Requests())
	}
}

// TestRenamedRepo: the hub's relative redirect for a renamed repository
// is followed (with the token, same host); the cache keeps the name used.
func TestRenamedRepo(t *testing.T) {
	s := hubtest.New(map[string]*hubtest.Repo{"neworg/model": {Files: fakeFiles(12, 3000), Gated: true}})
	defer s.Close()
	s.Renamed = map[string]string{"oldorg/model": "neworg/model"}
	c, _ := newClient(t, s)
	c.Token = s.Token
	snap, err := c.Snapshot(context.Background(), hub.Ref{Repo: "oldorg/model"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(snap.Dir, "models--oldorg--model") || !snap.Has("model.safetensors") || s.LFSAuth() != 0 {
		t.Errorf("renamed: %+v, LFS auth %d", snap, s.LFSAuth())
	}
}
