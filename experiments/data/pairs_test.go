package data

import (
	"reflect"
	"testing"
)

// TestBatchPairs: Pairs(lo, hi) holds pairs lo … hi−1 of every field, a
// nil length slice stays nil, and appending to the result leaves the
// batch's next pair alone.
func TestBatchPairs(t *testing.T) {
	pairs := []EncodedPair{
		{Prompt: []int{1, 2}, Chosen: []int{3}, Rejected: []int{4, 5}},
		{Prompt: []int{6}, Chosen: []int{7, 8}, Rejected: []int{9}},
		{Prompt: []int{10, 11, 12}, Chosen: []int{13}, Rejected: []int{14}},
	}
	b := MakeBatch(pairs, 0, 0)
	want := MakeBatch(pairs[1:3], 0, b.T)
	if got := b.Pairs(1, 3); !reflect.DeepEqual(got, want) {
		t.Errorf("Pairs(1, 3) = %+v, want %+v", got, want)
	}
	p := b.Pairs(0, 1)
	p.ChosenIDs = append(p.ChosenIDs, []int{99})
	p.PromptLens = append(p.PromptLens, 99)
	if b.ChosenIDs[1][0] == 99 || b.PromptLens[1] == 99 {
		t.Error("appending to Pairs(0, 1) wrote into the batch")
	}
	b.PromptLens, b.ChosenLens, b.RejectedLens = nil, nil, nil
	if got := b.Pairs(0, 2); got.PromptLens != nil || got.ChosenLens != nil || got.RejectedLens != nil || len(got.ChosenIDs) != 2 {
		t.Errorf("Pairs of a batch without lengths: %+v", got)
	}
}
