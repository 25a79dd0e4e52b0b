package data

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadLineBoundary: a line of exactly max bytes (with or without its
// newline) is read; one byte more is refused.
func TestReadLineBoundary(t *testing.T) {
	for _, c := range []struct {
		text string
		max  int
		ok   bool
	}{
		{"abcd\n", 4, true}, {"abcd", 4, true}, {"abcde\n", 4, false}, {"abcde", 4, false},
		{strings.Repeat("x", 100000) + "\n", 100000, true}, {strings.Repeat("x", 100001) + "\n", 100000, false},
	} {
		rd := bufio.NewReaderSize(strings.NewReader(c.text), 16)
		line, err := readLine(rd, c.max)
		if c.ok && (err != nil && err.Error() != "EOF" || strings.TrimSuffix(string(line), "\n") != strings.TrimSuffix(c.text, "\n")) {
			t.Errorf("%d bytes, max %d: %v", len(c.text), c.max, err)
		}
		if !c.ok && err != errLineTooLong {
			t.Errorf("%d bytes, max %d: err %v, want too long", len(c.text), c.max, err)
		}
	}
}

// TestLoadLimitsRaised: the limits are options: a file refused with the
// defaults loads once they are raised.
func TestLoadLimitsRaised(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.jsonl")
	line := `{"prompt": "` + strings.Repeat("p", 200) + `", "chosen": "a", "rejected": "b"}` + "\n"
	os.WriteFile(p, []byte(line+line), 0o644)
	if _, err := Load(p, LoadOptions{MaxLineBytes: 100}); err == nil || !strings.Contains(err.Error(), p+":1: line longer than max_line_bytes = 100") {
		t.Errorf("max_line_bytes 100: %v", err)
	}
	if _, err := Load(p, LoadOptions{MaxDataBytes: 300}); err == nil || !strings.Contains(err.Error(), "more than max_data_bytes = 300") {
		t.Errorf("max_data_bytes 300: %v", err)
	}
	ds, err := Load(p, LoadOptions{MaxLineBytes: 1000, MaxDataBytes: 1000})
	if err != nil || ds.Pairs() != 2 {
		t.Errorf("raised limits: %v", err)
	}
}
