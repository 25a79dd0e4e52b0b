package graph

import (
	"math"
	"os"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestMain runs every test of the package with poisoned buffers: every
// output buffer an op reuses (and every buffer taken from the pool) is
// filled with NaN before the op runs, so a kernel that reads an element of
// its output it did not write (assuming a zeroed buffer) fails the
// finite-difference, float32/float64 and golden tests instead of passing
// on the first run and drifting on later ones.
func TestMain(m *testing.M) {
	poisonBufs = true
	os.Exit(m.Run())
}

// perturbInputs redraws the differentiable inputs of h from seed (ids and
// masks are kept) and zeroes their accumulated gradients (the harness
// binds dual values).
func perturbInputs(h *opHarness, c opCase, seed uint64) {
	rng := NewRNG(seed)
	for i, s := range c.ins {
		if s.fill != nil {
			continue
		}
		sc := s.scale
		if sc == 0 {
			sc = 1
		}
		FillNormal(h.vals[i], rng, 0, sc)
	}
	for _, i := range h.diffIx {
		if g, err := h.in[i].Grad(); err == nil {
			if d, ok := g.(*tensor.Dense); ok {
				d.Zero()
			}
		}
	}
}

// runResult is what one run of a harness computed, copied out.
type runResult struct {
	loss  float64
	out   []float64
	grads [][]float64
}

func runOnce(t *testing.T, h *opHarness) runResult {
	t.Helper()
	g := h.grads(t)
	r := runResult{loss: Float64s(h.lossV)[0], out: Float64s(h.outV), grads: g}
	for _, xs := range append([][]float64{{r.loss}, r.out}, g...) {
		for _, x := range xs {
			if math.IsNaN(x) {
				t.Fatalf("the run computed NaN (a kernel read a poisoned element)")
			}
		}
	}
	return r
}

func sameRun(t *testing.T, what string, got, want runResult) {
	t.Helper()
	if math.Float64bits(got.loss) != math.Float64bits(want.loss) {
		t.Errorf("%s: loss %v, a fresh graph %v", what, got.loss, want.loss)
	}
	if !bitsEqual(got.out, want.out) {
		t.Errorf("%s: output differs from a fresh graph's", what)
	}
	for k := range want.grads {
		if !bitsEqual(got.grads[k], want.grads[k]) {
			t.Errorf("%s: gradient %d differs from a fresh graph's", what, k)
		}
	}
}

// TestReusedBuffersMatchFreshGraph runs every op's graph several times on
// different inputs, in both dtypes: its second run (the ops rewrite the
// buffers they kept from the first) and, after ReleaseValues and a run of
// another graph of the same shapes (which takes the released buffers from
// the pool and leaves its own there), its third must equal, bit for bit,
// the output, loss and gradients of a fresh graph run once on the same
// inputs. A kernel that leaves stale data in a reused buffer, or two ops
// that end up sharing one, fails it.
func TestReusedBuffersMatchFreshGraph(t *testing.T) {
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for i, c := range opCases() {
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) { checkReusedBuffers(t, dt, uint64(500+i), c) })
		}
	}
}

// checkReusedBuffers is TestReusedBuffersMatchFreshGraph for one op case.
func checkReusedBuffers(t *testing.T, dt tensor.Dtype, seed uint64, c opCase) {
	h := newHarness(t, dt, seed, c.ins, c.build)
	defer h.m.Close()
	first := runOnce(t, h)

	fresh := func(inSeed uint64) runResult {
		f := newHarness(t, dt, seed, c.ins, c.build) // same R
		defer f.m.Close()
		perturbInputs(f, c, inSeed)
		return runOnce(t, f)
	}

	perturbInputs(h, c, 1000+seed)
	second := runOnce(t, h)
	sameRun(t, "second run", second, fresh(1000+seed))
	if bitsEqual(second.out, first.out) {
		t.Fatalf("new inputs gave the same output: the test compares nothing")
	}

	ReleaseValues(h.g, h.m)
	other := newHarness(t, dt, seed+7, c.ins, c.build)
	runOnce(t, other)
	ReleaseValues(other.g, other.m)
	other.m.Close()

	perturbInputs(h, c, 2000+seed)
	sameRun(t, "run after release", runOnce(t, h), fresh(2000+seed))
}

// TestCopiedValuesSurviveLaterRuns checks the copies the package promises:
// Float64s of an output and of a gradient, and a G.Read target, taken
// after a run are unchanged by ReleaseValues and by later runs of another
// graph that reuses the released buffers. (A G.Read target is rewritten
// by the next run of its own graph; the raw Node.Value is not a copy.)
func TestCopiedValuesSurviveLaterRuns(t *testing.T) {
	cases := map[string]opCase{}
	for _, c := range opCases() {
		cases[c.name] = c
	}
	for _, dt := range []tensor.Dtype{tensor.Float32, tensor.Float64} {
		for _, name := range []string{"LayerNorm", "CausalSelfAttention", "MatMul(F,T)=Linear"} {
			c := cases[name]
			t.Run(c.name+"/"+dt.String(), func(t *testing.T) {
				h := newHarness(t, dt, 900, c.ins, c.build)
				defer h.m.Close()
				res := runOnce(t, h) // copies, via Float64s
				outCopy := Float64s(h.outV)
				readTarget := h.outV
				gv, err := h.in[h.diffIx[0]].Grad()
				if err != nil {
					t.Fatal(err)
				}
				gradCopy := Float64s(gv)

				ReleaseValues(h.g, h.m)
				for k := 0; k < 3; k++ {
					o := newHarness(t, dt, uint64(901+k), c.ins, c.build)
					runOnce(t, o)
					ReleaseValues(o.g, o.m)
					o.m.Close()
				}
				if !bitsEqual(Float64s(readTarget), outCopy) {
					t.Errorf("the G.Read target changed after another graph's runs")
				}
				if !bitsEqual(res.out, outCopy) || !bitsEqual(res.grads[0], gradCopy) {
					t.Errorf("a Float64s copy changed after another graph's runs")
				}
				for _, x := range res.out {
					if math.IsNaN(x) {
						t.Fatalf("output holds NaN")
					}
				}
			})
		}
	}
}

// TestReleaseReturnsOutputBuffers checks that a released graph holds no
// output buffer (so a kept graph costs its structure only) and that the
// next run of the same graph gets its buffers back from the pool rather
// than allocating them.
func TestReleaseReturnsOutputBuffers(t *testing.T) {
	poisonBufs = false // allocation counts, not values
	defer func() { poisonBufs = true }()
	c := opCases()[0]
	h := newHarness(t, tensor.Float32, 42, c.ins, c.build)
	defer h.m.Close()
	runOnce(t, h)
	if HeldBytes(h.g) == 0 {
		t.Fatalf("HeldBytes is 0 after a run")
	}
	ReleaseValues(h.g, h.m)
	for _, n := range h.g.AllNodes() {
		if r, ok := n.Op().(outputReleaser); ok && len(r.heldOutputs()) != 0 {
			t.Errorf("%v kept its output buffers after ReleaseValues", n.Op())
		}
	}
	if b := HeldBytes(h.g); b != 0 {
		t.Errorf("HeldBytes %d after ReleaseValues, want 0", b)
	}
	if p := pooledBytes(); p > pool.limit || p == 0 {
		t.Errorf("the pool holds %d bytes after a release, limit %d", p, pool.limit)
	}
	// The next run takes the released buffers back from the pool: the
	// ops end up holding the same backing arrays (in any order).
	addrs := func() map[uintptr]bool {
		m := map[uintptr]bool{}
		opBuffers(h.g, func(b dtypeBufs) { m[sliceAddr(b.f32)] = true })
		return m
	}
	runOnce(t, h)
	before := addrs()
	ReleaseValues(h.g, h.m)
	runOnce(t, h)
	after := addrs()
	if len(after) != len(before) || len(before) < 4 {
		t.Fatalf("%d buffers before the release, %d after", len(before), len(after))
	}
	for p := range before {
		if !after[p] {
			t.Errorf("a released buffer was not taken back from the pool")
		}
	}
}

// TestSizeClass checks the pool's size classes: at most 12.5 % to spare,
// and a class is its own class.
func TestSizeClass(t *testing.T) {
	for n := 1; n < 1<<20; n += 1 + n/7 {
		c := sizeClass(n)
		if c < n || float64(c) > 1.125*float64(n)+1 || sizeClass(c) != c {
			t.Fatalf("sizeClass(%d) = %d (class of it %d)", n, c, sizeClass(c))
		}
	}
}

// TestPoolBounded checks that the pool never holds more than the largest
// set of buffers one graph released, however many graphs of different
// shapes release theirs, and that graphs of smaller shapes (within 4×)
// run on the buffers a larger one released instead of allocating.
func TestPoolBounded(t *testing.T) {
	var most int64
	first := map[uintptr]bool{}
	for k := 5; k >= 0; k-- {
		ins := []input{{shape: []int{2 * 5, 3 * (6 + 2*k)}, diff: true}}
		h := newHarness(t, tensor.Float32, uint64(k), ins, func(in []*G.Node) (*G.Node, error) {
			return CausalSelfAttention(in[0], 2, 5, 2)
		})
		runOnce(t, h)
		var held int64
		opBuffers(h.g, func(b dtypeBufs) {
			held += b.bytes()
			if k == 5 {
				first[sliceAddr(b.f32)] = true
			} else if k >= 3 && !first[sliceAddr(b.f32)] {
				t.Errorf("graph %d allocated a buffer of %d elements instead of reusing the first graph's", k, len(b.f32))
			}
		})
		most = max(most, held)
		ReleaseValues(h.g, h.m)
		h.m.Close()
		if p := pooledBytes(); p > pool.limit || pool.limit < most {
			t.Fatalf("graph %d: pool holds %d bytes, limit %d, largest release %d", k, p, pool.limit, most)
		}
	}
}

// TestPoolDropsUnusedBuffers checks that a released buffer no run takes
// leaves the pool after poolMaxAge releases.
func TestPoolDropsUnusedBuffers(t *testing.T) {
	c := opCases()[0]
	h := newHarness(t, tensor.Float64, 77, c.ins, c.build)
	runOnce(t, h)
	mine := map[uintptr]bool{}
	opBuffers(h.g, func(b dtypeBufs) { mine[sliceAddr(b.f64)] = true })
	ReleaseValues(h.g, h.m)
	h.m.Close()
	pooled := func() (n int) {
		pool.mu.Lock()
		defer pool.mu.Unlock()
		for _, b := range pool.bufs {
			if mine[sliceAddr(b.f64)] {
				n++
			}
		}
		return n
	}
	if pooled() == 0 {
		t.Fatalf("the released buffers are not in the pool")
	}
	empty := G.NewGraph()
	for k := 0; k < poolMaxAge+1; k++ {
		ReleaseValues(empty, nil)
	}
	if n := pooled(); n != 0 {
		t.Errorf("%d buffers still pooled after %d releases that took none", n, poolMaxAge+1)
	}
}
