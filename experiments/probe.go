package experiments

import (
	"math"

	"gatedpo/results"
)

// fieldValues are the per-example probe values of one field on one split
// at one step: the summed response log-prob LP and the response length.
type fieldValues struct {
	Field   string
	Example []int     // index of the example (pair) in the probe set
	LP      []float64 // Σ_t lp_t over response tokens (nats)
	NTok    []int     // response tokens
}

// chosenStats are the per-example peakiness statistics on the chosen
// prefixes (teacher forced): each is a mean over response positions,
// except LPArgmax, the sum Σ_t log max_v π(v | x, y⁺_<t).
type chosenStats struct {
	LPArgmax, Top1, Entropy, Collision []float64
}

// probePass is everything one probe pass over one split measured.
type probePass struct {
	Step   int
	Split  string
	Fields []fieldValues // probe fields present, canonical order, chosen first
	Chosen chosenStats
	Tokens []tokenValues // the token-view responses (held-out split only)
}

func (p *probePass) field(name string) *fieldValues {
	for i := range p.Fields {
		if p.Fields[i].Field == name {
			return &p.Fields[i]
		}
	}
	return nil
}

func meanOf(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// lptok is the mean over examples of LP/|y|.
func (f *fieldValues) lptok() float64 {
	v := make([]float64, 0, len(f.LP))
	for i, lp := range f.LP {
		if f.NTok[i] > 0 {
			v = append(v, lp/float64(f.NTok[i]))
		}
	}
	return meanOf(v)
}

// probeRecords turns a probe pass into its rows of probe_metrics.csv,
// probe_fields.csv and probe_examples.csv.gz. base is the pass of the same
// split at preference step 0: deltas are relative to it, and because the
// policy at step 0 is the reference model, its chosen/rejected LPs are
// the reference log-probs of the probe pairs (so the probe rewards are
// r = LP − LP at step 0, without β).
//
// Definitions (docs/method.md §5): lp_* are means over examples of summed
// log-probs; lptok_chosen the mean of per-example token means; top1_mass,
// entropy and collision means over examples of per-example position
// means; suppression the fraction of fields other than chosen whose mean
// ΔLP < 0; reward_acc the fraction of probe pairs with r⁺ > r⁻ (strict,
// as TRL) and reward_margin the mean of r⁺ − r⁻.
func probeRecords(p, base *probePass) (metric results.ProbeMetricRow, fields []results.ProbeFieldRow, examples []results.ProbeExampleRow) {
	m := results.ProbeMetricRow{Step: p.Step, Split: p.Split}
	ch, rj := p.field("chosen"), p.field("rejected")
	ch0, rj0 := base.field("chosen"), base.field("rejected")
	m.LPChosen, m.LPTokChosen = meanOf(ch.LP), ch.lptok()
	m.DLPChosen = m.LPChosen - meanOf(ch0.LP)
	m.LPRejected = meanOf(rj.LP)
	m.DLPRejected = m.LPRejected - meanOf(rj0.LP)
	m.LPArgmax = meanOf(p.Chosen.LPArgmax)
	m.Gap = m.LPArgmax - m.LPChosen
	m.Top1Mass = meanOf(p.Chosen.Top1)
	m.Entropy = meanOf(p.Chosen.Entropy)
	m.Collision = meanOf(p.Chosen.Collision)
	others, down := 0, 0
	for i := range p.Fields {
		f := &p.Fields[i]
		f0 := base.field(f.Field)
		dlp := meanOf(f.LP) - meanOf(f0.LP)
		if f.Field != "chosen" && len(f.LP) > 0 {
			others++
			if dlp < 0 {
				down++
			}
		}
		fields = append(fields, results.ProbeFieldRow{Step: p.Step, Split: p.Split, Field: f.Field, Category: results.FieldCategory[f.Field],
			N: len(f.LP), LP: meanOf(f.LP), LPTok: f.lptok(), DLP: dlp})
		for j := range f.LP {
			examples = append(examples, results.ProbeExampleRow{Step: p.Step, Split: p.Split, Field: f.Field,
				Example: f.Example[j], LP: f.LP[j], NTok: f.NTok[j]})
		}
	}
	m.Suppression = math.NaN()
	if others > 0 {
		m.Suppression = float64(down) / float64(others)
	}
	// rewards on pairs that have both responses (chosen and rejected are
	// present for every pair, in the same example order)
	acc, margin, n := 0.0, 0.0, 0
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
	m.RewardAcc, m.RewardMargin = math.NaN(), math.NaN()
	if n > 0 {
		m.RewardAcc, m.RewardMargin = acc/float64(n), margin/float64(n)
	}
	return m, fields, examples
}
