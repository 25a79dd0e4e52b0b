package hftok

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func runInspect(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = Inspect(args, strings.NewReader(stdin), &o, &e)
	return code, o.String(), e.String()
}

// TestInspectTokenize: `inspect tokenize` writes one {"text","ids"} line
// per input record, in order, with the ids of Encode (or EncodeSpecial
// with -special); bad input is exit 2 with one line naming the line and no
// output.
func TestInspectTokenize(t *testing.T) {
	tiny := filepath.Join("testdata", "tiny_llama3.json")
	texts := []string{"Hello World", "", "<|eot_id|> and <b>&", "1234567\r\n", "caf\u00e9 \U0001F600", "x"}
	var in strings.Builder
	for i, s := range texts {
		b, _ := json.Marshal(map[string]any{"text": s, "n": i})
		in.Write(b)
		in.WriteString("\n")
		if i == 2 {
			in.WriteString("   \n") // blank lines are skipped
		}
	}
	for _, c := range []struct {
		tok     string
		special bool
	}{{tiny, false}, {tiny, true}, {filepath.Join("testdata", "tiny_gpt2.json"), true}} {
		tok, err := Load(c.tok)
		if err != nil {
			t.Fatal(err)
		}
		special := c.special
		args := []string{"-tokenizer", c.tok}
		if special {
			args = append(args, "-special")
		}
		code, out, errs := runInspect(t, strings.TrimSuffix(in.String(), "\n"), args...)
		if code != 0 || errs != "" {
			t.Fatalf("exit %d, stderr %q", code, errs)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != len(texts) {
			t.Fatalf("%d output lines for %d texts:\n%s", len(lines), len(texts), out)
		}
		for i, l := range lines {
			var rec struct {
				Text string `json:"text"`
				IDs  []int  `json:"ids"`
			}
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Fatalf("line %d %q: %v", i+1, l, err)
			}
			want := tok.Encode(texts[i])
			if special && strings.Contains(c.tok, "llama3") {
				want = append([]int{316}, want...)
			}
			if rec.Text != texts[i] || !slices.Equal(rec.IDs, want) || !strings.Contains(l, `"ids":[`) {
				t.Errorf("line %d: %q, want text %q ids %v", i+1, l, texts[i], want)
			}
		}
		if !strings.Contains(out, `"<|eot_id|> and <b>&"`) {
			t.Errorf("text is HTML-escaped: %s", out)
		}
	}
	bad := []struct{ stdin, want string }{
		{"{\"text\":\"a\"}\n{\"text\": 3}\n", `stdin: line 2: "text" is 3, expected a string`},
		{"{\"text\":\"a\"}\n\n{\"txt\":\"a\"}\n", `stdin: line 3: no "text" field`},
		{"{\"text\":\"a\"\n", "stdin: line 1: malformed JSON"},
		{"\"a\"\n", "stdin: line 1: a JSON string, expected an object"},
		{"{\"text\":\"a\xffb\"}\n", "stdin: line 1: invalid UTF-8 at byte 11 of the line"},
		{"{\"text\":\"\\udc00x\"}\n", "stdin: line 1: \"text\" has an unpaired UTF-16 surrogate escape"},
		{"{\"text\":null}", `stdin: line 1: "text" is null, expected a string`},
	}
	for _, b := range bad {
		code, out, errs := runInspect(t, b.stdin, "-tokenizer", tiny)
		if code != 2 || out != "" || !strings.Contains(errs, b.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("stdin %q: exit %d, stdout %q, stderr %q; want 2, nothing, %q", b.stdin, code, out, errs, b.want)
		}
	}
	// A literal U+FFFD (escaped or not) is ordinary text.
	if code, out, _ := runInspect(t, "{\"text\":\"\uFFFD\\uFFFD\"}\n", "-tokenizer", tiny); code != 0 || !strings.Contains(out, "\"text\":\"\uFFFD\uFFFD\"") {
		t.Errorf("U+FFFD: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{}, {"-tokenizer", "nope.json"}, {"-tokenizer", tiny, "extra"}, {"-bogus"}} {
		if code, out, errs := runInspect(t, "", args...); code != 2 || out != "" || errs == "" {
			t.Errorf("args %q: exit %d, stdout %q, stderr %q", args, code, out, errs)
		}
	}
}
