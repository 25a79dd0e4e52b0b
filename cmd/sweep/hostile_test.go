//go:build unix

package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"gatedpo/experiments/config"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const childEnv = "GATEDPO_CMD_SWEEP_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(childEnv); args != "" {
		os.Args = append([]string{"sweep"}, strings.Split(args, "\x1f")...)
		os.Exit(run())
	}
	os.Exit(m.Run())
}

// sweepCmd runs the command in a child process (the test binary).
func sweepCmd(args ...string) (*exec.Cmd, *bytes.Buffer) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+strings.Join(args, "\x1f"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// testGrid writes the built-in test grid with one edit to dir/g.toml.
func testGrid(t *testing.T, dir, old, repl string) string {
	t.Helper()
	src, _ := config.BuiltinGrid("test")
	text := strings.Replace(string(src), old, repl, 1)
	if text == string(src) {
		t.Fatalf("edit %q not applied", old)
	}
	p := filepath.Join(dir, "g.toml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestHostileInputExitStatus: hostile inputs end the command with exit
// status 2 and a one-line file:line message, within seconds (no hang on
// a FIFO), and with nothing written.
func TestHostileInputExitStatus(t *testing.T) {
	tmp := t.TempDir()
	fifo := filepath.Join(tmp, "fifo.jsonl")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	// a gzip bomb: 1 GiB of zeros (no newline) in about 1 MB, members
	// concatenated; and a 100 MB line (sparse file)
	var one bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&one, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	bomb := filepath.Join(tmp, "bomb.jsonl.gz")
	os.WriteFile(bomb, bytes.Repeat(one.Bytes(), 1024), 0o644)
	long := filepath.Join(tmp, "long.jsonl")
	f, _ := os.Create(long)
	f.WriteString(`{"prompt": "`)
	f.Truncate(100 << 20)
	f.Close()
	cases := []struct{ name, old, repl, want string }{
		{"gzip bomb", `dataset = "synthetic"`, `dataset = "` + bomb + `"`, bomb + ":1: line longer than max_line_bytes = 8388608"},
		{"100 MB line", `dataset = "synthetic"`, `dataset = "` + long + `"`, long + ":1: line longer than max_line_bytes = 8388608"},
		{"NUL in name", `name = "test"`, "name = \"a\\u0000b\"", "g.toml:2: name: expected no control characters"},
		{"huge max_prompt_tokens", "max_prompt_tokens = 8", "max_prompt_tokens = 1000000000", "g.toml:7: data.max_prompt_tokens: expected ≤ 8192, got 1000000000"},
		{"duplicate seed", "seed = [1, 2]", "seed = [1, 1]", "g.toml:33: grid.seed[1]: duplicate"},
		{"FIFO dataset", `dataset = "synthetic"`, `dataset = "` + fifo + `"`, "g.toml:5: data.dataset: expected \"synthetic\" or an existing data file (a regular file)"},
		{"dev zero dataset", `dataset = "synthetic"`, `dataset = "/dev/zero"`, "g.toml:5: data.dataset:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			g := testGrid(t, dir, c.old, c.repl)
			out := filepath.Join(dir, "out")
			cmd, stderr := sweepCmd(g, "-out", out)
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if code := exitCode(err); code != 2 {
					t.Errorf("exit %d, want 2; stderr %s", code, stderr)
				}
				if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > 400<<10 { // KiB
					t.Errorf("peak RSS %d MB on bad input", ru.Maxrss>>10)
				} else if ok {
					t.Logf("peak RSS %d MB", ru.Maxrss>>10)
				}
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the command did not end")
			}
			if msg := stderr.String(); !strings.Contains(msg, c.want) || strings.Count(msg, "\n") != 1 {
				t.Errorf("stderr %q, want one line containing %q", msg, c.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("wrote %s", out)
			}
		})
	}
}

// TestSIGTERMDuringSetup: SIGTERM ends a sweep that is still validating
// or loading data (nothing to checkpoint yet) at once, with exit status 3.
func TestSIGTERMDuringSetup(t *testing.T) {
	dir := t.TempDir()
	// a large synthetic dataset: generating and tokenizing it takes a while
	g := testGrid(t, dir, "train_pairs = 48", "train_pairs = 1000000")
	cmd, stderr := sweepCmd(g, "-out", filepath.Join(dir, "out"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGTERM)
	t0 := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitCode(err); code != 3 {
			t.Errorf("exit %d after SIGTERM, want 3; stderr %s", code, stderr)
		}
		if d := time.Since(t0); d > 5*time.Second {
			t.Errorf("took %v to end after SIGTERM", d)
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("SIGTERM did not end the sweep")
	}
	if !strings.Contains(stderr.String(), "interrupted before any cell started") {
		t.Errorf("stderr %q", stderr.String())
	}
}
