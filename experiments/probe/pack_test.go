package probe

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/graph"
	"gatedpo/models"
	"gatedpo/models/hf"
)

// packTestSeqs are probe sequences as the sweep makes them: several
// responses per prompt (in field order, the prompts interleaved), plus an
// empty response, a one-token prompt, empty prompts and a duplicate.
func packTestSeqs(vocab, maxT int) []data.Sequence {
	rng := graph.NewRNG(11)
	toks := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = 1 + int(rng.Uint64()%uint64(vocab-1))
		}
		return out
	}
	prompts := [][]int{toks(9), toks(1), toks(14), toks(5), toks(maxT - 6)}
	var seqs []data.Sequence
	for f := 0; f < 4; f++ { // fields
		for i, p := range prompts {
			n := 1 + (i*5+f*3)%6
			if i == 4 {
				n = 6 - f // up to maxT tokens
			}
			seqs = append(seqs, data.Sequence{Prompt: p, Response: toks(n)})
		}
	}
	seqs = append(seqs,
		data.Sequence{Prompt: prompts[0]},                    // empty response
		data.Sequence{Response: toks(4)},                     // empty prompt
		data.Sequence{Response: toks(7)},                     // another
		data.Sequence{Prompt: prompts[2], Response: toks(3)}, // a late member of an early group
		seqs[3], // a duplicate
	)
	return seqs
}

// checkPackedProber runs seqs through a packed and an unpacked Prober of
// lm (batch n, so that rows spread over several batches and groups over
// several rows) and requires the same SeqStats: bit-identical when
// graph.PackedBitIdentical, else within tol relative.
func checkPackedProber(t *testing.T, lm models.LM, seqs []data.Sequence, maxT, n int, tol float64) {
	t.Helper()
	un := New(lm, maxT)
	un.plm, un.n = nil, n
	defer un.Close()
	pk := New(lm, maxT)
	pk.n = n
	defer pk.Close()
	if !pk.Packed() {
		t.Fatalf("a %s model is not probed packed", lm.Kind())
	}
	want, err := un.Run(seqs, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pk.Run(seqs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pk.packed) < 2 {
		t.Errorf("the packed run used %d graph(s); the test wants several batches", len(pk.packed))
	}
	if graph.PackedBitIdentical() {
		tol = 0
	}
	for i := range seqs {
		g, w := got[i], want[i]
		if g.NTok != w.NTok || len(g.TokLP) != len(w.TokLP) {
			t.Fatalf("sequence %d: %d tokens packed, %d unpacked", i, g.NTok, w.NTok)
		}
		if tol == 0 {
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("sequence %d: packed %+v\nunpacked %+v", i, g, w)
			}
			continue
		}
		near := func(what string, a, b float64) {
			if math.Abs(a-b) > tol*math.Max(1, math.Abs(b)) {
				t.Errorf("sequence %d %s: packed %v, unpacked %v", i, what, a, b)
			}
		}
		near("LP", g.LP, w.LP)
		near("LPArgmax", g.LPArgmax, w.LPArgmax)
		near("Top1", g.Top1, w.Top1)
		near("Entropy", g.Entropy, w.Entropy)
		near("Collision", g.Collision, w.Collision)
		for j := range g.TokLP {
			near(fmt.Sprintf("token %d lp", j), g.TokLP[j], w.TokLP[j])
			near(fmt.Sprintf("token %d max", j), g.TokMax[j], w.TokMax[j])
		}
	}
}

// TestPackedProberMatchesUnpacked: the packed probe gives every sequence
// the statistics of the unpacked probe — bit-identical in the default
// build — on the transformer (learned positions) and Hugging Face models
// of every family (learned positions, rotary, grouped-query attention, the
// hidden-state path), float32 and float64.
func TestPackedProberMatchesUnpacked(t *testing.T) {
	const maxT = 24
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		tr, err := models.NewTransformer(models.TransformerConfig{VocabSize: 259, DModel: 32, NHeads: 2, NLayers: 2, MaxSeqLen: maxT, LNEps: 1e-5}, dt, 3)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(fmt.Sprintf("transformer/%v", dt), func(t *testing.T) {
			checkPackedProber(t, tr, packTestSeqs(259, maxT), maxT, 3, map[tensor.Dtype]float64{tensor.Float32: 1e-4, tensor.Float64: 1e-10}[dt])
		})
		for name, raw := range map[string]string{
			"gpt2": `{"model_type":"gpt2","n_embd":24,"n_head":3,"n_layer":2,"vocab_size":300,"n_positions":24}`,
			"gpt_neox": `{"model_type":"gpt_neox","hidden_size":32,"num_attention_heads":2,"num_hidden_layers":2,"vocab_size":300,
				"intermediate_size":48,"max_position_embeddings":24,"rotary_pct":0.5,"hidden_act":"gelu"}`,
			"llama": `{"model_type":"llama","hidden_size":24,"num_attention_heads":4,"num_key_value_heads":2,"num_hidden_layers":2,
				"vocab_size":300,"intermediate_size":40,"max_position_embeddings":24,"rms_norm_eps":1e-5}`,
		} {
			c, err := hf.ParseConfig([]byte(raw), name)
			if err != nil {
				t.Fatal(err)
			}
			m, err := hf.NewRandom(c, dt, 5)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(fmt.Sprintf("%s/%v", name, dt), func(t *testing.T) {
				checkPackedProber(t, m, packTestSeqs(300, maxT), maxT, 3, map[tensor.Dtype]float64{tensor.Float32: 1e-4, tensor.Float64: 1e-10}[dt])
			})
		}
	}
}

// TestPackRows: grouping by prompt in order of first appearance, the row
// cap splitting a group (each part with the prefix), empty sequences left
// out, and the error for a sequence longer than maxT.
func TestPackRows(t *testing.T) {
	a, b := []int{1, 2, 3}, []int{4}
	seqs := []data.Sequence{
		{Prompt: a, Response: []int{9, 9}},    // group a: segment [3 9 9]
		{Prompt: b, Response: []int{8}},       // group b: no prefix, segment [4 8]
		{Prompt: a, Response: []int{7, 7, 7}}, // [3 7 7 7]
		{},                                    // empty: left out
		{Prompt: a, Response: nil},            // [3]
		{Response: []int{5, 6}},               // empty prompt: [5 6], response from offset 0
	}
	rows, err := packRows(seqs, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	type seg struct{ seq, rs, n int }
	type row struct {
		prefix []int
		segs   []seg
	}
	var got []row
	for _, r := range rows {
		var ss []seg
		for _, s := range r.segs {
			ss = append(ss, seg{s.seq, s.rs, len(s.tokens)})
		}
		got = append(got, row{r.prefix, ss})
	}
	want := []row{
		{[]int{1, 2}, []seg{{0, 1, 3}}}, // 2 + 3 + 4 > 8: the group splits
		{[]int{1, 2}, []seg{{2, 1, 4}, {4, 1, 1}}},
		{[]int{}, []seg{{1, 1, 2}}},
		{nil, []seg{{5, 0, 2}}},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
	if _, err := packRows([]data.Sequence{{Prompt: a, Response: []int{1, 2, 3, 4, 5, 6}}}, 8, 100); err == nil {
		t.Fatal("a sequence of 9 tokens passed maxT 8")
	}
}

// TestProberMLPUnpacked: a model without packed forwards (the MLP) is
// probed unpacked, and a packed probe graph refuses it.
func TestProberMLPUnpacked(t *testing.T) {
	lm, err := models.NewMLP(models.MLPConfig{VocabSize: 40, Window: 3, DEmbed: 4, DHidden: 8, MaxSeqLen: 24}, tensor.Float64, 1)
	if err != nil {
		t.Fatal(err)
	}
	pr := New(lm, 24)
	defer pr.Close()
	if pr.Packed() {
		t.Fatal("the MLP is probed packed")
	}
	seqs := packTestSeqs(40, 24)
	st, err := pr.Run(seqs, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range seqs {
		want := len(s.Response)
		if len(s.Prompt) == 0 && want > 0 {
			want-- // nothing predicts the first token of a row
		}
		if st[i].NTok != want {
			t.Fatalf("sequence %d: %d tokens scored, want %d", i, st[i].NTok, want)
		}
	}
	if len(pr.packed) != 0 || len(pr.graphs) == 0 {
		t.Fatalf("%d packed and %d unpacked graphs", len(pr.packed), len(pr.graphs))
	}
	if _, err := newProbeGraphPath(lm, 2, 8, false, true); err == nil {
		t.Fatal("a packed probe graph of the MLP was built")
	}
}

// TestPackedProbeGraphReleases: a packed probe graph holds nothing after a
// pass (attention caches included), and a second pass through it gives
// the same statistics bit for bit.
func TestPackedProbeGraphReleases(t *testing.T) {
	lm, err := models.NewTransformer(models.TransformerConfig{VocabSize: 259, DModel: 32, NHeads: 2, NLayers: 1, MaxSeqLen: 24, LNEps: 1e-5}, tensor.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	pr := New(lm, 24)
	defer pr.Close()
	seqs := packTestSeqs(259, 24)
	first, err := pr.Run(seqs, 0)
	if err != nil {
		t.Fatal(err)
	}
	for tb, g := range pr.packed {
		if h := graph.HeldBytes(g.g); h > heldByConstants || g.logitsV != nil {
			t.Errorf("packed graph of bucket %d holds %d bytes after a pass", tb, h)
		}
	}
	second, err := pr.Run(seqs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(first, second) {
		t.Fatal("a second packed pass differs from the first")
	}
}

// TestProberBatchSize: a Prober with batches of 1 or 2 rows (NewBatched,
// the sweep's probes under train.micro_pairs) gives every sequence the
// statistics of one with Batch rows — bit-identical in the default build,
// packed (a Hugging Face model) and unpacked (the MLP), float32.
func TestProberBatchSize(t *testing.T) {
	const maxT = 24
	c, err := hf.ParseConfig([]byte(`{"model_type":"gpt_neox","hidden_size":32,"num_attention_heads":2,"num_hidden_layers":2,"vocab_size":300,
		"intermediate_size":48,"max_position_embeddings":24,"rotary_pct":0.5,"hidden_act":"gelu"}`), "gpt_neox")
	if err != nil {
		t.Fatal(err)
	}
	neox, err := hf.NewRandom(c, tensor.Float32, 5)
	if err != nil {
		t.Fatal(err)
	}
	mlp, err := models.NewMLP(models.MLPConfig{VocabSize: 300, Window: 4, DEmbed: 8, DHidden: 16, Activation: models.ActTanh, MaxSeqLen: maxT}, tensor.Float32, 3)
	if err != nil {
		t.Fatal(err)
	}
	seqs := packTestSeqs(300, maxT)
	for _, lm := range []models.LM{neox, mlp} {
		whole := New(lm, maxT)
		want, err := whole.Run(seqs, 0)
		whole.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, rows := range []int{1, 2} {
			pr := NewBatched(lm, maxT, rows)
			got, err := pr.Run(seqs, 0)
			pr.Close()
			if err != nil {
				t.Fatal(err)
			}
			for i := range seqs {
				if graph.PackedBitIdentical() && !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("%s, batches of %d: sequence %d: %+v, batches of %d: %+v", lm.Kind(), rows, i, got[i], Batch, want[i])
				}
				if math.Abs(got[i].LP-want[i].LP) > 1e-4*math.Max(1, math.Abs(want[i].LP)) {
					t.Errorf("%s, batches of %d: sequence %d LP %v, batches of %d: %v", lm.Kind(), rows, i, got[i].LP, Batch, want[i].LP)
				}
			}
		}
	}
}
