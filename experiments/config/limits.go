package config

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// Limits of a grid file. Every size a grid sets is checked against a
// stated limit before anything is allocated or written; a value beyond it
// is bad input: "file:line: key: expected ≤ N, got M" (exit status 2). The
// bounds of the keys themselves are in the schema (schema.go: max tags,
// syntheticLimits).
const (
	MaxGridFileBytes = 16 << 20 // a grid file
	MaxGridLineBytes = 64 << 10 // one line of a grid file
	MaxStringBytes   = 4096     // any string value of a grid (a path, a name)
	MaxKeyBytes      = 128      // any key of a grid
	MaxNameBytes     = 128      // the grid's name (a directory name)
	MaxCells         = 100000   // cells of one grid
)

// clip shortens a value for an error message (a 50 MB name must not
// become a 50 MB message) and makes control characters visible.
func clip(s string) string {
	const max = 60
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + fmt.Sprintf("… (%d bytes)", len(s))
	}
	return strconv.Quote(s)
}

// CheckText checks one string of a grid: valid UTF-8, no control
// characters (NUL included), at most max bytes.
func CheckText(s string, max int) string {
	switch {
	case len(s) > max:
		return fmt.Sprintf("expected at most %d bytes, got %s", max, clip(s))
	case !utf8.ValidString(s):
		return fmt.Sprintf("expected valid UTF-8, got %s", clip(s))
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return fmt.Sprintf("expected no control characters (found %U), got %s", r, clip(s))
		}
	}
	return ""
}

// checkStrings walks the decoded TOML: every key is at most MaxKeyBytes
// and every string value at most MaxStringBytes, valid UTF-8 without
// control characters. It runs before anything else reads the values, so
// later messages never quote a huge or binary string.
func (p *tableParser) checkStrings(prefix string, v any) error {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if msg := CheckText(k, MaxKeyBytes); msg != "" {
				return p.errf(prefix, "key %s", msg)
			}
			if err := p.checkStrings(joinKey(prefix, k), x[k]); err != nil {
				return err
			}
		}
	case []map[string]any:
		for i, m := range x {
			if err := p.checkStrings(fmt.Sprintf("%s[%d]", prefix, i), m); err != nil {
				return err
			}
		}
	case []any:
		for i, it := range x {
			if err := p.checkStrings(fmt.Sprintf("%s[%d]", prefix, i), it); err != nil {
				return err
			}
		}
	case string:
		if msg := CheckText(x, MaxStringBytes); msg != "" {
			return p.errf(prefix, "%s", msg)
		}
	}
	return nil
}

// checkName checks the grid's name: it names the output directory.
func (p *tableParser) checkName(name string) error {
	if msg := CheckText(name, MaxNameBytes); msg != "" {
		return p.errf("name", "%s", msg)
	}
	if name == "" || strings.ContainsAny(name, `/\`) || name == "." || name == ".." {
		return p.errf("name", "expected a non-empty name without slashes, got %s", clip(name))
	}
	return nil
}

// checkDuplicates refuses axis values given twice: they would expand to
// the same cell twice.
func (p *tableParser) checkDuplicates(g *Grid, raw map[string]any) error {
	dupStr := func(key string, vals []string, listed bool) error {
		seen := map[string]int{}
		for i, v := range vals {
			if j, ok := seen[v]; ok {
				k := key
				if listed {
					k = fmt.Sprintf("%s[%d]", key, i)
				}
				return p.errf(k, "duplicate of %s[%d] (%s): each value of an axis must be different (the same cell would run twice)", key, j, clip(v))
			}
			seen[v] = i
		}
		return nil
	}
	isList := func(table, key string) bool {
		t, _ := raw[table].(map[string]any)
		_, ok := t[key].([]any)
		return ok
	}
	if err := dupStr("data.dataset", g.Data.Datasets, isList("data", "dataset")); err != nil {
		return err
	}
	if err := dupStr("grid.arch", g.Arch, isList("grid", "arch")); err != nil {
		return err
	}
	if err := dupStr("grid.pipeline", g.Pipeline, isList("grid", "pipeline")); err != nil {
		return err
	}
	seeds := make([]string, len(g.Seed))
	for i, s := range g.Seed {
		seeds[i] = strconv.Itoa(s)
	}
	if err := dupStr("grid.seed", seeds, isList("grid", "seed")); err != nil {
		return err
	}
	for i := range g.Objectives {
		for j := 0; j < i; j++ {
			if reflect.DeepEqual(g.Objectives[i], g.Objectives[j]) {
				return p.errf(fmt.Sprintf("grid.objective[%d]", i), "duplicate of grid.objective[%d] (%s): the same cells would run twice", j, g.Objectives[i].Name)
			}
		}
	}
	for i := range g.Gates {
		for j := 0; j < i; j++ {
			if g.Gates[i] == g.Gates[j] {
				return p.errf("grid.gate", "two entries give the same gate (kind %s, tau %v, level %s): the same cells would run twice", g.Gates[i].Kind, g.Gates[i].Tau, g.Gates[i].Level)
			}
		}
	}
	n := len(g.Data.Datasets) * len(g.Arch) * len(g.Pipeline) * len(g.Objectives) * len(g.Gates) * len(g.Seed)
	if n > MaxCells {
		return p.errf("grid", "expected ≤ %d cells, the axes expand to %d", MaxCells, n)
	}
	return nil
}

// readGridFile reads a grid file: a regular file of at most
// MaxGridFileBytes (a FIFO or a device is refused without blocking).
func readGridFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	if !st.Mode().IsRegular() {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf("expected a regular grid file, got %s", st.Mode().Type())}
	}
	// a long line is named by its line number, so the first 4·MaxGridFileBytes
	// are read (a 50 MB name is "file:1: …", not just "too big")
	b, err := io.ReadAll(io.LimitReader(f, 4*MaxGridFileBytes))
	if err != nil {
		return nil, &ConfigError{File: path, Msg: err.Error()}
	}
	if err := checkGridLines(path, b); err != nil {
		return nil, err
	}
	if st.Size() > MaxGridFileBytes || len(b) > MaxGridFileBytes {
		return nil, &ConfigError{File: path, Msg: fmt.Sprintf("expected a grid file of ≤ %d bytes, got %d bytes", MaxGridFileBytes, max(st.Size(), int64(len(b))))}
	}
	return b, nil
}

// checkGridLines refuses a line longer than MaxGridLineBytes, naming its
// line, before the TOML decoder sees it.
func checkGridLines(file string, src []byte) error {
	line := 1
	for len(src) > 0 {
		i := bytes.IndexByte(src, '\n')
		n := i
		if i < 0 {
			n = len(src)
		}
		if n > MaxGridLineBytes {
			return &ConfigError{File: file, Line: line, Msg: fmt.Sprintf("expected lines of at most %d bytes, got %d bytes (a grid value is at most %d bytes)", MaxGridLineBytes, n, MaxStringBytes)}
		}
		if i < 0 {
			break
		}
		src = src[i+1:]
		line++
	}
	return nil
}

// checkDataFile checks that a dataset or checkpoint path of a grid names a
// regular file (a FIFO or /dev/zero would block or never end).
func (p *tableParser) checkDataFile(key, written, path, what string) error {
	st, err := os.Stat(path)
	if err != nil {
		return p.errf(key, "expected %s, got %s (no such file: %s)", what, clip(written), clip(path))
	}
	if !st.Mode().IsRegular() {
		kind := "a directory"
		if !st.IsDir() {
			kind = st.Mode().Type().String() + " (not a regular file)"
		}
		return p.errf(key, "expected %s, got %s: %s", what, clip(written), kind)
	}
	return nil
}
