// Package loss builds the loss graphs: the one place where a language
// model (models.LM), a preference objective (objectives) and the gate on
// the rejected tokens (gating) meet. Everything that trains or checks a
// preference loss — the sweep's training stages, `inspect lossgrad`, the
// step benchmark of cmd/bench — builds it here. It owns:
//
//   - PrefGraph (NewPrefGraph, PrefOptions, PrefResult): the preference
//     loss of B pairs, its gradient, TRL metrics and gate statistics;
//   - SeqGraph (NewSeqGraph): per-sequence log-probs and the SFT loss, for
//     SFT stages and forward-only reference log-probs;
//   - ReferenceLogps: a batch's reference sequence log-probs through a
//     SeqGraph;
//   - packed pairs (PrefOptions.Pack, PackedReference, PackedPairLen): the
//     same preference graph and reference log-probs with each pair in one
//     packed row, its prompt computed once;
//   - LoadBatchJSON: a preference batch in the layout of the goldens'
//     batch.json (`inspect lossgrad -batch`).
//
// Import path gatedpo/experiments/loss. It depends on graph, models,
// objectives, gating and experiments/data, never on the sweep runner, so
// commands that only evaluate a loss link neither the runner nor the
// plotting code.
//
// # Preference graph
//
// For B pairs of T tokens (docs/method.md §3 for the gate, §2 for the
// objectives):
//
//	ids            [2B, T]     rows 0..B−1 chosen, B..2B−1 rejected (Forward.SetIDs)
//	lp             [2B, T−1]   lp[:, t] = log π(ids[:, t+1] | ids[:, ≤t])     (model)
//	lmax           [2B, T−1]   max_v log π(v | ids[:, ≤t]), forward only       (model)
//	mask           [2B, T−1]   mask[r, t] = response_mask[r, t+1]             (input)
//	rejMask        [2B, T−1]   mask with the chosen rows zeroed                (input)
//	lp̃ = gating.Apply(gate, lp, rejMask, lmax)                  only rejected tokens are gated
//	LP = Σ_t mask[:, t]·lp̃[:, t]   [2B]                         golden README "Sequence log-prob"
//	pc, pr = LP[0:B], LP[B:2B]
//	rc, rr         [B]         reference sequence log-probs                    (input)
//	n⁺, n⁻         [B]         response lengths Σ_t mask                      (input)
//	loss, per-pair = objectives.Build(objective, pc, pr, rc, rr, n⁺, n⁻)
//
// A model with Forward.LogpMask (the Hugging Face models) is given mask as
// its LogpMask (SeqGraph likewise its own mask): lp and lmax are computed
// at the response positions only and are 0 elsewhere, where nothing above
// reads them (the gate and its statistics read rejMask ⊆ mask), so the
// output head costs nothing at prompt and padding positions.
//
// The reference enters as two input vectors, so a caller may precompute it
// once per example (ReferenceLogps, or the sweep's probe pass) or compute
// it every step. A gate that is off, and any gate with an objective that
// does not read pr (sft), inserts nothing: the graph is then the ungated
// one, bit for bit.
//
// # Packed pairs
//
// With PrefOptions.Pack (a models.PackedLM policy) pair i is one row of a
// packed forward (graph.PackLayout), x the prompt (P tokens):
//
//	ids            [B, T]      x[:P−1] | x[P−1] ++ y⁺ | x[P−1] ++ y⁻ | padding
//	mask           [B, T−1]    the positions that predict a chosen response token
//	rejMask        [B, T−1]    the positions that predict a rejected response token
//	lp̃ = gating.Apply(gate, lp, rejMask, lmax)
//	pc = Σ_t mask[:, t]·lp̃[:, t],  pr = Σ_t rejMask[:, t]·lp̃[:, t]
//
// and the objective is built on pc, pr as above. Every response token is
// predicted within its own segment, from the keys and position it has in
// its unpacked row, so lp, lmax, the gates (a sequence-level gate reduces
// over the row's rejMask, i.e. the rejected segment) and the objective
// see the unpacked values; the model's LogpMask is mask + rejMask. The
// prompt's activations are shared by both responses, so its gradients
// are summed in another order: values and gradients equal the unpacked
// ones up to rounding, not bit for bit. T is the packed row length
// (PackedPairLen: P + |y⁺| + |y⁻| + 1), SetBatch takes the usual
// data.Batch of any row length, and Result reports the rejected gates in
// the layout of the batch's unpacked rejected rows. PackedReference is
// the forward-only counterpart for the reference log-probs.
//
// # Use
//
// One graph per batch shape; pad batches to a fixed T with
// data.MakeBatch(pairs, padID, T):
//
//	pg, err := loss.NewPrefGraph(policy, B, T, loss.PrefOptions{Objective: obj, Gate: gate, Grad: true})
//	ref, err := loss.NewSeqGraph(reference, 2*B, T, false) // or precompute rc, rr once per example
//	for each batch b:
//		rc, rr, err := loss.ReferenceLogps(ref, b)
//		err = pg.SetBatch(b, rc, rr)
//		err = pg.Run()                     // forward + backward
//		res, err := pg.Result()            // loss, TRL metrics, gates, gate statistics
//		info, err := opt.Step(pg.Params()) // graph.Optimizer updates the shared weights
//		pg.Release()                       // drop the activations of a graph kept for later batches
//
// An SFT stage uses a SeqGraph built with grad = true, over the chosen
// responses (or, for extended SFT, the chosen and rejected responses as
// separate rows), stepping the optimizer on its Params after each Run.
package loss
