package loss

import (
	"math"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models/hf"
	"gatedpo/objectives"
)

// TestLogpMaskBitIdentical: with a Hugging Face model (whose head runs only
// at the positions Forward.LogpMask selects), the preference graph — loss,
// per-pair losses, sequence log-probs, gates, gate statistics and every
// gradient, with a relative token gate that reads the max log-probs — and
// the SFT sequence graph give the same bits as with the mask forced to
// all ones (the head at every position), in float64 and float32; the
// token log-probs are exactly 0 outside the response positions.
func TestLogpMaskBitIdentical(t *testing.T) {
	raw := `{"model_type":"gpt_neox","hidden_size":16,"intermediate_size":32,"num_hidden_layers":1,"num_attention_heads":2,"vocab_size":40,"max_position_embeddings":32}`
	c, err := hf.ParseConfig([]byte(raw), "test")
	if err != nil {
		t.Fatal(err)
	}
	b := data.Batch{
		ChosenIDs:    [][]int{{3, 4, 5, 6, 7, 0, 0, 0}, {8, 9, 10, 11, 12, 13, 14, 0}},
		RejectedIDs:  [][]int{{3, 4, 15, 16, 0, 0, 0, 0}, {8, 9, 10, 17, 18, 19, 20, 21}},
		ChosenMask:   [][]int{{0, 0, 1, 1, 1, 0, 0, 0}, {0, 0, 0, 1, 1, 1, 1, 0}},
		RejectedMask: [][]int{{0, 0, 1, 1, 0, 0, 0, 0}, {0, 0, 0, 1, 1, 1, 1, 1}},
		T:            8,
	}
	rc, rr := []float64{-7, -6}, []float64{-6.5, -12}
	obj := objectives.Spec{Name: objectives.DPO, Beta: 0.1}
	gate := gating.Spec{Kind: gating.KindSigmoid, Tau: 0.3, Level: gating.LevelToken, Relative: true, Temperature: 0.5, Alpha: 0.5}
	m := b.T - 1
	for _, dt := range []tensor.Dtype{tensor.Float64, tensor.Float32} {
		lm, err := hf.NewRandom(c, dt, 7)
		if err != nil {
			t.Fatal(err)
		}
		type out struct {
			res   PrefResult
			grads map[string][]float64
			lp    []float64
			seq   []float64
			sft   float64
		}
		run := func(all bool) out {
			pg, err := NewPrefGraph(lm, 2, b.T, PrefOptions{Objective: obj, Gate: gate, Grad: true})
			if err != nil {
				t.Fatal(err)
			}
			defer pg.Close()
			if pg.Policy.LogpMask == nil {
				t.Fatal("the Hugging Face forward has no LogpMask")
			}
			ones := make([]float64, 4*m)
			for i := range ones {
				ones[i] = 1
			}
			if err := pg.SetBatch(b, rc, rr); err != nil {
				t.Fatal(err)
			}
			if all {
				if err := pg.Policy.SetLogpMask(ones); err != nil {
					t.Fatal(err)
				}
			}
			if err := pg.Run(); err != nil {
				t.Fatal(err)
			}
			var o out
			if o.res, err = pg.Result(); err != nil {
				t.Fatal(err)
			}
			if o.grads, err = pg.Grads(); err != nil {
				t.Fatal(err)
			}
			o.lp = graph.Float64s(pg.lpV)

			sg, err := NewSeqGraph(lm, 2, b.T, true)
			if err != nil {
				t.Fatal(err)
			}
			defer sg.Close()
			if err := sg.SetBatch(b.RejectedIDs, b.RejectedMask); err != nil {
				t.Fatal(err)
			}
			if all {
				if err := sg.Forward.SetLogpMask(ones[:2*m]); err != nil {
					t.Fatal(err)
				}
			}
			if err := sg.Run(); err != nil {
				t.Fatal(err)
			}
			o.seq, o.sft = append([]float64(nil), sg.Logps()...), sg.LossValue()
			return o
		}
		got, want := run(false), run(true)
		same := func(what string, a, b []float64) {
			if !sameBits(a, b) {
				t.Errorf("%v %s: masked %v, all positions %v", dt, what, a, b)
			}
		}
		same("loss", []float64{got.res.Loss}, []float64{want.res.Loss})
		same("per-pair loss", got.res.PerPairLoss, want.res.PerPairLoss)
		same("policy chosen", got.res.Logps.PolicyChosen, want.res.Logps.PolicyChosen)
		same("policy rejected", got.res.Logps.PolicyRejected, want.res.Logps.PolicyRejected)
		for i := range got.res.RejectedGates {
			same("gates", got.res.RejectedGates[i], want.res.RejectedGates[i])
		}
		if got.res.GateStats != want.res.GateStats {
			t.Errorf("%v gate stats: masked %+v, all positions %+v", dt, got.res.GateStats, want.res.GateStats)
		}
		for name, g := range want.grads {
			same("grad "+name, got.grads[name], g)
		}
		same("SFT sequence log-probs", got.seq, want.seq)
		same("SFT loss", []float64{got.sft}, []float64{want.sft})
		// token log-probs: equal on the response positions, 0 elsewhere
		masks := append(append([][]int{}, b.ChosenMask...), b.RejectedMask...)
		outside := 0
		for r, mk := range masks {
			for p := 0; p < m; p++ {
				i := r*m + p
				if mk[p+1] != 0 {
					same("token log-prob", got.lp[i:i+1], want.lp[i:i+1])
					continue
				}
				if got.lp[i] != 0 {
					t.Errorf("%v token log-prob [%d, %d] outside the response: %v, want 0", dt, r, p, got.lp[i])
				}
				if want.lp[i] != 0 {
					outside++
				}
			}
		}
		if outside == 0 {
			t.Errorf("%v: the all-ones mask computed no position outside the responses", dt)
		}
		if math.IsNaN(got.res.Loss) {
			t.Errorf("%v: NaN loss", dt)
		}
	}
}
