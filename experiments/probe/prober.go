package probe

import (
	"sort"

	"gatedpo/experiments/data"
	"gatedpo/models"
)

// Batch is the number of sequences per forward-only probe batch.
const Batch = 32

// bucketStep is the granularity of probe row lengths: a probe batch is
// padded to the smallest multiple of it that holds its longest row (a
// forward pass costs about linearly in the row length).
const bucketStep = 8

// Prober teacher-forces sequences through one model, forward only, in
// batches of Batch sorted by length, each batch through the probe graph of
// its length bucket (graphs are built on first use and kept; each releases
// its activations after its batch). Results are in input order and depend
// on nothing but the model and the sequences.
type Prober struct {
	lm     models.LM
	n      int
	maxT   int
	graphs map[int]*probeGraph
}

// New returns a Prober over lm for sequences of at most maxT tokens
// (prompt ++ response). Close it when done.
func New(lm models.LM, maxT int) *Prober {
	return &Prober{lm: lm, n: Batch, maxT: maxT, graphs: map[int]*probeGraph{}}
}

// Close releases the probe graphs.
func (pr *Prober) Close() {
	for _, g := range pr.graphs {
		g.close()
	}
}

// Run returns the SeqStats of every sequence's response, in the order of
// seqs; padID pads the rows of a batch.
func (pr *Prober) Run(seqs []data.Sequence, padID int) ([]SeqStats, error) {
	order := make([]int, len(seqs))
	for i := range order {
		order[i] = i
	}
	length := func(i int) int { return len(seqs[i].Prompt) + len(seqs[i].Response) }
	sort.SliceStable(order, func(a, c int) bool { return length(order[a]) < length(order[c]) })
	out := make([]SeqStats, len(seqs))
	for lo := 0; lo < len(order); lo += pr.n {
		idx := order[lo:min(lo+pr.n, len(order))]
		t := (length(idx[len(idx)-1]) + bucketStep - 1) / bucketStep * bucketStep
		t = min(max(t, 2), pr.maxT)
		g, ok := pr.graphs[t]
		if !ok {
			var err error
			if g, err = newProbeGraph(pr.lm, pr.n, t); err != nil {
				return nil, err
			}
			pr.graphs[t] = g
		}
		chunk := make([]data.Sequence, len(idx))
		for k, i := range idx {
			chunk[k] = seqs[i]
		}
		st, err := g.run(chunk, padID)
		if err != nil {
			return nil, err
		}
		for k, i := range idx {
			out[i] = st[k]
		}
	}
	return out, nil
}
