// Package graph is the Gorgonia toolkit every gatedpo model is built from:
// layers (Linear in PyTorch [out,in] layout, LayerNorm, embedding lookup,
// causal multi-head attention, tanh-GELU), numerically stable fused ops
// (log-softmax + target gather, ...), deterministic initialisation from
// math/rand/v2 PCG, and a training-machine wrapper with Adam, AdamW and
// RMSprop plus global-norm gradient clipping.
//
// It knows nothing about preference objectives or about which model it
// serves.
package graph
