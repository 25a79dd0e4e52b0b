package data

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The Parquet fixtures in testdata/parquet were written by another
// implementation (hyparquet-writer, JavaScript; testdata/parquet/gen.mjs).
// Each test builds the JSONL file holding the same records and checks that
// both load to the same pairs.

var fixtureTopics = []string{"kettle", "lantern", "compass", "garden hose", "chess clock", "weather vane", "bread oven", "ink pen"}

func fixture(name string) string { return filepath.Join("testdata", "parquet", name) }

// sameLoad loads a Parquet fixture and its JSONL twin and compares them.
func sameLoad(t *testing.T, pq, jsonl string, opt LoadOptions) *Dataset {
	t.Helper()
	a, err := Load(fixture(pq), opt)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(writeTemp(t, "twin.jsonl", jsonl), opt)
	if err != nil {
		t.Fatal(err)
	}
	if a.Format != b.Format || !reflect.DeepEqual(a.Train, b.Train) || !reflect.DeepEqual(a.Eval, b.Eval) ||
		!reflect.DeepEqual(a.Skipped, b.Skipped) || !reflect.DeepEqual(a.ProbeFields, b.ProbeFields) {
		t.Fatalf("%s: Parquet and JSONL differ:\nparquet %s %#v skipped %v\njsonl   %s %#v skipped %v", pq, a.Format, a.Train, a.Skipped, b.Format, b.Train, b.Skipped)
	}
	if a.Name != "parquet/"+strings.TrimSuffix(pq, ".parquet") || len(a.Hash) != 64 {
		t.Errorf("name %q hash %q", a.Name, a.Hash)
	}
	return a
}

func TestParquetStrings(t *testing.T) {
	var b strings.Builder
	for i, tp := range fixtureTopics {
		chosen := fmt.Sprintf("Keep the %s dry and check it once a week. ✓", tp)
		rejected := fmt.Sprintf("A %s needs no care at all.", tp)
		note := fmt.Sprintf("%q", fmt.Sprintf("note “%d”", i))
		if i%3 == 1 {
			note = "null"
		}
		if i == 5 {
			chosen = rejected
		}
		if i == 6 {
			rejected = ""
		}
		fmt.Fprintf(&b, `{"prompt":%q,"chosen":%q,"rejected":%q,"score_chosen":%v,"record_id":%d,"note":%s}`+"\n",
			fmt.Sprintf("How do I look after a %s?", tp), chosen, rejected, 7.5-float64(i)*0.25, 1000+i, note)
	}
	ds := sameLoad(t, "strings.parquet", b.String(), LoadOptions{})
	if ds.Format != FormatPrompt || len(ds.Train) != 6 || ds.Skipped[SkipChosenRejected] != 1 || ds.Skipped[SkipEmptyRejected] != 1 {
		t.Errorf("format %s, %d pairs, skipped %v", ds.Format, len(ds.Train), ds.Skipped)
	}
	if p := ds.Train[1]; p.Extra["record_id"] != 1001.0 || p.Extra["note"] != nil || p.Extra["score_chosen"] != 7.25 {
		t.Errorf("extra columns %v", p.Extra)
	}
	// the eval split and the options apply as to JSONL
	sameLoad(t, "strings.parquet", b.String(), LoadOptions{EvalFraction: 0.5, Seed: 3})
}

// TestParquetMessages: list<struct<content, role>> columns (HF preference
// datasets), two shards written with row groups of 2 rows.
func TestParquetMessages(t *testing.T) {
	msgs := func(ms ...[2]string) string {
		var parts []string
		for _, m := range ms {
			parts = append(parts, fmt.Sprintf(`{"content":%q,"role":%q}`, m[1], m[0]))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	shards := [][]string{fixtureTopics[:5], fixtureTopics[5:]}
	for s, topics := range shards {
		var b strings.Builder
		for i, tp := range topics {
			p := fmt.Sprintf("Write one line about a %s.", tp)
			fmt.Fprintf(&b, `{"prompt":%q,"chosen":%s,"rejected":%s,"prompt_id":"p%d%d","score_chosen":%d,"score_rejected":%v}`+"\n", p,
				msgs([2]string{"user", p}, [2]string{"assistant", fmt.Sprintf("A %s is small, useful and easy to mend.", tp)}),
				msgs([2]string{"user", p}, [2]string{"assistant", fmt.Sprintf("I would rather not talk about a %s.", tp)}),
				s, i, 8-i, 2+float64(i)*0.5)
		}
		if s == 1 {
			common := [][2]string{{"user", "Name a colour."}, {"assistant", "Blue."}, {"user", "Another one?"}}
			fmt.Fprintf(&b, `{"prompt":"Name a colour.","chosen":%s,"rejected":%s,"prompt_id":"p1x","score_chosen":6,"score_rejected":1}`+"\n",
				msgs(append(common, [2]string{"assistant", "Green."})...), msgs(append(common, [2]string{"assistant", "Blue again."})...))
		}
		name := fmt.Sprintf("messages-0000%d-of-00002.parquet", s)
		ds := sameLoad(t, name, b.String(), LoadOptions{})
		if ds.Format != FormatConversational || len(ds.Train) != len(topics)+s {
			t.Fatalf("%s: format %s, %d pairs", name, ds.Format, len(ds.Train))
		}
		p := ds.Train[0]
		if want := fmt.Sprintf("\n\nHuman: Write one line about a %s.\n\nAssistant:", topics[0]); p.Prompt != want || p.Messages == nil || len(p.Messages.Prompt) != 1 {
			t.Errorf("%s: prompt %q, messages %+v", name, p.Prompt, p.Messages)
		}
		if s == 1 {
			last := ds.Train[len(ds.Train)-1]
			if last.Prompt != "\n\nHuman: Name a colour.\n\nAssistant: Blue.\n\nHuman: Another one?\n\nAssistant:" || last.Chosen != " Green." {
				t.Errorf("multi-turn: %q / %q", last.Prompt, last.Chosen)
			}
		}
	}
}

func TestParquetHH(t *testing.T) {
	var b strings.Builder
	for _, tp := range fixtureTopics[:4] {
		h := fmt.Sprintf("\n\nHuman: Is a %s hard to use?\n\nAssistant:", tp)
		fmt.Fprintf(&b, `{"chosen":%q,"rejected":%q}`+"\n", h+fmt.Sprintf(" Not at all, a %s takes a minute to learn.", tp), h+fmt.Sprintf(" Yes, nobody can use a %s.", tp))
	}
	ds := sameLoad(t, "hh.parquet", b.String(), LoadOptions{})
	if ds.Format != FormatHH || len(ds.Train) != 4 {
		t.Errorf("format %s, %d pairs", ds.Format, len(ds.Train))
	}
}

func TestParquetErrors(t *testing.T) {
	_, err := Load(fixture("bad.parquet"), LoadOptions{})
	if want := fixture("bad.parquet") + `: row 2: field "chosen": got null, expected a string`; err == nil || err.Error() != want {
		t.Errorf("null chosen: got %v, want %s", err, want)
	}
	ds, err := Load(fixture("bad.parquet"), LoadOptions{OnBadRecord: "skip"})
	if err != nil || len(ds.Train) != 1 || ds.Skipped[SkipWrongType] != 1 || ds.Skipped[SkipInvalidUTF8] != 1 {
		t.Errorf("skip: %v %+v", err, ds)
	}
	_, err = Load(fixture("bad.parquet"), LoadOptions{Format: FormatHH})
	if err == nil || !strings.HasPrefix(err.Error(), fixture("bad.parquet")+": row 2: ") {
		t.Errorf("hh: %v", err)
	}
	raw, err := os.ReadFile(fixture("strings.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, body := range map[string][]byte{
		"truncated": raw[:len(raw)-10],
		"footer":    append(append([]byte("PAR1"), make([]byte, 64)...), 200, 0, 0, 0, 'P', 'A', 'R', '1'),
		"pages":     append(append(append([]byte(nil), raw[:4]...), make([]byte, 200)...), raw[204:]...),
		"magic":     []byte("PAR1"),
		// a footer length larger than the file (parquet-go would size a buffer by it)
		"footerlen": append(append([]byte(nil), raw[:len(raw)-8]...), 0xff, 0xff, 0xff, 0x7f, 'P', 'A', 'R', '1'),
	} {
		path := filepath.Join(dir, name+".parquet")
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, LoadOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: got %v, want a one-line error naming the file", name, err)
		}
	}
	// damaged bytes anywhere: an error naming the file or pairs, never a panic
	for i := 4; i < len(raw)-4; i += 7 {
		body := append([]byte(nil), raw...)
		body[i] ^= 0x5a
		path := filepath.Join(dir, "flip.parquet")
		if err := os.WriteFile(path, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(path, LoadOptions{}); err != nil && (!strings.HasPrefix(err.Error(), path+": ") || strings.Contains(err.Error(), "\n")) {
			t.Errorf("byte %d flipped: %v", i, err)
		}
	}
}

// TestLoadFilesShards: the two shards of the messages fixture load as one
// dataset, in order, with a hash of both; one file is Load itself.
func TestLoadFilesShards(t *testing.T) {
	a, b := fixture("messages-00000-of-00002.parquet"), fixture("messages-00001-of-00002.parquet")
	ds, err := LoadFiles("messages", []string{a, b}, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	da, _ := Load(a, LoadOptions{})
	db, _ := Load(b, LoadOptions{})
	if !reflect.DeepEqual(ds.Train, append(append([]Pair(nil), da.Train...), db.Train...)) || ds.Format != FormatConversational || ds.Name != "messages" {
		t.Errorf("joined: %d pairs, format %s", len(ds.Train), ds.Format)
	}
	swapped, _ := LoadFiles("messages", []string{b, a}, LoadOptions{})
	if swapped.Hash == ds.Hash || len(ds.Hash) != 64 {
		t.Errorf("hash %q does not depend on the shards' order", ds.Hash)
	}
	one, err := LoadFiles("x", []string{a}, LoadOptions{})
	if err != nil || !reflect.DeepEqual(one, da) {
		t.Errorf("one file: %v", err)
	}
	if _, err := LoadFiles("mixed", []string{a, fixture("hh.parquet")}, LoadOptions{}); err == nil || !strings.Contains(err.Error(), "must share one format") {
		t.Errorf("mixed formats: %v", err)
	}
}

// FuzzLoadParquet: a damaged or hostile Parquet file is an error naming
// the file (one line), never a panic. Seeds: the fixtures. Run by hand
// with go test ./experiments/data -run '^$' -fuzz FuzzLoadParquet.
func FuzzLoadParquet(f *testing.F) {
	for _, name := range []string{"strings.parquet", "hh.parquet", "bad.parquet", "messages-00001-of-00002.parquet"} {
		b, err := os.ReadFile(fixture(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, body []byte) {
		path := filepath.Join(dir, "f.parquet")
		if err := os.WriteFile(path, append([]byte("PAR1"), body...), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path, LoadOptions{MaxDataBytes: 1 << 20})
		if err != nil && (!strings.HasPrefix(err.Error(), path+":") || strings.Contains(err.Error(), "\n")) {
			t.Errorf("error %q does not name the file on one line", err)
		}
	})
}
