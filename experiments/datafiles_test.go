package experiments

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gatedpo/experiments/config"
	"gatedpo/experiments/data"
)

// writeDataFixture writes a small deterministic prompt-format JSONL file
// of n pairs (same bytes every run, so its content hash is fixed).
func writeDataFixture(t *testing.T, dir, name string, n, offset int) string {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "{\"prompt\":\"Q: what is item %d?\\nA:\",\"chosen\":\" item %d is a red stone.\",\"rejected\":\" item %d is unknown.\"}\n", i+offset, i+offset, i+offset)
	}
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// dataGrid is a one-cell grid on dataset file prefs.jsonl; extra is
// inserted into its [data] table.
func dataGrid(extra string) string {
	return `name = "datafiles"
[data]
dataset = "prefs.jsonl"
max_prompt_tokens = 16
max_response_tokens = 16
probe_examples = 4
` + extra + `[train]
sft_epochs = 1
pref_epochs = 1
batch_pairs = 2
[grid]
arch = ["transformer-xs"]
pipeline = ["baseline"]
seed = [1]
[[grid.objective]]
name = "dpo"
beta = 0.1
[[grid.gate]]
kind = "none"
`
}

// parseDataGrid parses and loads the datasets of src in dir.
func parseDataGrid(t *testing.T, dir, src string) (*Grid, error) {
	t.Helper()
	g, err := parseGrid("g.toml", dir, []byte(src))
	if err != nil {
		return nil, err
	}
	return g, g.LoadDatasets()
}

// TestCellIDsPinnedDataKeys: every [data] key added for data files
// (eval_dataset, the format vocabulary, append_eos, chat templates) at its
// default leaves the ids of existing cells unchanged. The ids were computed
// by the code before those keys existed.
func TestCellIDsPinnedDataKeys(t *testing.T) {
	dir := t.TempDir()
	writeDataFixture(t, dir, "prefs.jsonl", 24, 0)
	for _, c := range []struct {
		name, extra, id string
	}{
		{"file, format unset", "", "23232e080813"},
		{"file, format probe", "format = \"probe\"\n", "ade21183e4d6"},
		{"file, format hh", "format = \"hh\"\n", "1f6f422b5d6d"},
		{"file, bpe", "tokenizer = \"bpe\"\nvocab_size = 300\n", "e9f1755ca858"},
		{"file, byte, train_examples", "tokenizer = \"byte\"\ntrain_examples = 10\n", "9a9198f0d860"},
		// the new keys at their defaults, written out
		{"file, explicit defaults", "append_eos = false\nchat_template = \"model\"\nformat = \"auto\"\n", "23232e080813"},
	} {
		g, err := parseGrid("g.toml", dir, []byte(dataGrid(c.extra)))
		if err == nil && c.extra != "format = \"hh\"\n" {
			err = g.LoadDatasets()
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		cells := g.Cells()
		if len(cells) != 1 || cells[0].ID != c.id {
			t.Errorf("%s: id %s, was %s", c.name, cells[0].ID, c.id)
		}
	}
}

// TestEvalDatasetFile: eval_dataset takes the held-out probe set from its
// own file (relative to the grid file); the training file is trained on
// whole; the cell's data table names the eval file and its hash.
func TestEvalDatasetFile(t *testing.T) {
	dir := t.TempDir()
	writeDataFixture(t, dir, "prefs.jsonl", 24, 0)
	writeDataFixture(t, dir, "held/eval.jsonl", 6, 100)
	g, err := parseDataGrid(t, dir, dataGrid("eval_dataset = \"held/eval.jsonl\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	pd, err := prepareData(g, "prefs.jsonl", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pd.Train) != 24 {
		t.Errorf("%d training pairs, want all 24 of the training file", len(pd.Train))
	}
	held := pd.Probe["heldout"]
	if len(held) != 4 { // probe_examples = 4 of the file's 6
		t.Fatalf("%d held-out pairs, want 4", len(held))
	}
	if got, want := pd.Tok.Decode(held[0].Chosen), " item 100 is a r"; got != want { // 16 tokens
		t.Errorf("held-out pair 0 chosen %q, want %q (first pair of the eval file)", got, want)
	}
	cells := g.Cells()
	if cells[0].Config.Data["eval_dataset"] != "held/eval.jsonl" || cells[0].Config.Data["eval_dataset_hash"] == nil {
		t.Errorf("cell data table %v lacks eval_dataset and its hash", cells[0].Config.Data)
	}
	// without eval_dataset: a different cell, and the held-out set comes from the file
	g0, err := parseDataGrid(t, dir, dataGrid(""))
	if err != nil {
		t.Fatal(err)
	}
	if g0.Cells()[0].ID == cells[0].ID {
		t.Error("eval_dataset did not change the cell id")
	}
	pd0, err := prepareData(g0, "prefs.jsonl", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pd0.Train) != 20 || len(pd0.Probe["heldout"]) != 4 {
		t.Errorf("random split: %d train, %d held out, want 20 and 4", len(pd0.Train), len(pd0.Probe["heldout"]))
	}
}

func TestEvalDatasetErrors(t *testing.T) {
	dir := t.TempDir()
	writeDataFixture(t, dir, "prefs.jsonl", 24, 0)
	writeDataFixture(t, dir, "eval.jsonl", 6, 100)
	if err := os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte("{\"prompt\":\"a\",\"chosen\":\"b\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ extra, want string }{
		{"eval_dataset = \"nope.jsonl\"\n", "g.toml:7: data.eval_dataset: expected an existing data file (a regular file), got \"nope.jsonl\""},
		{"eval_dataset = \"prefs.jsonl\"\n", "g.toml:7: data.eval_dataset: \"prefs.jsonl\" is the training file"},
		{"eval_dataset = [\"eval.jsonl\", \"eval.jsonl\"]\n", "g.toml:7: data.eval_dataset: expected one file for every dataset or a list of 1"},
		{"eval_dataset = 3\n", "g.toml:7: data.eval_dataset: expected a string or a list of strings"},
		{"eval_dataset = \"synthetic\"\n", "g.toml:7: data.eval_dataset: expected a data file"},
		{"eval_dataset = \"bad.jsonl\"\n", "g.toml:7: data.eval_dataset: " + filepath.Join(dir, "bad.jsonl") + ":1: missing field \"rejected\""},
	} {
		_, err := parseDataGrid(t, dir, dataGrid(c.extra))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want prefix %q", strings.TrimSpace(c.extra), err, c.want)
		}
	}
	syn := strings.Replace(dataGrid("eval_dataset = \"eval.jsonl\"\n"), "dataset = \"prefs.jsonl\"", "dataset = \"synthetic\"", 1)
	if _, err := parseDataGrid(t, dir, syn); err == nil || !strings.Contains(err.Error(), "does not apply to dataset = \"synthetic\"") {
		t.Errorf("synthetic: got %v", err)
	}
}

// TestGridFormatVocabulary: data.format takes the loader's names and the
// older grid spellings; aliases are stored canonical, so "auto", "jsonl"
// and "ultrafeedback" give the cell of an unset format.
func TestGridFormatVocabulary(t *testing.T) {
	dir := t.TempDir()
	writeDataFixture(t, dir, "prefs.jsonl", 24, 0)
	base, err := parseDataGrid(t, dir, dataGrid(""))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"auto", "jsonl", "ultrafeedback", "", "prompt", "probe", "conversational", "hh"} {
		g, err := parseGrid("g.toml", dir, []byte(dataGrid("format = \""+f+"\"\n")))
		if err != nil {
			t.Fatalf("format %q: %v", f, err)
		}
		want := map[string]string{"auto": "", "jsonl": "", "ultrafeedback": ""}[f]
		if _, alias := map[string]bool{"auto": true, "jsonl": true, "ultrafeedback": true}[f]; !alias {
			want = f
		}
		if g.Data.Format != want {
			t.Errorf("format %q stored as %q, want %q", f, g.Data.Format, want)
		}
		if f == "hh" || f == "conversational" {
			continue // the prompt-format fixture is not such a file
		}
		if err := g.LoadDatasets(); err != nil {
			t.Fatalf("format %q: %v", f, err)
		}
		if want == "" && g.Cells()[0].ID != base.Cells()[0].ID {
			t.Errorf("format %q: cell id %s, want the unset format's %s", f, g.Cells()[0].ID, base.Cells()[0].ID)
		}
	}
	_, err = parseGrid("g.toml", dir, []byte(dataGrid("format = \"csv\"\n")))
	if err == nil || !strings.HasPrefix(err.Error(), `g.toml:7: data.format: expected one of auto, prompt, probe, hh, conversational, jsonl, ultrafeedback ("" = auto), got "csv"`) {
		t.Errorf("format csv: %v", err)
	}
}

// writeConversational writes n conversational pairs (whole conversations).
func writeConversational(t *testing.T, dir, name string, n int) {
	t.Helper()
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `{"chosen":[{"role":"user","content":"Count to %d."},{"role":"assistant","content":"1 to %d."}],"rejected":[{"role":"user","content":"Count to %d."},{"role":"assistant","content":"No."}]}`+"\n", i, i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestChatTemplateCells: conversational records are rendered with the
// chat template of an HF arch's tokenizer_config.json (the HH layout for a
// preset arch, or with chat_template = "hh"); the template's hash is in
// the HF cell's data table only.
func TestChatTemplateCells(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "models", "qwen2-tiny")
	copyDir(t, sharedHFModel(t, "qwen2-tiny"), model)
	tmpl, err := os.ReadFile(filepath.Join("data", "testdata", "chat", "qwen2-style.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := json.Marshal(map[string]any{"chat_template": string(tmpl), "eos_token": "<|im_end|>"})
	if err := os.WriteFile(filepath.Join(model, "tokenizer_config.json"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	writeConversational(t, dir, "prefs.jsonl", 24)
	src := strings.Replace(dataGrid("tokenizer = \"byte\"\n"), `arch = ["transformer-xs"]`, `arch = ["hf:models/qwen2-tiny", "transformer-xs"]`, 1)
	src = strings.NewReplacer("max_prompt_tokens = 16", "max_prompt_tokens = 80", "max_response_tokens = 16", "max_response_tokens = 40").Replace(src)
	g, err := parseDataGrid(t, dir, src)
	if err != nil {
		t.Fatal(err)
	}
	cells := g.Cells()
	if cells[0].Config.Data["chat_template_sha256"] == nil || cells[1].Config.Data["chat_template_sha256"] != nil {
		t.Errorf("data tables: hf %v, preset %v", cells[0].Config.Data, cells[1].Config.Data)
	}
	hfData, err := prepareData(g, "prefs.jsonl", "hf:models/qwen2-tiny")
	if err != nil {
		t.Fatal(err)
	}
	preset, err := prepareData(g, "prefs.jsonl", "transformer-xs")
	if err != nil {
		t.Fatal(err)
	}
	p := hfData.Train[0]
	if got := hfData.Tok.Decode(p.Prompt); !strings.HasSuffix(got, "<|im_end|>\n<|im_start|>assistant\n") {
		t.Errorf("templated prompt %q", got)
	}
	if got := hfData.Tok.Decode(p.Chosen); !strings.HasPrefix(got, "1 to ") || !strings.HasSuffix(got, "<|im_end|>\n") {
		t.Errorf("templated chosen %q", got)
	}
	if got := preset.Tok.Decode(preset.Train[0].Prompt); !strings.HasSuffix(got, "\n\nAssistant:") {
		t.Errorf("preset arch prompt %q, want the HH layout", got)
	}
	// chat_template = "hh": HH layout for the HF arch too, and its own cell id
	gh, err := parseDataGrid(t, dir, strings.Replace(src, "[train]", "chat_template = \"hh\"\n[train]", 1))
	if err != nil {
		t.Fatal(err)
	}
	hh, err := prepareData(gh, "prefs.jsonl", "hf:models/qwen2-tiny")
	if err != nil {
		t.Fatal(err)
	}
	if got := hh.Tok.Decode(hh.Train[0].Prompt); !strings.HasSuffix(got, "\n\nAssistant:") {
		t.Errorf("chat_template = hh: prompt %q", got)
	}
	if gh.Cells()[0].ID == cells[0].ID || gh.Cells()[0].Config.Data["chat_template_sha256"] != nil {
		t.Errorf("chat_template = hh: table %v", gh.Cells()[0].Config.Data)
	}
	// a template that raises names the dataset and the model's file
	bad, _ := json.Marshal(map[string]any{"chat_template": "{{ raise_exception('no such luck') }}"})
	if err := os.WriteFile(filepath.Join(model, "tokenizer_config.json"), bad, 0o644); err != nil {
		t.Fatal(err)
	}
	gb, err := parseDataGrid(t, dir, src)
	if err != nil {
		t.Fatal(err)
	}
	_, err = prepareData(gb, "prefs.jsonl", "hf:models/qwen2-tiny")
	if err == nil || !strings.Contains(err.Error(), "no such luck") || !strings.Contains(err.Error(), "tokenizer_config.json") {
		t.Errorf("raising template: %v", err)
	}
	// a broken tokenizer_config.json is a config error naming grid.arch
	if err := os.WriteFile(filepath.Join(model, "tokenizer_config.json"), []byte(`{"chat_template": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := parseDataGrid(t, dir, src); err == nil || !strings.Contains(err.Error(), "grid.arch[0]: ") || !strings.Contains(err.Error(), "chat_template: got a number") {
		t.Errorf("broken config: %v", err)
	}
}

// TestAppendEOS: append_eos = true ends every response with the
// tokenizer's EOS (before truncation) and is in the cell id; the default
// for byte and bpe is off, leaving ids and data as they were.
func TestAppendEOS(t *testing.T) {
	dir := t.TempDir()
	writeDataFixture(t, dir, "prefs.jsonl", 24, 0)
	off, err := parseDataGrid(t, dir, strings.Replace(dataGrid(""), "max_response_tokens = 16", "max_response_tokens = 40", 1))
	if err != nil {
		t.Fatal(err)
	}
	on, err := parseDataGrid(t, dir, strings.Replace(dataGrid("append_eos = true\n"), "max_response_tokens = 16", "max_response_tokens = 40", 1))
	if err != nil {
		t.Fatal(err)
	}
	explicitOff, err := parseDataGrid(t, dir, strings.Replace(dataGrid("append_eos = false\n"), "max_response_tokens = 16", "max_response_tokens = 40", 1))
	if err != nil {
		t.Fatal(err)
	}
	if off.AppendEOSOf("transformer-xs") || !on.AppendEOSOf("transformer-xs") || explicitOff.AppendEOSOf("transformer-xs") {
		t.Fatalf("append_eos: default %v, true %v, false %v", off.AppendEOSOf("transformer-xs"), on.AppendEOSOf("transformer-xs"), explicitOff.AppendEOSOf("transformer-xs"))
	}
	if on.Cells()[0].ID == off.Cells()[0].ID || explicitOff.Cells()[0].ID != off.Cells()[0].ID {
		t.Errorf("ids: off %s, on %s, explicit off %s", off.Cells()[0].ID, on.Cells()[0].ID, explicitOff.Cells()[0].ID)
	}
	a, err := prepareData(off, "prefs.jsonl", "")
	if err != nil {
		t.Fatal(err)
	}
	b, err := prepareData(on, "prefs.jsonl", "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Train {
		ca, cb := a.Train[i].Chosen, b.Train[i].Chosen
		if len(cb) != len(ca)+1 || cb[len(cb)-1] != data.EOSID || !reflect.DeepEqual(cb[:len(ca)], ca) {
			t.Fatalf("pair %d: chosen %v, with EOS %v", i, ca, cb)
		}
		ra, rb := a.Train[i].Rejected, b.Train[i].Rejected
		if len(rb) != len(ra)+1 || rb[len(rb)-1] != data.EOSID {
			t.Fatalf("pair %d: rejected %v, with EOS %v", i, ra, rb)
		}
	}
	if _, err := parseGrid("g.toml", dir, []byte(dataGrid("append_eos = \"yes\"\n"))); err == nil || !strings.HasPrefix(err.Error(), "g.toml:7: data.append_eos: expected true or false") {
		t.Errorf("append_eos = \"yes\": %v", err)
	}
}

// TestAppendEOSModelTokenizer: with the model's own tokenizer (the default
// of an hf: arch) append_eos defaults on, as in TRL: every response ends
// with the tokenizer's EOS (from tokenizer_config.json's eos_token); a
// tokenizer without a known EOS is a config error unless append_eos is
// set to false.
func TestAppendEOSModelTokenizer(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m")
	copyDir(t, sharedHFModel(t, "pythia-tiny"), model)
	if err := os.WriteFile(filepath.Join(model, "tokenizer.json"), smallTokenizerJSON(t), 0o644); err != nil {
		t.Fatal(err)
	}
	writeDataFixture(t, dir, "prefs.jsonl", 24, 0)
	src := strings.Replace(strings.Replace(dataGrid(""), `arch = ["transformer-xs"]`, `arch = ["hf:m"]`, 1), "max_response_tokens = 16", "max_response_tokens = 40", 1)
	// no eos_token known: an error naming the arch and the fix
	if _, err := parseDataGrid(t, dir, src); err == nil || !strings.Contains(err.Error(), "grid.arch: hf:m: append_eos is on") || !strings.Contains(err.Error(), "data.append_eos = false") {
		t.Errorf("no EOS: %v", err)
	}
	if _, err := parseDataGrid(t, dir, strings.Replace(src, "[train]", "append_eos = false\n[train]", 1)); err != nil {
		t.Errorf("append_eos = false without an EOS: %v", err)
	}
	if err := os.WriteFile(filepath.Join(model, "tokenizer_config.json"), []byte(`{"eos_token": "<|eos|>"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	g, err := parseDataGrid(t, dir, src)
	if err != nil {
		t.Fatal(err)
	}
	if g.TokenizerOf("hf:m") != config.TokenizerModel || !g.AppendEOSOf("hf:m") || g.Cells()[0].Config.Data["append_eos"] != true {
		t.Fatalf("tokenizer %s, append_eos %v, table %v", g.TokenizerOf("hf:m"), g.AppendEOSOf("hf:m"), g.Cells()[0].Config.Data)
	}
	pd, err := prepareData(g, "prefs.jsonl", "hf:m")
	if err != nil {
		t.Fatal(err)
	}
	eos := data.Specials(pd.Tok).EOS
	if eos < 0 {
		t.Fatal("no EOS id")
	}
	for i, p := range pd.Train {
		if p.Chosen[len(p.Chosen)-1] != eos || p.Rejected[len(p.Rejected)-1] != eos {
			t.Fatalf("pair %d: responses %v / %v do not end with EOS %d", i, p.Chosen, p.Rejected, eos)
		}
		if got := pd.Tok.Decode(p.Chosen); !strings.HasSuffix(got, "red stone.") {
			t.Fatalf("pair %d: chosen %q", i, got)
		}
	}
}
