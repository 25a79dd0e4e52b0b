package graph

import (
	"unsafe"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// A Gorgonia TapeMachine binds the value every op computed to its node and
// leaves it there after RunAll, and the stateful ops of this package keep
// their forward caches (attention probabilities, tanh, exp(x − max)) for
// the next backward. A graph that is kept for reuse therefore holds a full
// set of activations and gradients between runs — per graph, so a cache of
// graphs for several batch shapes holds one set per shape. ReleaseValues
// drops them.

func init() {
	// Node.unbind (ExprGraph.UnbindAllNonInputs) hands every unbound tensor
	// to the tensor package's pool, which zeroes the *tensor.Dense header
	// and gives the same struct to the next tensor.New. A value that is
	// still referenced elsewhere (a G.Read target, a view bound to two
	// nodes) would then be aliased with an unrelated tensor. Without the
	// pool, unbinding only drops references. Set once here, before any
	// goroutine runs, so no tensor.ReturnTensor races with the switch.
	tensor.DontUsePool()
}

// cacheReleaser is an op that keeps forward results for its backward op.
type cacheReleaser interface{ releaseCache() }

// outputReleaser is an op that reuses its output buffers across runs
// (it embeds outBufs).
type outputReleaser interface {
	releaseOutputs()
	heldOutputs() []dtypeBufs
}

// ReleaseValues drops everything a run of m left in g: the machine's
// registers (m.Reset, so the next run starts afresh), the value bound to
// every node that is not an input or a constant, and the forward caches
// and output buffers of the ops of this package, which go to the buffer
// pool (opbase.go) for the next run of any graph to take. Inputs keep
// their values. Parameter gradients are the values of gradient nodes
// (Node.Grad) and are dropped as well, unless the machine was made with
// G.BindDualValues (then they live in the parameters' dual values and
// stay): step the optimizer or read them first. The next RunAll computes
// everything again; results are unchanged (every value and every cache is
// fully rewritten by a run). A value of the last run that is still
// referenced (a *tensor.Dense taken from Node.Value or Node.Grad) may be
// overwritten by the next run of any graph: copy what you need first
// (Float64s). Values read through G.Read are copies and stay valid; drop
// the target if it is large.
//
// Call it after a run whose results have been read, when the graph is kept
// for later: a graph then costs its structure only, and one run's values
// are live at a time however many graphs are kept. m may be nil.
func ReleaseValues(g *G.ExprGraph, m G.VM) {
	if m != nil {
		m.Reset()
	}
	g.UnbindAllNonInputs()
	var released int64
	opBuffers(g, func(b dtypeBufs) { released += b.bytes() })
	beginRelease(released)
	for _, n := range g.AllNodes() {
		if r, ok := n.Op().(cacheReleaser); ok {
			r.releaseCache()
		}
		if r, ok := n.Op().(outputReleaser); ok {
			r.releaseOutputs()
		}
	}
}

// The caches are shared by a forward op and its backward op: putBufs
// forgets what it pools, so the second release is a no-op.
func (op *attnOp) releaseCache() { putBufs(&op.cache.probs) }
func (op *geluOp) releaseCache() { putBufs(&op.cache.tanh) }
func (op *lsgOp) releaseCache() {
	putBufs(&op.lse.exp)
	*op.lse = lseCache{}
}

// The fused head keeps per-row statistics and either the logits of the rows
// it computed (for its backward) or a chunk-sized scratch block, both
// pooled on release; its backward op holds dh and dw (outBufs), and the
// weight-gradient node (headGradWOp) returns that dw within the run.
func (op *headLSGOp) releaseCache() {
	putBufs(&op.st.block)
	putBufs(&op.st.logits)
	*op.st = headState{}
}

// HeldBytes is the memory a graph holds in values bound to its non-input
// nodes and in the forward caches and output buffers of its ops, counting
// each backing array once (in-place results share one). After a run it is that run's
// activation and gradient footprint; after ReleaseValues it is 0, up to
// constants. Inputs (parameters, their gradients, batch inputs) are not
// counted.
func HeldBytes(g *G.ExprGraph) int64 {
	seen := map[uintptr]bool{}
	var total int64
	add := func(ptr uintptr, n int64) {
		if ptr != 0 && !seen[ptr] {
			seen[ptr] = true
			total += n
		}
	}
	addSlice := func(s any) {
		switch d := s.(type) {
		case []float32:
			if len(d) > 0 {
				add(uintptr(unsafe.Pointer(&d[0])), int64(len(d))*4)
			}
		case []float64:
			if len(d) > 0 {
				add(uintptr(unsafe.Pointer(&d[0])), int64(len(d))*8)
			}
		}
	}
	opBuffers(g, func(b dtypeBufs) {
		addSlice(b.f32)
		addSlice(b.f64)
	})
	for _, n := range g.AllNodes() {
		if n.Op() == nil {
			continue // an input
		}
		if d, ok := n.Value().(*tensor.Dense); ok {
			addSlice(d.Data())
		}
	}
	return total
}

// opBuffers calls visit on every buffer the ops of g hold (output buffers
// and forward caches), each backing array once.
func opBuffers(g *G.ExprGraph, visit func(dtypeBufs)) {
	seen := map[uintptr]bool{}
	visitOnce := func(b dtypeBufs) {
		for _, p := range []uintptr{sliceAddr(b.f32), sliceAddr(b.f64)} {
			if p != 0 {
				if seen[p] {
					return
				}
				seen[p] = true
			}
		}
		visit(b)
	}
	for _, n := range g.AllNodes() {
		if r, ok := n.Op().(outputReleaser); ok {
			for _, b := range r.heldOutputs() {
				visitOnce(b)
			}
		}
		switch op := n.Op().(type) {
		case *attnOp:
			visitOnce(op.cache.probs)
		case *packedAttnOp:
			visitOnce(op.cache.probs)
		case *geluOp:
			visitOnce(op.cache.tanh)
		case *lsgOp:
			visitOnce(op.lse.exp)
		case *headLSGOp:
			visitOnce(op.st.block)
			visitOnce(op.st.logits)
		}
	}
}

// sliceAddr is the address of a slice's backing array (0 when empty).
func sliceAddr[T elem](s []T) uintptr {
	if cap(s) == 0 {
		return 0
	}
	return uintptr(unsafe.Pointer(unsafe.SliceData(s)))
}
