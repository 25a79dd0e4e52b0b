package main

import (
	"bytes"
	"strings"
	"testing"

	"gatedpo/experiments/data"
	"gatedpo/experiments/data/hftok"
)

// TestSubcommandHelp: every subcommand's -h prints its usage on stdout
// with status 0, and a bad flag is one line on stderr with status 2.
func TestSubcommandHelp(t *testing.T) {
	runs := map[string]func(args []string, stdout, stderr *bytes.Buffer) int{
		"lossgrad": func(a []string, o, e *bytes.Buffer) int { return lossgrad(a, o, e) },
		"data":     func(a []string, o, e *bytes.Buffer) int { return data.Inspect(a, o, e) },
		"tokenize": func(a []string, o, e *bytes.Buffer) int { return hftok.Inspect(a, strings.NewReader(""), o, e) },
	}
	for name, run := range runs {
		var o, e bytes.Buffer
		if rc := run([]string{"-h"}, &o, &e); rc != 0 || !strings.Contains(o.String(), "-") || e.Len() != 0 {
			t.Errorf("%s -h: exit %d, stdout %d bytes, stderr %q", name, rc, o.Len(), e.String())
		}
		o.Reset()
		e.Reset()
		if rc := run([]string{"-no-such-flag"}, &o, &e); rc != 2 || strings.Count(e.String(), "\n") != 1 {
			t.Errorf("%s -no-such-flag: exit %d, stderr %q (want one line)", name, rc, e.String())
		}
	}
}
