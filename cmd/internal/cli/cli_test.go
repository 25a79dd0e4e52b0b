package cli

import (
	"bytes"
	"flag"
	"strings"
	"testing"
)

func newFS() *flag.FlagSet {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.Int("n", 1, "a number")
	Usage(fs, "usage: demo [-n N]")
	return fs
}

func TestHelpGoesToStdoutWithStatus0(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		var out, errb bytes.Buffer
		code, done := Parse(newFS(), []string{arg}, &out, &errb, "v")
		if !done || code != 0 {
			t.Fatalf("%s: code %d done %v, want 0 true", arg, code, done)
		}
		if !strings.Contains(out.String(), "usage: demo") || !strings.Contains(out.String(), "-n") {
			t.Errorf("%s: stdout %q lacks the usage and flags", arg, out.String())
		}
		if errb.Len() != 0 {
			t.Errorf("%s: stderr %q, want empty", arg, errb.String())
		}
	}
}

func TestBadFlagIsOneLineAndStatus2(t *testing.T) {
	var out, errb bytes.Buffer
	code, done := Parse(newFS(), []string{"-n", "x"}, &out, &errb, "v")
	if !done || code != 2 {
		t.Fatalf("code %d done %v, want 2 true", code, done)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q, want empty", out.String())
	}
	if msg := errb.String(); !strings.HasPrefix(msg, "demo: invalid value") || strings.Count(msg, "\n") != 1 {
		t.Errorf("stderr %q, want one line", msg)
	}
}

func TestVersionFlag(t *testing.T) {
	var out, errb bytes.Buffer
	v := VersionString("demo", "gonum (pure Go)")
	code, done := Parse(newFS(), []string{"-version"}, &out, &errb, v)
	if !done || code != 0 {
		t.Fatalf("code %d done %v", code, done)
	}
	for _, want := range []string{"gatedpo demo " + Version, "commit: ", "go: go", "blas: gonum (pure Go)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-version output %q lacks %q", out.String(), want)
		}
	}
}

func TestNoFlagsNotDone(t *testing.T) {
	var out, errb bytes.Buffer
	fs := newFS()
	code, done := Parse(fs, []string{"-n", "3", "rest"}, &out, &errb, "v")
	if done || code != 0 || fs.Arg(0) != "rest" {
		t.Fatalf("code %d done %v args %q", code, done, fs.Args())
	}
}
