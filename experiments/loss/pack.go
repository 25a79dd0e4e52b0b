package loss

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/experiments/data"
	"gatedpo/graph"
	"gatedpo/models"
)

// Packed pairs (PrefOptions.Pack, NewPackedReference): pair i of a batch,
// prompt x (P tokens), chosen y⁺ (C tokens) and rejected y⁻ (R tokens),
// goes into one row of a packed forward (models.PackedLM,
// graph.PackLayout)
//
//	x[:P−1] | x[P−1] ++ y⁺ | x[P−1] ++ y⁻ | padding
//
// — the unpacked chosen row x ++ y⁺ followed by the tail x[P−1:] ++ y⁻ of
// the unpacked rejected row — so the prompt's prefix is computed once for
// both responses. The layout gives every token the keys, values and
// position it has in its unpacked row, so every response token gets the
// log-prob it has unpacked; position t of the unpacked chosen row is
// position t of the packed row, position t of the unpacked rejected row
// (t ≥ P−1) is position t + 1 + C. With an empty prompt the two responses
// are the segments and the offset is C.

// PackedPairLen is the number of tokens of the packed row of a pair whose
// prompt has p tokens and whose responses have c and r: p + c + r + 1
// (p + c + r for an empty prompt). A graph built with PrefOptions.Pack (or
// NewPackedReference) for rows of t tokens takes pairs up to that length.
func PackedPairLen(p, c, r int) int {
	return p + c + (p - max(p-1, 0)) + r
}

// packedBatch is a preference batch laid out as packed rows.
type packedBatch struct {
	ids               [][]int         // [n][t]
	rows              []graph.PackRow // the layout
	chosen, rejected  []float64       // [n·(t−1)]: 1 where the position predicts a chosen (rejected) response token
	cl, rl            []float64       // response tokens scored per pair
	rejOff            []int           // per pair: packed position − unpacked position of the rejected row
	batchT, graphRows int
}

// responseSpan returns the first index and the number of the non-zero
// entries of a response mask row, which must be contiguous.
func responseSpan(what string, i int, mask []int) (start, n int, err error) {
	start = -1
	for j, v := range mask {
		if v == 0 {
			continue
		}
		if start < 0 {
			start = j
		} else if j != start+n {
			return 0, 0, fmt.Errorf("pair %d: the %s response mask is not one contiguous run of tokens (packed pairs need prompt ++ response ++ padding)", i, what)
		}
		n++
	}
	return start, n, nil
}

// packPairs lays out b (n pairs, rows of b.T tokens) as n packed rows of
// t tokens (padding id 0, which nothing reads).
func packPairs(b data.Batch, n, t int) (packedBatch, error) {
	T := b.T
	if err := checkRows("chosen", b.ChosenIDs, b.ChosenMask, n, T); err != nil {
		return packedBatch{}, err
	}
	if err := checkRows("rejected", b.RejectedIDs, b.RejectedMask, n, T); err != nil {
		return packedBatch{}, err
	}
	if T < 2 {
		return packedBatch{}, fmt.Errorf("packed pairs: rows of %d tokens, need ≥ 2", T)
	}
	m, M := T-1, t-1
	pb := packedBatch{ids: make([][]int, n), rows: make([]graph.PackRow, n),
		chosen: make([]float64, n*M), rejected: make([]float64, n*M),
		cl: make([]float64, n), rl: make([]float64, n), rejOff: make([]int, n), batchT: T, graphRows: n}
	for i := 0; i < n; i++ {
		cs, c, err := responseSpan("chosen", i, b.ChosenMask[i])
		if err != nil {
			return packedBatch{}, err
		}
		rs, r, err := responseSpan("rejected", i, b.RejectedMask[i])
		if err != nil {
			return packedBatch{}, err
		}
		var p int
		switch {
		case c > 0 && r > 0 && cs != rs:
			return packedBatch{}, fmt.Errorf("pair %d: the chosen response starts at token %d and the rejected one at %d (packed pairs need one prompt)", i, cs, rs)
		case c > 0:
			p = cs
		case r > 0:
			p = rs
		default:
			return packedBatch{}, fmt.Errorf("pair %d: the chosen response has no token to score", i)
		}
		for j := 0; j < p; j++ {
			if b.ChosenIDs[i][j] != b.RejectedIDs[i][j] {
				return packedBatch{}, fmt.Errorf("pair %d: the chosen and rejected rows differ at prompt token %d (packed pairs need one prompt)", i, j)
			}
		}
		if l := PackedPairLen(p, c, r); l > t {
			return packedBatch{}, fmt.Errorf("pair %d: its packed row has %d tokens (prompt %d, chosen %d, rejected %d), the graph was built for %d", i, l, p, c, r, t)
		}
		lp := max(p-1, 0)
		lc, lr := p-lp+c, p-lp+r
		row := make([]int, 0, t)
		row = append(row, b.ChosenIDs[i][:p+c]...)
		row = append(row, b.RejectedIDs[i][lp:p+r]...)
		row = append(row, make([]int, t-len(row))...)
		pb.ids[i] = row
		pb.rows[i].Prefix = lp
		for _, s := range []int{lc, lr} {
			if s > 0 {
				pb.rows[i].Segs = append(pb.rows[i].Segs, s)
			}
		}
		pb.rejOff[i] = lc
		for u := 0; u < m; u++ {
			// prediction u scores token u+1 (as in the unpacked rows)
			if b.ChosenMask[i][u+1] != 0 {
				pb.chosen[i*M+u] = 1
				pb.cl[i]++
			}
			if b.RejectedMask[i][u+1] != 0 {
				pb.rejected[i*M+u+lc] = 1
				pb.rl[i]++
			}
		}
	}
	return pb, nil
}

// logpMask is the union of the chosen and rejected positions.
func (pb *packedBatch) logpMask() []float64 {
	out := make([]float64, len(pb.chosen))
	for i := range out {
		out[i] = pb.chosen[i] + pb.rejected[i]
	}
	return out
}

// unpackRejected maps x, [n·(t−1)] over the packed rows, to the layout of
// the unpacked rejected rows, [n·(batchT−1)]: the value at every rejected
// response position, 0 elsewhere.
func (pb *packedBatch) unpackRejected(x []float64) []float64 {
	n, m := pb.graphRows, pb.batchT-1
	M := len(pb.rejected) / n
	out := make([]float64, n*m)
	for i := 0; i < n; i++ {
		for q := 0; q < M; q++ {
			if pb.rejected[i*M+q] != 0 {
				out[i*m+q-pb.rejOff[i]] = x[i*M+q]
			}
		}
	}
	return out
}

// buildPacked builds the packed forward of lm for n rows of t tokens.
func buildPacked(what string, lm models.LM, g *G.ExprGraph, n, t int) (*models.Forward, error) {
	plm, ok := lm.(models.PackedLM)
	if !ok {
		return nil, fmt.Errorf("%s: packed pairs need a model that builds packed rows (models.PackedLM: the transformer and the Hugging Face models); a %s model does not", what, lm.Kind())
	}
	return plm.BuildPacked(g, n, t)
}

// PackedReference computes the reference sequence log-probs of B pairs,
// each packed into one row of T tokens (see PackedPairLen): the same
// values as ReferenceLogps over the unpacked [chosen; rejected] rows, up
// to rounding, with the prompt computed once per pair.
type PackedReference struct {
	Pairs, T int
	Graph    *G.ExprGraph
	Machine  G.VM
	Forward  *models.Forward
	// Chosen and Rejected are the [B] sequence log-probs.
	Chosen, Rejected *G.Node

	cMask, rMask   *G.Node
	cMaskT, rMaskT *tensor.Dense
	cV, rV         G.Value
}

// NewPackedReference builds a forward-only PackedReference of lm (a
// models.PackedLM) for pairs packed rows of t tokens.
func NewPackedReference(lm models.LM, pairs, t int) (pr *PackedReference, err error) {
	if pairs < 1 || t < 2 {
		return nil, fmt.Errorf("packed reference: need ≥ 1 pair and ≥ 2 tokens, got %d pairs of %d", pairs, t)
	}
	g := G.NewGraph()
	fwd, err := buildPacked("packed reference", lm, g, pairs, t)
	if err != nil {
		return nil, err
	}
	defer graph.RecoverPanic("packed reference", &err)
	dt := lm.Dtype()
	pr = &PackedReference{Pairs: pairs, T: t, Graph: g, Forward: fwd}
	pr.cMask, pr.cMaskT = graphInput(g, "loss.ref_chosen_mask", dt, pairs, t-1)
	pr.rMask, pr.rMaskT = graphInput(g, "loss.ref_rejected_mask", dt, pairs, t-1)
	if pr.Chosen, err = graph.MaskedRowSum(fwd.TokenLogps, pr.cMask); err != nil {
		return nil, err
	}
	if pr.Rejected, err = graph.MaskedRowSum(fwd.TokenLogps, pr.rMask); err != nil {
		return nil, err
	}
	G.Read(pr.Chosen, &pr.cV)
	G.Read(pr.Rejected, &pr.rV)
	pr.Machine = graph.NewTapeMachine(g)
	return pr, nil
}

// Logps runs the reference over b (Pairs pairs; rows of any length whose
// packed rows fit in T tokens) and returns the sequence log-probs of the
// chosen and the rejected responses. The graph's values are released
// after reading them.
func (pr *PackedReference) Logps(b data.Batch) (chosen, rejected []float64, err error) {
	pb, err := packPairs(b, pr.Pairs, pr.T)
	if err != nil {
		return nil, nil, err
	}
	if err := pr.Forward.SetIDs(pb.ids); err != nil {
		return nil, nil, err
	}
	if err := pr.Forward.SetLayout(pb.rows); err != nil {
		return nil, nil, err
	}
	if err := pr.Forward.SetLogpMask(pb.logpMask()); err != nil {
		return nil, nil, err
	}
	setInputData(pr.cMaskT, pb.chosen)
	setInputData(pr.rMaskT, pb.rejected)
	pr.Machine.Reset()
	if err := pr.Machine.RunAll(); err != nil {
		return nil, nil, err
	}
	chosen, rejected = graph.Float64s(pr.cV), graph.Float64s(pr.rV)
	graph.ReleaseValues(pr.Graph, pr.Machine)
	pr.cV, pr.rV = nil, nil
	return chosen, rejected, nil
}

// Close releases the machine.
func (pr *PackedReference) Close() { pr.Machine.Close() }
