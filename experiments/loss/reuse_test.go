package loss

import (
	"encoding/json"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/models"
	"gatedpo/objectives"
)

// TestPrefGraphReuseAcrossRuns runs one kept preference graph of a
// TinyGPT (float32, the sweep's dtype) on batch A, then B, then A again,
// releasing its values after each run as the training loop does (the ops
// reuse their buffers and the released ones come back from the pool). The
// results and gradients of every run must equal a fresh graph's bit for
// bit, and the Result and Grads returned after the first run must not
// change when later runs rewrite the graph's buffers (they are copies).
func TestPrefGraphReuseAcrossRuns(t *testing.T) {
	lm, err := models.NewTransformer(models.TransformerConfig{VocabSize: 24, DModel: 16, NHeads: 2, NLayers: 2, MaxSeqLen: 8, LNEps: 1e-5}, tensor.Float32, 11)
	if err != nil {
		t.Fatal(err)
	}
	a := data.Batch{
		ChosenIDs:    [][]int{{3, 4, 5, 6, 7, 0}, {8, 9, 10, 11, 0, 0}},
		RejectedIDs:  [][]int{{3, 4, 12, 13, 0, 0}, {8, 9, 14, 15, 16, 17}},
		ChosenMask:   [][]int{{0, 0, 1, 1, 1, 0}, {0, 0, 1, 1, 0, 0}},
		RejectedMask: [][]int{{0, 0, 1, 1, 0, 0}, {0, 0, 1, 1, 1, 1}},
		T:            6,
	}
	b := data.Batch{
		ChosenIDs:    [][]int{{5, 1, 2, 20, 0, 0}, {7, 7, 19, 18, 17, 2}},
		RejectedIDs:  [][]int{{5, 1, 9, 0, 0, 0}, {7, 7, 3, 4, 0, 0}},
		ChosenMask:   [][]int{{0, 1, 1, 1, 0, 0}, {0, 0, 1, 1, 1, 1}},
		RejectedMask: [][]int{{0, 1, 1, 0, 0, 0}, {0, 0, 1, 1, 0, 0}},
		T:            6,
	}
	refs := map[*data.Batch][2][]float64{&a: {{-7, -6}, {-6.5, -12}}, &b: {{-5, -9}, {-4, -8.5}}}
	obj := objectives.Spec{Name: objectives.DPO, Beta: 0.1}
	gate := gating.Spec{Kind: gating.KindRamp, Tau: 0.05, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5}

	snapshot := func(r goldenRun) string {
		j, err := json.Marshal(struct {
			Res   PrefResult
			Grads map[string][]float64
		}{r.res, r.grads})
		if err != nil {
			t.Fatal(err)
		}
		return string(j)
	}
	fresh := func(bt *data.Batch) string {
		return snapshot(runCase(t, lm, *bt, refs[bt][0], refs[bt][1], obj, gate))
	}

	pg, err := NewPrefGraph(lm, 2, 6, PrefOptions{Objective: obj, Gate: gate, Grad: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	run := func(bt *data.Batch) goldenRun {
		return runGraph(t, pg, *bt, refs[bt][0], refs[bt][1])
	}

	first := run(&a)
	firstJSON := snapshot(first)
	if len(firstJSON) < 1000 {
		t.Fatalf("snapshot too short to compare anything: %s", firstJSON)
	}
	if firstJSON != fresh(&a) {
		t.Fatalf("first run differs from a fresh graph's")
	}
	if got := snapshot(run(&b)); got != fresh(&b) {
		t.Errorf("run on B after A differs from a fresh graph's")
	}
	if got := snapshot(run(&a)); got != firstJSON {
		t.Errorf("run on A after B differs from the first run on A")
	}
	if snapshot(first) != firstJSON {
		t.Errorf("the Result and Grads of the first run changed after later runs")
	}
}

// TestLossLogps: LossLogps is an error before a Run and afterwards gives
// Result's Loss and Logps exactly, packed or not, with and without
// reference log-probs.
func TestLossLogps(t *testing.T) {
	lm, err := models.NewTransformer(models.TransformerConfig{VocabSize: 24, DModel: 16, NHeads: 2, NLayers: 1, MaxSeqLen: 16, LNEps: 1e-5}, tensor.Float32, 5)
	if err != nil {
		t.Fatal(err)
	}
	b := data.Batch{
		ChosenIDs:    [][]int{{3, 4, 5, 6, 7, 0}, {8, 9, 10, 11, 0, 0}},
		RejectedIDs:  [][]int{{3, 4, 12, 13, 0, 0}, {8, 9, 14, 15, 16, 17}},
		ChosenMask:   [][]int{{0, 0, 1, 1, 1, 0}, {0, 0, 1, 1, 0, 0}},
		RejectedMask: [][]int{{0, 0, 1, 1, 0, 0}, {0, 0, 1, 1, 1, 1}},
		PromptLens:   []int{2, 2}, ChosenLens: []int{3, 2}, RejectedLens: []int{2, 4},
		T: 6,
	}
	dpo := objectives.Spec{Name: objectives.DPO, Beta: 0.1}
	sft, _ := objectives.Default(objectives.SFT)
	gate := gating.Spec{Kind: gating.KindRamp, Tau: 0.05, Level: gating.LevelToken, Temperature: 1, Alpha: 0.5}
	for _, c := range []struct {
		obj    objectives.Spec
		pack   bool
		rc, rr []float64
	}{
		{dpo, false, []float64{-7, -6}, []float64{-6.5, -12}},
		{dpo, true, []float64{-7, -6}, []float64{-6.5, -12}},
		{sft, false, nil, nil},
	} {
		tt := b.T
		if c.pack {
			tt = 0
			for i := range b.ChosenIDs {
				tt = max(tt, PackedPairLen(b.PromptLens[i], b.ChosenLens[i], b.RejectedLens[i]))
			}
		}
		pg, err := NewPrefGraph(lm, 2, tt, PrefOptions{Objective: c.obj, Gate: gate, Pack: c.pack})
		if err != nil {
			t.Fatal(err)
		}
		defer pg.Close()
		if _, _, err := pg.LossLogps(); err == nil {
			t.Errorf("%s pack=%v: LossLogps before Run: no error", c.obj.Name, c.pack)
		}
		if err := pg.SetBatch(b, c.rc, c.rr); err != nil {
			t.Fatal(err)
		}
		if err := pg.Run(); err != nil {
			t.Fatal(err)
		}
		loss, lp, err := pg.LossLogps()
		if err != nil {
			t.Fatal(err)
		}
		res, err := pg.Result()
		if err != nil {
			t.Fatal(err)
		}
		got, _ := json.Marshal(struct {
			L  float64
			LP objectives.Logps
		}{loss, lp})
		want, _ := json.Marshal(struct {
			L  float64
			LP objectives.Logps
		}{res.Loss, res.Logps})
		if string(got) != string(want) {
			t.Errorf("%s pack=%v: LossLogps %s, Result %s", c.obj.Name, c.pack, got, want)
		}
		if (lp.ReferenceChosen == nil) != (c.rc == nil) {
			t.Errorf("%s pack=%v: reference log-probs %v, given %v", c.obj.Name, c.pack, lp.ReferenceChosen, c.rc)
		}
	}
}
