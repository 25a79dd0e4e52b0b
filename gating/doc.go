// Package gating implements the gated-gradient Op of docs/method.md §3: on the
// policy's per-token log-probs of the rejected response,
//
//	lp̃_t = g_t·lp_t + (1 − g_t)·sg(lp_t)        (sg = stop-gradient)
//
// computed as one custom Gorgonia Op whose forward pass is the identity
// (a bit-exact copy of lp, so every loss value, reward and metric is the
// ungated one) and whose backward pass multiplies the incoming gradient by
// g_t. It knows nothing of DPO: it gates whatever [n, m] log-prob node it
// is given, on the positions a mask selects.
//
// # What it owns
//
//   - Spec, the [gate] vocabulary (kind, tau, level, relative, temperature,
//     alpha; field for field results.GateSpec), its defaults (DefaultSpec),
//     validation and parsing from a decoded TOML table (ParseSpec, errors
//     of type *KeyError of gatedpo/internal/tomlval, shared with the grid and
//     objective tables, naming the key).
//   - The gate functions (Spec.OfLog) and the batch computation Values.
//   - The Op: Apply inserts it (nothing at all when the gate is off), and
//     ValuesNode adds a forward-only node with the gates for logging.
//   - Gate statistics (ComputeStats): mean g, fraction g < 0.5, counts of
//     g = 1 and g = 0, min/max, and the 10/50/90 % quantiles of the raw
//     log-probs, with numpy's linear interpolation at q·(n−1).
//
// # Gate functions
//
// Let x_t be the log of the probability the gate reads: x_t = lp_t, or with
// relative = true x_t = lp_t − log max_v π(v | prefix) (the probability
// relative to the peak of that position's distribution). level = "token"
// gives one gate per token from p = exp(x_t); level = "sequence" one gate
// per response from p = exp(Σ_t mask_t·x_t / |y⁻|), applied to all its
// tokens. With τ > 0:
//
//	none     g = 1
//	hard     g = 1 if p ≥ τ else 0
//	ramp     g = min(1, p/τ)
//	sigmoid  g = σ((x − log τ)/T)          (x itself, not log(exp(x)))
//	power    g = min(1, (p/τ)^α),  α ∈ (0, 1]
//
// τ = 0 (or kind none) switches the gate off: g ≡ 1 and Apply inserts no
// node, so the graph, its loss and every gradient are bit-identical to the
// ungated one.
//
// # Gradient
//
// g_t is a function of detached values only, so ∂g_t/∂lp = 0, and
// ∂sg(lp_t)/∂lp = 0; hence ∂lp̃_t/∂lp_s = g_t·δ_ts and
// ∂L/∂lp_t = g_t·∂L/∂lp̃_t, while lp̃_t = lp_t numerically. The Op's
// SymDiff returns exactly that (a GateGrad node: the incoming gradient times
// g, 1 outside the mask); the mask and the max log-probs get no gradient.
//
// Why it matters (docs/method.md §3): pushing down a class k of a softmax moves
// log p_j by η(p_j + p_k − ‖p‖²) to first order, so when p_k is tiny on a
// peaky distribution only the argmax gains, with a step that does not
// shrink. The gate removes these full-size updates from low-probability
// rejected tokens ("squeezing"; Ren & Sutherland 2024, Learning Dynamics of
// LLM Finetuning, arXiv:2407.10490, §3–4).
//
// Verified against shared/golden (gate values and statistics, 1e-12; hard
// gates exactly) and by finite differences plus the golden README's
// cross-check (gated gradient = g × ungated dL/dlp, bit for bit).
package gating
