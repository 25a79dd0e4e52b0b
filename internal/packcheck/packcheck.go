// Package packcheck is test support for packed forwards
// (models.PackedLM): Compare runs groups of sequences that share a prompt
// through a model unpacked (Build, one sequence per row) and packed
// (BuildPacked, one prompt and its responses per row) and checks that
// every token gets the same final hidden state (or logits, for a model
// that exposes no hidden states).
package packcheck

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"

	"gatedpo/graph"
	"gatedpo/models"
)

// Group is a prompt (≥ 1 token) and the responses that follow it.
type Group struct {
	Prompt    []int
	Responses [][]int
}

// Compare returns the largest |packed − unpacked| over every token of
// every sequence (prompt and response tokens), relative to max(1,
// |unpacked|), and an error when it exceeds tol or a run fails. The
// groups go into one packed batch, one row per group, with two tokens of
// padding at the end of each row.
func Compare(lm models.PackedLM, groups []Group, tol float64) (float64, error) {
	// unpacked: every sequence in its own row of length tu
	var seqs [][]int
	tu := 2
	for _, g := range groups {
		for _, r := range g.Responses {
			s := append(append([]int{}, g.Prompt...), r...)
			seqs = append(seqs, s)
			tu = max(tu, len(s))
		}
	}
	ids := make([][]int, len(seqs))
	for i, s := range seqs {
		ids[i] = append(append([]int{}, s...), make([]int, tu-len(s))...)
	}
	un, err := run(lm, len(seqs), tu, ids, nil, false)
	if err != nil {
		return 0, err
	}
	// packed: row = prompt[:P−1] ++ Σ ([prompt[P−1]] ++ response)
	var rows []graph.PackRow
	var pids [][]int
	type at struct{ row, col int }
	where := make([][]at, len(seqs)) // token i of sequence s → packed (row, column)
	tp, s := 2, 0
	for r, g := range groups {
		lp := len(g.Prompt) - 1
		row := append([]int{}, g.Prompt[:lp]...)
		pr := graph.PackRow{Prefix: lp}
		for _, resp := range g.Responses {
			for i := 0; i < lp; i++ {
				where[s] = append(where[s], at{r, i})
			}
			seg := append([]int{g.Prompt[lp]}, resp...)
			for j := range seg {
				where[s] = append(where[s], at{r, len(row) + j})
			}
			row = append(row, seg...)
			pr.Segs = append(pr.Segs, len(seg))
			s++
		}
		row = append(row, 0, 0)
		pids = append(pids, row)
		rows = append(rows, pr)
		tp = max(tp, len(row))
	}
	for i := range pids {
		pids[i] = append(pids[i], make([]int, tp-len(pids[i]))...)
	}
	pk, err := run(lm, len(groups), tp, pids, rows, true)
	if err != nil {
		return 0, err
	}
	width := len(un) / (len(seqs) * tu)
	var worst float64
	for s := range seqs {
		for i, w := range where[s] {
			for c := 0; c < width; c++ {
				a, b := un[(s*tu+i)*width+c], pk[(w.row*tp+w.col)*width+c]
				e := math.Abs(a-b) / math.Max(1, math.Abs(a))
				if !(e <= tol) {
					return e, fmt.Errorf("sequence %d token %d column %d: packed %v, unpacked %v (tolerance %g)", s, i, c, b, a, tol)
				}
				worst = math.Max(worst, e)
			}
		}
	}
	return worst, nil
}

// run builds a forward (packed or not) over ids and returns its hidden
// states, or its logits when it has none.
func run(lm models.PackedLM, n, t int, ids [][]int, rows []graph.PackRow, packed bool) ([]float64, error) {
	g := G.NewGraph()
	var f *models.Forward
	var err error
	if packed {
		f, err = lm.BuildPacked(g, n, t)
	} else {
		f, err = lm.Build(g, n, t)
	}
	if err != nil {
		return nil, err
	}
	out := f.Hidden
	if out == nil {
		if out, err = f.LogitsNode(); err != nil {
			return nil, err
		}
	}
	var v G.Value
	read := G.Read(out, &v)
	vm := graph.NewTapeMachine(g.SubgraphRoots(read))
	defer vm.Close()
	if err := f.SetIDs(ids); err != nil {
		return nil, err
	}
	if packed {
		if err := f.SetLayout(rows); err != nil {
			return nil, err
		}
	}
	if err := vm.RunAll(); err != nil {
		return nil, err
	}
	return graph.Float64s(v), nil
}
