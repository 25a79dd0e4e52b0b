// Package train runs the training stages of a cell: the SFT stage
// (stage 1) and the preference stage (stage 2) share one loop. It owns:
//
//   - Stage and Stage.Run: the loop over steps 1..Total — the batch order
//     of each epoch (EpochOrder), the step, the train.csv row (Hooks.Log),
//     divergence (a NaN or ±Inf loss or gradient norm, or a step error,
//     becomes a Failure naming the stage, step and reason), checkpoints
//     every CheckpointEvery steps, and a clean stop (a checkpoint, then
//     ErrInterrupted); a stage resumes from a checkpoint of step k with
//     Run(k+1, …) and then runs exactly the steps an uninterrupted run
//     would have;
//   - Bucket and Buckets: one step graph per row-length bucket;
//   - SFTStep and PrefStep: one optimizer step on an experiments/loss
//     graph (SeqGraph: the SFT loss; PrefGraph: the preference objective
//     with the gate on the rejected tokens), releasing the graph's values
//     after it; NewPackedPrefStep runs each pair as one packed row
//     (loss.PrefOptions.Pack; the sweep's train.pack_pairs);
//   - gradient accumulation (accum.go; the sweep's train.micro_pairs,
//     cmd/bench's -micro-pairs): a step whose graph holds a micro-batch
//     runs the batch through it in micro-batches, sums their gradients
//     scaled by each one's share of the batch loss (objectives.Reduction:
//     m/B for a pair mean, its share of the chosen tokens for a token
//     mean, none for rpo's "token" NLL, which is refused) and takes the
//     batch's one optimizer step on the sums; the step's loss, TRL
//     metrics and gate statistics are the whole batch's;
//   - Stream: the named random streams derived from a cell's seed (model
//     initialisation, the batch order of each stage), in seeds.go.
//
// What a stage does around the loop — where its data and reference
// log-probs come from, what it records, its probes, where it saves
// checkpoints — is the caller's (experiments), through Hooks.
//
// Import path gatedpo/experiments/train. It depends on experiments/loss,
// experiments/data, graph, models, objectives, gating and results, never
// on the sweep runner.
package train
