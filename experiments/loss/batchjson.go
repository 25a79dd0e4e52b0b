package loss

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"gatedpo/experiments/data"
)

// batchJSON is the layout of shared/golden/batch.json.
type batchJSON struct {
	ChosenIDs            [][]int `json:"chosen_ids"`
	RejectedIDs          [][]int `json:"rejected_ids"`
	ChosenResponseMask   [][]int `json:"chosen_response_mask"`
	RejectedResponseMask [][]int `json:"rejected_response_mask"`
	PromptLens           []int   `json:"prompt_lens"`
	ChosenRespLens       []int   `json:"chosen_resp_lens"`
	RejectedRespLens     []int   `json:"rejected_resp_lens"`
	PadID                *int    `json:"pad_id"`
	PaddingSide          string  `json:"padding_side"`
}

// LoadBatchJSON reads a preference batch in the format of
// shared/golden/batch.json (chosen_ids, rejected_ids, chosen_response_mask,
// rejected_response_mask [B][T]; optional prompt_lens, *_resp_lens [B],
// pad_id, padding_side "right"). Errors name the file and the field.
func LoadBatchJSON(path string) (data.Batch, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return data.Batch{}, err
	}
	var bj batchJSON
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&bj); err != nil {
		return data.Batch{}, fmt.Errorf("%s: %v", path, err)
	}
	bad := func(field, format string, args ...any) error {
		return fmt.Errorf("%s: %s: %s", path, field, fmt.Sprintf(format, args...))
	}
	B := len(bj.ChosenIDs)
	if B == 0 {
		return data.Batch{}, bad("chosen_ids", "expected a non-empty [B][T] array of token ids")
	}
	T := len(bj.ChosenIDs[0])
	if T < 2 {
		return data.Batch{}, bad("chosen_ids", "expected rows of at least 2 tokens")
	}
	for _, f := range []struct {
		name string
		rows [][]int
	}{{"chosen_ids", bj.ChosenIDs}, {"rejected_ids", bj.RejectedIDs},
		{"chosen_response_mask", bj.ChosenResponseMask}, {"rejected_response_mask", bj.RejectedResponseMask}} {
		if len(f.rows) != B {
			return data.Batch{}, bad(f.name, "expected %d rows (as chosen_ids), got %d", B, len(f.rows))
		}
		for i, r := range f.rows {
			if len(r) != T {
				return data.Batch{}, bad(f.name, "row %d has %d values, expected %d", i, len(r), T)
			}
			for j, v := range r {
				if v < 0 || (strings.HasSuffix(f.name, "_mask") && v > 1) {
					return data.Batch{}, bad(f.name, "row %d position %d: %d is out of range", i, j, v)
				}
			}
		}
	}
	if bj.PaddingSide != "" && bj.PaddingSide != "right" {
		return data.Batch{}, bad("padding_side", "expected \"right\", got %q", bj.PaddingSide)
	}
	b := data.Batch{ChosenIDs: bj.ChosenIDs, RejectedIDs: bj.RejectedIDs, ChosenMask: bj.ChosenResponseMask,
		RejectedMask: bj.RejectedResponseMask, PromptLens: bj.PromptLens, T: T}
	b.ChosenLens, b.RejectedLens = make([]int, B), make([]int, B)
	for i := 0; i < B; i++ {
		for j := 0; j < T; j++ {
			b.ChosenLens[i] += bj.ChosenResponseMask[i][j]
			b.RejectedLens[i] += bj.RejectedResponseMask[i][j]
		}
	}
	for _, f := range []struct {
		name      string
		got, want []int
	}{{"chosen_resp_lens", bj.ChosenRespLens, b.ChosenLens}, {"rejected_resp_lens", bj.RejectedRespLens, b.RejectedLens}} {
		if f.got == nil {
			continue
		}
		for i := range f.want {
			if len(f.got) != B || f.got[i] != f.want[i] {
				return data.Batch{}, bad(f.name, "expected %v (the response masks' row sums), got %v", f.want, f.got)
			}
		}
	}
	return b, nil
}
