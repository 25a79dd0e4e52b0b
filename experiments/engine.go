package experiments

// The probe pass of a cell: a forward-only Gorgonia graph over a
// models.LM (the training steps are experiments/train's). A cell keeps one
// probe graph per row-length bucket; each releases its values after its
// batch (graph.ReleaseValues), so the kept graphs cost their structure
// only and one batch's activations are live at a time.

import (
	"fmt"
	"math"
	"sort"
	"unsafe"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/graph"
	"gatedpo/graph/blasvec"
	"gatedpo/models"
)

// probeGraph is a forward-only graph over n sequences of length t. The
// per-position statistics are computed here in plain Go, and only at the
// response positions (a probe row is mostly prompt, and the graph's own
// log-prob ops would take a log-sum-exp over every position twice). For a
// model that exposes its final hidden states and head weight
// (Forward.Hidden, Forward.HeadWeight: the Hugging Face models) the
// machine runs only the subgraph up to the hidden states [n·t, D], and the
// logits of the response positions are computed block by block (at most
// graph.HeadChunkBytes at a time), so the [n·t, V] logits never exist;
// otherwise it runs up to the logits [n·t, V].
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
	return newProbeGraphPath(lm, n, t, false)
}

// newProbeGraphPath builds a probe graph; fullLogits forces the
// full-logits path even for a model that exposes its hidden states (tests
// compare the two).
func newProbeGraphPath(lm models.LM, n, t int, fullLogits bool) (p *probeGraph, err error) {
	defer graph.RecoverPanic("probe graph", &err)
	g := G.NewGraph()
	fwd, err := lm.Build(g, n, t)
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

// seqStats are the teacher-forced statistics of one sequence's response.
type seqStats struct {
	LP, LPArgmax, Top1, Entropy, Collision float64 // LP, LPArgmax summed; others means over positions
	NTok                                   int
	// TokLP and TokMax are the per-token terms of LP and LPArgmax (log π
	// of the response token, log max_v π), in response order.
	TokLP, TokMax []float64
}

// positionStats returns, for one row of logits and the id it predicts,
// log π(target), log max_v π(v), the entropy −Σ π log π and the collision
// Σ π², accumulated in float64 (docs/method.md §5).
func (p *probeGraph) positionStats(row any, target int) (lp, lmax, ent, col float64) {
	var m, s, sx, s2 float64 // max logit; Σ e; Σ e·x; Σ e², e = exp(x − m)
	switch r := row.(type) {
	case []float32:
		mx := blasvec.Max32(r)
		s = blasvec.ExpShiftSum32(p.exps, r, mx)
		for v, e := range p.exps[:len(r)] {
			sx += float64(e) * float64(r[v]-mx)
			s2 += float64(e) * float64(e)
		}
		m = float64(mx)
		lp = float64(r[target]-mx) - math.Log(s)
	case []float64:
		m = r[0]
		for _, x := range r {
			m = max(m, x)
		}
		for _, x := range r {
			e := math.Exp(x - m)
			s += e
			sx += e * (x - m)
			s2 += e * e
		}
		lp = r[target] - m - math.Log(s)
	}
	logS := math.Log(s)
	return lp, -logS, logS - sx/s, s2 / (s * s)
}

// posStat is the statistics of one response position (positionStats).
type posStat struct{ lp, lmax, ent, col float64 }

// run teacher-forces seqs (any number; batched by n, the last batch padded
// with copies of its first row) and returns one seqStats per sequence.
func (p *probeGraph) run(seqs []data.Sequence, padID int) ([]seqStats, error) {
	out := make([]seqStats, 0, len(seqs))
	for lo := 0; lo < len(seqs); lo += p.n {
		chunk := seqs[lo:min(lo+p.n, len(seqs))]
		rows := append([]data.Sequence{}, chunk...)
		for len(rows) < p.n {
			rows = append(rows, chunk[0])
		}
		b := data.MakeSeqBatch(rows, padID, p.t)
		if err := p.fwd.SetIDs(b.IDs); err != nil {
			return nil, err
		}
		err := p.vm.RunAll()
		if err != nil {
			p.release()
			return nil, err
		}
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
		target := func(k int) int { return b.IDs[k/p.t][k%p.t+1] }
		var st []posStat
		if p.hiddenV != nil {
			st, err = p.hiddenStats(pos, target)
		} else {
			st, err = p.logitStats(pos, target)
		}
		p.release()
		if err != nil {
			return nil, err
		}
		k := 0
		for r := range chunk {
			var s seqStats
			for ; k < len(pos) && pos[k]/p.t == r; k++ {
				q := st[k]
				s.NTok++
				s.TokLP, s.TokMax = append(s.TokLP, q.lp), append(s.TokMax, q.lmax)
				s.LP += q.lp
				s.LPArgmax += q.lmax
				s.Top1 += math.Exp(q.lmax)
				s.Entropy += q.ent
				s.Collision += q.col
			}
			if s.NTok > 0 {
				s.Top1 /= float64(s.NTok)
				s.Entropy /= float64(s.NTok)
				s.Collision /= float64(s.NTok)
			}
			out = append(out, s)
		}
	}
	return out, nil
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
		q := &st[j]
		q.lp, q.lmax, q.ent, q.col = p.positionStats(row, target(k))
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

// probeHeadChunkBytes bounds the logits block of the hidden-state probe
// path; tests lower it to exercise several blocks.
var probeHeadChunkBytes = graph.HeadChunkBytes

func hiddenStatsOf[T float32 | float64](p *probeGraph, h, w []T, pos []int, target func(int) int) []posStat {
	V := p.fwd.Vocab
	d := len(w) / V
	var z T
	chunk := max(1, min(probeHeadChunkBytes/(V*int(unsafe.Sizeof(z))), len(pos)))
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
			q := &st[j0+j]
			q.lp, q.lmax, q.ent, q.col = p.positionStats(block[j*V:(j+1)*V], target(pos[j0+j]))
		}
	}
	return st
}

// release drops the values of the last batch (the [n·t, V] logits or the
// hidden states among them): a probe keeps one graph per length bucket, and only the batch
// being scored needs its activations.
func (p *probeGraph) release() {
	graph.ReleaseValues(p.g, p.vm)
	p.logitsV, p.hiddenV = nil, nil
}

// bucketStep is the granularity of probe row lengths: a probe batch is
// padded to the smallest multiple of it that holds its longest row (a
// forward pass costs about linearly in the row length).
const bucketStep = 8

// bucketedProbe teacher-forces sequences in batches of n, sorted by
// length, each batch through a probe graph built for its length bucket
// (graphs are built on first use and kept). Results are in input order
// and do not depend on anything but the sequences.
type bucketedProbe struct {
	lm     models.LM
	n      int
	maxT   int
	graphs map[int]*probeGraph
}

func newBucketedProbe(lm models.LM, n, maxT int) *bucketedProbe {
	return &bucketedProbe{lm: lm, n: n, maxT: maxT, graphs: map[int]*probeGraph{}}
}

func (b *bucketedProbe) close() {
	for _, g := range b.graphs {
		g.close()
	}
}

func (b *bucketedProbe) run(seqs []data.Sequence, padID int) ([]seqStats, error) {
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	length := func(i int) int { return len(seqs[i].Prompt) + len(seqs[i].Response) }
	sort.SliceStable(order, func(a, c int) bool { return length(order[a]) < length(order[c]) })
	out := make([]seqStats, len(seqs))
	for lo := 0; lo < len(order); lo += b.n {
		idx := order[lo:min(lo+b.n, len(order))]
		t := (length(idx[len(idx)-1]) + bucketStep - 1) / bucketStep * bucketStep
		t = min(max(t, 2), b.maxT)
		g, ok := b.graphs[t]
		if !ok {
			var err error
			if g, err = newProbeGraph(b.lm, b.n, t); err != nil {
				return nil, err
			}
			b.graphs[t] = g
		}
		chunk := make([]data.Sequence, len(idx))
		for k, i := range idx {
			chunk[k] = seqs[i]
		}
		st, err := g.run(chunk, padID)
		if err != nil {
			return nil, err
		}
		for k, i := range idx {
			out[i] = st[k]
		}
	}
	return out, nil
}
