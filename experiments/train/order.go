package train

import "gatedpo/experiments/data"

// EpochOrder returns the batches of one epoch over examples training
// examples: the indices 0..examples−1 shuffled by a PCG seeded with
// (seed, epoch) (data.Batches) and cut into batches of batch, the last
// partial batch dropped so every step has one graph shape. It is a pure
// function of its arguments: a checkpoint needs only the step.
func EpochOrder(examples, batch int, seed uint64, epoch int) [][]int {
	enc := make([]data.EncodedPair, examples) // data.Batches orders by count only
	var out [][]int
	for _, bt := range data.Batches(enc, batch, seed, epoch) {
		if len(bt) == batch {
			out = append(out, bt)
		}
	}
	return out
}

// Bucket is the row length a training batch whose longest row has
// longest tokens is padded to: the next multiple of 16 (of 32 when maxT
// exceeds 64, to bound the number of graphs), at least 2 and at most
// maxT. Each bucket has its own graph (Buckets); the choice depends on
// the batch alone, so runs stay deterministic and resumable.
func Bucket(longest, maxT int) int {
	step := 16
	if maxT > 64 {
		step = 32
	}
	t := (longest + step - 1) / step * step
	return min(max(t, 2), maxT)
}

// Buckets keeps one step graph per row length, built on first use and
// kept for the stage (a kept graph costs its structure only: its step
// releases its values).
type Buckets[S interface{ Close() }] struct {
	build  func(t int) (S, error)
	graphs map[int]S
}

// NewBuckets returns an empty set of graphs built by build.
func NewBuckets[S interface{ Close() }](build func(t int) (S, error)) *Buckets[S] {
	return &Buckets[S]{build: build, graphs: map[int]S{}}
}

// Get returns the graph for rows of t tokens, building it the first time.
func (b *Buckets[S]) Get(t int) (S, error) {
	if g, ok := b.graphs[t]; ok {
		return g, nil
	}
	g, err := b.build(t)
	if err != nil {
		return g, err
	}
	b.graphs[t] = g
	return g, nil
}

// Close closes every graph built.
func (b *Buckets[S]) Close() {
	for _, g := range b.graphs {
		g.Close()
	}
}
