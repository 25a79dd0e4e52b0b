package experiments

// The compute side of a cell: Gorgonia graphs over a models.LM for the
// SFT step, the preference step and the forward-only probe pass. Each graph
// is built once per cell for a fixed batch shape and reused every step
// (GORGONIA.md: Let/RunAll/Step/Reset). A cell keeps one graph per row
// length bucket; each releases its values after its step or probe batch
// (graph.ReleaseValues), so the kept graphs cost their structure only
// (≈ 0.1–0.4 MB each) and one batch's activations are live at a time.

import (
	"fmt"
	"math"
	"sort"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/graph/blasvec"
	"gatedpo/models"
	"gatedpo/objectives"
)

// trainOutput is what one training step measured.
type trainOutput struct {
	Loss     float64
	Metrics  map[string]float64 // TRL names (objectives.Metrics) and gate/* statistics
	GradNorm float64
	LR       float64
}

// stepper runs one optimizer step on the parameters of a graph after the
// graph's Run (forward and backward).
type stepper struct {
	opt   *graph.Optimizer
	names []string
	nodes []*G.Node
}

func newStepper(opt *graph.Optimizer, params []graph.Param) stepper {
	s := stepper{opt: opt}
	for _, p := range params {
		s.names = append(s.names, p.Name)
		s.nodes = append(s.nodes, p.Node)
	}
	return s
}

// sftGraph trains the SFT loss (mean NLL over the response tokens of the
// batch) on n sequences of length t (the lossgraph SeqGraph).
type sftGraph struct {
	sg *SeqGraph
	stepper
}

func newSFTGraph(lm models.LM, opt *graph.Optimizer, n, t int) (*sftGraph, error) {
	sg, err := NewSeqGraph(lm, n, t, true)
	if err != nil {
		return nil, err
	}
	return &sftGraph{sg: sg, stepper: newStepper(opt, sg.Params())}, nil
}

func (s *sftGraph) close() { s.sg.Close() }

func (s *sftGraph) step(b data.SeqBatch) (out trainOutput, err error) {
	defer recoverGraph("sft step", &err)
	defer s.sg.Release() // the graph is kept for its bucket: keep no activations
	out.Metrics = map[string]float64{}
	if err := s.sg.SetBatch(b.IDs, b.Mask); err != nil {
		return out, err
	}
	if err := s.sg.Run(); err != nil {
		return out, err
	}
	out.Loss = s.sg.LossValue()
	info, err := s.opt.StepNodes(s.names, s.nodes)
	out.GradNorm, out.LR = info.GradNorm, info.LR
	return out, err
}

// prefGraph trains a preference objective on B pairs (the lossgraph
// PrefGraph: one forward pass over [chosen; rejected], the gate on the
// rejected tokens, the objective on precomputed reference log-probs).
type prefGraph struct {
	pg *PrefGraph
	stepper
}

func newPrefGraph(lm models.LM, opt *graph.Optimizer, spec objectives.Spec, gate gating.Spec, b, t int) (*prefGraph, error) {
	pg, err := NewPrefGraph(lm, b, t, PrefOptions{Objective: spec, Gate: gate, Grad: true})
	if err != nil {
		return nil, err
	}
	return &prefGraph{pg: pg, stepper: newStepper(opt, pg.Params())}, nil
}

func (p *prefGraph) close() { p.pg.Close() }

func (p *prefGraph) step(bt data.Batch, refC, refR []float64) (out trainOutput, err error) {
	defer recoverGraph("preference step", &err)
	defer p.pg.Release() // the graph is kept for its bucket: keep no activations
	if err := p.pg.SetBatch(bt, refC, refR); err != nil {
		return out, err
	}
	if err := p.pg.Run(); err != nil {
		return out, err
	}
	res, err := p.pg.Result()
	if err != nil {
		return out, err
	}
	out.Loss, out.Metrics = res.Loss, res.Metrics
	// gate statistics over the rejected response tokens (docs/method.md §3)
	st := res.GateStats
	out.Metrics["gate/mean_g"] = st.MeanG
	out.Metrics["gate/frac_g_lt_0.5"] = st.FracLtHf
	out.Metrics["gate/logp_q10"] = st.LogpQ10
	out.Metrics["gate/logp_q50"] = st.LogpQ50
	out.Metrics["gate/logp_q90"] = st.LogpQ90
	info, err := p.opt.StepNodes(p.names, p.nodes)
	out.GradNorm, out.LR = info.GradNorm, info.LR
	return out, err
}

// probeGraph is a forward-only graph over n sequences of length t. Its
// machine runs only the subgraph up to the logits [n·t, V]; the
// per-position statistics are computed here in plain Go, and only at the
// response positions (a probe row is mostly prompt, and the graph's own
// log-prob ops would take a log-sum-exp over every position twice).
type probeGraph struct {
	g       *G.ExprGraph
	vm      G.VM
	fwd     *models.Forward
	logitsV G.Value
	n, t    int
	exps    []float32 // scratch: exp(logit − max) of one row
}

func newProbeGraph(lm models.LM, n, t int) (p *probeGraph, err error) {
	defer recoverGraph("probe graph", &err)
	g := G.NewGraph()
	fwd, err := lm.Build(g, n, t)
	if err != nil {
		return nil, err
	}
	p = &probeGraph{g: g, fwd: fwd, n: n, t: t, exps: make([]float32, fwd.Vocab)}
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
		logits, ok := p.logitsV.(*tensor.Dense)
		if !ok {
			p.release()
			return nil, fmt.Errorf("probe graph: logits not read")
		}
		V := p.fwd.Vocab
		for r := range chunk {
			var s seqStats
			for i := 0; i < p.t-1; i++ {
				if b.Mask[r][i+1] == 0 { // position i predicts token i+1
					continue
				}
				k := (r*p.t + i) * V
				var row any
				switch d := logits.Data().(type) {
				case []float32:
					row = d[k : k+V]
				case []float64:
					row = d[k : k+V]
				}
				lp, lmax, ent, col := p.positionStats(row, b.IDs[r][i+1])
				s.NTok++
				s.TokLP, s.TokMax = append(s.TokLP, lp), append(s.TokMax, lmax)
				s.LP += lp
				s.LPArgmax += lmax
				s.Top1 += math.Exp(lmax)
				s.Entropy += ent
				s.Collision += col
			}
			if s.NTok > 0 {
				s.Top1 /= float64(s.NTok)
				s.Entropy /= float64(s.NTok)
				s.Collision /= float64(s.NTok)
			}
			out = append(out, s)
		}
		p.release()
	}
	return out, nil
}

// release drops the values of the last batch (the [n·t, V] logits among
// them): a probe keeps one graph per length bucket, and only the batch
// being scored needs its activations.
func (p *probeGraph) release() {
	graph.ReleaseValues(p.g, p.vm)
	p.logitsV = nil
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

// recoverGraph turns a panic while building or running a graph into an error.
func recoverGraph(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%s: %v", what, r)
	}
}
