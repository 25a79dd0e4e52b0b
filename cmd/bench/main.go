// Command bench times one preference-training step of the transformer,
// exactly the step of the PyTorch peer's bench.py (shared/peer/bench.py):
//
//	reference forward (no gradient) on [chosen; rejected]
//	→ policy forward on the same batch → sequence log-probs (+ gate on the
//	rejected tokens) → objective → backward → one Adam step
//
// It takes the peer's flags and prints one JSON line with the peer's key
// names (median_step_s, mean_step_s, min_step_s, max_step_s, tokens_per_s,
// peak_rss_mib, blas_libs, dtype, …), so the two outputs compare line for
// line. -precompute-ref times the training-time variant in which the
// frozen reference's log-probs are computed once, not every step. -pack
// runs every pair as one packed row — the prompt once, then the chosen and
// the rejected response — in the reference forward and the policy forward
// and backward (experiments/loss packed pairs, the sweep's
// train.pack_pairs): the same losses up to rounding, with the prompt
// computed once per pair.
//
//	go run ./cmd/bench -vocab 512 -d-model 128 -heads 4 -layers 2 -seq-len 128 -pairs 8
//	go run -tags openblas ./cmd/bench -d-model 256 -layers 4 -objective ipo -gate ramp:tau=0.05
//	go run ./cmd/bench -model hf:scripts/hf-configs/pythia-160m -steps 3 -warmup 1
//
// -model hf:DIR times a Hugging Face model directory (gpt2, gpt_neox, llama,
// qwen2) against shared/hf/peer/bench_hf.py --config DIR: its weights, or,
// when DIR holds only config.json, random weights of that config (seeded
// PCG: matrices N(0, 0.02²), norm weights 1, biases 0, as the peer). The
// flags the peer has (-pairs, -seq-len, -steps, -warmup, -dtype, and its lr
// 1e-5) default to the peer's values there (4, 256, 5, 1, float32), and the
// batch is the peer's: the first T/4 tokens a shared prompt, ids uniform in
// [0, V). The JSON line adds model_type, params and config.
//
// Exit codes: 0 ok, 1 the run failed, 2 bad flags.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"gatedpo/cmd/internal/benchsys"
	"gatedpo/cmd/internal/cli"
	"gatedpo/experiments/data"
	"gatedpo/gating"
	"gatedpo/graph"
	"gatedpo/graph/blasgemm"
	"gatedpo/models"
	"gatedpo/models/hf"
	"gatedpo/objectives"
)

type options struct {
	vocab, dModel, heads, layers, seqLen, pairs int
	steps, warmup                               int
	dtype, objective, gate                      string
	lr                                          float64
	seed                                        uint64
	precomputeRef, pack                         bool
	blasThreads                                 int
	cpuProfile, memProfile, label, gemm         string
	traceFile                                   string
	model                                       string
	refRows, gcPercent, microPairs              int
	set                                         map[string]bool // flags given on the command line
}

func main() {
	var o options
	flag.IntVar(&o.vocab, "vocab", 512, "vocabulary size V")
	flag.IntVar(&o.dModel, "d-model", 128, "residual width D")
	flag.IntVar(&o.heads, "heads", 4, "attention heads")
	flag.IntVar(&o.layers, "layers", 2, "transformer blocks")
	flag.IntVar(&o.seqLen, "seq-len", 128, "every sequence is exactly this long (no padding)")
	flag.IntVar(&o.pairs, "pairs", 8, "preference pairs per step (2× sequences)")
	flag.IntVar(&o.steps, "steps", 20, "timed steps (median reported)")
	flag.IntVar(&o.warmup, "warmup", 3, "untimed steps first")
	flag.StringVar(&o.dtype, "dtype", "float32", "float32 or float64")
	flag.StringVar(&o.objective, "objective", "dpo", "NAME[:key=value,...], e.g. dpo:beta=0.1")
	flag.StringVar(&o.gate, "gate", "none", "KIND[:key=value,...], e.g. ramp:tau=0.05,level=token")
	flag.Float64Var(&o.lr, "lr", 1e-4, "Adam learning rate")
	flag.Uint64Var(&o.seed, "seed", 0, "seed of the weights and the batch")
	flag.BoolVar(&o.precomputeRef, "precompute-ref", false, "compute the reference log-probs once, not every step (TRL precompute_ref_log_probs)")
	flag.BoolVar(&o.pack, "pack", false, "run every pair as one packed row (the prompt once, then the chosen and the rejected response) in the policy forward/backward and the reference forward, as the sweep's train.pack_pairs; -ref-rows then counts unpacked rows (the reference runs -ref-rows/2 pairs at a time)")
	flag.IntVar(&o.blasThreads, "blas-threads", 1, "OpenBLAS threads (openblas build; 0 = leave the library default: 1, or OPENBLAS_NUM_THREADS)")
	flag.StringVar(&o.gemm, "gemm", "installed", "matrix products: installed (the build's BLAS), blasgemm (the Go-assembly GEMM, also in the openblas build) or gonum (plain gonum, to measure blasgemm)")
	flag.StringVar(&o.model, "model", "transformer", "transformer (the TinyGPT of the -vocab … -layers flags) or hf:DIR, a Hugging Face model directory; a directory holding only config.json means random weights of that config (seeded, as the peer bench_hf.py)")
	flag.IntVar(&o.refRows, "ref-rows", -1, "rows per reference forward pass, looping over the 2·pairs rows (same log-probs, smaller reference graph); 0 = all at once; -1 = the default: all for -model transformer, 2·(the default -micro-pairs) for hf:DIR")
	flag.IntVar(&o.microPairs, "micro-pairs", -1, "pairs per policy forward/backward, accumulating gradients over the batch before the one Adam step, as the sweep's train.micro_pairs (the same step up to rounding, smaller policy graph); 0 = all at once; -1 = the default: all for transformer, 2 for hf:DIR (1 when -pairs is odd)")
	flag.IntVar(&o.gcPercent, "gc-percent", -1, "Go GC target percentage (runtime/debug.SetGCPercent); -1 = the default: GOGC from the environment if set, else 25 for hf:DIR (a step's buffers are large and short-lived: collecting sooner keeps the peak RSS near the live heap at little CPU cost) and the runtime default (100) for transformer")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed steps to this file")
	flag.StringVar(&o.traceFile, "trace", "", "write a Go execution trace of the timed steps to this file (go tool trace; with -cpuprofile it carries the CPU samples too)")
	flag.StringVar(&o.memProfile, "memprofile", "", "write a heap profile (in-use and allocated bytes) at the end of the run to this file")
	flag.StringVar(&o.label, "label", "", "free text copied to the output")
	flag.CommandLine.Init("bench", flag.ContinueOnError)
	cli.Usage(flag.CommandLine, "usage: bench [flags]\n\nTimes one preference-training step (reference forward, policy forward and\nbackward, objective, Adam) and prints one JSON line with the PyTorch\npeer's keys.\n\nexit status: 0 ok, 1 the run failed, 2 bad flags")
	if code, done := cli.Parse(flag.CommandLine, os.Args[1:], os.Stdout, os.Stderr, cli.VersionString("bench", graph.BLASName())); done {
		os.Exit(code)
	}
	o.set = map[string]bool{}
	flag.Visit(func(f *flag.Flag) { o.set[f.Name] = true })
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "bench: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	res, err := run(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		if _, bad := err.(usageError); bad {
			os.Exit(2)
		}
		os.Exit(1)
	}
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// usageError marks an error in the flags (exit code 2).
type usageError struct{ error }

// parseSpec splits "name:key=value,key=value" into the name and a table of
// typed values (true/false → bool, numbers → float64, else string), the
// form objectives.ParseSpec and gating.ParseSpec read.
func parseSpec(text, what string) (string, map[string]any, error) {
	name, rest, _ := strings.Cut(text, ":")
	table := map[string]any{}
	if rest != "" {
		for _, item := range strings.Split(rest, ",") {
			k, v, ok := strings.Cut(item, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if !ok || k == "" {
				return "", nil, fmt.Errorf("-%s: expected key=value, got %q in %q", what, item, text)
			}
			switch {
			case v == "true" || v == "false":
				table[k] = v == "true"
			default:
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					table[k] = f
				} else {
					table[k] = v
				}
			}
		}
	}
	return strings.TrimSpace(name), table, nil
}

func parseSpecs(o options) (objectives.Spec, gating.Spec, error) {
	name, table, err := parseSpec(o.objective, "objective")
	if err != nil {
		return objectives.Spec{}, gating.Spec{}, err
	}
	table["name"] = name
	obj, err := objectives.ParseSpec(table)
	if err != nil {
		return objectives.Spec{}, gating.Spec{}, fmt.Errorf("-objective %q: %w", o.objective, err)
	}
	kind, gtable, err := parseSpec(o.gate, "gate")
	if err != nil {
		return objectives.Spec{}, gating.Spec{}, err
	}
	gtable["kind"] = kind
	gate, err := gating.ParseSpec(gtable)
	if err != nil {
		return objectives.Spec{}, gating.Spec{}, fmt.Errorf("-gate %q: %w", o.gate, err)
	}
	return obj, gate, nil
}

// hfDefaults are the flag defaults of the peer shared/hf/peer/bench_hf.py,
// used with -model hf:DIR for every flag not given on the command line.
var hfDefaults = map[string]func(*options){
	"pairs":   func(o *options) { o.pairs = 4 },
	"seq-len": func(o *options) { o.seqLen = 256 },
	"steps":   func(o *options) { o.steps = 5 },
	"warmup":  func(o *options) { o.warmup = 1 },
	"lr":      func(o *options) { o.lr = 1e-5 },
}

func run(o options) (map[string]any, error) {
	if strings.HasPrefix(o.model, hf.DirPrefix) {
		for name, set := range hfDefaults {
			if !o.set[name] {
				set(&o)
			}
		}
	}
	obj, gate, err := parseSpecs(o)
	if err != nil {
		return nil, usageError{err}
	}
	var dt tensor.Dtype
	switch o.dtype {
	case "float32":
		dt = tensor.Float32
	case "float64":
		dt = tensor.Float64
	default:
		return nil, usageError{fmt.Errorf("-dtype %q: want float32 or float64", o.dtype)}
	}
	if o.steps < 1 || o.warmup < 0 || o.pairs < 1 || o.seqLen < 8 {
		return nil, usageError{fmt.Errorf("need -steps ≥ 1, -warmup ≥ 0, -pairs ≥ 1, -seq-len ≥ 8")}
	}
	if o.blasThreads > 0 {
		graph.SetBLASThreads(o.blasThreads)
	}
	blasName, blasCore := graph.BLASName(), graph.BLASCore()
	switch o.gemm {
	case "installed", "":
	case "blasgemm", "gonum":
		var impl G.BLAS = blasgemm.Implementation{}
		if o.gemm == "gonum" {
			impl = gonum.Implementation{}
		}
		G.Use(impl)
		blas32.Use(impl)
		blas64.Use(impl)
		blasName += ", gemm: " + o.gemm
		blasCore = o.gemm
	default:
		return nil, usageError{fmt.Errorf("-gemm %q: want installed, blasgemm or gonum", o.gemm)}
	}
	rssStart := benchsys.RSSMiB()
	gcPercent := o.gcPercent
	if gcPercent < 0 && os.Getenv("GOGC") == "" && strings.HasPrefix(o.model, hf.DirPrefix) {
		gcPercent = 25
	}
	if gcPercent >= 0 {
		debug.SetGCPercent(gcPercent)
	}
	effGC := debug.SetGCPercent(-1) // read back the setting in force
	debug.SetGCPercent(effGC)

	var reference models.LM
	var b data.Batch
	var hfModel *hf.Model
	randomWeights := true
	switch {
	case o.model == "transformer" || o.model == "":
		cfg := models.TransformerConfig{VocabSize: o.vocab, DModel: o.dModel, NHeads: o.heads,
			NLayers: o.layers, MaxSeqLen: o.seqLen, LNEps: 1e-5}
		if reference, err = models.NewTransformer(cfg, dt, o.seed); err != nil {
			return nil, usageError{err}
		}
		b = makeBatch(graph.NewRNG(o.seed+1), o.pairs, o.seqLen, o.vocab)
	case strings.HasPrefix(o.model, hf.DirPrefix):
		if hfModel, randomWeights, err = hf.LoadDirOrRandom(o.model, dt, o.seed); err != nil {
			return nil, usageError{fmt.Errorf("-model %s: %w", o.model, err)}
		}
		c := hfModel.Config()
		if o.seqLen > c.MaxPos {
			return nil, usageError{fmt.Errorf("-seq-len %d exceeds the model's max_position_embeddings %d", o.seqLen, c.MaxPos)}
		}
		o.vocab, o.dModel, o.heads, o.layers = c.Vocab, c.D, c.Heads, c.Layers
		reference = hfModel
		b = makeHFBatch(graph.NewRNG(o.seed+1), o.pairs, o.seqLen, o.vocab)
	default:
		return nil, usageError{fmt.Errorf("-model %q: want transformer or hf:DIR", o.model)}
	}
	policy := reference.Clone()
	opt, err := graph.NewOptimizer(graph.OptimConfig{Kind: graph.Adam, LR: o.lr})
	if err != nil {
		return nil, err
	}
	// A Hugging Face model's defaults: micro-batches of 2 pairs (1 when
	// -pairs is odd) and reference passes of as many rows.
	hfMicro := 2
	if o.pairs%2 != 0 {
		hfMicro = 1
	}
	if o.refRows < 0 {
		o.refRows = 0
		if hfModel != nil {
			o.refRows = 2 * hfMicro
		}
	}
	if o.microPairs < 0 {
		o.microPairs = 0
		if hfModel != nil {
			o.microPairs = hfMicro
		}
	}
	s, err := newStepper(policy, reference, b, obj, gate, opt, o.refRows, o.microPairs, o.pack)
	if err != nil {
		return nil, err
	}
	if o.precomputeRef {
		if err := s.runReference(); err != nil {
			return nil, err
		}
	}

	var times, losses []float64
	var snap0 benchsys.CPUSnap
	var stopProfile func()
	for i := 0; i < o.warmup+o.steps; i++ {
		if i == o.warmup {
			runtime.GC()
			snap0 = benchsys.SnapshotCPU()
			if o.cpuProfile != "" {
				f, err := os.Create(o.cpuProfile)
				if err != nil {
					return nil, err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					return nil, err
				}
				stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
			}
			if o.traceFile != "" {
				f, err := os.Create(o.traceFile)
				if err == nil {
					if err = trace.Start(f); err != nil {
						f.Close()
					}
				}
				if err != nil {
					if stopProfile != nil {
						stopProfile()
					}
					return nil, err
				}
				stopCPU := stopProfile
				stopProfile = func() {
					trace.Stop()
					f.Close()
					if stopCPU != nil {
						stopCPU()
					}
				}
			}
		}
		t0 := time.Now()
		loss, err := s.step(!o.precomputeRef)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i, err)
		}
		dt := time.Since(t0).Seconds()
		losses = append(losses, loss)
		if i >= o.warmup {
			times = append(times, dt)
		}
	}
	if stopProfile != nil {
		stopProfile()
	}
	if o.memProfile != "" {
		if err := writeHeapProfile(o.memProfile); err != nil {
			return nil, err
		}
	}
	snap1 := benchsys.SnapshotCPU()
	wall := snap1.Wall.Sub(snap0.Wall).Seconds()
	own := (snap1.Own - snap0.Own) / wall
	other := max(0, (snap1.Busy-snap0.Busy)/wall-own)

	st := benchsys.Summarize(times)
	nParams := 0
	for _, w := range policy.Weights() {
		nParams += w.T.Shape().TotalSize()
	}
	tokens := 2 * o.pairs * o.seqLen
	res := map[string]any{
		"bench":                     "preference_train_step",
		"program":                   "gatedpo/cmd/bench",
		"label":                     o.label,
		"median_step_s":             st.Median,
		"mean_step_s":               st.Mean,
		"min_step_s":                st.Min,
		"max_step_s":                st.Max,
		"blas":                      blasName,
		"blas_threads":              graph.BLASThreads(),
		"blas_core":                 blasCore,
		"blas_libs":                 benchsys.BLASLibs(graph.BLASName()),
		"env":                       map[string]string{"OPENBLAS_NUM_THREADS": os.Getenv("OPENBLAS_NUM_THREADS"), "OPENBLAS_CORETYPE": os.Getenv("OPENBLAS_CORETYPE"), "GOMAXPROCS": os.Getenv("GOMAXPROCS"), "GOGC": os.Getenv("GOGC"), "GOMEMLIMIT": os.Getenv("GOMEMLIMIT")},
		"gomaxprocs":                runtime.GOMAXPROCS(0),
		"go":                        runtime.Version(),
		"cpu_count":                 runtime.NumCPU(),
		"dtype":                     o.dtype,
		"objective":                 obj,
		"gate":                      gate,
		"vocab":                     o.vocab,
		"d_model":                   o.dModel,
		"heads":                     o.heads,
		"layers":                    o.layers,
		"seq_len":                   o.seqLen,
		"pairs":                     o.pairs,
		"sequences":                 2 * o.pairs,
		"n_params":                  nParams,
		"steps":                     o.steps,
		"warmup":                    o.warmup,
		"precompute_ref":            o.precomputeRef,
		"policy_tokens_per_step":    tokens,
		"tokens_per_s":              float64(tokens) / st.Median,
		"peak_rss_mib":              benchsys.PeakRSSMiB(),
		"rss_after_import_mib":      rssStart,
		"loss_first":                losses[0],
		"loss_last":                 losses[len(losses)-1],
		"own_cpu_cores_avg":         own,
		"cpu_s_per_step":            (snap1.Own - snap0.Own) / float64(o.steps),
		"other_procs_cpu_cores_avg": other,
		"loadavg_1min_at_end":       benchsys.LoadAvg1(),
		"model":                     o.model,
		"params":                    nParams,
		"random_weights":            randomWeights,
		"lr":                        o.lr,
		"pack":                      o.pack,
		"micro_pairs":               s.pref.Micro,
		"gc_percent":                effGC,
	}
	if o.pack {
		res["ref_rows"] = 2 * s.refPairs // unpacked rows
		res["packed_row_len"] = s.packT
	} else {
		res["ref_rows"] = s.ref.Rows
	}
	if hfModel != nil {
		c := hfModel.Config()
		res["model_type"] = c.ModelType
		res["config"] = c.Summary()
	}
	return res, nil
}

// writeHeapProfile writes the heap profile (after a collection, so that
// in-use bytes are live bytes) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
