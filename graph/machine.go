package graph

import (
	"runtime"

	G "gorgonia.org/gorgonia"
)

// NewTapeMachine is G.NewTapeMachine without Gorgonia's finalizer.
//
// Gorgonia v0.9.18 attaches a finalizer to every TapeMachine (to release
// CUDA contexts; a no-op in CPU builds). A machine sits in a reference
// cycle with its program and graph, and the Go runtime never collects a
// cycle that holds an object with a finalizer: every machine, its graph
// and every value its ops computed stay in memory until the process ends.
// A sweep that builds graphs cell after cell grew by ≈ 170 MB per cell
// that way. Clearing the finalizer lets the garbage collector reclaim the
// machine and its graph once the caller drops them
// (TestGorgoniaTapeMachineFinalizerLeak pins the upstream behaviour).
func NewTapeMachine(g *G.ExprGraph, opts ...G.VMOpt) G.VM {
	m := G.NewTapeMachine(g, opts...)
	runtime.SetFinalizer(m, nil)
	return m
}
