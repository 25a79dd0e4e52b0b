// Package hf loads Hugging Face causal language models — model_type gpt2,
// gpt_neox (Pythia), llama and qwen2 — as Gorgonia graphs implementing
// models.LM, in float32 or float64, and saves them back as Hugging Face
// model directories.
//
// A model directory holds config.json and model.safetensors, or shards
// listed in model.safetensors.index.json. ParseConfig reads the fields
// each family uses under Hugging Face's names, with Hugging Face's
// defaults for absent fields; an unknown model_type or an unimplemented
// feature (rope_scaling other than the default, Qwen2 sliding windows,
// GPT-2 cross-attention, other activations) is an error naming the field.
// Stored F16 (subnormals included), BF16, F32 and F64 weights convert
// exactly to float64 (or round to float32). Buffers that checkpoints carry
// (GPT-2 attn.bias, GPT-NeoX attention.bias/masked_bias/rotary_emb.inv_freq,
// Llama inv_freq) are skipped, as is an output head that
// tie_word_embeddings ties to the embedding; they are not parameters.
// Weights keep the names they have in the file.
//
// Fields read (Hugging Face's default when absent or null):
//
//	gpt2      n_embd (768), n_head (12), n_layer (12), vocab_size (50257),
//	          n_positions (1024), n_inner (4·n_embd), activation_function
//	          ("gelu_new"), layer_norm_epsilon (1e-5), scale_attn_weights
//	          (true), scale_attn_by_inverse_layer_idx (false),
//	          tie_word_embeddings (true); add_cross_attention must be false
//	gpt_neox  hidden_size, num_attention_heads, num_hidden_layers,
//	          vocab_size, intermediate_size (required), rotary_pct or
//	          partial_rotary_factor (0.25), rotary_emb_base or rope_theta
//	          (10000), use_parallel_residual (true), attention_bias (true),
//	          hidden_act ("gelu" = erf), layer_norm_eps (1e-5),
//	          tie_word_embeddings (false), max_position_embeddings (2048)
//	llama,    hidden_size, num_attention_heads, num_hidden_layers,
//	qwen2     vocab_size, intermediate_size (required), num_key_value_heads
//	          (= heads), head_dim (hidden/heads), rms_norm_eps (1e-6),
//	          rope_theta (10000; or rope_parameters.rope_theta),
//	          partial_rotary_factor (1), hidden_act ("silu"),
//	          tie_word_embeddings (false), max_position_embeddings (2048);
//	          llama attention_bias (false; q, k, v and o) and mlp_bias
//	          (false); qwen2 always has q/k/v biases, never o/MLP biases, and
//	          use_sliding_window must be false. rope_scaling (and
//	          rope_parameters.rope_type) must be null or "default".
//
// Every size is bounded (≤ 2^24 each, ≤ 2^36 parameters in all).
//
// The graphs (see docs/method.md for the objectives that use them):
//
//	gpt2      learned positions, pre-LN blocks, Conv1D weights [in, out],
//	          tanh GELU (gelu_new) or erf GELU, tied head by default
//	gpt_neox  fused query_key_value rows in per-head [H, 3, hd] order
//	          (graph.PermuteRows reorders them), partial RoPE, parallel
//	          residual, erf GELU, untied embed_out by default
//	llama     RMSNorm, grouped-query attention, RoPE (rope_theta), SwiGLU,
//	          optional attention_bias (q, k, v, o) and mlp_bias
//	qwen2     as llama with q/k/v biases and (usually) a tied head
//
// Every family's output head is graph.HeadTokenLogProbsMasked: the head
// matrix product fused with the log-softmax and the target gather, chunked
// over rows, so no graph holds the [n·t, V] logits (50k-token vocabularies
// make that buffer the largest of a step), and computed only at the
// positions Forward.LogpMask selects (every position until a caller sets
// the response positions with Forward.SetLogpMask; the loss graphs do).
// Forward.TokenLogpMax reads its cached statistics; the logits node is added only when a caller asks for it
// (Forward.LogitsNode). Forward.Hidden and Forward.HeadWeight expose the
// final hidden states and the head matrix, so that forward-only passes
// (the experiments' probes and reference log-probs) apply the head to the
// rows they need, block by block. Linear layers with a bias are
// graph.LinearBias (one output buffer).
//
// Everything — RoPE frequencies, norms, softmax — is computed in the model
// dtype, with float64 accumulation inside the fused ops; there are no
// float32 casts as in Hugging Face's own code, so float64 runs match exact
// float64 math (the goldens in shared/hf) to about 1e-15.
//
// NewRandom gives seeded random weights of a config (PCG; matrices
// N(0, 0.02²), norm weights 1, biases 0, as the PyTorch speed peer), and
// LoadDirOrRandom uses it for a directory that holds only config.json (the
// benchmark's "hf:DIR" of a config alone).
//
// Load accepts "hf:DIR", a model directory or a models.Save checkpoint;
// LoadReference also accepts a weights-only safetensors file with the
// policy's tensor names. SaveDir writes a directory Hugging Face
// transformers loads: model.safetensors (HF names, {"format": "pt"}
// metadata, the compute dtype), config.json (torch_dtype updated) and the
// tokenizer files of the source directory. models.Save/Load also round-trip
// these models as single files (kind "hf", config.json in the metadata).
package hf
