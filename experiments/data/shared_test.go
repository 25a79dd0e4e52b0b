package data

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gatedpo/internal/sharedtest"
)

// sharedData returns ../shared/data next to the module root (found by
// walking up to go.mod), or skips the test when it is absent.
func sharedData(t testing.TB) string {
	t.Helper()
	return sharedtest.Path(t, "data")
}

// sharedFile is one file of ../shared/data with the counts observed when
// the tests were written (pinned) — the test also recomputes them.
type sharedFile struct {
	rel     string
	format  string
	records int
	pairs   int
	skipped map[string]int
}

var sharedFiles = []sharedFile{
	{"hh-probe/train.jsonl", FormatProbe, 500, 500, map[string]int{}},
	{"ultrafeedback/train.jsonl", FormatPrompt, 1000, 994, map[string]int{SkipChosenRejected: 4, SkipEmptyChosen: 1, SkipEmptyRejected: 1}},
	{"hh-rlhf/harmless-base-test.jsonl.gz", FormatHH, 2312, 2312, map[string]int{}},
	{"hh-rlhf/helpful-base-test.jsonl.gz", FormatHH, 2354, 2352, map[string]int{SkipChosenRejected: 2}},
}

// scanCounts recomputes the skip counts with a deliberately simple,
// independent reading of the file: generic JSON maps, the README rule
// written out again, and the HH prompt found by string search.
func scanCounts(t *testing.T, path string) (records int, skipped map[string]int) {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var r = bufio.NewReader(f)
	var sc *bufio.Scanner
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		sc = bufio.NewScanner(zr)
	} else {
		sc = bufio.NewScanner(r)
	}
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	skipped = map[string]int{}
	for sc.Scan() {
		var m map[string]any
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		records++
		c, r := m["chosen"].(string), m["rejected"].(string)
		p, hasPrompt := m["prompt"].(string)
		if !hasPrompt {
			i := 0
			for i < len(c) && i < len(r) && c[i] == r[i] {
				i++
			}
			k := strings.LastIndex(c[:i], "\n\nAssistant:")
			if k >= 0 {
				p = c[:k+len("\n\nAssistant:")]
				c, r = c[len(p):], r[len(p):]
			}
		}
		switch {
		case len(p) == 0:
			skipped["empty_prompt"]++
		case len(c) == 0:
			skipped["empty_chosen"]++
		case len(r) == 0:
			skipped["empty_rejected"]++
		case c == r:
			skipped["chosen_equals_rejected"]++
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return records, skipped
}

// loaded caches the shared datasets across tests (loading is ~0.3 s each).
var loaded sync.Map

func loadShared(t *testing.T, dir string, sf sharedFile) *Dataset {
	t.Helper()
	if ds, ok := loaded.Load(sf.rel); ok {
		return ds.(*Dataset)
	}
	ds, err := Load(filepath.Join(dir, sf.rel), LoadOptions{EvalFraction: 0.2, Seed: 1})
	if err != nil {
		t.Fatalf("Load(%s): %v", sf.rel, err)
	}
	loaded.Store(sf.rel, ds)
	return ds
}

func TestSharedDataCounts(t *testing.T) {
	dir := sharedData(t)
	for _, sf := range sharedFiles {
		t.Run(sf.rel, func(t *testing.T) {
			start := time.Now()
			ds := loadShared(t, dir, sf)
			t.Logf("%s: %d pairs (%d train, %d eval), skipped %v, probe fields %v, loaded in %v",
				sf.rel, ds.Pairs(), len(ds.Train), len(ds.Eval), ds.Skipped, ds.ProbeFields, time.Since(start))
			records, skipped := scanCounts(t, filepath.Join(dir, sf.rel))
			if records != sf.records {
				t.Errorf("independent scan: %d records, pinned %d", records, sf.records)
			}
			if got, want := ds.Pairs(), records-sumCounts(skipped); got != want {
				t.Errorf("pairs = %d, independent scan says %d", got, want)
			}
			if ds.Pairs() != sf.pairs {
				t.Errorf("pairs = %d, pinned %d", ds.Pairs(), sf.pairs)
			}
			for _, m := range []map[string]int{skipped, sf.skipped} {
				for k, v := range m {
					if ds.Skipped[k] != v {
						t.Errorf("skipped[%s] = %d, want %d", k, ds.Skipped[k], v)
					}
				}
				if sumCounts(ds.Skipped) != sumCounts(m) {
					t.Errorf("skipped = %v, want %v", ds.Skipped, m)
				}
			}
			if ds.Format != sf.format {
				t.Errorf("format = %q, want %q", ds.Format, sf.format)
			}
			if want := int(float64(ds.Pairs())*0.2 + 0.5); len(ds.Eval) != want {
				t.Errorf("eval = %d pairs, want round(0.2·%d) = %d", len(ds.Eval), ds.Pairs(), want)
			}
		})
	}
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
