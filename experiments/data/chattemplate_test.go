package data

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// chatCases reads testdata/chat: the conversations and the outputs Python
// Jinja2 rendered for every template (gen.py).
func chatCases(t *testing.T) (map[string][]Message, []chatResult) {
	t.Helper()
	var cases []struct {
		Name     string
		Messages []Message
	}
	b, err := os.ReadFile(filepath.Join("testdata", "chat", "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	byName := map[string][]Message{}
	for _, c := range cases {
		byName[c.Name] = c.Messages
	}
	var exp struct {
		Results []chatResult
	}
	b, err = os.ReadFile(filepath.Join("testdata", "chat", "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	return byName, exp.Results
}

type chatResult struct {
	Template, Case, Output, Error string
	AGP                           bool `json:"add_generation_prompt"`
}

func chatTemplate(t *testing.T, name string) *ChatTemplate {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "chat", name))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := ParseChatTemplate(string(src), "<|begin_of_text|>", "<|eot|>")
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// TestChatTemplateMatchesJinja2: a Qwen2-style, a Llama-3-style and a
// template using namespace(), set, elif, loop.*, filters, ~ and
// raise_exception render exactly as Python Jinja2 rendered them.
func TestChatTemplateMatchesJinja2(t *testing.T) {
	cases, results := chatCases(t)
	if len(results) < 40 {
		t.Fatalf("%d expected results", len(results))
	}
	for _, r := range results {
		out, err := chatTemplate(t, r.Template).Render(cases[r.Case], r.AGP)
		switch {
		case r.Error != "":
			if err == nil || !strings.Contains(err.Error(), r.Error) {
				t.Errorf("%s / %s / agp=%v: got %q, %v; want the error %q", r.Template, r.Case, r.AGP, out, err, r.Error)
			}
		case err != nil || out != r.Output:
			t.Errorf("%s / %s / agp=%v: %v\n got %q\nwant %q", r.Template, r.Case, r.AGP, err, out, r.Output)
		}
	}
}

// TestApplyChatTemplate: a conversational pair is rendered as TRL does:
// prompt with the generation prompt, responses as the rest of the
// rendered conversation; other pairs are left alone.
func TestApplyChatTemplate(t *testing.T) {
	cases, results := chatCases(t)
	want := map[string]string{}
	for _, r := range results {
		want[r.Template+"|"+r.Case+"|"+map[bool]string{true: "agp"}[r.AGP]] = r.Output
	}
	for _, name := range []string{"qwen2-style.jinja", "llama3-style.jinja"} {
		tmpl := chatTemplate(t, name)
		conv := &Conversation{Prompt: cases["prompt only"], Chosen: cases["colour answer"][1:], Rejected: cases["colour other answer"][1:]}
		plain := Pair{Prompt: "p", Chosen: "c", Rejected: "r"}
		got, err := ApplyChatTemplate([]Pair{{Prompt: "hh", Chosen: "hh c", Rejected: "hh r", Messages: conv}, plain}, tmpl)
		if err != nil {
			t.Fatal(err)
		}
		p := got[0]
		if p.Prompt != want[name+"|prompt only|agp"] {
			t.Errorf("%s: prompt %q, want %q", name, p.Prompt, want[name+"|prompt only|agp"])
		}
		if p.Prompt+p.Chosen != want[name+"|colour answer|"] || p.Prompt+p.Rejected != want[name+"|colour other answer|"] {
			t.Errorf("%s: prompt+chosen %q, want %q", name, p.Prompt+p.Chosen, want[name+"|colour answer|"])
		}
		if got[1].Prompt != "p" || got[1].Chosen != "c" {
			t.Errorf("%s: a pair without messages changed: %+v", name, got[1])
		}
		t.Logf("%s: chosen %q", name, p.Chosen)
	}
	// a template error names the pair
	bad := &Conversation{Prompt: cases["bad roles"], Chosen: []Message{{"assistant", "x"}}, Rejected: []Message{{"assistant", "y"}}}
	_, err := ApplyChatTemplate([]Pair{{Messages: bad}}, chatTemplate(t, "llama3-style.jinja"))
	if err == nil || !strings.HasPrefix(err.Error(), "pair 0: chat template: ") || !strings.Contains(err.Error(), "roles must alternate") {
		t.Errorf("raise_exception: %v", err)
	}
}

func TestLoadChatTemplate(t *testing.T) {
	write := func(dir, name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	msgs := []Message{{"user", "hi"}}
	// a string template and added-token objects
	dir := t.TempDir()
	write(dir, "tokenizer_config.json", `{"chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}{{ eos_token }}", "bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>"}`)
	tmpl, err := LoadChatTemplate(dir)
	if err != nil || tmpl == nil {
		t.Fatal(err)
	}
	if out, _ := tmpl.Render(msgs, false); out != "<s>hi</s>" || tmpl.File != filepath.Join(dir, "tokenizer_config.json") || len(tmpl.Hash) != 64 {
		t.Errorf("string template: %q %+v", out, tmpl)
	}
	// a list of named templates; chat_template.jinja beside it wins
	dir = t.TempDir()
	write(dir, "tokenizer_config.json", `{"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D{{ messages | length }}"}]}`)
	if tmpl, err = LoadChatTemplate(dir); err != nil {
		t.Fatal(err)
	}
	if out, _ := tmpl.Render(msgs, false); out != "D1" {
		t.Errorf("named: %q", out)
	}
	write(dir, "chat_template.jinja", "J{{ messages[0].role }}")
	if tmpl, err = LoadChatTemplate(dir); err != nil {
		t.Fatal(err)
	}
	if out, _ := tmpl.Render(msgs, false); out != "Juser" {
		t.Errorf("chat_template.jinja: %q", out)
	}
	// none: nil, no error
	dir = t.TempDir()
	if tmpl, err = LoadChatTemplate(dir); tmpl != nil || err != nil {
		t.Errorf("no config: %v %v", tmpl, err)
	}
	write(dir, "tokenizer_config.json", `{"eos_token": "</s>"}`)
	if tmpl, err = LoadChatTemplate(dir); tmpl != nil || err != nil {
		t.Errorf("no template: %v %v", tmpl, err)
	}
	// errors name the file, one line
	for body, want := range map[string]string{
		`{"chat_template": 3}`:                                "chat_template: got a number",
		`{"chat_template": "{% for %}"}`:                      "chat template: ",
		`{"chat_template": [{"name": "x", "template": "y"}]}`: `no template named "default"`,
		`{"chat_template": "x", "eos_token": [1]}`:            "eos_token: got a list",
		`{"chat_template": `:                                  "not a JSON object",
	} {
		write(dir, "tokenizer_config.json", body)
		_, err := LoadChatTemplate(dir)
		if err == nil || !strings.HasPrefix(err.Error(), filepath.Join(dir, "tokenizer_config.json")+": ") || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want %q", body, err, want)
		}
	}
}
