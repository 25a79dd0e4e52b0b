package experiments

import (
	"fmt"
	"math"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/results"
)

// tokenValues are the per-token probe values of one response of one of the
// token-view examples (results.ProbeTokenColumns): the chosen or rejected
// response of one of the first results.ProbeTokenExamples held-out pairs.
type tokenValues struct {
	Field   string
	Example int
	IDs     []int     // response token ids
	LP      []float64 // log π(id | prefix), the terms of the probe's LP
	Max     []float64 // log max_v π(v | prefix)
}

// keepTokens adds the per-token values of one probed sequence to the pass
// when it belongs to the token view.
func (p *probePass) keepTokens(field string, example int, seq data.Sequence, s seqStats) {
	if p.Split != results.SplitHeldout || example >= results.ProbeTokenExamples ||
		(field != data.FieldChosen && field != data.FieldRejected) {
		return
	}
	p.Tokens = append(p.Tokens, tokenValues{Field: field, Example: example, IDs: seq.Response, LP: s.TokLP, Max: s.TokMax})
}

// tokenView is what a cell's token records need besides the probe values.
type tokenView struct {
	Gate    gating.Spec    // the cell's gate
	Applied bool           // whether the objective reads the rejected log-probs (so the gate acts)
	Tok     data.Tokenizer // decodes token ids to text
}

// tokenRecords returns the rows of probe_tokens.csv.gz of one probe pass.
// The gate of a rejected token is gating.Values of the cell's spec on the
// response's recorded log-probs (one row, every position masked in), the
// gate a training step at this policy applies to that token.
func tokenRecords(p *probePass, tv *tokenView) ([]results.ProbeTokenRow, error) {
	var rows []results.ProbeTokenRow
	for _, t := range p.Tokens {
		n := len(t.LP)
		if len(t.IDs) != n || len(t.Max) != n {
			return nil, fmt.Errorf("token view: %s example %d: %d ids, %d log-probs, %d max log-probs", t.Field, t.Example, len(t.IDs), n, len(t.Max))
		}
		gate := make([]float64, n)
		for i := range gate {
			gate[i] = math.NaN()
		}
		if t.Field == data.FieldRejected && tv.Applied && n > 0 {
			mask := make([]float64, n)
			for i := range mask {
				mask[i] = 1
			}
			var err error
			if gate, err = gating.Values(tv.Gate, t.LP, t.Max, mask, 1, n, math.NaN()); err != nil {
				return nil, err
			}
		}
		for i, id := range t.IDs {
			rows = append(rows, results.ProbeTokenRow{Step: p.Step, Split: p.Split, Field: t.Field, Example: t.Example,
				Position: i, Token: id, Text: results.EscapeTokenText(tv.Tok.Decode([]int{id})),
				LogP: t.LP[i], LogPMax: t.Max[i], Gate: gate[i]})
		}
	}
	return rows, nil
}
