package hftok

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/text/unicode/norm"
)

type familySpec struct {
	About     string                     `json:"about"`
	Roundtrip string                     `json:"roundtrip"` // exact | nfc | none
	Override  map[string]json.RawMessage `json:"override"`
	Model     map[string]json.RawMessage `json:"model"`
}

func readFamilies(t testing.TB) map[string]familySpec {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "families.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Families map[string]familySpec `json:"families"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	return f.Families
}

// buildFamily applies a family's overrides to the base tokenizer.json, as
// testdata/make_oracle.js does.
func buildFamily(t testing.TB, base []byte, fam familySpec) []byte {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(base, &top); err != nil {
		t.Fatal(err)
	}
	var model map[string]json.RawMessage
	if err := json.Unmarshal(top["model"], &model); err != nil {
		t.Fatal(err)
	}
	for k, v := range fam.Override {
		top[k] = v
	}
	for k, v := range fam.Model {
		model[k] = v
	}
	m, err := json.Marshal(model)
	if err != nil {
		t.Fatal(err)
	}
	top["model"] = m
	out, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// familyTokenizer builds the named test tokenizer from ../shared's GPT-2
// file (skipping the test when ../shared is absent).
func familyTokenizer(t testing.TB, name string) (*Tokenizer, familySpec) {
	t.Helper()
	_, base := sharedGPT2(t)
	fam, ok := readFamilies(t)[name]
	if !ok {
		t.Fatalf("no family %q in testdata/families.json", name)
	}
	tok, err := Parse(buildFamily(t, base, fam))
	if err != nil {
		t.Fatalf("family %s: %v", name, err)
	}
	return tok, fam
}

// familyCase is one line of cases_<name>.jsonl (see make_oracle.js); a
// field left out there has its default, filled in by readCases.
type familyCase struct {
	ID          int     `json:"id"`
	IDs         []int   `json:"ids"`
	IDsSpecial  []int   `json:"ids_special"`
	Decoded     *string `json:"decoded"`
	DecodedSkip *string `json:"decoded_skip"`
	DecodedTail string  `json:"decoded_tail"`
	Text        string  `json:"-"` // from texts.jsonl
	// header line
	Family     string `json:"family"`
	BaseSHA256 string `json:"base_sha256"`
}

// readCases reads testdata/cases_<name>.jsonl (header line first) and joins
// it with testdata/texts.jsonl.
func readCases(t *testing.T, name string) (header familyCase, cases []familyCase) {
	t.Helper()
	all := readJSONL[familyCase](t, filepath.Join("testdata", "cases_"+name+".jsonl"))
	texts := readJSONL[textRec](t, filepath.Join("testdata", "texts.jsonl"))
	header, cases = all[0], all[1:]
	if len(cases) != len(texts) {
		t.Fatalf("cases_%s.jsonl has %d cases for %d texts: rerun make_oracle.sh", name, len(cases), len(texts))
	}
	for i := range cases {
		c := &cases[i]
		if c.ID != texts[i].ID {
			t.Fatalf("cases_%s.jsonl line %d: id %d, texts.jsonl has %d", name, i+2, c.ID, texts[i].ID)
		}
		c.Text = texts[i].Text
		if c.IDsSpecial == nil {
			c.IDsSpecial = c.IDs
		}
		if c.Decoded == nil {
			c.Decoded = &c.Text
		}
		if c.DecodedSkip == nil {
			c.DecodedSkip = c.Decoded
		}
	}
	return header, cases
}

// TestFamilyOracles: the Qwen2-, Llama-3- and Pythia-style tokenizers and
// the added-token options tokenizer (built from ../shared's GPT-2
// vocabulary) give, on every text of testdata/texts.jsonl, the ids (with
// and without special tokens) and the decoded text (keeping and skipping
// specials, and of the ids without the first one) of Hugging Face's
// tokenizers (testdata/cases_<family>.jsonl, made by make_oracle.sh), and
// round-trip as the family promises.
func TestFamilyOracles(t *testing.T) {
	_, base := sharedGPT2(t)
	sum := sha256.Sum256(base)
	baseSHA := hex.EncodeToString(sum[:])
	for _, name := range []string{"qwen2", "llama3", "pythia", "options"} {
		t.Run(name, func(t *testing.T) {
			tok, fam := familyTokenizer(t, name)
			checkOracle(t, tok, name, baseSHA, fam.Roundtrip)
		})
	}
}

// TestTinyOracles: the same checks on the three small standalone
// tokenizers of testdata (tiny_<style>.json: 256 bytes + 60 merges in the
// GPT-2, Llama-3 and Qwen2 layouts). Needs no ../shared.
func TestTinyOracles(t *testing.T) {
	for style, rt := range map[string]string{"gpt2": "exact", "llama3": "exact", "qwen2": "nfc"} {
		t.Run(style, func(t *testing.T) {
			p := filepath.Join("testdata", "tiny_"+style+".json")
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := Load(p)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(raw)
			checkOracle(t, tok, "tiny_"+style, hex.EncodeToString(sum[:]), rt)
		})
	}
}

func checkOracle(t *testing.T, tok *Tokenizer, name, baseSHA, roundtrip string) {
	header, cases := readCases(t, name)
	if header.Family != name || header.BaseSHA256 != baseSHA {
		t.Fatalf("cases_%s.jsonl header: family %q, base sha256 %s; expected %q, %s (the oracle was made from another file: rerun make_oracle.sh)",
			name, header.Family, header.BaseSHA256, name, baseSHA)
	}
	if len(cases) < 500 {
		t.Fatalf("only %d cases", len(cases))
	}
	bad := 0
	for _, c := range cases {
		got := tok.Encode(c.Text)
		sp, err := tok.EncodeSpecial(c.Text)
		ok := slices.Equal(got, c.IDs) && err == nil && slices.Equal(sp, c.IDsSpecial)
		if d := tok.DecodeLossy(c.IDs, false); d != *c.Decoded {
			t.Errorf("case %d %q: DecodeLossy(oracle ids) = %q, oracle %q", c.ID, c.Text, d, *c.Decoded)
		}
		if d := tok.DecodeLossy(c.IDs, true); d != *c.DecodedSkip {
			t.Errorf("case %d %q: DecodeLossy(oracle ids, skip) = %q, oracle %q", c.ID, c.Text, d, *c.DecodedSkip)
		}
		if len(c.IDs) > 1 {
			if d := tok.DecodeLossy(c.IDs[1:], false); d != c.DecodedTail {
				t.Errorf("case %d %q: DecodeLossy(oracle ids[1:]) = %q, oracle %q", c.ID, c.Text, d, c.DecodedTail)
			}
		}
		if !ok {
			bad++
			if bad <= 10 {
				t.Errorf("case %d %q:\n got %v / %v (%v)\nwant %v / %v", c.ID, c.Text, got, sp, err, c.IDs, c.IDsSpecial)
			}
			continue
		}
		d := tok.Decode(got, false)
		switch roundtrip {
		case "exact":
			if d != c.Text {
				t.Errorf("case %d: decode(encode(%q)) = %q", c.ID, c.Text, d)
			}
		case "nfc":
			if d != norm.NFC.String(c.Text) {
				t.Errorf("case %d: decode(encode(%q)) = %q, expected its NFC form", c.ID, c.Text, d)
			}
		}
	}
	t.Logf("%s: %d/%d oracle cases match", name, len(cases)-bad, len(cases))
}
