package graph

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
)

// TestNegLogSigmoidStable: −log σ(x) has no overflow or cancellation at
// large |x| and its gradient is −σ(−x). (The op's finite-difference and
// float32 checks are in ops_test.go.)
func TestNegLogSigmoidStable(t *testing.T) {
	for _, c := range []struct{ x, y float64 }{
		{0, math.Ln2}, {40, math.Exp(-40)}, {-800, 800}, {800, 0}, {-1, 1.3132616875182228},
	} {
		if got := negLogSigmoid64(c.x); math.Abs(got-c.y) > 1e-15*math.Max(math.Abs(c.y), 1e-300) {
			t.Errorf("−log σ(%v) = %v, want %v", c.x, got, c.y)
		}
	}
	if s := sigmoidNeg64(-800); s != 1 {
		t.Errorf("σ(800) = %v", s)
	}
	if s := sigmoidNeg64(800); s != 0 {
		t.Errorf("σ(−800) = %v", s)
	}
}

// TestNegLogSigmoidScalar: the op takes scalars too (objectives apply it
// to per-batch means), forward and backward.
func TestNegLogSigmoidScalar(t *testing.T) {
	for _, f32 := range []bool{false, true} {
		g := G.NewGraph()
		var x *G.Node
		if f32 {
			x = G.NewScalar(g, G.Float32, G.WithName("x"), G.WithValue(float32(-1.5)))
		} else {
			x = G.NewScalar(g, G.Float64, G.WithName("x"), G.WithValue(-1.5))
		}
		y := G.Must(NegLogSigmoid(x))
		if _, err := G.Grad(y, x); err != nil {
			t.Fatal(err)
		}
		m := NewTapeMachine(g)
		if err := m.RunAll(); err != nil {
			t.Fatal(err)
		}
		gv, _ := x.Grad()
		yv, dx := Float64s(y.Value())[0], Float64s(gv)[0]
		want, wantDx := negLogSigmoid64(-1.5), -sigmoidNeg64(-1.5)
		tol := 1e-15
		if f32 {
			tol = 1e-7
		}
		if math.Abs(yv-want) > tol || math.Abs(dx-wantDx) > tol {
			t.Errorf("float32=%v: y %v dy/dx %v, want %v %v", f32, yv, dx, want, wantDx)
		}
		m.Close()
	}
}
