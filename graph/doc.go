// Package graph is the Gorgonia toolkit every gatedpo model is built from.
// It knows nothing about preference objectives or about which model it
// serves.
//
// # Ops
//
// Every op below is a custom Gorgonia Op (G.Op + G.SDOp) with a
// hand-written gradient, float32 and float64, checked by central finite
// differences (ops_test.go) and, through the transformer, by the PyTorch
// goldens (models/). All 2-D activations are laid out [n·t, features]:
// row s·t+p is sequence s, position p.
//
//	MatMul(a, b, tA, tB)        op(a)·op(b) through BLAS gemm, no materialised transpose
//	Linear(x, w)                x·wᵀ, w stored [out, in] (PyTorch layout)
//	AddBias(x, b)               x + b broadcast over rows
//	LinearBias(x, w, b)         x·wᵀ + b in one op and one output buffer
//	LayerNorm(x, w, b, eps)     fused; biased variance over the last axis
//	GELUTanh(x)                 0.5·x·(1 + tanh(sqrt(2/π)(x + 0.044715x³)))
//	Embedding(table, ids)       table[ids] → [n·t, E]
//	WindowEmbedding(table, ids, k, pad)  the last k tokens' embeddings, concatenated
//	PositionEmbedding(table, n, t)       table[p] for every row s·t+p
//	ConcatRows(xs...)           stack matrices (fuses the q, k, v weights)
//	CausalSelfAttention(qkv, n, t, heads)  fused multi-head causal attention
//	PackedAttention(qkv, layout, spec)  the same over packed rows (PackLayout):
//	                            a shared prefix and segments that each see the
//	                            prefix and themselves; only those blocks computed
//	PackedPositionEmbedding(table, layout), PackedRoPE(x, layout, spec)
//	                            position embedding / rotary by the layout's position ids
//	TokenLogProbs(logits, ids)  fused stable log-softmax + gather of ids[:, p+1] → [n, t−1]
//	TargetLogProbs(logits, targets)  the same, one target per row → [R]
//	HeadTokenLogProbs(h, w, ids)  the output head h·wᵀ fused with TokenLogProbs and
//	                            chunked over rows: never holds the [n·t, V] logits
//	                            of all rows (the backward reuses the computed rows'
//	                            logits up to HeadCacheBytes, else recomputes them)
//	HeadTokenLogProbsMasked(h, w, ids, mask)  the same at the positions mask
//	                            selects only (0 elsewhere): prompts cost nothing
//	HeadLogProbMaxOf(lp)        LogProbMaxOf for a HeadTokenLogProbs(Masked) node
//	HeadLogits(dst, h, rows, d, w, V)  plain Go (no graph): the logits of a block of
//	                            hidden rows, for forward-only passes that need a few rows
//	LogProbMaxOf(lp)            forward-only max_v log π(v) per row of a TokenLogProbs
//	                            node, from that op's cache (no extra pass over the logits)
//	TokenLogProbMax / TokenLogitStat(logits, n, t, stat)  forward-only
//	                            max log-prob, entropy or collision Σp² → [n, t−1]
//	RowLogitStats(logits, V)    the same three statistics in plain Go
//	MaskedRowSum(x, mask)       Σ_j x⊙mask → [n] (sequence log-probs)
//	ColSum(x)                   column sums (used inside gradients)
//
// The plumbing every op shares is in opbase.go: pureOp (the flags of an op
// that overwrites no input, and its reusable output buffers), forwardOnly (a constant to G.Grad),
// backwardOf (the hash and name of the backward op of a stateful forward
// op), doOp (arity check and float32/float64 dispatch), slicesOf,
// elementwiseShape/elementwiseType and dtypeBufs (per-dtype caches). An op
// file holds only its math and its Gorgonia type; norm.go holds what
// LayerNorm and RMSNorm share, concat.go the one op behind ConcatRows and
// ConcatVectors.
//
// Token ids travel through graphs as floats of the model dtype (exact for
// ids < 2^24 in float32), so a model graph has a single dtype; ops that
// read ids validate them (integers in [0, V)) and return an error
// otherwise.
//
// # Gorgonia v0.9.18 workarounds
//
// The models use none of SoftMax/LogSoftMax (row max seeded from the whole
// tensor; SoftMax and LogSoftMax of one input merge into one node),
// InverseSqrt (wrong gradient), ByIndices (wrong gradient on the last
// axis), or unnamed constants (merged by a truncated print of their value).
// gorgonia_bugs_test.go asserts each bug is still present, so an upgrade
// that changes one shows up. Machines are made with NewTapeMachine, never
// G.NewTapeMachine: Gorgonia's finalizer on a machine that sits in a
// reference cycle (a struct holding the machine and a G.Read target) keeps
// the machine, its graph and every op buffer alive until the process ends
// (machine_test.go pins it).
//
// # Stateful ops and machines
//
// HeadTokenLogProbs keeps per-row max and log-sum-exp and either the logits
// of the rows it computed (for its backward, up to HeadCacheBytes) or a
// reusable logits block. CausalSelfAttention, TokenLogProbs/TargetLogProbs and GELUTanh cache
// forward quantities (attention probabilities; per-row max, log-sum-exp and
// exp(x − max); tanh) for their backward op, so backward passes evaluate no
// exponentials; each op instance has a unique hash so Gorgonia never merges
// two of them. Consequently a graph must be run by one TapeMachine at a
// time, and the backward runs in the same RunAll as the forward (as a
// TapeMachine over a G.Grad graph does). Reuse one graph and one machine
// across steps: update inputs in place (or G.Let), m.Reset(), m.RunAll().
//
// A TapeMachine leaves every value it computed bound to its node, and the
// ops above keep their caches, until the next run: a kept graph holds a
// full set of activations and gradients. ReleaseValues drops them after a
// run (results unchanged, bit for bit); HeldBytes measures what a graph
// holds. Float64s copies a value out as []float64 (read results before
// releasing them); RecoverPanic turns a panic inside Gorgonia into an
// error.
//
// # Buffer reuse
//
// The ops write their outputs (and their caches) into buffers they keep
// from one run to the next, so a graph run repeatedly allocates its
// activations and gradients once; ReleaseValues hands those buffers to a
// process-wide pool, from which the next run of any graph takes the best
// fit of its dtype (capacity up to 4× the request, so the graphs of
// different batch shapes share one set). The pool holds at most the
// largest set one release returned and drops a buffer no run took for 16
// releases, so live memory stays about the running graph's buffers plus
// one graph's worth, however many graphs are kept. The rule that makes this
// safe: a value an op returned (Node.Value, Node.Grad, a machine
// register) is valid until the next run of its graph or ReleaseValues,
// whichever comes first. Whatever must outlive that is copied: Float64s,
// G.Read targets (rewritten by the next run of their own graph only), the
// optimizer's state. The callers in this module read results through
// those copies and step the optimizer before releasing. Kernels overwrite
// every element of a reused buffer, or clear it first where they
// accumulate; the package's tests fill every handed-out buffer with NaN to
// catch any that does not, and compare second runs with fresh graphs bit
// for bit. The TokenLogProbs backward writes the logits gradient into the
// forward's exp(x − max) buffer, so the fused op holds one [rows, V]
// buffer besides the logits.
//
// # Packed rows
//
// A PackLayout (packed.go) is run-time data like the ids, set before each
// run: per row a prefix of tokens and segments after it, each segment
// attending to the prefix and causally to itself, its j-th token at
// position prefix + j. Sequences that begin with the same tokens then
// share one copy of them (the probe's responses to one prompt). The packed
// ops keep the per-element sums of the unpacked ones (one dot product per
// score, the softmax of softmaxLive over the same live scores, P·V one
// product over the gathered [prefix V; segment V] rows), so with the
// default build's GEMM a token's results are bit-identical to those in
// its unpacked row (PackedBitIdentical; with another BLAS the two may
// differ at rounding level).
//
// # Speed
//
// Matrix products go through gonum's blas32/blas64 globals, which the
// -tags openblas build (blas_openblas.go) points at OpenBLAS. In the pure-Go
// build a Trans×NoTrans product transposes A first (gonum's TN kernel is
// about half as fast as NN). Row-wise kernels (LayerNorm, softmax,
// log-softmax, GELU) split rows over GOMAXPROCS goroutines in contiguous
// chunks; attention runs one gemm-based task per (sequence, head).
//
// # Parameters and initialisation
//
// Param pairs a checkpoint name with its node in one graph; BindParam binds
// a node to an existing tensor (shared storage, so in-place optimizer
// updates are seen by every graph). NewRNG is a math/rand/v2 PCG; FillNormal
// and FillConst initialise tensors from it (Gorgonia's initialisers seed
// from the clock and are never used). The optimizers (optim.go) and
// schedules (schedule.go) live here too.
package graph
