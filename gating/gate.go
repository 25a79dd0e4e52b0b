package gating

import (
	"fmt"
	"math"
	"sort"
)

// OfLog returns the gate g for x = log p, the log of the probability the
// gate reads (docs/method.md §3 table; golden README "Gates"):
//
//	none     1
//	hard     1 if p ≥ τ else 0
//	ramp     min(1, p/τ)
//	sigmoid  σ((x − log τ)/T)        (x used directly, not log(exp(x)))
//	power    min(1, (p/τ)^α)
//
// An off gate (kind none or τ = 0) returns exactly 1.
func (s Spec) OfLog(x float64) float64 {
	if s.Off() {
		return 1
	}
	switch s.Kind {
	case KindHard:
		if math.Exp(x) >= s.Tau {
			return 1
		}
		return 0
	case KindRamp:
		return math.Min(1, math.Exp(x)/s.Tau)
	case KindSigmoid:
		z := (x - math.Log(s.Tau)) / s.Temperature
		return 1 / (1 + math.Exp(-z))
	case KindPower:
		return math.Min(1, math.Pow(math.Exp(x)/s.Tau, s.Alpha))
	}
	return 1
}

// Values computes the gates of a batch in plain Go, the reference the Op
// uses and the tests check against. lp, mask and lmax are row-major
// [n, m]: lp the rejected per-token log-probs, mask 1 on the positions whose
// token is a rejected response token (0 elsewhere), lmax the per-position
// log max_v π(v|·) (read only when s.Relative; may be nil otherwise).
// outside is the value written where mask = 0 (0 for reporting, as the
// goldens do; the Op passes gradients through unchanged there). The result
// is a new slice of length n·m. A row without response tokens has no gate.
func Values(s Spec, lp, lmax, mask []float64, n, m int, outside float64) ([]float64, error) {
	if len(lp) != n*m || len(mask) != n*m {
		return nil, fmt.Errorf("gating: lp has %d values and mask %d, want %d×%d", len(lp), len(mask), n, m)
	}
	if s.Relative && !s.Off() && len(lmax) != n*m {
		return nil, fmt.Errorf("gating: relative gate needs the per-position max log-prob (%d×%d values), got %d", n, m, len(lmax))
	}
	g := make([]float64, n*m)
	x := func(i int) float64 { // log of the probability the gate reads
		if s.Relative {
			return lp[i] - lmax[i]
		}
		return lp[i]
	}
	for r := 0; r < n; r++ {
		row := r * m
		seqGate := 1.0
		if s.Level == LevelSequence && !s.Off() {
			// p̄ = exp(Σ_t mask_t·x_t / |y⁻|)  (golden README, level = "sequence")
			sum, cnt := 0.0, 0.0
			for t := 0; t < m; t++ {
				if mask[row+t] != 0 {
					sum += x(row+t) * mask[row+t]
					cnt += mask[row+t]
				}
			}
			if cnt > 0 {
				seqGate = s.OfLog(sum / cnt)
			}
		}
		for t := 0; t < m; t++ {
			i := row + t
			switch {
			case mask[i] == 0:
				g[i] = outside
			case s.Off():
				g[i] = 1
			case s.Level == LevelSequence:
				g[i] = seqGate
			default:
				g[i] = s.OfLog(x(i))
			}
		}
	}
	return g, nil
}

// Stats are the gate statistics logged every train step (docs/method.md §3),
// over the rejected response tokens of a batch, with the exact definitions
// of the golden README (gate_stats).
type Stats struct {
	NTokens  int     `json:"n_tokens"`      // number of rejected response tokens
	MeanG    float64 `json:"mean_g"`        // mean gate
	FracLtHf float64 `json:"frac_g_lt_0.5"` // fraction of tokens with g < 0.5
	NEq1     int     `json:"n_g_eq_1"`      // tokens with g == 1 exactly
	NEq0     int     `json:"n_g_eq_0"`      // tokens with g == 0 exactly
	MinG     float64 `json:"min_g"`         // smallest gate
	MaxG     float64 `json:"max_g"`         // largest gate
	LogpQ10  float64 `json:"logp_q10"`      // 10 % quantile of the raw lp_t
	LogpQ50  float64 `json:"logp_q50"`      // median of the raw lp_t
	LogpQ90  float64 `json:"logp_q90"`      // 90 % quantile of the raw lp_t
}

// ComputeStats summarises gates g and raw log-probs lp (row-major, equal
// length) over the positions where mask ≠ 0. Quantiles interpolate
// linearly at position q·(n−1) of the sorted values (numpy's default).
// With no response tokens every field is zero except the quantiles, NaN.
func ComputeStats(g, lp, mask []float64) Stats {
	var st Stats
	var vals []float64
	sum := 0.0
	st.MinG, st.MaxG = math.Inf(1), math.Inf(-1)
	lt := 0
	for i := range mask {
		if mask[i] == 0 {
			continue
		}
		st.NTokens++
		sum += g[i]
		if g[i] < 0.5 {
			lt++
		}
		if g[i] == 1 {
			st.NEq1++
		}
		if g[i] == 0 {
			st.NEq0++
		}
		st.MinG = math.Min(st.MinG, g[i])
		st.MaxG = math.Max(st.MaxG, g[i])
		vals = append(vals, lp[i])
	}
	if st.NTokens == 0 {
		nan := math.NaN()
		return Stats{LogpQ10: nan, LogpQ50: nan, LogpQ90: nan}
	}
	st.MeanG = sum / float64(st.NTokens)
	st.FracLtHf = float64(lt) / float64(st.NTokens)
	sort.Float64s(vals)
	st.LogpQ10 = Quantile(vals, 0.1)
	st.LogpQ50 = Quantile(vals, 0.5)
	st.LogpQ90 = Quantile(vals, 0.9)
	return st
}

// Quantile returns the q-quantile of sorted (ascending) values by linear
// interpolation at position q·(n−1), numpy's default ("linear") method.
func Quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	pos := q * float64(n-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, n-1)
	return sorted[lo] + (pos-float64(lo))*(sorted[hi]-sorted[lo])
}
