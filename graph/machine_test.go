package graph

import (
	"runtime"
	"testing"
	"weak"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// holder is the usual way a training loop keeps a machine: in a struct that
// also receives a node's value through G.Read. The read op points back into
// the struct, so machine → program → read op → holder → machine is a cycle.
type holder struct {
	vm   G.VM
	cost G.Value
}

// machineGraph builds a small graph with a gradient, runs it once in a
// machine made by newVM that lives in a holder, and returns a weak pointer
// to the graph: everything else is dropped when it returns.
func machineGraph(t *testing.T, newVM func(*G.ExprGraph) G.VM) weak.Pointer[G.ExprGraph] {
	t.Helper()
	g := G.NewGraph()
	x := G.NewMatrix(g, tensor.Float64, G.WithShape(64, 64), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(64, 64), tensor.WithBacking(make([]float64, 64*64)))))
	w := G.NewMatrix(g, tensor.Float64, G.WithShape(64, 64), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithShape(64, 64), tensor.WithBacking(make([]float64, 64*64)))))
	cost := G.Must(G.Sum(G.Must(G.Mul(x, w))))
	if _, err := G.Grad(cost, w); err != nil {
		t.Fatal(err)
	}
	h := &holder{}
	G.Read(cost, &h.cost)
	h.vm = newVM(g)
	if err := h.vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	return weak.Make(g)
}

func collected(p weak.Pointer[G.ExprGraph]) bool {
	for range 5 {
		runtime.GC()
	}
	return p.Value() == nil
}

// TestNewTapeMachineIsCollected checks that a graph run by our
// NewTapeMachine is garbage collected once the caller drops it, even when
// the machine sits in a reference cycle.
func TestNewTapeMachineIsCollected(t *testing.T) {
	p := machineGraph(t, func(g *G.ExprGraph) G.VM { return NewTapeMachine(g) })
	if !collected(p) {
		t.Fatal("a graph run by graph.NewTapeMachine was not garbage collected: machines leak")
	}
}

// TestGorgoniaTapeMachineFinalizerLeak pins the upstream bug that
// NewTapeMachine works around: a graph whose G.NewTapeMachine sits in a
// reference cycle is never collected (a finalizer in a cycle). If this
// fails, an upgrade fixed it and graph.NewTapeMachine's finalizer clearing
// can go.
func TestGorgoniaTapeMachineFinalizerLeak(t *testing.T) {
	p := machineGraph(t, func(g *G.ExprGraph) G.VM { return G.NewTapeMachine(g) })
	if collected(p) {
		t.Fatal("Gorgonia's TapeMachine no longer leaks its graph: graph.NewTapeMachine's workaround may be removed")
	}
}
