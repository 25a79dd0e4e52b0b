package toy

import (
	"math"
	"testing"

	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/models"
)

func randomToy(t *testing.T, seed uint64, d, k int, scale float64) *models.Toy {
	t.Helper()
	rng := graph.NewRNG(seed)
	x := make([]float64, d)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	w := make([]float64, d*k)
	for i := range w {
		w[i] = scale * rng.NormFloat64()
	}
	toy, err := models.NewToy(x, w, d, k)
	if err != nil {
		t.Fatal(err)
	}
	return toy
}

// toyLoss is the plain-Go single-step loss −Σ_pos log p_k + Σ_neg log p_k.
func toyLoss(toy *models.Toy, pos, neg []int) float64 {
	lp := toy.LogProbs()
	l := 0.0
	for _, k := range pos {
		l -= lp[k]
	}
	for _, k := range neg {
		l += lp[k]
	}
	return l
}

// TestToyGradientFD: the graph's loss equals the plain-Go loss (1e-13
// relative) and ∇_W L matches central finite differences to 1e-8 relative
// to max|grad| (step 1e-5: truncation ~1e-10, rounding ~1e-11).
func TestToyGradientFD(t *testing.T) {
	toy := randomToy(t, 1, 4, 12, 0.8)
	for _, c := range []struct{ pos, neg []int }{{[]int{3}, nil}, {nil, []int{5}}, {[]int{2, 7}, []int{5}}} {
		st, err := NewStep(toy, c.pos, c.neg, gating.DefaultSpec())
		if err != nil {
			t.Fatal(err)
		}
		loss, grad, err := st.Gradient()
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if want := toyLoss(toy, c.pos, c.neg); math.Abs(loss-want) > 1e-13*math.Abs(want) {
			t.Errorf("%v: loss %v, want %v", c, loss, want)
		}
		sc := 0.0
		for _, g := range grad {
			sc = math.Max(sc, math.Abs(g))
		}
		w := toy.W.Data().([]float64)
		const h = 1e-5
		for i := range w {
			orig := w[i]
			w[i] = orig + h
			lp := toyLoss(toy, c.pos, c.neg)
			w[i] = orig - h
			lm := toyLoss(toy, c.pos, c.neg)
			w[i] = orig
			if fd := (lp - lm) / (2 * h); math.Abs(fd-grad[i]) > 1e-8*sc {
				t.Errorf("%v: dL/dW[%d] = %v, FD %v", c, i, grad[i], fd)
			}
		}
	}
}

// TestToyGatedGradient: with one pushed-down class k, the gated gradient is
// g(p_k) times the ungated one (tolerance 1e-15 relative to max|grad|: one
// rounding of the product), for every kind, absolute and relative.
func TestToyGatedGradient(t *testing.T) {
	toy := randomToy(t, 2, 4, 12, 1.5)
	neg := []int{4}
	st, _ := NewStep(toy, nil, neg, gating.DefaultSpec())
	_, ungated, err := st.Gradient()
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	lp := toy.LogProbs()
	mx := math.Inf(-1)
	for _, v := range lp {
		mx = math.Max(mx, v)
	}
	for _, kind := range gating.Kinds[1:] {
		for _, rel := range []bool{false, true} {
			gate := gating.Spec{Kind: kind, Tau: 0.5, Level: gating.LevelToken, Relative: rel, Temperature: 0.5, Alpha: 0.5}
			x := lp[4]
			if rel {
				x -= mx
			}
			g := gate.OfLog(x)
			st, err := NewStep(toy, nil, neg, gate)
			if err != nil {
				t.Fatal(err)
			}
			_, gated, err := st.Gradient()
			st.Close()
			if err != nil {
				t.Fatal(err)
			}
			for i := range gated {
				if math.Abs(gated[i]-g*ungated[i]) > 1e-15*math.Abs(ungated[i])+1e-300 {
					t.Errorf("%v: grad[%d] = %v, want g·ungated = %v", gate, i, gated[i], g*ungated[i])
				}
			}
		}
	}
}

// jumped is the F1 definition of a class that "jumps" in one step: its
// probability rises by more than 0.05 (absolute).
func jumped(before, after []float64) []int {
	var out []int
	for j := range before {
		if after[j]-before[j] > 0.05 {
			out = append(out, j)
		}
	}
	return out
}

// TestToyF1Shape: the figure's shape, independent of our RNG: row 3's
// argmax ends above 0.95 and is the only class whose probability rises;
// row 5 (ungated, large vocabulary) has a class that jumps; row 6 (gated)
// has none. Row 1 raises class 21; row 2 lowers class 42.
func TestToyF1Shape(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		rows, err := F1(seed)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 6 {
			t.Fatalf("%d rows", len(rows))
		}
		r1, r2, r3, r5, r6 := rows[0], rows[1], rows[2], rows[4], rows[5]
		if !(r1.After[21] > r1.Before[21]) || r1.ArgmaxAfter != 21 {
			t.Errorf("seed %d row 1: p21 %v → %v, argmax %d", seed, r1.Before[21], r1.After[21], r1.ArgmaxAfter)
		}
		if !(r2.After[42] < r2.Before[42]) {
			t.Errorf("seed %d row 2: p42 %v → %v", seed, r2.Before[42], r2.After[42])
		}
		if p := r3.After[r3.ArgmaxAfter]; p <= 0.95 || r3.ArgmaxAfter != toyF1Peak {
			t.Errorf("seed %d row 3: argmax %d ends at %v, want the peak %d above 0.95", seed, r3.ArgmaxAfter, p, toyF1Peak)
		}
		for j := range r3.Before {
			if rose := r3.After[j] > r3.Before[j]; rose != (j == r3.ArgmaxAfter) {
				t.Errorf("seed %d row 3: class %d: %v → %v", seed, j, r3.Before[j], r3.After[j])
			}
		}
		if len(jumped(r5.Before, r5.After)) == 0 {
			t.Errorf("seed %d row 5: no class jumps ungated (max before %v, after %v)", seed, maxOf(r5.Before), maxOf(r5.After))
		}
		if j := jumped(r6.Before, r6.After); len(j) != 0 {
			t.Errorf("seed %d row 6: classes %v jump under the gate", seed, j)
		}
		t.Logf("seed %d: row 3 argmax %d at %.4f; largest rise row 5 %.4f, row 6 %.2g", seed, r3.ArgmaxAfter,
			r3.After[r3.ArgmaxAfter], maxRise(r5.Before, r5.After), maxRise(r6.Before, r6.After))
		if r6.Gate != "ramp tau=0.01" || r5.Gate != "none" {
			t.Errorf("gates %q %q", r5.Gate, r6.Gate)
		}
		for _, r := range rows {
			s := 0.0
			for _, p := range r.After {
				s += p
			}
			if math.Abs(s-1) > 1e-12 || len(r.Before) != r.K {
				t.Errorf("row %d: probabilities sum to %v", r.Row, s)
			}
		}
	}
}

func maxRise(before, after []float64) float64 {
	m := math.Inf(-1)
	for j := range before {
		m = math.Max(m, after[j]-before[j])
	}
	return m
}

func maxOf(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}
