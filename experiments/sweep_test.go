package experiments

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gatedpo/experiments/config"
	"gatedpo/experiments/data"
	"gatedpo/results"
)

// The sweep tests run the built-in `test` grid (4 cells, a few seconds
// each). A child mode lets a test run a sweep in a separate process (to
// SIGKILL it, or to check exit codes) by re-executing the test binary.

const childEnv = "GATEDPO_SWEEP_TEST_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		os.Exit(childMain(strings.Split(args, "\x1f")))
	}
	code := m.Run()
	if refDir != "" {
		os.RemoveAll(filepath.Dir(refDir)) // the shared reference run
	}
	os.Exit(code)
}

// childMain is cmd/sweep's main in miniature: args are -grid, -out,
// -workers, -retry-failed only.
func childMain(args []string) int {
	o := Options{Stdout: io.Discard, Stderr: io.Discard, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "-grid":
			i++
			o.Grid = args[i]
		case "-out":
			i++
			o.Out = args[i]
		case "-workers":
			i++
			fmt.Sscan(args[i], &o.Workers)
		case "-retry-failed":
			o.RetryFailed = true
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, err := Run(ctx, o)
	switch {
	case err == nil:
		return 0
	case config.IsConfigError(err):
		fmt.Fprintln(os.Stderr, err)
		return 2
	case errors.Is(err, ErrInterrupted), errors.Is(err, ErrEnvironment):
		return 3
	}
	return 1
}

func child(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
	return cmd
}

func quietOptions(grid, out string, workers int) Options {
	return Options{Grid: grid, Out: out, Workers: workers, Stdout: io.Discard, Stderr: io.Discard,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// reference is one uninterrupted run of the test grid with one worker,
// shared by the tests that compare against it.
var (
	refOnce sync.Once
	refDir  string
	refErr  error
)

func referenceRun(t *testing.T) string {
	t.Helper()
	refOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatedpo-sweep-ref-")
		if err != nil {
			refErr = err
			return
		}
		refDir = filepath.Join(dir, "ref")
		_, refErr = Run(context.Background(), quietOptions("test", refDir, 1))
	})
	if refErr != nil {
		t.Fatalf("reference run: %v", refErr)
	}
	return refDir
}

// metricFiles returns the reproducible content of a sweep directory:
// every cell's config and metric files (gz decompressed), its summary
// without wall-clock fields, and summary.csv without wall_s.
func metricFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	cells, err := os.ReadDir(filepath.Join(dir, results.CellsDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if !c.IsDir() {
			continue
		}
		cd := filepath.Join(dir, results.CellsDir, c.Name())
		for _, f := range []string{results.CellConfigFile, results.TrainCSVFile, results.ProbeMetricsFile, results.ProbeFieldsFile, results.ProbeExamplesFile, results.ProbeTokensFile} {
			b, err := os.ReadFile(filepath.Join(cd, f))
			if err != nil {
				t.Fatalf("%s: %v", c.Name(), err)
			}
			if strings.HasSuffix(f, ".gz") {
				zr, err := gzip.NewReader(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				b, _ = io.ReadAll(zr)
			}
			out[c.Name()+"/"+f] = string(b)
		}
		_, s, ok := results.ReadCellRecord(cd)
		if !ok {
			t.Fatalf("cell %s has no summary", c.Name())
		}
		// wall-clock fields, and the commit (other people commit to the shared tree meanwhile)
		s.WallS, s.Timing, s.Provenance.GitCommit = 0, nil, ""
		b, _ := json.Marshal(s)
		out[c.Name()+"/summary"] = string(b)
	}
	out["summary.csv"] = summaryWithoutWall(t, dir)
	for _, f := range []string{results.ToyF1File, results.ToyF1bFile} {
		b, err := os.ReadFile(filepath.Join(dir, results.ToyDir, f))
		if err != nil {
			t.Fatalf("toy record: %v", err)
		}
		out["toy/"+f] = string(b)
	}
	if _, err := results.LoadToyF1(filepath.Join(dir, results.ToyDir, results.ToyF1File)); err != nil {
		t.Error(err)
	}
	if rows, err := results.ReadRows[results.ToyF1bRow](filepath.Join(dir, results.ToyDir, results.ToyF1bFile)); err != nil || len(rows) == 0 {
		t.Errorf("toy_f1b.csv: %d rows, %v", len(rows), err)
	}
	return out
}

func summaryWithoutWall(t *testing.T, dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, results.SummaryCSVFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	wall := -1
	for i, c := range strings.Split(lines[0], ",") {
		if c == "wall_s" {
			wall = i
		}
	}
	var b2 strings.Builder
	for _, l := range lines {
		f := strings.Split(l, ",")
		f[wall] = ""
		b2.WriteString(strings.Join(f, ",") + "\n")
	}
	return b2.String()
}

func compareSweeps(t *testing.T, want, got string) {
	t.Helper()
	a, b := metricFiles(t, want), metricFiles(t, got)
	if len(a) != len(b) {
		t.Errorf("%d record files, want %d", len(b), len(a))
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s differs from the reference run", k)
			if strings.HasSuffix(k, "summary") {
				t.Logf("want %s\ngot  %s", v, b[k])
			}
		}
	}
}

func TestSweepWorkersBitIdentical(t *testing.T) {
	ref := referenceRun(t)
	dir := filepath.Join(t.TempDir(), "w2")
	if _, err := Run(context.Background(), quietOptions("test", dir, 2)); err != nil {
		t.Fatal(err)
	}
	compareSweeps(t, ref, dir)
	oc, err := Run(context.Background(), quietOptions("test", dir, 2))
	if err != nil || oc.Ran != 0 || oc.Skipped != oc.Cells {
		t.Errorf("rerun of a complete sweep: %+v, %v (want every cell skipped)", oc, err)
	}
}

func TestSweepShardsMatchUnsharded(t *testing.T) {
	ref := referenceRun(t)
	dir := filepath.Join(t.TempDir(), "sharded")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o := quietOptions("test", dir, 1)
			o.Shard, o.Shards = i, 2
			_, errs[i] = Run(context.Background(), o)
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("shard %d: %v", i, err)
		}
	}
	compareSweeps(t, ref, dir)
}

// tempFiles lists leftover temporary files under dir.
func tempFiles(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && results.IsTempName(d.Name()) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// checkRecordsReadable parses every record file a reader would use.
func checkRecordsReadable(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || results.IsTempName(d.Name()) {
			return nil
		}
		switch {
		case strings.HasSuffix(p, ".json"):
			b, _ := os.ReadFile(p)
			var v any
			if json.Unmarshal(b, &v) != nil {
				t.Errorf("%s: not valid JSON (partial file?)", p)
			}
		case strings.HasSuffix(p, ".csv"), strings.HasSuffix(p, ".csv.gz"):
			if err := readCSVFile(p); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		return nil
	})
}

// readCSVFile parses a CSV file (gzip-compressed when its name ends in
// ".gz"): a header and rows of its width.
func readCSVFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	var rd io.Reader = f
	if strings.HasSuffix(p, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return err
		}
		rd = zr
	}
	rows, err := csv.NewReader(rd).ReadAll()
	if err == nil && len(rows) == 0 {
		err = errors.New("empty")
	}
	return err
}

// slowTestGrid writes a variant of the test grid whose preference stage is
// long enough (pref_epochs 12: 72 steps, checkpoints every 2) for a test
// to signal a process in the middle of it, and returns its path.
func slowTestGrid(t *testing.T, dir string) string {
	src, _ := config.BuiltinGrid("test")
	text := strings.Replace(string(src), "pref_epochs = 2", "pref_epochs = 12", 1)
	text = strings.Replace(text, "eval_every = 2\n", "eval_every = 12\n", 1)
	g := filepath.Join(dir, "slow.toml")
	if err := os.WriteFile(g, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestSweepKillResume(t *testing.T) {
	tmp := t.TempDir()
	g := slowTestGrid(t, tmp)
	ref := filepath.Join(tmp, "uninterrupted")
	if _, err := Run(context.Background(), quietOptions(g, ref, 2)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "killed")
	cmd := child(t, "-grid", g, "-out", dir, "-workers", "1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// kill once one cell is complete and another has a checkpoint
	killed := ""
	deadline := time.Now().Add(3 * time.Minute)
	for killed == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		cells, _ := os.ReadDir(filepath.Join(dir, results.CellsDir))
		complete, withCkpt := 0, ""
		for _, c := range cells {
			cd := filepath.Join(dir, results.CellsDir, c.Name())
			if _, s, ok := results.ReadCellRecord(cd); ok && s.Status == results.StatusComplete {
				complete++
				continue
			}
			if k, _, ok := latestCheckpoint(filepath.Join(cd, results.CheckpointDir)); ok && k > 0 {
				withCkpt = c.Name()
			}
		}
		if complete >= 1 && withCkpt != "" {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = withCkpt
		}
	}
	cmd.Wait()
	if killed == "" {
		t.Fatal("the sweep never reached a checkpoint in its second cell")
	}
	checkRecordsReadable(t, dir)
	before := map[string]time.Time{}
	cells, _ := os.ReadDir(filepath.Join(dir, results.CellsDir))
	for _, c := range cells {
		p := filepath.Join(dir, results.CellsDir, c.Name(), results.CellSummaryFile)
		if _, s, ok := results.ReadCellRecord(filepath.Dir(p)); ok && s.Status == results.StatusComplete {
			st, _ := os.Stat(p)
			before[c.Name()] = st.ModTime()
		}
	}
	oc, err := Run(context.Background(), quietOptions(g, dir, 1))
	if err != nil {
		t.Fatal(err)
	}
	if oc.Complete != oc.Cells || oc.Skipped != len(before) || oc.Ran != oc.Cells-len(before) {
		t.Errorf("rerun: %+v; want every cell complete, the %d finished ones skipped", oc, len(before))
	}
	for id, mt := range before {
		st, _ := os.Stat(filepath.Join(dir, results.CellsDir, id, results.CellSummaryFile))
		if !st.ModTime().Equal(mt) {
			t.Errorf("finished cell %s was redone", id)
		}
	}
	_, s, _ := results.ReadCellRecord(filepath.Join(dir, results.CellsDir, killed))
	if s.Timing["resumed_from_step"] <= 0 {
		t.Errorf("killed cell %s did not resume from its checkpoint (timing %v)", killed, s.Timing)
	}
	if tf := tempFiles(dir); len(tf) > 0 {
		t.Errorf("temporary files left: %v", tf)
	}
	// a resumed cell is bit-identical to an uninterrupted one
	compareSweeps(t, ref, dir)
}

func TestSweepBadInput(t *testing.T) {
	src, _ := config.BuiltinGrid("test")
	cases := []struct {
		name, edit, repl, want string
	}{
		{"unknown key", "sft_epochs = 2", "sft_epochz = 2", "g.toml:16: train.sft_epochz: unknown key"},
		{"bad value", "lr = 1e-3", "lr = \"fast\"", `g.toml:20: train.lr: expected a finite number > 0, got "fast"`},
		{"bad tau", "tau = [1e-2]", "tau = [1e-2, -1]", "g.toml:44: grid.gate[1].tau[1]: expected a finite number >= 0"},
		{"missing file", `dataset = "synthetic"`, `dataset = "nope.jsonl"`, `g.toml:5: data.dataset: expected "synthetic" or an existing data file`},
		{"bad arch", `arch = ["transformer-xs"]`, `arch = ["gpt-5"]`, `g.toml:31: grid.arch[0]: expected one of`},
		{"syntax", "[train]", "[train", "g.toml:16: invalid TOML"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			g := filepath.Join(tmp, "g.toml")
			text := strings.Replace(string(src), c.edit, c.repl, 1)
			if text == string(src) {
				t.Fatalf("edit %q not applied", c.edit)
			}
			os.WriteFile(g, []byte(text), 0o644)
			out := filepath.Join(tmp, "out")
			o := quietOptions(g, out, 1)
			o.Grid = g
			wd, _ := os.Getwd()
			os.Chdir(tmp) // errors name the file as given
			_, err := Run(context.Background(), quietOptions("g.toml", out, 1))
			os.Chdir(wd)
			if err == nil || !config.IsConfigError(err) || !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("got %v, want %q…", err, c.want)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("output directory written on bad input")
			}
		})
	}
	// -only with an unknown key, and the exit status of the command
	_, err := Run(context.Background(), Options{Grid: "test", Out: filepath.Join(t.TempDir(), "o"), Only: []string{"gate.colour=red"}})
	if !config.IsConfigError(err) {
		t.Errorf("-only unknown key: %v", err)
	}
	cmd := child(t, "-grid", filepath.Join(t.TempDir(), "missing.toml"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "missing.toml: no such grid file") {
		t.Errorf("missing grid: exit %v, stderr %q; want exit 2", err, stderr.String())
	}
}

func TestSweepDivergenceRecorded(t *testing.T) {
	src, _ := config.BuiltinGrid("test")
	// a second objective that overflows float32 at the first step: IPO's
	// target 1/(2β) = 5e19 squared is +Inf
	text := strings.Replace(string(src), "[[grid.gate]]\nkind = \"none\"",
		"[[grid.objective]]\nname = \"ipo\"\nbeta = 1e-20\n\n[[grid.gate]]\nkind = \"none\"", 1)
	text = strings.Replace(text, "seed = [1, 2]", "seed = [1]", 1)
	tmp := t.TempDir()
	g := filepath.Join(tmp, "nan.toml")
	os.WriteFile(g, []byte(text), 0o644)
	out := filepath.Join(tmp, "out")
	cmd := child(t, "-grid", g, "-out", out, "-workers", "2")
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1", err)
	}
	failed, complete := 0, 0
	cells, _ := os.ReadDir(filepath.Join(out, results.CellsDir))
	for _, c := range cells {
		cfg, s, ok := results.ReadCellRecord(filepath.Join(out, results.CellsDir, c.Name()))
		if !ok {
			continue
		}
		switch s.Status {
		case results.StatusFailed:
			failed++
			if cfg.Objective.Name != "ipo" || s.Failure == nil || s.Failure.Stage != "pref" || s.Failure.Step != 1 || s.Failure.Reason == "" {
				t.Errorf("failure of %s: %+v", cfg.Objective.Name, s.Failure)
			}
		case results.StatusComplete:
			complete++
		}
	}
	if failed != 2 || complete != 2 {
		t.Errorf("%d failed, %d complete; want 2 and 2", failed, complete)
	}
	rows := strings.Count(summaryWithoutWall(t, out), ",failed,")
	if rows != 2 {
		t.Errorf("summary.csv has %d failed rows, want 2", rows)
	}
	// failed cells are left alone on a rerun, retried with -retry-failed
	oc, err := Run(context.Background(), quietOptions(g, out, 2))
	if !errors.Is(err, ErrCellsFailed) || oc.Ran != 0 {
		t.Errorf("rerun: %+v, %v; want nothing run, ErrCellsFailed", oc, err)
	}
	o := quietOptions(g, out, 2)
	o.RetryFailed = true
	oc, err = Run(context.Background(), o)
	if !errors.Is(err, ErrCellsFailed) || oc.Ran != 2 {
		t.Errorf("retry: %+v, %v; want the 2 failed cells rerun (and failing again)", oc, err)
	}
}

func TestResolveShard(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cases := []struct {
		flag   string
		shards int
		env    func(string) string
		i, n   int
		bad    bool
	}{
		{"", 0, env(), 0, 1, false},
		{"2/4", 0, env(), 2, 4, false},
		{"4/4", 0, env(), 0, 0, true},
		{"", 0, env("SLURM_ARRAY_TASK_ID", "3", "SLURM_ARRAY_TASK_COUNT", "4"), 3, 4, false},
		{"", 0, env("SLURM_ARRAY_TASK_ID", "4", "SLURM_ARRAY_TASK_MIN", "1", "SLURM_ARRAY_TASK_COUNT", "4"), 3, 4, false},
		{"", 0, env("SLURM_ARRAY_TASK_ID", "30", "SLURM_ARRAY_TASK_MIN", "0", "SLURM_ARRAY_TASK_STEP", "2", "SLURM_ARRAY_TASK_COUNT", "16"), 15, 16, false},
		{"", 0, env("SLURM_ARRAY_TASK_ID", "7", "SLURM_ARRAY_TASK_MIN", "1", "SLURM_ARRAY_TASK_STEP", "3", "SLURM_ARRAY_TASK_COUNT", "4"), 2, 4, false},
		{"", 0, env("SLURM_ARRAY_TASK_ID", "3", "SLURM_ARRAY_TASK_STEP", "2", "SLURM_ARRAY_TASK_COUNT", "16"), 0, 0, true},
		{"", 0, env("SLURM_ARRAY_TASK_ID", "2", "SLURM_ARRAY_TASK_STEP", "0", "SLURM_ARRAY_TASK_COUNT", "16"), 0, 0, true},
		{"", 3, env("JOB_COMPLETION_INDEX", "2"), 2, 3, false},
		{"", 0, env("JOB_COMPLETION_INDEX", "1", ShardsEnv, "2"), 1, 2, false},
		{"", 0, env("JOB_COMPLETION_INDEX", "1"), 0, 0, true},
		{"1/2", 0, env("SLURM_ARRAY_TASK_ID", "3", "SLURM_ARRAY_TASK_COUNT", "4"), 1, 2, false},
	}
	for _, c := range cases {
		i, n, err := ResolveShard(c.flag, c.shards, c.env)
		if (err != nil) != c.bad || (!c.bad && (i != c.i || n != c.n)) {
			t.Errorf("%q %d: got %d/%d %v", c.flag, c.shards, i, n, err)
		}
	}
}

func TestDryRunWritesNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "dry")
	var b bytes.Buffer
	o := quietOptions("test", out, 1)
	o.DryRun, o.Stdout = true, &b
	o.Only = []string{"gate.kind=ramp"}
	oc, err := Run(context.Background(), o)
	if err != nil || oc.Cells != 2 {
		t.Fatalf("%+v %v", oc, err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Error("dry run wrote the output directory")
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	sort.Strings(lines)
	if len(lines) != 3 || !strings.Contains(b.String(), "ramp") || strings.Contains(b.String(), "dpo/none") {
		t.Errorf("dry run listing:\n%s", b.String())
	}
}

func TestSweepInterruptKeepsCheckpoint(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "int")
	cmd := child(t, "-grid", slowTestGrid(t, tmp), "-out", dir, "-workers", "1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	var cell string
	for cell == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		cells, _ := os.ReadDir(filepath.Join(dir, results.CellsDir))
		for _, c := range cells {
			if _, _, ok := latestCheckpoint(filepath.Join(dir, results.CellsDir, c.Name(), results.CheckpointDir)); ok {
				cell = c.Name()
			}
		}
	}
	if cell == "" {
		t.Fatal("no checkpoint appeared")
	}
	cmd.Process.Signal(os.Interrupt)
	t0 := time.Now()
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exit %v after SIGINT, want 3 (interrupted: rerun to continue)", err)
	}
	if d := time.Since(t0); d > 30*time.Second {
		t.Errorf("took %v to stop", d)
	}
	_, s, ok := results.ReadCellRecord(filepath.Join(dir, results.CellsDir, cell))
	if !ok || s.Status != results.StatusRunning {
		t.Errorf("interrupted cell: %+v (want status running)", s)
	}
	if _, _, ok := latestCheckpoint(filepath.Join(dir, results.CellsDir, cell, results.CheckpointDir)); !ok {
		t.Error("the checkpoint is gone after SIGINT")
	}
	checkRecordsReadable(t, dir)
}

func TestSweepKillDuringSFTResumes(t *testing.T) {
	src, _ := config.BuiltinGrid("test")
	text := strings.Replace(string(src), "sft_epochs = 2", "sft_epochs = 8", 1)
	text = strings.Replace(text, "seed = [1, 2]", "seed = [1]", 1)
	tmp := t.TempDir()
	g := filepath.Join(tmp, "sft.toml")
	os.WriteFile(g, []byte(text), 0o644)
	want := filepath.Join(tmp, "uninterrupted")
	if _, err := Run(context.Background(), quietOptions(g, want, 1)); err != nil {
		logFailures(t, want)
		t.Fatal(err)
	}
	dir := filepath.Join(tmp, "killed")
	cmd := child(t, "-grid", g, "-out", dir, "-workers", "1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	for deadline := time.Now().Add(2 * time.Minute); !killed && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		ckpts, _ := filepath.Glob(filepath.Join(dir, sftDirName, "*", results.CheckpointDir, ckptPrefix+"*"))
		if len(ckpts) > 0 {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatal("no SFT checkpoint appeared")
	}
	if _, err := Run(context.Background(), quietOptions(g, dir, 1)); err != nil {
		logFailures(t, dir)
		t.Fatal(err)
	}
	compareSweeps(t, want, dir)
}

// logFailures logs the failure of every failed cell of a sweep directory.
func logFailures(t *testing.T, dir string) {
	cells, _ := os.ReadDir(filepath.Join(dir, results.CellsDir))
	for _, c := range cells {
		if _, s, ok := results.ReadCellRecord(filepath.Join(dir, results.CellsDir, c.Name())); ok && s.Failure != nil {
			t.Logf("%s: %+v", c.Name(), *s.Failure)
		}
	}
}

// TestSweepSavesTokenizer checks that a sweep keeps the tokenizer.json of
// its dataset beside the results, and that it loads back into a tokenizer
// with the same hash.
func TestSweepSavesTokenizer(t *testing.T) {
	dir := referenceRun(t)
	files, err := filepath.Glob(filepath.Join(dir, TokenizersDir, "*.json"))
	if err != nil || len(files) != 1 {
		t.Fatalf("tokenizers saved: %v (err %v), want exactly one", files, err)
	}
	tok, err := data.LoadTokenizerJSON(files[0])
	if err != nil {
		t.Fatalf("reload %s: %v", files[0], err)
	}
	if want := data.NewByteTokenizer().Hash(); tok.Hash() != want {
		t.Errorf("reloaded tokenizer hash %s, want the byte tokenizer's %s", tok.Hash(), want)
	}
}
