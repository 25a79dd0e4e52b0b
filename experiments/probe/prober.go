package probe

import (
	"sort"

	"gatedpo/experiments/data"
	"gatedpo/models"
)

// Batch is the number of sequences per forward-only probe batch; a packed
// batch holds as many packed rows as fit in the tokens of Batch unpacked
// rows of the prober's maximum length.
const Batch = 32

// bucketStep is the granularity of probe row lengths: a probe batch is
// padded to the smallest multiple of it that holds its longest row (a
// forward pass costs about linearly in the row length).
const bucketStep = 8

// Prober teacher-forces sequences through one model, forward only, each
// batch through the probe graph of its length bucket (graphs are built on
// first use and kept; each releases its activations after its batch).
// For a model that builds packed forwards (models.PackedLM: the
// transformer and the Hugging Face models) the sequences that share a
// prompt are packed into one row that computes the prompt once (pack.go),
// and the rows are batched by length within the token budget of Batch
// unpacked rows; any other model (the MLP) runs unpacked, in batches of
// Batch sequences sorted by length. Results are in input order and depend
// on nothing but the model and the sequences (packed and unpacked give
// the same, bit-identical in the default build).
type Prober struct {
	lm     models.LM
	plm    models.PackedLM // lm when it builds packed forwards and packing is on; nil otherwise
	n      int
	maxT   int
	graphs map[int]*probeGraph // unpacked graphs by row length
	packed map[int]*probeGraph // packed graphs by row length
}

// New returns a Prober over lm for sequences of at most maxT tokens
// (prompt ++ response), in batches of Batch sequences. Close it when done.
func New(lm models.LM, maxT int) *Prober { return NewBatched(lm, maxT, Batch) }

// NewBatched is New with batches of rows sequences (rows ≥ 1; packed: the
// token budget of rows unpacked rows) instead of Batch: a forward pass
// then holds the activations of that many rows. The results are the same
// (bit-identical in the default build: rows are independent), only the
// number of passes changes.
func NewBatched(lm models.LM, maxT, rows int) *Prober {
	pr := &Prober{lm: lm, n: max(rows, 1), maxT: maxT, graphs: map[int]*probeGraph{}, packed: map[int]*probeGraph{}}
	if plm, ok := lm.(models.PackedLM); ok {
		pr.plm = plm
	}
	return pr
}

// Packed reports whether the prober packs sequences that share a prompt.
func (pr *Prober) Packed() bool { return pr.plm != nil }

// Close releases the probe graphs.
func (pr *Prober) Close() {
	for _, g := range pr.graphs {
		g.close()
	}
	for _, g := range pr.packed {
		g.close()
	}
}

// Run returns the SeqStats of every sequence's response, in the order of
// seqs; padID pads the rows of a batch.
func (pr *Prober) Run(seqs []data.Sequence, padID int) ([]SeqStats, error) {
	if pr.plm != nil {
		return pr.runPacked(seqs, padID)
	}
	return pr.runUnpacked(seqs, padID)
}

// runUnpacked is Run with one sequence per row.
func (pr *Prober) runUnpacked(seqs []data.Sequence, padID int) ([]SeqStats, error) {
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
