package probe

// Every probe metric is defined in this file (docs/method.md §1 for the
// notation, §5 for the metrics): the per-position statistics, their sums
// and means over one response (SeqStats), and the columns of
// probe_metrics.csv, probe_fields.csv, probe_examples.csv.gz and
// probe_tokens.csv.gz computed from them (Rows, TokenRows). Notation: the
// policy π at the probe step; a response y of |y| tokens after prompt x;
// lp_t = log π(y_t | x, y_<t); "at step 0" means the pass of the same
// split at preference step 0, on the reference model.

import (
	"fmt"
	"math"

	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/graph/blasvec"
	"gatedpo/results"
)

// ---- one response position ----

// posStat is the statistics of one response position t, from the logits
// z of the row that predicts y_t (p = softmax(z)):
//
//	lp   = log p(y_t) = z_{y_t} − logsumexp(z)       the token's log-prob lp_t
//	lmax = log max_v p(v) = max(z) − logsumexp(z)    the teacher-forced argmax's log-prob
//	ent  = H(p) = −Σ_v p_v log p_v                    entropy (nats)
//	col  = Σ_v p_v²                                   collision probability
type posStat struct{ lp, lmax, ent, col float64 }

// positionStats returns posStat for one row of logits (float32 or
// float64) and the id it predicts, accumulated in float64 with e = exp(z −
// max z): lp = z_target − max z − log Σe, lmax = −log Σe, ent = log Σe −
// Σ e·(z − max z)/Σe, col = Σe²/(Σe)². exps is scratch of at least
// len(row) (used for float32 rows).
func positionStats(exps []float32, row any, target int) posStat {
	var m, s, sx, s2, lp float64 // max logit; Σ e; Σ e·x; Σ e², e = exp(x − m)
	switch r := row.(type) {
	case []float32:
		mx := blasvec.Max32(r)
		s = blasvec.ExpShiftSum32(exps, r, mx)
		for v, e := range exps[:len(r)] {
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
	return posStat{lp: lp, lmax: -logS, ent: logS - sx/s, col: s2 / (s * s)}
}

// ---- one response ----

// SeqStats are the teacher-forced statistics of one response y (a Prober
// result), from its positions' posStat in response order.
type SeqStats struct {
	LP        float64 // LP(y|x) = Σ_t lp_t (nats)
	LPArgmax  float64 // Σ_t log max_v π(v | x, y_<t) (nats)
	Top1      float64 // (1/|y|) Σ_t max_v π(v | x, y_<t)
	Entropy   float64 // (1/|y|) Σ_t H(π(· | x, y_<t)) (nats)
	Collision float64 // (1/|y|) Σ_t Σ_v π(v | x, y_<t)²
	NTok      int     // |y|
	// TokLP and TokMax are the per-token terms of LP and LPArgmax (lp_t and
	// log max_v π), in response order.
	TokLP, TokMax []float64
}

// seqStatsOf sums and averages the statistics of one response's positions
// (in response order; the means are 0 for an empty response).
func seqStatsOf(st []posStat) SeqStats {
	var s SeqStats
	for _, q := range st {
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
	return s
}

// ---- one probe pass ----

// FieldValues are the per-example values of one probe field on one split
// at one step: what probe_examples.csv.gz records.
type FieldValues struct {
	Field   string
	Example []int     // example: index of the pair in the probe set
	LP      []float64 // lp: LP(y|x) = Σ_t lp_t of the field's response (nats)
	NTok    []int     // ntok: |y|
}

// ChosenStats are the per-example peakiness statistics on the chosen
// prefixes (teacher forced; SeqStats of the chosen responses), in the
// example order of the chosen field.
type ChosenStats struct {
	LPArgmax, Top1, Entropy, Collision []float64
}

// TokenValues are the per-token values of one response of the token view
// (probe_tokens.csv.gz): the chosen or rejected response of one of the
// first results.ProbeTokenExamples held-out pairs.
type TokenValues struct {
	Field   string
	Example int
	IDs     []int     // token: the response's token ids
	LP      []float64 // logp: lp_t, the terms of the example's LP
	Max     []float64 // logp_max: log max_v π(v | x, y_<t)
}

// Pass is everything one probe pass over one split measured.
type Pass struct {
	Step   int
	Split  string
	Fields []FieldValues // in the order they were added (the sweep: canonical order, chosen first)
	Chosen ChosenStats
	Tokens []TokenValues // the token view (held-out split only)
}

// Add records the statistics s of one probed response: example's response
// of field, seq the sequence that was probed. Responses of a field are
// added in example order.
func (p *Pass) Add(field string, example int, seq data.Sequence, s SeqStats) {
	f := p.field(field)
	if f == nil {
		p.Fields = append(p.Fields, FieldValues{Field: field})
		f = &p.Fields[len(p.Fields)-1]
	}
	f.Example = append(f.Example, example)
	f.LP, f.NTok = append(f.LP, s.LP), append(f.NTok, s.NTok)
	if field == data.FieldChosen {
		p.Chosen.LPArgmax = append(p.Chosen.LPArgmax, s.LPArgmax)
		p.Chosen.Top1 = append(p.Chosen.Top1, s.Top1)
		p.Chosen.Entropy = append(p.Chosen.Entropy, s.Entropy)
		p.Chosen.Collision = append(p.Chosen.Collision, s.Collision)
	}
	if p.Split == results.SplitHeldout && example < results.ProbeTokenExamples &&
		(field == data.FieldChosen || field == data.FieldRejected) {
		p.Tokens = append(p.Tokens, TokenValues{Field: field, Example: example, IDs: seq.Response, LP: s.TokLP, Max: s.TokMax})
	}
}

func (p *Pass) field(name string) *FieldValues {
	for i := range p.Fields {
		if p.Fields[i].Field == name {
			return &p.Fields[i]
		}
	}
	return nil
}

// mean is the mean of v, NaN when v is empty.
func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// ---- the metrics (probe_metrics.csv, probe_fields.csv) ----

// lpOf is lp_chosen, lp_rejected and probe_fields' lp: the mean over the
// field's examples of LP(y|x) (nats).
func lpOf(f *FieldValues) float64 { return mean(f.LP) }

// lptokOf is lptok_chosen and probe_fields' lptok: the mean over the
// field's non-empty responses of LP(y|x)/|y| (nats per token).
func lptokOf(f *FieldValues) float64 {
	v := make([]float64, 0, len(f.LP))
	for i, lp := range f.LP {
		if f.NTok[i] > 0 {
			v = append(v, lp/float64(f.NTok[i]))
		}
	}
	return mean(v)
}

// dlpOf is dlp_chosen, dlp_rejected and probe_fields' dlp: lpOf now minus
// lpOf at step 0 (f0).
func dlpOf(f, f0 *FieldValues) float64 { return lpOf(f) - lpOf(f0) }

// lpArgmax is lp_argmax: the mean over examples of Σ_t log max_v π(v | x,
// y⁺_<t) on the chosen prefixes (the teacher-forced argmax path, not a
// decode).
func lpArgmax(p *Pass) float64 { return mean(p.Chosen.LPArgmax) }

// gap is gap = lp_argmax − lp_chosen.
func gap(p *Pass) float64 { return lpArgmax(p) - lpOf(p.field(data.FieldChosen)) }

// top1Mass is top1_mass: the mean over examples of the mean over chosen
// positions of max_v π(v | x, y⁺_<t).
func top1Mass(p *Pass) float64 { return mean(p.Chosen.Top1) }

// entropy is entropy: the mean over examples of the mean over chosen
// positions of H(π(· | x, y⁺_<t)) = −Σ_v π_v log π_v (nats).
func entropy(p *Pass) float64 { return mean(p.Chosen.Entropy) }

// collision is collision: the mean over examples of the mean over chosen
// positions of Σ_v π(v | x, y⁺_<t)².
func collision(p *Pass) float64 { return mean(p.Chosen.Collision) }

// suppression is suppression: the fraction of the probe fields other than
// chosen (with at least one example) whose dlp < 0; NaN when there are
// none.
func suppression(p, base *Pass) float64 {
	others, down := 0, 0
	for i := range p.Fields {
		f := &p.Fields[i]
		if f.Field != data.FieldChosen && len(f.LP) > 0 {
			others++
			if dlpOf(f, base.field(f.Field)) < 0 {
				down++
			}
		}
	}
	if others == 0 {
		return math.NaN()
	}
	return float64(down) / float64(others)
}

// rewards are reward_acc and reward_margin over the probe pairs (those
// with both a chosen and a rejected response): with the implicit rewards
// r⁺ = LP(y⁺|x) − LP(y⁺|x) at step 0 and r⁻ likewise (the policy at step
// 0 is the reference, so these are log-ratios, in nats, without β),
// reward_acc is the fraction of pairs with r⁺ > r⁻ (strict, as TRL) and
// reward_margin the mean of r⁺ − r⁻; both NaN without pairs.
func rewards(p, base *Pass) (acc, margin float64) {
	ch, rj := p.field(data.FieldChosen), p.field(data.FieldRejected)
	ch0, rj0 := base.field(data.FieldChosen), base.field(data.FieldRejected)
	n := 0
	// chosen and rejected are present for every pair, in the same example order
	for i := range ch.LP {
		if i >= len(rj.LP) || i >= len(ch0.LP) || i >= len(rj0.LP) {
			break
		}
		rc := ch.LP[i] - ch0.LP[i]
		rr := rj.LP[i] - rj0.LP[i]
		if rc > rr {
			acc++
		}
		margin += rc - rr
		n++
	}
	if n == 0 {
		return math.NaN(), math.NaN()
	}
	return acc / float64(n), margin / float64(n)
}

// Rows returns the rows of probe_metrics.csv (one), probe_fields.csv (one
// per field) and probe_examples.csv.gz (one per example of each field) of
// a probe pass. base is the pass of the same split at preference step 0:
// every delta and reward is relative to it.
func Rows(p, base *Pass) (metric results.ProbeMetricRow, fields []results.ProbeFieldRow, examples []results.ProbeExampleRow) {
	ch, rj := p.field(data.FieldChosen), p.field(data.FieldRejected)
	ch0, rj0 := base.field(data.FieldChosen), base.field(data.FieldRejected)
	m := results.ProbeMetricRow{Step: p.Step, Split: p.Split,
		LPChosen: lpOf(ch), LPTokChosen: lptokOf(ch), DLPChosen: dlpOf(ch, ch0),
		LPRejected: lpOf(rj), DLPRejected: dlpOf(rj, rj0),
		LPArgmax: lpArgmax(p), Gap: gap(p),
		Top1Mass: top1Mass(p), Entropy: entropy(p), Collision: collision(p),
		Suppression: suppression(p, base)}
	m.RewardAcc, m.RewardMargin = rewards(p, base)
	for i := range p.Fields {
		f := &p.Fields[i]
		fields = append(fields, results.ProbeFieldRow{Step: p.Step, Split: p.Split, Field: f.Field, Category: results.FieldCategory[f.Field],
			N: len(f.LP), LP: lpOf(f), LPTok: lptokOf(f), DLP: dlpOf(f, base.field(f.Field))})
		for j := range f.LP {
			examples = append(examples, results.ProbeExampleRow{Step: p.Step, Split: p.Split, Field: f.Field,
				Example: f.Example[j], LP: f.LP[j], NTok: f.NTok[j]})
		}
	}
	return m, fields, examples
}

// ---- the token view (probe_tokens.csv.gz) ----

// TokenView is what a cell's token rows need besides the probe values.
type TokenView struct {
	Gate    gating.Spec    // the cell's gate
	Applied bool           // whether the objective reads the rejected log-probs (so the gate acts)
	Tok     data.Tokenizer // decodes token ids to text
}

// TokenRows returns the rows of probe_tokens.csv.gz of one probe pass:
// per token of the token view, logp = lp_t, logp_max = log max_v π(v | x,
// y_<t), text its decoded text (results.EscapeTokenText), and gate the
// gate g the cell's gate gives a rejected token: gating.Values of tv.Gate
// on the response's recorded logp and logp_max (one row, every position
// masked in; docs/method.md §3), the gate a training step at this policy
// applies to that token's gradient. gate is NaN on chosen tokens and when
// the objective does not read the rejected log-probs.
func TokenRows(p *Pass, tv *TokenView) ([]results.ProbeTokenRow, error) {
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
