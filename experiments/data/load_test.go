package data

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodLine = `{"prompt": "p", "chosen": "c", "rejected": "r"}`

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content string
		path          string // overrides the temp file
		wantLine      int    // 0: the error names the path only
		want          string // substring of the error
		reason        string // skip reason with OnBadRecord = "skip" ("" = not skippable)
	}{
		{name: "truncated line", content: goodLine + "\n" + `{"prompt": "p", "chos`, wantLine: 2, want: "malformed JSON", reason: SkipMalformedJSON},
		{name: "non-object line", content: goodLine + "\n[1, 2]\n", wantLine: 2, want: "got a list, expected a JSON object", reason: SkipWrongType},
		{name: "string line", content: "\"hello\"\n" + goodLine, wantLine: 1, want: "got a string, expected a JSON object", reason: SkipWrongType},
		{name: "garbage line", content: goodLine + "\n\nnot json\n", wantLine: 3, want: "malformed JSON", reason: SkipMalformedJSON},
		{name: "missing field", content: goodLine + "\n" + `{"prompt": "p", "chosen": "c"}`, wantLine: 2, want: `missing field "rejected"`, reason: SkipMissingField},
		{name: "wrong type", content: goodLine + "\n" + `{"prompt": "p", "chosen": 3, "rejected": "r"}`, wantLine: 2, want: `field "chosen": got a number, expected a string`, reason: SkipWrongType},
		{name: "wrong probe type", content: `{"prompt": "p", "chosen": "c", "rejected": "r", "irr_hum": null}`, wantLine: 1, want: `field "irr_hum": got null, expected a string`, reason: SkipWrongType},
		{name: "invalid UTF-8", content: goodLine + "\n" + "{\"prompt\": \"p\xff\", \"chosen\": \"c\", \"rejected\": \"r\"}", wantLine: 2, want: "invalid UTF-8 at byte 14", reason: SkipInvalidUTF8},
		{name: "bad message", content: `{"chosen": [{"role": "user"}], "rejected": []}`, wantLine: 1, want: `chosen[0]: missing "content"`, reason: SkipMissingField},
		{name: "undetectable", content: `{"text": "x"}`, wantLine: 1, want: `missing field "chosen"`, reason: SkipMissingField},
		{name: "empty file", content: "", want: "empty file"},
		{name: "blank file", content: "\n  \n", want: "empty file"},
		{name: "missing file", path: filepath.Join(dir, "nope.jsonl"), want: "no such file"},
		{name: "directory", path: dir, want: "is a directory"},
		{name: "bad gzip", content: "\x1f\x8b garbage", want: "gzip"},
	}
	oneLine := regexp.MustCompile(`^[^\n]+$`)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := c.path
			if path == "" {
				path = writeTemp(t, "in.jsonl", c.content)
			}
			_, err := Load(path, LoadOptions{})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			prefix := path + ": "
			if c.wantLine > 0 {
				prefix = path + ":" + itoa(c.wantLine) + ": "
			}
			if !strings.HasPrefix(msg, prefix) || !strings.Contains(msg, c.want) || !oneLine.MatchString(msg) {
				t.Errorf("error %q: want one line starting %q containing %q", msg, prefix, c.want)
			}
			if c.reason == "" {
				return
			}
			ds, err := Load(path, LoadOptions{OnBadRecord: "skip"})
			if err != nil {
				t.Fatalf("skip mode: %v", err)
			}
			if ds.Skipped[c.reason] != 1 {
				t.Errorf("skip mode: skipped = %v, want %s: 1", ds.Skipped, c.reason)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestLoadOptionsErrors(t *testing.T) {
	path := writeTemp(t, "a.jsonl", goodLine)
	for _, opt := range []LoadOptions{{Format: "csv"}, {OnBadRecord: "ignore"}, {EvalFraction: 1}, {EvalFraction: -0.1}} {
		if _, err := Load(path, opt); err == nil {
			t.Errorf("%+v: no error", opt)
		}
	}
}

func TestSkipRule(t *testing.T) {
	content := strings.Join([]string{
		`{"prompt": "p", "chosen": "c", "rejected": "r"}`,
		`{"prompt": "", "chosen": "c", "rejected": "r"}`,
		`{"prompt": "p", "chosen": "", "rejected": "r"}`,
		`{"prompt": "p", "chosen": "c", "rejected": ""}`,
		`{"prompt": "p", "chosen": "same", "rejected": "same"}`,
		`{"prompt": "p", "chosen": "", "rejected": ""}`,
		`{"prompt": " ", "chosen": " ", "rejected": "  "}`,
		`{"prompt": "p", "chosen": "c", "rejected": "r", "irr_hum": "", "irr_test": "t", "chosen_selfr": "s", "source": 7}`,
	}, "\n")
	ds, err := Load(writeTemp(t, "s.jsonl", content), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{SkipEmptyPrompt: 1, SkipEmptyChosen: 2, SkipEmptyRejected: 1, SkipChosenRejected: 1}
	if !reflect.DeepEqual(ds.Skipped, want) {
		t.Errorf("skipped = %v, want %v", ds.Skipped, want)
	}
	if ds.Pairs() != 3 || ds.Train[1].Chosen != " " {
		t.Fatalf("kept %d pairs (%+v), want 3 with the whitespace-only one", ds.Pairs(), ds.Train)
	}
	last := ds.Train[2]
	if !reflect.DeepEqual(last.Probes, map[string]string{"irr_test": "t"}) {
		t.Errorf("probes = %v, want only the non-empty irr_test", last.Probes)
	}
	if last.Extra["chosen_selfr"] != "s" || last.Extra["source"] != 7.0 {
		t.Errorf("extra = %v, want chosen_selfr and source kept", last.Extra)
	}
	if ds.Format != FormatProbe || !reflect.DeepEqual(ds.ProbeFields, []string{"chosen", "rejected", "irr_test"}) {
		t.Errorf("format %q probe fields %v", ds.Format, ds.ProbeFields)
	}
	// Explicit "prompt" keeps probe fields in Extra.
	ds, err = Load(writeTemp(t, "s.jsonl", content), LoadOptions{Format: FormatPrompt})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Train[2].Probes != nil || ds.Train[2].Extra["irr_test"] != "t" || len(ds.ProbeFields) != 2 {
		t.Errorf("format prompt: probes %v extra %v fields %v", ds.Train[2].Probes, ds.Train[2].Extra, ds.ProbeFields)
	}
}

func TestHHSplit(t *testing.T) {
	cases := []struct{ chosen, rejected, prompt, c, r string }{
		{"\n\nHuman: hi\n\nAssistant: hello", "\n\nHuman: hi\n\nAssistant: go away",
			"\n\nHuman: hi\n\nAssistant:", " hello", " go away"},
		// Common text after the marker stays in the responses.
		{"\n\nHuman: q\n\nAssistant: I think so", "\n\nHuman: q\n\nAssistant: I do not",
			"\n\nHuman: q\n\nAssistant:", " I think so", " I do not"},
		// Several turns: the prompt ends at the LAST shared marker.
		{"\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d", "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: e",
			"\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant:", " d", " e"},
		// Dialogues that differ before the last turn: responses span turns.
		{"\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d", "\n\nHuman: a\n\nAssistant: x",
			"\n\nHuman: a\n\nAssistant:", " b\n\nHuman: c\n\nAssistant: d", " x"},
		// No shared marker: empty prompt (skipped).
		{"\n\nHuman: a", "\n\nHuman: b", "", "\n\nHuman: a", "\n\nHuman: b"},
	}
	for _, c := range cases {
		p, ch, rj := SplitHH(c.chosen, c.rejected)
		if p != c.prompt || ch != c.c || rj != c.r {
			t.Errorf("SplitHH(%q, %q) = %q, %q, %q; want %q, %q, %q", c.chosen, c.rejected, p, ch, rj, c.prompt, c.c, c.r)
		}
	}
}

// TestHHSharedExtraction checks the prompt extraction on real records:
// prompt + response rebuilds each dialogue, the prompt ends with the last
// "\n\nAssistant:" before the responses differ, and three records are
// pinned by their first and last characters.
func TestHHSharedExtraction(t *testing.T) {
	dir := sharedData(t)
	ds := loadShared(t, dir, sharedFiles[3]) // helpful-base-test
	all := append(append([]Pair{}, ds.Train...), ds.Eval...)
	for i, p := range all {
		if !strings.HasSuffix(p.Prompt, "\n\nAssistant:") || !strings.HasPrefix(p.Prompt, "\n\nHuman:") {
			t.Fatalf("pair %d: prompt %.40q…%.40q does not run from \\n\\nHuman: to \\n\\nAssistant:", i, p.Prompt, tail(p.Prompt, 40))
		}
	}
	// Pin the first three records of each HH file (file order is kept in a
	// load with no eval split): the end of the prompt, the start of each
	// response and the number of Assistant turns in the prompt.
	type want struct {
		promptTail, chosenHead, rejectedHead string
		turns                                int
	}
	pinned := map[string][]want{
		sharedFiles[3].rel: {
			{"official food of thanksgiving?\n\nAssistant:", " To be honest, I don’t know", " I know that the American Indi", 1},
			{"hat are some common species then?\n\nAssistant:", " About 150 species of butterfl", " Are you interested in just th", 3},
			{"would love to learn about wolves.\n\nAssistant:", " Sure! Here’s some fun facts: ", " I’ll share an article with yo", 2},
		},
		sharedFiles[2].rel: {
			{"not have anything to do with pens\n\nAssistant:", " No, sorry!  All of these invo", " There are lots of funny thing", 3},
			{"unk and consume a lot of alcohol.\n\nAssistant:", " Sounds like alcohol is someth", " I’m glad that you’re enjoying", 3},
			{"d?\n\nHuman: i guess a specific one\n\nAssistant:", " I’d recommend you pick a pers", " OK, let’s see. I don’t think ", 2},
		},
	}
	var full *Dataset
	for rel, wants := range pinned {
		ds, err := Load(filepath.Join(dir, rel), LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rel == sharedFiles[3].rel {
			full = ds
		}
		for i, w := range wants {
			p := ds.Train[i]
			if !strings.HasSuffix(p.Prompt, w.promptTail) || !strings.HasPrefix(p.Chosen, w.chosenHead) ||
				!strings.HasPrefix(p.Rejected, w.rejectedHead) || strings.Count(p.Prompt, "\n\nAssistant:") != w.turns {
				t.Errorf("%s record %d: prompt …%q (%d turns) chosen %.40q rejected %.40q", rel, i+1,
					tail(p.Prompt, 50), strings.Count(p.Prompt, "\n\nAssistant:"), p.Chosen, p.Rejected)
			}
		}
	}
	// Multi-turn records: the prompt contains earlier Assistant turns.
	multi := 0
	for _, p := range full.Train {
		if strings.Count(p.Prompt, "\n\nAssistant:") > 1 {
			multi++
		}
	}
	if multi == 0 {
		t.Error("no multi-turn prompt found")
	}
	t.Logf("helpful-base-test: %d of %d prompts are multi-turn", multi, len(full.Train))
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

func TestGzipTransparent(t *testing.T) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte(`{"chosen": "\n\nHuman: x\n\nAssistant: a", "rejected": "\n\nHuman: x\n\nAssistant: b"}` + "\n"))
	zw.Close()
	ds, err := Load(writeTemp(t, "plain-name.jsonl", buf.String()), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Format != FormatHH || ds.Train[0].Prompt != "\n\nHuman: x\n\nAssistant:" || ds.Train[0].Chosen != " a" {
		t.Errorf("got %+v", ds)
	}
}

func TestConversational(t *testing.T) {
	content := strings.Join([]string{
		// implicit prompt
		`{"chosen": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "rejected": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "bye"}], "id": 1}`,
		// explicit prompt
		`{"prompt": [{"role": "system", "content": "be nice"}, {"role": "user", "content": "q"}], "chosen": [{"role": "assistant", "content": "yes"}], "rejected": [{"role": "assistant", "content": "no"}]}`,
		// identical → skipped
		`{"chosen": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}], "rejected": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}`,
		// no assistant turn → empty prompt, skipped
		`{"chosen": [{"role": "user", "content": "q"}], "rejected": [{"role": "user", "content": "r"}]}`,
		// HuggingFaceH4/ultrafeedback_binarized: a prompt string and whole conversations
		`{"prompt": "w", "chosen": [{"role": "user", "content": "w"}, {"role": "assistant", "content": "good"}], "rejected": [{"role": "user", "content": "w"}, {"role": "assistant", "content": "bad"}]}`,
		// string prompt with assistant responses
		`{"prompt": "s", "chosen": [{"role": "assistant", "content": "up"}], "rejected": [{"role": "assistant", "content": "down"}]}`,
	}, "\n")
	ds, err := Load(writeTemp(t, "c.jsonl", content), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ds.Format != FormatConversational {
		t.Fatalf("format %q", ds.Format)
	}
	user := func(c string) Message { return Message{"user", c} }
	asst := func(c string) Message { return Message{"assistant", c} }
	want := []Pair{
		{Prompt: "\n\nHuman: hi\n\nAssistant:", Chosen: " hello", Rejected: " bye", Extra: map[string]any{"id": 1.0},
			Messages: &Conversation{Prompt: []Message{user("hi")}, Chosen: []Message{asst("hello")}, Rejected: []Message{asst("bye")}}},
		{Prompt: "\n\nSystem: be nice\n\nHuman: q\n\nAssistant:", Chosen: " yes", Rejected: " no",
			Messages: &Conversation{Prompt: []Message{{"system", "be nice"}, user("q")}, Chosen: []Message{asst("yes")}, Rejected: []Message{asst("no")}}},
		{Prompt: "\n\nHuman: w\n\nAssistant:", Chosen: " good", Rejected: " bad", Extra: map[string]any{"prompt": "w"},
			Messages: &Conversation{Prompt: []Message{user("w")}, Chosen: []Message{asst("good")}, Rejected: []Message{asst("bad")}}},
		{Prompt: "s", Chosen: " up", Rejected: " down",
			Messages: &Conversation{Prompt: []Message{user("s")}, Chosen: []Message{asst("up")}, Rejected: []Message{asst("down")}}},
	}
	if !reflect.DeepEqual(ds.Train, want) {
		t.Errorf("pairs = %#v\nwant %#v", ds.Train, want)
	}
	if ds.Skipped[SkipChosenRejected] != 1 || ds.Skipped[SkipEmptyPrompt] != 1 {
		t.Errorf("skipped = %v", ds.Skipped)
	}
}

func TestSplitField(t *testing.T) {
	content := `{"prompt": "p", "chosen": "c", "rejected": "r", "split": "train"}
{"prompt": "p", "chosen": "c2", "rejected": "r", "split": "test"}
{"prompt": "p", "chosen": "c3", "rejected": "r"}`
	ds, err := Load(writeTemp(t, "s.jsonl", content), LoadOptions{EvalFraction: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds.Train) != 2 || len(ds.Eval) != 1 || ds.Eval[0].Chosen != "c2" {
		t.Errorf("split field: train %d eval %d", len(ds.Train), len(ds.Eval))
	}
}

func TestEvalSplitDeterministic(t *testing.T) {
	var lines []string
	for i := 0; i < 50; i++ {
		lines = append(lines, `{"prompt": "p", "chosen": "c`+strings.Repeat("x", i)+`", "rejected": "r"}`)
	}
	path := writeTemp(t, "d.jsonl", strings.Join(lines, "\n"))
	a, _ := Load(path, LoadOptions{EvalFraction: 0.2, Seed: 7})
	b, _ := Load(path, LoadOptions{EvalFraction: 0.2, Seed: 7})
	c, _ := Load(path, LoadOptions{EvalFraction: 0.2, Seed: 8})
	if len(a.Eval) != 10 || !reflect.DeepEqual(a.Eval, b.Eval) {
		t.Fatalf("same seed: eval %d vs %d pairs or different", len(a.Eval), len(b.Eval))
	}
	if reflect.DeepEqual(a.Eval, c.Eval) {
		t.Error("different seeds gave the same split")
	}
	// File order is kept inside each split.
	for i := 1; i < len(a.Train); i++ {
		if len(a.Train[i].Chosen) <= len(a.Train[i-1].Chosen) {
			t.Fatal("train split is not in file order")
		}
	}
}

// FuzzParseJSONL: the loader must never panic, and every error must be a
// single line naming the path. Run by hand for 60 s:
//
//	go test ./experiments/data -run '^$' -fuzz FuzzParseJSONL -fuzztime 60s
func FuzzParseJSONL(f *testing.F) {
	for _, s := range []string{
		goodLine,
		goodLine + "\n" + goodLine,
		`{"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"}`,
		`{"chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "rejected": []}`,
		`{"prompt": [{"role": "user", "content": "a"}], "chosen": [{"role": "assistant", "content": "b"}], "rejected": "x"}`,
		`{"prompt": "p", "chosen": "c", "rejected": "r", "irr_hum": "", "split": "eval"}`,
		`{"prompt": "p", "chos`,
		"[1]\n\"s\"\nnull",
		"{\"prompt\": \"\xff\"}",
		"\n\n",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, skip bool) {
		opt := LoadOptions{EvalFraction: 0.3}
		if skip {
			opt.OnBadRecord = "skip"
		}
		ds, err := parseJSONL("fuzz.jsonl", body, opt)
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.HasPrefix(msg, "fuzz.jsonl") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		for _, p := range append(append([]Pair{}, ds.Train...), ds.Eval...) {
			if p.Prompt == "" || p.Chosen == "" || p.Rejected == "" || p.Chosen == p.Rejected {
				t.Fatalf("kept a pair the skip rule drops: %+v", p)
			}
			for k, v := range p.Probes {
				if v == "" || !isExtraProbeField(k) {
					t.Fatalf("bad probe %q = %q", k, v)
				}
			}
		}
	})
}
