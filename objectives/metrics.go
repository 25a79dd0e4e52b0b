package objectives

// TRL metric names (docs/method.md §2 "Logged every train step").
const (
	MetricRewardsChosen     = "rewards/chosen"     // mean β·r⁺
	MetricRewardsRejected   = "rewards/rejected"   // mean β·r⁻
	MetricRewardsMargins    = "rewards/margins"    // mean (β·r⁺ − β·r⁻)
	MetricRewardsAccuracies = "rewards/accuracies" // fraction of pairs with r⁺ > r⁻ (strict)
	MetricLogpsChosen       = "logps/chosen"       // mean pc
	MetricLogpsRejected     = "logps/rejected"     // mean pr
)

// Logps are the per-sequence log-probs of a batch, one value per pair.
// Reference slices may be nil (no reference model).
type Logps struct {
	PolicyChosen      []float64 `json:"policy_chosen"`
	PolicyRejected    []float64 `json:"policy_rejected"`
	ReferenceChosen   []float64 `json:"reference_chosen"`
	ReferenceRejected []float64 `json:"reference_rejected"`
}

// Metrics returns the TRL-named batch statistics of s on lp (golden
// README "metrics"): rewards/* use the objective's β and the reference
// even where the loss does not (simpo); they are absent for sft (no β) and
// when there is no reference. logps/* are always present. Values are
// computed in plain Go from the values the graph produced, so they are
// exactly the same whether or not a gate was applied.
func Metrics(s Spec, lp Logps) map[string]float64 {
	n := len(lp.PolicyChosen)
	out := map[string]float64{
		MetricLogpsChosen:   mean(lp.PolicyChosen),
		MetricLogpsRejected: mean(lp.PolicyRejected),
	}
	if !s.HasBeta() || len(lp.ReferenceChosen) != n || len(lp.ReferenceRejected) != n || n == 0 {
		return out
	}
	rc, rr, mg := make([]float64, n), make([]float64, n), make([]float64, n)
	acc := 0.0
	for i := 0; i < n; i++ {
		rw := lp.PolicyChosen[i] - lp.ReferenceChosen[i]
		rl := lp.PolicyRejected[i] - lp.ReferenceRejected[i]
		rc[i], rr[i] = s.Beta*rw, s.Beta*rl
		mg[i] = rc[i] - rr[i]
		if rw > rl {
			acc++
		}
	}
	out[MetricRewardsChosen] = mean(rc)
	out[MetricRewardsRejected] = mean(rr)
	out[MetricRewardsMargins] = mean(mg)
	out[MetricRewardsAccuracies] = acc / float64(n)
	return out
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}
