package data

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func runInspect(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Inspect(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestInspectSharedJSON(t *testing.T) {
	dir := sharedData(t)
	for _, sf := range sharedFiles {
		code, out, errs := runInspect("-dataset", filepath.Join(dir, sf.rel), "-json")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", sf.rel, code, errs)
		}
		var rep struct {
			Pairs       int            `json:"pairs"`
			Skipped     map[string]int `json:"skipped"`
			Truncated   int            `json:"truncated"`
			ProbeFields []string       `json:"probe_fields"`
		}
		if strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Fatalf("%s: -json printed more than one line", sf.rel)
		}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%s: %v", sf.rel, err)
		}
		if rep.Pairs != sf.pairs || sumCounts(rep.Skipped) != sumCounts(sf.skipped) || len(rep.ProbeFields) < 2 {
			t.Errorf("%s: %+v, want %d pairs, skipped %v", sf.rel, rep, sf.pairs, sf.skipped)
		}
		for k, v := range sf.skipped {
			if rep.Skipped[k] != v {
				t.Errorf("%s: skipped[%s] = %d, want %d", sf.rel, k, rep.Skipped[k], v)
			}
		}
		t.Logf("%s: pairs %d, skipped %v, truncated %d (byte, 96/96)", sf.rel, rep.Pairs, rep.Skipped, rep.Truncated)
	}
}

func TestInspectText(t *testing.T) {
	code, out, errs := runInspect("-dataset", "synthetic", "-tokenizer", "bpe", "-vocab-size", "300")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"pairs      500 (train 400, eval 100)", "skipped    none", "bpe-300", "truncated  0 pairs", "random_nonhum (500)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	export := filepath.Join(t.TempDir(), "syn.jsonl")
	if code, _, errs := runInspect("-dataset", "synthetic", "-synthetic-train", "30", "-synthetic-eval", "-1", "-json", "-export", export); code != 0 {
		t.Fatalf("export: exit %d: %s", code, errs)
	}
	ds, err := Load(export, LoadOptions{})
	if err != nil || ds.Pairs() != 30 || !reflect.DeepEqual(ds.ProbeFields, AllProbeFields) {
		t.Fatalf("exported file: %v, %+v", err, ds)
	}
}

func TestInspectBadInput(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	badLine := filepath.Join(dir, "bad.jsonl")
	os.WriteFile(badLine, []byte(goodLine+"\n{\"prompt\": 1}\n"), 0o644)
	cases := [][]string{
		{},
		{"-dataset", filepath.Join(dir, "missing.jsonl")},
		{"-dataset", dir},
		{"-dataset", empty},
		{"-dataset", badLine},
		{"-dataset", "synthetic", "-tokenizer", "wordpiece"},
		{"-dataset", "synthetic", "-format", "xml"},
		{"-dataset", badLine, "-format", "yaml"},
		{"-dataset", "synthetic", "-tokenizer", "bpe", "-vocab-size", "10"},
		{"-no-such-flag"},
	}
	for _, args := range cases {
		code, out, errs := runInspect(args...)
		if code != 2 || out != "" || strings.Count(strings.TrimSpace(errs), "\n") > 0 && args[0] != "-no-such-flag" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and a one-line error", args, code, out, errs)
		}
	}
	if _, _, errs := runInspect("-dataset", badLine); !strings.Contains(errs, badLine+":2: ") {
		t.Errorf("error %q does not name file:line", errs)
	}
}
