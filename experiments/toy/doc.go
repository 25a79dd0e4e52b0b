// Package toy owns the toy squeezing experiments on the softmax model
// models.Toy (p(·|x) = softmax(Wᵀx)), written by a sweep with [toy]
// run = true and drawn as figures F1 and F1b (docs/method.md):
//
//   - Step: a compiled single-step loss that pushes classes up (−log p_k)
//     or down (+log p̃_k, with a gate from package gating on the pushed-down
//     log-probs), with its gradient through a Gorgonia graph.
//   - F1: the six single-step rows of F1 (uniform, flat and peaky W, a
//     large vocabulary ungated and gated).
//   - F1b: DPO (objectives "dpo") on one preference pair over many steps,
//     ungated and with each gate. The chosen class y⁺ is scored in its
//     context x⁺ and the rejected class y⁻ in its own context x⁻ ≠ x⁺
//     (cosine 0.5, the same peak class, y⁻ in a valley of x⁻), as in a
//     language model where rejected tokens follow rejected prefixes. Were
//     both scored in one context, the softmax normaliser would cancel in
//     log p(y⁺) − log p(y⁻) and DPO would move only those two logits; in
//     separate contexts the push on the unlikely y⁻ raises every other
//     class of x⁻ in proportion to its probability, so the argmax of x⁻
//     gains (squeezing). The trace records log p(y⁺|x⁺), log p(y⁻|x⁻),
//     the top-1 mass and entropy of x⁺ and the top-1 mass of x⁻.
//   - Write: the records toy/toy_f1.json and toy/toy_f1b.csv
//     (results.ToyF1, results.ToyF1bColumns).
//
// Everything is float64 and seeded (graph.NewRNG), so a seed gives
// bit-identical records.
package toy
