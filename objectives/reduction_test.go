package objectives

import (
	"math"
	"testing"
)

// TestReduction: for every objective (each with its non-default variants),
// the batch loss and its gradient with respect to pc and pr are the sum
// over micro-batches of 1 and of 2 pairs of the micro-batch's loss and
// gradient, each scaled by the share its Reduction gives (m/B for a pair
// mean, Σ_micro n⁺/Σ n⁺ for a chosen-token mean) — to 1e-12 relative —
// and a Mixed objective is the one for which no such share exists.
func TestReduction(t *testing.T) {
	lp, nc, nr, specs := objectiveCases()
	sub := func(v []float64, lo, hi int) []float64 { return v[lo:hi:hi] }
	var total float64
	for _, x := range nc {
		total += x
	}
	for _, s := range specs {
		whole := evalObjective(t, s, lp, nc, nr)
		for _, m := range []int{1, 2} {
			var loss float64
			gpc, gpr := make([]float64, 4), make([]float64, 4)
			for lo := 0; lo < 4; lo += m {
				hi := lo + m
				part := Logps{PolicyChosen: sub(lp.PolicyChosen, lo, hi), PolicyRejected: sub(lp.PolicyRejected, lo, hi),
					ReferenceChosen: sub(lp.ReferenceChosen, lo, hi), ReferenceRejected: sub(lp.ReferenceRejected, lo, hi)}
				r := evalObjective(t, s, part, sub(nc, lo, hi), sub(nr, lo, hi))
				share := float64(m) / 4
				if s.Reduction() == ChosenTokenMean {
					share = 0
					for _, x := range nc[lo:hi] {
						share += x / total
					}
				}
				loss += share * r.loss
				for i := lo; i < hi; i++ {
					gpc[i] = share * r.gradPC[i-lo]
					if s.ReadsRejected() {
						gpr[i] = share * r.gradPR[i-lo]
					}
				}
			}
			ok := closeRel(loss, whole.loss, 1e-12, math.Abs(whole.loss))
			sc := math.Max(maxAbs(whole.gradPC), maxAbs(whole.gradPR))
			for i := 0; i < 4; i++ {
				ok = ok && closeRel(gpc[i], whole.gradPC[i], 1e-12, sc)
				if s.ReadsRejected() {
					ok = ok && closeRel(gpr[i], whole.gradPR[i], 1e-12, sc)
				}
			}
			if mixed := s.Reduction() == Mixed; ok == mixed {
				t.Errorf("%v (reduction %d), micro-batches of %d: loss %.15g vs whole %.15g, grad pc %v vs %v; decomposes: %v",
					s, s.Reduction(), m, loss, whole.loss, gpc, whole.gradPC, ok)
			}
		}
	}
}
