package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestHelpAndVersion checks the CLI habits: -h prints the usage on stdout
// and exits 0, -version prints the version, a bad flag exits 2.
func TestHelpAndVersion(t *testing.T) {
	var so, se bytes.Buffer
	if rc := run([]string{"-h"}, &so, &se); rc != 0 || !strings.HasPrefix(so.String(), "usage: compare") || !strings.Contains(so.String(), "-in") || se.Len() != 0 {
		t.Errorf("-h: exit %d, stdout %q, stderr %q", rc, so.String(), se.String())
	}
	so.Reset()
	se.Reset()
	if rc := run([]string{"-version"}, &so, &se); rc != 0 || !strings.HasPrefix(so.String(), "gatedpo compare ") || !strings.Contains(so.String(), "commit: ") {
		t.Errorf("-version: exit %d, stdout %q", rc, so.String())
	}
	so.Reset()
	se.Reset()
	if rc := run([]string{"-no-such-flag"}, &so, &se); rc != 2 || !strings.HasPrefix(se.String(), "compare: flag provided but not defined") || so.Len() != 0 {
		t.Errorf("bad flag: exit %d, stderr %q", rc, se.String())
	}
}
