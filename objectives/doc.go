// Package objectives implements the DPO-family preference objectives of
// docs/method.md §2 as pure functions of per-sequence log-prob nodes: policy
// chosen pc, policy rejected pr (possibly gated upstream — the objective
// cannot tell), reference chosen rc, reference rejected rr, and the
// response lengths n⁺, n⁻, all [B] vectors. Nothing here knows what model
// produced the numbers.
//
// # What it owns
//
//   - Spec, the [objective] vocabulary (field for field
//     results.ObjectiveSpec), defaults (Default), validation and parsing
//     from a decoded TOML table (ParseSpec; the *KeyError of gatedpo/internal/tomlval,
//     shared with the grid and gate tables, names the key).
//   - Build: the loss, per-pair loss and per-pair terms as graph nodes.
//   - Metrics: the TRL-named batch statistics from the values a run produced.
//   - Spec.Reduction: how the batch loss reduces its pairs (a pair mean, a
//     chosen-token mean, or both mixed), i.e. how its gradient splits over
//     micro-batches (gradient accumulation).
//
// Every log σ is graph.NegLogSigmoid, a numerically stable −log σ(x) Op
// (Gorgonia's Softplus returns x for x > 16, an error far above the
// goldens' 1e-12).
//
// # Objectives (r⁺ = pc − rc, r⁻ = pr − rr, h = r⁺ − r⁻; mean over pairs)
//
//	dpo      −(1−ε)·log σ(βh) − ε·log σ(−βh)            β 0.1, ε 0
//	         Rafailov et al. 2023, arXiv:2305.18290, eq. 7; ε = cDPO label smoothing
//	ipo      (h − 1/(2β))²; length_normalize divides each LP by its |y|   β 0.1
//	         Azar et al. 2023, arXiv:2310.12036, eq. 17
//	cal_dpo  −log σ(r⁺ − r⁻) + w·[(r⁺ − 1/(2β))² + (r⁻ + 1/(2β))²]     β 0.1, w 1.0
//	         Xiao et al., NeurIPS 2024, arXiv:2412.14516 (w = 1 the authors'
//	         Pythia code, 0.5 their Zephyr code)
//	rpo      −log σ(βh) + α·NLL(y⁺); NLL per pair −pc/n⁺ (mean, default),
//	         −pc (sum), or the batch token mean Σ(−pc)/Σn⁺ (token)    β 0.1, α 1
//	         Pang et al. 2024, arXiv:2404.19733
//	simpo    −log σ(β·pc/n⁺ − β·pr/n⁻ − γ), no reference     β 2.0, γ 0.5
//	         Meng et al. 2024, arXiv:2405.14734, eq. 6
//	dpop     −log σ(β·(r⁺ − r⁻ − λ·max(0, −r⁺)))                  β 0.1, λ 5.0
//	         DPO-Positive, Pal et al. 2024 ("Smaug"), arXiv:2402.13228;
//	         the penalty's subgradient at r⁺ = 0 is 0; term "penalty"
//	apo_zero (1 − σ(β·r⁺)) + σ(β·r⁻)                                β 0.1
//	         Anchored Preference Optimization, D'Oosterlinck et al. 2024,
//	         arXiv:2408.06266, eq. 7; terms "chosen", "rejected"
//	apo_down σ(β·r⁺) + (1 − σ(β·(r⁺ − r⁻)))                         β 0.1
//	         ibid., eq. 8; terms "chosen", "rejected"
//	nca_pair −log σ(β·r⁺) − ½·log σ(−β·r⁺) − ½·log σ(−β·r⁻)         β 0.1
//	         Noise Contrastive Alignment, pairwise form, Chen et al. 2024,
//	         arXiv:2402.05369
//	sft      Σ(−pc)/Σn⁺, the token-mean NLL of the chosen responses
//
// dpop, apo_zero, apo_down and nca_pair are the published fixes for
// likelihood displacement (the chosen log-prob falling under DPO).
// apo_zero, apo_down and nca_pair are TRL's loss types of the same names;
// dpop is the Smaug paper's loss. Every gate composes with them as with
// dpo (it acts on pr, so on r⁻ only). σ is computed as
// exp(log σ) from NegLogSigmoid, and max(0, x) as x·[x > 0], so their
// gradients come from ops with their own tests.
//
// For the token-mean terms (sft, rpo "token") the per-pair entry is the
// pair's share B·(−pc_i)/N, so mean(per-pair) = loss up to rounding (the
// goldens' convention).
//
// # Metrics (TRL names)
//
// rewards/chosen = mean β·r⁺, rewards/rejected = mean β·r⁻,
// rewards/margins = mean(β·r⁺ − β·r⁻), rewards/accuracies = fraction with
// r⁺ > r⁻ (strict), using the objective's β and the reference even where
// the loss does not (simpo); dpop, apo_zero, apo_down and nca_pair log
// β·r± as dpo does; none for sft (no β). logps/chosen = mean pc,
// logps/rejected = mean pr. Because the gate's forward is the identity,
// every metric is the ungated one.
//
// Verified: every case of the golden sets (golden, golden-extra) has its
// loss, per-pair loss, terms and metrics reproduced from its four log-prob
// vectors within 1e-12 relative; gradients with respect to pc and pr match
// finite differences.
package objectives
