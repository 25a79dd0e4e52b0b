// Package probe scores a model on probe sequences, teacher-forced and
// without gradient, and defines every probe metric (docs/method.md §5).
// It owns:
//
//   - Prober (New, Run, Close): forward passes over any number of
//     sequences, sorted by length and batched Batch at a time, each batch
//     through the forward-only Gorgonia graph of its length bucket
//     (graph.go: the per-position statistics are computed in Go at the
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
