// Package models holds the models of gatedpo as Gorgonia graphs: the GPT
// transformer pinned by shared/spec/transformer.md, a fixed-window MLP
// language model, and the toy softmax model of docs/method.md §4 (toy.go;
// its experiments are in gatedpo/experiments/toy).
//
// # Language models
//
// Transformer and MLP implement LM. A model owns its weights (one
// *tensor.Dense per parameter, float32 or float64); Build(g, n, t) adds a
// forward pass over an [n, t] id matrix whose parameter nodes are bound to
// those same tensors, so a training graph, a forward-only probe graph and
// graphs for other batch shapes all see in-place optimizer updates. Each
// Build prefixes its node names uniquely, so a policy and a reference can
// share one graph. The Forward it returns has:
//
//	IDs           [n, t]      input; fill with SetIDs
//	Logits        [n·t, V]    row s·t+p = sequence s, position p
//	TokenLogps    [n, t−1]    lp[s, p] = log π(ids[s, p+1] | ids[s, ≤p])
//	TokenLogpMax  [n, t−1]    max_v log π(v | ids[s, ≤p]); forward only
//	Stat(stat)                forward-only entropy / collision / max log-prob
//
// Concurrency: graphs over different models (e.g. Clones) may run in
// different goroutines at once. Graphs over one model's tensors may each
// be run from one goroutine at a time, but must not have their machines
// created concurrently (G.NewTapeMachine writes a field of every bound
// tensor), and an optimizer step must not overlap a run that reads them.
//
// Packed forwards: the transformer and the Hugging Face models also
// implement PackedLM, whose BuildPacked(g, n, t) adds a forward over n
// packed rows (graph.PackLayout: a shared prefix and segments; set it with
// Forward.SetLayout before each run) in which every token gets the result
// it has in its own unpacked row. The probe uses it to compute a prompt
// once for all its responses; the MLP has none (the probe runs it
// unpacked).
//
// Sequence log-probs are graph.MaskedRowSum(TokenLogps, mask[:, 1:]) with
// the response mask shifted by one (position p predicts token p+1).
//
// Hugging Face checkpoints (gpt2, gpt_neox, llama, qwen2) are LMs of the
// subpackage gatedpo/models/hf, which registers its kind "hf" with
// RegisterLoader so that Load reads their models.Save checkpoints too.
// NextBuildPrefix gives such outside implementations unique node names.
//
// # Transformer
//
// Exactly shared/spec/transformer.md: pre-LayerNorm GPT, learned positions,
// causal multi-head attention, tanh-GELU MLP of width 4D, final LayerNorm,
// untied lm_head, no biases except LayerNorm's, no dropout. It matches the
// PyTorch peer's logits, log-probs and every parameter gradient of the
// golden sft and dpo cases to ≈2e-15 relative in float64. NewTransformer
// initialises GPT-2 style (the peer's scheme "gpt2"): matrices N(0, 0.02²),
// LayerNorm weight 1, bias 0, drawn from a PCG seeded by the caller.
//
// Checkpoint tensors (Linear weights [out, in]): tok_emb [V, D],
// pos_emb [max_seq_len, D], blocks.{i}.ln1.weight/.bias [D],
// blocks.{i}.attn.wq/wk/wv/wo [D, D], blocks.{i}.ln2.weight/.bias [D],
// blocks.{i}.mlp.w1 [4D, D], blocks.{i}.mlp.w2 [D, 4D],
// ln_f.weight/.bias [D], lm_head [V, D]. Config keys: vocab_size, d_model,
// n_heads, n_layers, max_seq_len, ln_eps.
//
// # MLP
//
// A fixed-window neural LM: position p concatenates the embeddings of the
// last k ids (p−k+1 … p, pad id 0 before the row start), applies one hidden
// layer (tanh or tanh-GELU) and maps to V logits. Checkpoint tensors:
// emb [V, E], hidden.weight [H, k·E], hidden.bias [H], out.weight [V, H],
// out.bias [V]. Config keys: vocab_size, window, d_embed, d_hidden,
// activation ("tanh" | "gelu"), max_seq_len. Its gradients are checked by
// finite differences (no peer).
//
// # Verification (measured; tolerances from docs/method.md §8)
//
//	golden forward, float64: logits, lp, lpmax ≤ 1.4e-15 rel   (tolerance 1e-12)
//	golden sft/dpo gradients, every parameter ≤ 1.6e-15 rel, exact zeros exact (1e-10)
//	float32 from *_f32 weights: forward ≤ 6e-7, gradients ≤ 8e-7 rel          (1e-4)
//	PyTorch peer round trip (logits.py on our checkpoint): 4.5e-16 rel         (1e-12)
//	MLP finite differences (tanh, GELU): ≤ 1.1e-9 of max(1, |grad|)           (1e-6)
//
// Benchmarks (transformer_bench_test.go: V 512, D 128, 4 heads, 2 layers,
// T 128, 16 sequences, float32) report wall and CPU seconds per step.
//
// # Checkpoints
//
// Save and Load use safetensors (gatedpo/graph/safetensors), F32 or F64 per
// the model dtype, with __metadata__ "config" (the config JSON) and "model"
// (the kind). Load accepts the peer's files ("model": "tinygpt", or no
// "model" key, means transformer), converts F64 ↔ F32 on request, and
// reports missing, unexpected or mis-shaped tensors by name.
package models
