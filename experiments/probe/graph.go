package probe

import (
	"fmt"
	"unsafe"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/graph"
	"gatedpo/models"
)

// probeGraph is a forward-only graph over n sequences of length t: one
// length bucket of a Prober. The per-position statistics (positionStats)
// are computed in plain Go, and only at the response positions (a probe
// row is mostly prompt, and the graph's own log-prob ops would take a
// log-sum-exp over every position twice). For a model that exposes its
// final hidden states and head weight (Forward.Hidden, Forward.HeadWeight:
// the Hugging Face models) the machine runs only the subgraph up to the
// hidden states [n·t, D], and the logits of the response positions are
// computed block by block (at most headChunkBytes at a time), so the
// [n·t, V] logits never exist; otherwise it runs up to the logits
// [n·t, V]. It releases its values after each batch (graph.ReleaseValues),
// so a kept graph costs its structure only.
type probeGraph struct {
	g       *G.ExprGraph
	vm      G.VM
	fwd     *models.Forward
	logitsV G.Value // full-logits path: the [n·t, V] logits of the last batch
	hiddenV G.Value // hidden-state path: the [n·t, D] hidden states of the last batch
	n, t    int
	exps    []float32 // scratch: exp(logit − max) of one row
	block   any       // hidden-state path: scratch logits block ([]float32 or []float64)
	gather  any       // hidden-state path: scratch hidden rows of one block
}

func newProbeGraph(lm models.LM, n, t int) (p *probeGraph, err error) {
	return newProbeGraphPath(lm, n, t, false, false)
}

// newPackedProbeGraph is newProbeGraph over n packed rows of t tokens
// (models.PackedLM.BuildPacked; run them with runPacked).
func newPackedProbeGraph(lm models.PackedLM, n, t int) (p *probeGraph, err error) {
	return newProbeGraphPath(lm, n, t, false, true)
}

// newProbeGraphPath builds a probe graph, packed or not; fullLogits forces
// the full-logits path even for a model that exposes its hidden states
// (tests compare the two).
func newProbeGraphPath(lm models.LM, n, t int, fullLogits, packed bool) (p *probeGraph, err error) {
	defer graph.RecoverPanic("probe graph", &err)
	g := G.NewGraph()
	var fwd *models.Forward
	if plm, ok := lm.(models.PackedLM); ok && packed {
		fwd, err = plm.BuildPacked(g, n, t)
	} else if packed {
		return nil, fmt.Errorf("probe graph: a %s model cannot build packed rows", lm.Kind())
	} else {
		fwd, err = lm.Build(g, n, t)
	}
	if err != nil {
		return nil, err
	}
	p = &probeGraph{g: g, fwd: fwd, n: n, t: t, exps: make([]float32, fwd.Vocab)}
	if fwd.Hidden != nil && fwd.HeadWeight != nil && !fullLogits {
		read := G.Read(fwd.Hidden, &p.hiddenV)
		p.vm = graph.NewTapeMachine(g.SubgraphRoots(read))
		return p, nil
	}
	logits, err := fwd.LogitsNode()
	if err != nil {
		return nil, err
	}
	read := G.Read(logits, &p.logitsV)
	p.vm = graph.NewTapeMachine(g.SubgraphRoots(read))
	return p, nil
}

func (p *probeGraph) close() { p.vm.Close() }

// run teacher-forces seqs (any number; batched by n, the last batch padded
// with copies of its first row) and returns one SeqStats per sequence.
func (p *probeGraph) run(seqs []data.Sequence, padID int) ([]SeqStats, error) {
	out := make([]SeqStats, 0, len(seqs))
	for lo := 0; lo < len(seqs); lo += p.n {
		chunk := seqs[lo:min(lo+p.n, len(seqs))]
		rows := append([]data.Sequence{}, chunk...)
		for len(rows) < p.n {
			rows = append(rows, chunk[0])
		}
		b := data.MakeSeqBatch(rows, padID, p.t)
		// the response positions of the real rows, in sequence then
		// position order: position i of row r predicts token i+1
		var pos []int // row index r·t+i into the [n·t, ·] outputs
		for r := range chunk {
			for i := 0; i < p.t-1; i++ {
				if b.Mask[r][i+1] != 0 {
					pos = append(pos, r*p.t+i)
				}
			}
		}
		st, err := p.score(b.IDs, nil, pos)
		if err != nil {
			return nil, err
		}
		k := 0
		for r := range chunk {
			k0 := k
			for k < len(pos) && pos[k]/p.t == r {
				k++
			}
			out = append(out, seqStatsOf(st[k0:k]))
		}
	}
	return out, nil
}

// score runs one batch — ids [n][t], and the pack layout of a packed
// graph — and returns positionStats at the rows pos of the [n·t, ·]
// outputs (row r·t+i predicts ids[r][i+1]).
func (p *probeGraph) score(ids [][]int, layout []graph.PackRow, pos []int) ([]posStat, error) {
	if err := p.fwd.SetIDs(ids); err != nil {
		return nil, err
	}
	if p.fwd.Layout != nil {
		if err := p.fwd.SetLayout(layout); err != nil {
			return nil, err
		}
	}
	if err := p.vm.RunAll(); err != nil {
		p.release()
		return nil, err
	}
	target := func(k int) int { return ids[k/p.t][k%p.t+1] }
	var st []posStat
	var err error
	if p.hiddenV != nil {
		st, err = p.hiddenStats(pos, target)
	} else {
		st, err = p.logitStats(pos, target)
	}
	p.release()
	return st, err
}

// logitStats is positionStats at the rows pos of the [n·t, V] logits of
// the last run.
func (p *probeGraph) logitStats(pos []int, target func(int) int) ([]posStat, error) {
	logits, ok := p.logitsV.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("probe graph: logits not read")
	}
	V := p.fwd.Vocab
	st := make([]posStat, len(pos))
	for j, k := range pos {
		var row any
		switch d := logits.Data().(type) {
		case []float32:
			row = d[k*V : (k+1)*V]
		case []float64:
			row = d[k*V : (k+1)*V]
		}
		st[j] = positionStats(p.exps, row, target(k))
	}
	return st, nil
}

// hiddenStats is logitStats computed from the hidden states of the last
// run: the logits of the rows pos, a block of rows at a time.
func (p *probeGraph) hiddenStats(pos []int, target func(int) int) ([]posStat, error) {
	h, ok := p.hiddenV.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("probe graph: hidden states not read")
	}
	w, ok := p.fwd.HeadWeight.Value().(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("probe graph: the head weight has no value")
	}
	switch hd := h.Data().(type) {
	case []float32:
		wd, ok := w.Data().([]float32)
		if !ok {
			return nil, fmt.Errorf("probe graph: head weight %v, hidden states float32", w.Dtype())
		}
		return hiddenStatsOf(p, hd, wd, pos, target), nil
	case []float64:
		wd, ok := w.Data().([]float64)
		if !ok {
			return nil, fmt.Errorf("probe graph: head weight %v, hidden states float64", w.Dtype())
		}
		return hiddenStatsOf(p, hd, wd, pos, target), nil
	}
	return nil, fmt.Errorf("probe graph: unsupported hidden-state dtype %v", h.Dtype())
}

// headChunkBytes bounds the logits block of the hidden-state path; tests
// lower it to exercise several blocks.
var headChunkBytes = graph.HeadChunkBytes

func hiddenStatsOf[T float32 | float64](p *probeGraph, h, w []T, pos []int, target func(int) int) []posStat {
	V := p.fwd.Vocab
	d := len(w) / V
	var z T
	chunk := max(1, min(headChunkBytes/(V*int(unsafe.Sizeof(z))), len(pos)))
	block, _ := p.block.([]T)
	gather, _ := p.gather.([]T)
	if len(block) < chunk*V {
		block = make([]T, chunk*V)
		p.block = block
	}
	if len(gather) < chunk*d {
		gather = make([]T, chunk*d)
		p.gather = gather
	}
	st := make([]posStat, len(pos))
	for j0 := 0; j0 < len(pos); j0 += chunk {
		c := min(chunk, len(pos)-j0)
		for j := 0; j < c; j++ {
			k := pos[j0+j]
			copy(gather[j*d:(j+1)*d], h[k*d:(k+1)*d])
		}
		graph.HeadLogits(block, gather, c, d, w, V)
		for j := 0; j < c; j++ {
			st[j0+j] = positionStats(p.exps, block[j*V:(j+1)*V], target(pos[j0+j]))
		}
	}
	return st
}

// release drops the values of the last batch (the [n·t, V] logits or the
// hidden states among them): a Prober keeps one graph per length bucket,
// and only the batch being scored needs its activations.
func (p *probeGraph) release() {
	graph.ReleaseValues(p.g, p.vm)
	p.logitsV, p.hiddenV = nil, nil
}
