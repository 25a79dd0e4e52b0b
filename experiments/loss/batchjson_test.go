package loss

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestLoadBatchJSON: a well-formed batch loads with its response lengths
// counted from the masks; every malformed one is refused with an error
// naming the file and the field.
func TestLoadBatchJSON(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `{"chosen_ids": [[5, 6, 7, 0], [5, 8, 9, 10]],
 "rejected_ids": [[5, 11, 0, 0], [5, 12, 13, 0]],
 "chosen_response_mask": [[0, 1, 1, 0], [0, 1, 1, 1]],
 "rejected_response_mask": [[0, 1, 0, 0], [0, 1, 1, 0]],
 "prompt_lens": [1, 1], "chosen_resp_lens": [2, 3], "rejected_resp_lens": [1, 2],
 "pad_id": 0, "padding_side": "right"}`
	b, err := LoadBatchJSON(write("good.json", good))
	if err != nil {
		t.Fatal(err)
	}
	if b.T != 4 || !reflect.DeepEqual(b.ChosenLens, []int{2, 3}) || !reflect.DeepEqual(b.RejectedLens, []int{1, 2}) ||
		!reflect.DeepEqual(b.PromptLens, []int{1, 1}) || b.RejectedIDs[1][2] != 13 || b.ChosenMask[1][3] != 1 {
		t.Errorf("loaded %+v", b)
	}
	// the optional fields may be left out
	minimal := strings.Replace(good, `"prompt_lens": [1, 1], "chosen_resp_lens": [2, 3], "rejected_resp_lens": [1, 2],
 "pad_id": 0, "padding_side": "right"}`, `"pad_id": 0}`, 1)
	if b, err := LoadBatchJSON(write("minimal.json", minimal)); err != nil || !reflect.DeepEqual(b.ChosenLens, []int{2, 3}) {
		t.Errorf("minimal batch: %+v, %v", b, err)
	}
	for _, c := range []struct{ name, src, want string }{
		{"syntax", `{"chosen_ids": [[1, 2]`, "syntax.json: unexpected EOF"},
		{"unknown", strings.Replace(good, `"pad_id"`, `"pad": 0, "pad_id"`, 1), `unknown field "pad"`},
		{"empty", `{"chosen_ids": []}`, "empty.json: chosen_ids: expected a non-empty [B][T] array"},
		{"short", `{"chosen_ids": [[1]]}`, "short.json: chosen_ids: expected rows of at least 2 tokens"},
		{"rows", strings.Replace(good, `"rejected_ids": [[5, 11, 0, 0], [5, 12, 13, 0]]`, `"rejected_ids": [[5, 11, 0, 0]]`, 1),
			"rows.json: rejected_ids: expected 2 rows (as chosen_ids), got 1"},
		{"ragged", strings.Replace(good, `[0, 1, 1, 0], [0, 1, 1, 1]`, `[0, 1, 1, 0], [0, 1, 1]`, 1),
			"ragged.json: chosen_response_mask: row 1 has 3 values, expected 4"},
		{"negative", strings.Replace(good, `[5, 12, 13, 0]`, `[5, 12, -13, 0]`, 1),
			"negative.json: rejected_ids: row 1 position 2: -13 is out of range"},
		{"mask", strings.Replace(good, `[0, 1, 0, 0], [0, 1, 1, 0]`, `[0, 1, 0, 0], [0, 2, 1, 0]`, 1),
			"mask.json: rejected_response_mask: row 1 position 1: 2 is out of range"},
		{"side", strings.Replace(good, `"right"`, `"left"`, 1), `side.json: padding_side: expected "right", got "left"`},
		{"lens", strings.Replace(good, `"chosen_resp_lens": [2, 3]`, `"chosen_resp_lens": [2, 2]`, 1),
			"lens.json: chosen_resp_lens: expected [2 3] (the response masks' row sums), got [2 2]"},
		{"lenscount", strings.Replace(good, `"rejected_resp_lens": [1, 2]`, `"rejected_resp_lens": [1]`, 1),
			"lenscount.json: rejected_resp_lens: expected [1 2]"},
	} {
		p := write(c.name+".json", c.src)
		_, err := LoadBatchJSON(p)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), p+": ") {
			t.Errorf("%s: got %v, want an error starting with the path and containing %q", c.name, err, c.want)
		}
	}
	if _, err := LoadBatchJSON(filepath.Join(dir, "absent.json")); err == nil || !strings.Contains(err.Error(), "absent.json") {
		t.Errorf("absent file: %v", err)
	}
}

// TestLoadBatchJSONGolden: the goldens' batch.json loads with the
// response lengths it declares.
func TestLoadBatchJSONGolden(t *testing.T) {
	b, err := LoadBatchJSON(filepath.Join(sharedGoldenDir(t), "batch.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b.ChosenIDs) != 4 || len(b.RejectedIDs) != 4 || b.T < 2 || len(b.ChosenLens) != 4 || len(b.PromptLens) != 4 {
		t.Errorf("golden batch: %d pairs of %d tokens, lens %v %v, prompts %v", len(b.ChosenIDs), b.T, b.ChosenLens, b.RejectedLens, b.PromptLens)
	}
}
