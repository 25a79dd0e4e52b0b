// Package probe scores a model on probe sequences, teacher-forced and
// without gradient, and defines every probe metric (docs/method.md §5).
// It owns:
//
//   - Prober (New, Run, Close): forward passes over any number of
//     sequences, packed by prompt (below) or one per row, sorted by length
//     and batched, each batch through the forward-only Gorgonia graph of
//     its length bucket (graph.go: the per-position statistics are computed in Go at the
//     response positions only; for a model that exposes its hidden states
//     the logits of those positions are computed block by block, so the
//     [rows·T, V] logits never exist). Each response's result is a
//     SeqStats: its log-prob LP, the log-prob of the teacher-forced argmax
//     path, its mean top-1 mass, entropy and collision, and the per-token
//     terms.
//   - metrics.go, the one file where every metric is defined, each with
//     its formula: the per-position statistics, SeqStats, and the columns
//     of probe_metrics.csv, probe_fields.csv, probe_examples.csv.gz
//     (Pass, Rows) and probe_tokens.csv.gz (TokenRows, with the gate a
//     cell's gate spec gives each rejected token).
//
// # What a probe computes once per pair
//
// Every response probed for a pair follows the same prompt x: the chosen,
// the rejected and each probe field's response. For a model that builds
// packed forwards (models.PackedLM: the transformer and the Hugging Face
// models) a Prober groups the sequences of a Run by prompt and lays each
// group out as one packed row (pack.go, graph.PackLayout):
//
//	x[:|x|−1] | x[|x|−1] ++ y₁ | x[|x|−1] ++ y₂ | …
//
// The prefix x[:|x|−1] — its embeddings, every layer's projections,
// attention and MLP, and its output rows — is computed once per pair
// instead of once per response; each segment repeats only the prompt's
// last token (whose output predicts the response's first token) and
// attends to the prefix and to itself. Every token keeps the position,
// keys and values it has in its unpacked row, so every statistic of
// every response position (SeqStats) and every record built from them are
// those of the unpacked probe — bit-identical in the default build
// (graph.PackedBitIdentical). A group too long for one row's token budget
// is split over rows that each carry the prefix; rows are batched by
// length within the token budget of Batch unpacked rows. The MLP (no
// packed forward) is probed unpacked.
//
// What is probed and when — which pairs and fields of which split, at
// which steps, against which step-0 pass, and writing the rows — is the
// caller's (the sweep in package experiments): it runs a Prober over the
// sequences of a split, adds each result to a Pass (Pass.Add), and turns
// the pass into rows (Rows, TokenRows). The stage-1 reference log-probs
// of the training pairs are a Prober's LP too.
//
// Import path gatedpo/experiments/probe. It depends on graph, models,
// gating, experiments/data and results, never on the sweep runner.
package probe
