package experiments

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"gatedpo/experiments/config"
	"gatedpo/graph/safetensors"
	"gatedpo/models"
)

// editedTestGrid writes the built-in test grid with edits applied (each
// old string must occur) to dir/g.toml and returns its path.
func editedTestGrid(t *testing.T, dir string, edits ...string) string {
	t.Helper()
	src, _ := config.BuiltinGrid("test")
	text := string(src)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			t.Fatalf("edit %q not applicable", edits[i])
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	p := filepath.Join(dir, "g.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runHostile runs a sweep on grid into dir/out with a deadline, and checks
// what every hostile-input case must hold: a *config.ConfigError whose one-line
// message starts with want, memory bounded, nothing written.
func runHostile(t *testing.T, dir, grid, want string) {
	t.Helper()
	out := filepath.Join(dir, "out")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), quietOptions(grid, out, 1))
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the sweep did not return (blocked on %s?)", grid)
	}
	runtime.ReadMemStats(&after)
	if err == nil || !config.IsConfigError(err) || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want a config error containing %q", err, want)
	}
	if err != nil && (strings.Contains(err.Error(), "\n") || len(err.Error()) > 600) {
		t.Errorf("message is not one short line (%d bytes): %.300q", len(err.Error()), err.Error())
	}
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("allocated %d MB in all", grew>>20)
	if grew > 256<<20 {
		t.Errorf("allocated %d MB on bad input", grew>>20)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("output directory written on bad input")
	}
}

// TestGridLimits: every size of a grid is bounded (file:line: key:
// expected ≤ N), duplicated axis values and degenerate counts are refused,
// names and strings are checked — all before anything is written.
func TestGridLimits(t *testing.T) {
	cases := []struct {
		name  string
		edits []string
		want  string
	}{
		{"huge prompt", []string{"max_prompt_tokens = 8", "max_prompt_tokens = 1000000000"}, "g.toml:7: data.max_prompt_tokens: expected ≤ 8192, got 1000000000"},
		{"huge response", []string{"max_response_tokens = 8", "max_response_tokens = 1000000000"}, "g.toml:8: data.max_response_tokens: expected ≤ 8192, got 1000000000"},
		{"huge probe", []string{"probe_examples = 8", "probe_examples = 1000000000"}, "g.toml:9: data.probe_examples: expected ≤ 100000, got 1000000000"},
		{"huge batch", []string{"batch_pairs = 8", "batch_pairs = 100000000"}, "g.toml:18: train.batch_pairs: expected ≤ 4096"},
		{"beyond int32", []string{"train_pairs = 48", "train_pairs = 10000000000"}, "g.toml:12: data.synthetic.train_pairs: expected ≤ 1000000, got 10000000000"},
		{"zero train pairs", []string{"train_pairs = 48", "train_pairs = 0"}, "g.toml:12: data.synthetic.train_pairs: expected an integer >= 1, got 0"},
		{"negative train pairs", []string{"train_pairs = 48", "train_pairs = -3"}, "g.toml:12: data.synthetic.train_pairs: expected an integer >= 1, got -3"},
		{"zero eval pairs", []string{"eval_pairs = 8", "eval_pairs = 0"}, "g.toml:13: data.synthetic.eval_pairs: expected an integer >= 1, or -1"},
		{"duplicate seed", []string{"seed = [1, 2]", "seed = [1, 1]"}, "g.toml:33: grid.seed[1]: duplicate of grid.seed[0]"},
		{"duplicate arch", []string{`arch = ["transformer-xs"]`, `arch = ["transformer-xs", "transformer-xs"]`}, "g.toml:31: grid.arch[1]: duplicate"},
		{"duplicate gate", []string{"tau = [1e-2]", "tau = [1e-2, 0.01]"}, "grid.gate: two entries give the same gate"},
		{"name with NUL", []string{`name = "test"`, `name = "te\u0000st"`}, `g.toml:2: name: expected no control characters (found U+0000), got "te\x00st"`},
		{"long name", []string{`name = "test"`, `name = "` + strings.Repeat("n", 1<<20) + `"`}, "g.toml:2: expected lines of at most 65536 bytes"},
		{"5000-byte name", []string{`name = "test"`, `name = "` + strings.Repeat("n", 5000) + `"`}, "g.toml:2: name: expected at most 4096 bytes"},
		{"name of 200 bytes", []string{`name = "test"`, `name = "` + strings.Repeat("n", 200) + `"`}, "g.toml:2: name: expected at most 128 bytes"},
		{"dataset with NUL", []string{`dataset = "synthetic"`, `dataset = "a\u0000.jsonl"`}, "g.toml:5: data.dataset: expected no control characters"},
		{"huge data limit", []string{"probe_examples = 8", "probe_examples = 8\nmax_data_bytes = 100000000000000"}, "g.toml:10: data.max_data_bytes: expected ≤ 1099511627776"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			editedTestGrid(t, tmp, c.edits...)
			wd, _ := os.Getwd()
			os.Chdir(tmp) // errors name the file as given
			defer os.Chdir(wd)
			runHostile(t, tmp, "g.toml", c.want)
		})
	}
}

// TestGridSpecialFiles: a grid file, a dataset or an init_from checkpoint
// that is a FIFO or a device is refused at once (no blocking, no endless
// read), as is a grid file of 50 MB.
func TestGridSpecialFiles(t *testing.T) {
	tmp := t.TempDir()
	fifo := filepath.Join(tmp, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	t.Run("grid 20MB", func(t *testing.T) {
		dir := t.TempDir()
		g := filepath.Join(dir, "big.toml")
		os.WriteFile(g, bytes.Repeat([]byte("# a comment line\n"), 20<<20/17), 0o644)
		runHostile(t, dir, g, g+": expected a grid file of ≤ 16777216 bytes")
	})
	t.Run("grid fifo", func(t *testing.T) { runHostile(t, t.TempDir(), fifo, fifo+": expected a regular grid file") })
	t.Run("grid dev zero", func(t *testing.T) { runHostile(t, t.TempDir(), "/dev/zero", "/dev/zero: expected a regular grid file") })
	t.Run("grid 50MB", func(t *testing.T) {
		dir := t.TempDir()
		g := filepath.Join(dir, "big.toml")
		f, _ := os.Create(g)
		f.WriteString(`name = "`)
		f.Truncate(50 << 20) // sparse: a 50 MB name of NUL bytes
		f.Close()
		runHostile(t, dir, g, g+":1: expected lines of at most 65536 bytes, got 52428800 bytes")
	})
	for _, c := range []struct{ name, edit, repl, want string }{
		{"dataset fifo", `dataset = "synthetic"`, `dataset = "` + fifo + `"`, "data.dataset: expected \"synthetic\" or an existing data file (a regular file), got \"" + fifo + "\": p"},
		{"dataset dev zero", `dataset = "synthetic"`, `dataset = "/dev/zero"`, "data.dataset: expected \"synthetic\" or an existing data file (a regular file), got \"/dev/zero\": Dc"},
		{"init_from fifo", "checkpoint_every = 2", "checkpoint_every = 2\ninit_from = \"" + fifo + "\"", "train.init_from: expected an existing checkpoint file (a regular file)"},
		{"init_from dev zero", "checkpoint_every = 2", "checkpoint_every = 2\ninit_from = \"/dev/zero\"", "train.init_from: expected an existing checkpoint file (a regular file)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			runHostile(t, dir, editedTestGrid(t, dir, c.edit, c.repl), c.want)
		})
	}
}

// gzipBomb writes a gzip file of n members, each the compression of one
// block (members concatenate: a valid multi-member gzip stream), so a
// 2 MB file expands to n·len(block) bytes without the test compressing
// them all.
func gzipBomb(t *testing.T, path string, block []byte, n int) {
	t.Helper()
	var one bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&one, gzip.BestCompression)
	zw.Write(block)
	zw.Close()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	for i := 0; i < n; i++ {
		bw.Write(one.Bytes())
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// TestHostileDatasets: a gzip bomb, a 100 MB line and an over-long field
// stop at their limits with a message naming the limit and how to raise
// it; memory stays bounded and nothing is written.
func TestHostileDatasets(t *testing.T) {
	tmp := t.TempDir()
	// 2 GiB of blank 1 MiB lines in a ~2 MB file
	spaces := append(bytes.Repeat([]byte(" "), 1<<20-1), '\n')
	bomb := filepath.Join(tmp, "bomb.jsonl.gz")
	gzipBomb(t, bomb, spaces, 2048)
	if st, _ := os.Stat(bomb); st.Size() > 8<<20 {
		t.Fatalf("bomb is %d bytes", st.Size())
	}
	// the same without newlines: one endless line
	zeros := filepath.Join(tmp, "zeros.jsonl.gz")
	gzipBomb(t, zeros, make([]byte, 1<<20), 2048)
	// a 100 MB line (sparse file)
	long := filepath.Join(tmp, "long.jsonl")
	f, _ := os.Create(long)
	f.WriteString(`{"prompt": "`)
	f.Truncate(100 << 20)
	f.Close()
	// a valid file whose prompts are 3000 bytes
	var b strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, `{"prompt": "%s", "chosen": "yes %d", "rejected": "no %d"}`+"\n", strings.Repeat("p", 3000), i, i)
	}
	wide := filepath.Join(tmp, "wide.jsonl")
	os.WriteFile(wide, []byte(b.String()), 0o644)
	cases := []struct{ name, dataset, extra, want string }{
		{"gzip bomb", bomb, "max_data_bytes = 33554432", bomb + ": more than max_data_bytes = 33554432 bytes of data (after decompression); raise [data] max_data_bytes in the grid"},
		{"gzip bomb one line", zeros, "", zeros + ":1: line longer than max_line_bytes = 8388608; raise [data] max_line_bytes in the grid"},
		{"100 MB line", long, "", long + ":1: line longer than max_line_bytes = 8388608; raise [data] max_line_bytes"},
		{"plain file over max_data_bytes", long, "max_data_bytes = 1048576", long + ": the file is 104857600 bytes, more than max_data_bytes = 1048576"},
		{"field tokens", wide, "max_field_tokens = 1000", `field "prompt" has 3000 tokens, more than max_field_tokens = 1000; raise [data] max_field_tokens`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			g := editedTestGrid(t, dir, `dataset = "synthetic"`, `dataset = "`+c.dataset+`"`+"\n"+c.extra, "[data.synthetic]\ntrain_pairs = 48\neval_pairs = 8\n", "")
			runHostile(t, dir, g, c.want)
		})
	}
	// raising the limit makes the wide file usable
	dir := t.TempDir()
	g := editedTestGrid(t, dir, `dataset = "synthetic"`, `dataset = "`+wide+`"`+"\nmax_field_tokens = 4000", "[data.synthetic]\ntrain_pairs = 48\neval_pairs = 8\n", "")
	o := quietOptions(g, filepath.Join(dir, "out"), 1)
	o.DryRun = true
	if _, err := Run(context.Background(), o); err != nil {
		t.Errorf("max_field_tokens = 4000: %v", err)
	}
}

// TestHostileCheckpoints: an init_from checkpoint with absurd config sizes
// or overlapping tensor offsets is bad input (exit 2 in cmd/sweep) with
// the reason, before anything is allocated or written.
func TestHostileCheckpoints(t *testing.T) {
	tmp := t.TempDir()
	m, err := models.NewTransformer(models.TransformerConfig{VocabSize: 259, DModel: 8, NHeads: 2, NLayers: 1, MaxSeqLen: 18, LNEps: 1e-5}, tensor.Float32, 1)
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(tmp, "good.safetensors")
	if err := models.Save(m, good, nil); err != nil {
		t.Fatal(err)
	}
	ts, meta, err := safetensors.Read(good)
	if err != nil {
		t.Fatal(err)
	}
	absurd := func(key string, v int64) string {
		cfg := map[string]any{}
		json.Unmarshal([]byte(meta["config"]), &cfg)
		cfg[key] = v
		if key == "d_model" {
			cfg["n_heads"] = 1
		}
		bs, _ := json.Marshal(cfg)
		p := filepath.Join(tmp, key+".safetensors")
		if err := safetensors.Write(p, ts, map[string]string{"model": "transformer", "config": string(bs)}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// overlapping offsets: the second tensor of the file re-reads the first one's bytes
	raw, _ := os.ReadFile(good)
	n := binary.LittleEndian.Uint64(raw)
	var header map[string]any
	json.Unmarshal(raw[8:8+n], &header)
	var names []string
	for k := range header {
		if k != "__metadata__" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	first := header[names[0]].(map[string]any)["data_offsets"].([]any)
	second := header[names[1]].(map[string]any)
	off := second["data_offsets"].([]any)
	size := off[1].(float64) - off[0].(float64)
	second["data_offsets"] = []any{first[0], first[0].(float64) + size}
	hb, _ := json.Marshal(header)
	overlap := filepath.Join(tmp, "overlap.safetensors")
	ov := binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))
	ov = append(append(ov, hb...), raw[8+n:]...)
	os.WriteFile(overlap, ov, 0o644)
	cases := []struct{ name, path, want string }{
		{"vocab_size 1e12", absurd("vocab_size", 1e12), "vocab_size = 1000000000000, expected ≤ 4194304"},
		{"d_model 1e9", absurd("d_model", 1e9), "d_model = 1000000000, expected ≤ 32768"},
		{"max_seq_len 1e12", absurd("max_seq_len", 1e12), "max_seq_len = 1000000000000, expected ≤ 131072"},
		{"n_layers 1e9", absurd("n_layers", 1e9), "n_layers = 1000000000, expected ≤ 1024"},
		{"overlapping offsets", overlap, "overlap tensor"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			g := editedTestGrid(t, dir, "checkpoint_every = 2", "checkpoint_every = 2\ninit_from = \""+c.path+"\"")
			runHostile(t, dir, g, c.want)
		})
	}
}
