package probe

import (
	"encoding/binary"
	"fmt"
	"sort"

	"gatedpo/experiments/data"
	"gatedpo/graph"
)

// Packed probing (models.PackedLM, graph.PackLayout): the sequences of a
// Run that share a prompt x (the chosen, rejected and probe-field
// responses of one pair) go into one packed row
//
//	x[:|x|−1] | x[|x|−1] ++ y₁ | x[|x|−1] ++ y₂ | …
//
// whose prefix x[:|x|−1] is computed once; every segment starts with the
// prompt's last token, which predicts the response's first token. The
// layout gives every token the keys and position it has in its unpacked
// row prompt ++ response, so the statistics of every response position
// are those of the unpacked pass (bit-identical in the default build).
// Sequences with an empty prompt have no prefix to share: each is a
// segment of its own (rows of them hold independent sequences).

// packSeg is one sequence in a packed row: seq its index in the Run input,
// tokens its segment (prompt[lp:] ++ response), and rs the segment offset
// of its first response token (1, or 0 for an empty prompt).
type packSeg struct {
	seq    int
	tokens []int
	rs     int
}

// packRow is one packed row: the shared prefix (prompt[:lp]) and the
// segments.
type packRow struct {
	prefix []int
	segs   []packSeg
	n      int // tokens in the row
}

// packRows groups seqs by prompt (in order of first appearance; sequences
// in input order within a group) into packed rows of at most rowCap
// tokens: a group whose segments do not fit in one row is split over
// several, each with its own copy of the prefix. Empty sequences are left
// out (their SeqStats are zero). A sequence longer than maxT is an error.
func packRows(seqs []data.Sequence, maxT, rowCap int) ([]packRow, error) {
	type group struct {
		prompt []int
		seqs   []int
	}
	var groups []*group
	byPrompt := map[string]*group{}
	var key []byte
	for i, s := range seqs {
		if l := len(s.Prompt) + len(s.Response); l > maxT {
			return nil, fmt.Errorf("probe: sequence %d has %d tokens, more than the %d the prober was made for", i, l, maxT)
		}
		if len(s.Prompt)+len(s.Response) == 0 {
			continue
		}
		key = key[:0]
		for _, id := range s.Prompt {
			key = binary.AppendVarint(key, int64(id))
		}
		g, ok := byPrompt[string(key)]
		if !ok {
			g = &group{prompt: s.Prompt}
			byPrompt[string(key)] = g
			groups = append(groups, g)
		}
		g.seqs = append(g.seqs, i)
	}
	var rows []packRow
	for _, g := range groups {
		lp := max(len(g.prompt)-1, 0)
		row := packRow{prefix: g.prompt[:lp], n: lp}
		for _, i := range g.seqs {
			s := seqs[i]
			seg := packSeg{seq: i, tokens: append(append([]int{}, s.Prompt[lp:]...), s.Response...), rs: len(s.Prompt) - lp}
			if len(row.segs) > 0 && row.n+len(seg.tokens) > rowCap {
				rows = append(rows, row)
				row = packRow{prefix: row.prefix, n: lp}
			}
			row.segs = append(row.segs, seg)
			row.n += len(seg.tokens)
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// packBucket is the padded length of a packed batch whose longest row has
// l tokens: a multiple of bucketStep, coarser for long rows (the step
// doubles while it is below l/32), so that padding stays ≤ ~6 % and the
// number of distinct graphs small.
func packBucket(l int) int {
	step := bucketStep
	for step*32 < l {
		step *= 2
	}
	return max((l+step-1)/step*step, 2)
}

// packRowsFor is the number of packed rows in a batch of rows of t tokens:
// the token budget Batch·maxT of an unpacked batch of the longest rows, so
// that a packed batch holds no more activations than an unpacked one.
func (pr *Prober) packRowsFor(t int) int { return max(1, pr.n*pr.maxT/t) }

// runPacked is Run for a model that builds packed forwards.
func (pr *Prober) runPacked(seqs []data.Sequence, padID int) ([]SeqStats, error) {
	rows, err := packRows(seqs, pr.maxT, pr.n*pr.maxT)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(rows, func(a, b int) bool { return rows[a].n < rows[b].n })
	out := make([]SeqStats, len(seqs))
	for lo := 0; lo < len(rows); {
		// as many rows as the budget of the bucket of the longest allows
		c := min(pr.packRowsFor(packBucket(rows[lo].n)), len(rows)-lo)
		for c > 1 && c > pr.packRowsFor(packBucket(rows[lo+c-1].n)) {
			c--
		}
		t := packBucket(rows[lo+c-1].n)
		g, err := pr.packedGraph(t)
		if err != nil {
			return nil, err
		}
		if err := g.runPacked(rows[lo:lo+c], padID, out); err != nil {
			return nil, err
		}
		lo += c
	}
	return out, nil
}

// packedGraph returns the packed probe graph of bucket t, building it on
// first use.
func (pr *Prober) packedGraph(t int) (*probeGraph, error) {
	if g, ok := pr.packed[t]; ok {
		return g, nil
	}
	g, err := newPackedProbeGraph(pr.plm, pr.packRowsFor(t), t)
	if err != nil {
		return nil, err
	}
	pr.packed[t] = g
	return g, nil
}

// runPacked scores the packed rows (at most p.n, each of at most p.t
// tokens; missing rows are padding) and stores each segment's SeqStats at
// out[seq].
func (p *probeGraph) runPacked(rows []packRow, padID int, out []SeqStats) error {
	ids := make([][]int, p.n)
	layout := make([]graph.PackRow, len(rows))
	var pos []int // row index r·t+i into the [n·t, ·] outputs, segment by segment
	var ends []int
	for r := range ids {
		row := make([]int, 0, p.t)
		if r < len(rows) {
			pr := rows[r]
			row = append(row, pr.prefix...)
			layout[r].Prefix = len(pr.prefix)
			for _, s := range pr.segs {
				start := len(row)
				row = append(row, s.tokens...)
				layout[r].Segs = append(layout[r].Segs, len(s.tokens))
				// position j predicts segment token j+1: the response tokens
				for j := max(s.rs-1, 0); j+1 < len(s.tokens); j++ {
					pos = append(pos, r*p.t+start+j)
				}
				ends = append(ends, len(pos))
			}
		}
		for len(row) < p.t {
			row = append(row, padID)
		}
		ids[r] = row
	}
	st, err := p.score(ids, layout, pos)
	if err != nil {
		return err
	}
	k, e := 0, 0
	for _, pr := range rows {
		for _, s := range pr.segs {
			out[s.seq] = seqStatsOf(st[k:ends[e]])
			k = ends[e]
			e++
		}
	}
	return nil
}
