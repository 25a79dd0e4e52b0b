package experiments

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"gatedpo/experiments/data"
	"gatedpo/experiments/hub"
	"gatedpo/gating"
	"gatedpo/results"
)

//go:embed grids/*.toml
var builtinGrids embed.FS

// BuiltinGrids lists the names of the grids shipped inside the binary
// (`default`, `paper`, `paper-small-dpo`, `paper-small-objectives`,
// `paper-small-fixes`, `test`); LoadGrid accepts
// these names in place of a file.
func BuiltinGrids() []string {
	entries, _ := builtinGrids.ReadDir("grids")
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".toml"))
	}
	sort.Strings(names)
	return names
}

// BuiltinGrid returns the TOML text of a shipped grid.
func BuiltinGrid(name string) ([]byte, bool) {
	b, err := builtinGrids.ReadFile("grids/" + name + ".toml")
	return b, err == nil
}

// DataConfig is the [data] table of a grid: what every cell trains and
// probes on. Every default is listed here.
type DataConfig struct {
	Datasets          []string             // "synthetic" or paths (dataset = "x" or a list, an axis); default ["synthetic"]
	Format            string               // canonical record format (data.CanonicalFormat): "" = auto-detect; aliases are stored canonical
	EvalDatasets      []string             // eval_dataset as written: none, one file for every dataset, or one per dataset (by position)
	AppendEOS         bool                 // append_eos as written (see Grid.AppendEOSOf for the default)
	AppendEOSSet      bool                 // append_eos was written; else it follows the cell's tokenizer (on for "model", as TRL; off for byte, bpe)
	ChatTemplate      string               // conversational records: "model" (an hf: arch's chat template if it has one, else HH layout; default) | "hh"
	Tokenizer         string               // byte | bpe | model (default: model for hf: archs, byte for presets; see Grid.TokenizerOf)
	VocabSize         int                  // bpe vocabulary size (default 512; ignored for byte)
	MaxPromptTokens   int                  // prompts keep their last N tokens (default 32)
	MaxResponseTokens int                  // responses keep their first N tokens (default 32)
	ProbeExamples     int                  // size of the held-out probe set and of the train probe set (default 64)
	TrainExamples     int                  // training pairs used (0 = all left after the held-out split; default 0)
	Synthetic         data.SyntheticConfig // [data.synthetic]: the generator's knobs for dataset = "synthetic"

	// Data limits (not part of a cell's config: they only refuse input).
	MaxLineBytes   int   // longest JSONL line read (default data.DefaultMaxLineBytes, 8 MiB)
	MaxDataBytes   int64 // largest dataset after decompression (default data.DefaultMaxDataBytes, 1 GiB)
	MaxFieldTokens int   // most tokens of one text field before truncation (default data.DefaultMaxFieldTokens, 65536)

	// Paths maps each dataset (and eval_dataset) as written to the file it
	// resolved to (relative paths resolve against the grid file's
	// directory). Cell configs record the name as written, so cell ids do
	// not depend on where the repository lives; the content hash is in the
	// provenance.
	Paths map[string]string
}

// TrainConfig is the [train] table of a grid, shared by every cell.
type TrainConfig struct {
	SFTEpochs       int     // stage-1 epochs (default 8)
	PrefEpochs      int     // stage-2 epochs (default 6)
	BatchPairs      int     // preference pairs per step; SFT uses 2× as many sequences (default 8)
	Optimizer       string  // adam | adamw | rmsprop (default adam)
	LR              float64 // preference-stage learning rate (default 1e-3)
	SFTLR           float64 // stage-1 learning rate (default: lr)
	LRSchedule      string  // constant | linear | cosine after warm-up (default constant)
	WarmupSteps     int     // linear warm-up steps (default 20)
	WeightDecay     float64 // adamw decay (default 0.01 for adamw, else 0)
	MaxGradNorm     float64 // global-norm clipping, 0 = off (default 10)
	EvalEvery       int     // probe every N preference steps (and at step 0) (default 50)
	CheckpointEvery int     // checkpoint every N steps (default 200)
	DType           string  // float32 | float64 (default float32)
	InitFrom        string  // checkpoint to start stage 1 from ("" = random init), as written
	InitFromPath    string  // InitFrom resolved against the grid file's directory
}

// ToyConfig is the [toy] table.
type ToyConfig struct {
	Run   bool // write toy/toy_f1.json and toy/toy_f1b.csv (default false)
	Steps int  // multi-step toy steps (default 200)
	Seeds int  // multi-step toy seeds (default 3)
}

// Grid is a parsed and validated grid file. Its cross product of axes is
// the set of cells (see Cells).
type Grid struct {
	Name       string                  // output goes to runs/<Name>/ unless -out is given
	File       string                  // where it came from ("builtin:default" for shipped grids)
	Source     []byte                  // the TOML text as given
	Overrides  []string                // command-line -set key=value, in order (applied to Source)
	Dir        string                  // directory relative paths resolve against
	Data       DataConfig              // [data]
	Train      TrainConfig             // [train]
	Toy        ToyConfig               // [toy]
	Arch       []string                // grid.arch
	Pipeline   []string                // grid.pipeline
	Seed       []int                   // grid.seed
	Objectives []results.ObjectiveSpec // [[grid.objective]]
	Gates      []results.GateSpec      // [[grid.gate]], list-valued tau expanded
	Exclude    []ExcludeRule           // [[grid.exclude]]: combinations left out of the product
	pos        *TOMLPositions
	datasets   map[string]*data.Dataset // loaded by LoadDatasets
	hfArchs    map[string]hfArch        // resolved "hf:…" arch values
	hubArchs   map[string]*hubArch      // "hf:ORG/NAME[@REV]" arch values (resolved by ResolveHub)
	tokSet     bool                     // data.tokenizer was written (else its default depends on the arch)
	// chatTemplates maps an "hf:…" arch to its model's chat template
	// (nil: none), read by LoadDatasets and ResolveHub
	chatTemplates map[string]*data.ChatTemplate
	// hubDatasets are the hf://datasets/… values of data.dataset and
	// data.eval_dataset; ResolveHubDatasets fills dataFiles with their
	// local files
	hubDatasets map[string]hubDataset
	dataFiles   map[string][]string
}

// Pipelines are the stage-1 variants.
const (
	PipelineBaseline    = "baseline"     // SFT on chosen
	PipelineExtendedSFT = "extended_sft" // SFT on chosen ∪ rejected
)

// LoadGrid reads a grid from a file path or, when nameOrPath names a
// shipped grid and no such file exists, from the binary. Every error is a
// *ConfigError naming file:line and key.
//
// sets are command-line overrides (-set key=value), applied to the file's
// keys before validation and recorded in Grid.Overrides.
func LoadGrid(nameOrPath string, sets ...Override) (*Grid, error) {
	if _, err := os.Stat(nameOrPath); err != nil {
		if src, ok := BuiltinGrid(nameOrPath); ok {
			wd, _ := os.Getwd()
			return ParseGrid("builtin:"+nameOrPath, wd, src, sets...)
		}
		if errors.Is(err, os.ErrNotExist) {
			return nil, &ConfigError{File: nameOrPath, Msg: fmt.Sprintf("no such grid file (built-in grids: %s)", strings.Join(BuiltinGrids(), ", "))}
		}
		return nil, &ConfigError{File: nameOrPath, Msg: err.Error()}
	}
	src, err := readGridFile(nameOrPath)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(nameOrPath)
	return ParseGrid(nameOrPath, filepath.Dir(abs), src, sets...)
}

// ParseGrid parses and validates grid text. file names it in errors; dir
// is where relative dataset and init_from paths resolve (they must exist).
// sets are applied in order after decoding and before validation; a key
// they set is reported against the override in errors.
func ParseGrid(file, dir string, src []byte, sets ...Override) (*Grid, error) {
	if err := checkGridLines(file, src); err != nil {
		return nil, err
	}
	var raw map[string]any
	if _, err := toml.NewDecoder(bytes.NewReader(src)).Decode(&raw); err != nil {
		return nil, TOMLDecodeError(file, err)
	}
	g := &Grid{File: file, Source: src, Dir: dir, pos: ScanTOMLPositions(file, src)}
	for _, o := range sets {
		if err := o.apply(raw); err != nil {
			return nil, err
		}
		g.pos.markOverride(o.Key, "-set "+o.Arg)
		g.Overrides = append(g.Overrides, o.Arg)
	}
	p := &tableParser{pos: g.pos}
	if err := p.checkStrings("", raw); err != nil {
		return nil, err
	}
	if err := p.grid(g, raw); err != nil {
		return nil, err
	}
	return g, nil
}

// tableParser reads decoded TOML with key paths for errors.
type tableParser struct{ pos *TOMLPositions }

func (p *tableParser) errf(key, format string, args ...any) error {
	return p.pos.Errorf(key, format, args...)
}

// allow checks that every key of table is in allowed.
func (p *tableParser) allow(prefix string, table map[string]any, allowed ...string) error {
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ok := false
		for _, a := range allowed {
			if a == k {
				ok = true
			}
		}
		if !ok {
			return p.errf(joinKey(prefix, k), "unknown key; expected one of %s", strings.Join(allowed, ", "))
		}
	}
	return nil
}

func (p *tableParser) table(key string, v any) (map[string]any, error) {
	if v == nil {
		return map[string]any{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, p.errf(key, "expected a table, got %s", describe(v))
	}
	return m, nil
}

func describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%v", v)
}

func (p *tableParser) str(key string, v any, dst *string, choices ...string) error {
	if v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		return p.errf(key, "expected a string, got %s", describe(v))
	}
	if len(choices) > 0 {
		found := false
		for _, c := range choices {
			found = found || c == s
		}
		if !found {
			return p.errf(key, "expected one of %s, got %q", strings.Join(choices, ", "), s)
		}
	}
	*dst = s
	return nil
}

func (p *tableParser) integer(key string, v any, dst *int, min int) error {
	if v == nil {
		return nil
	}
	n, ok := v.(int64)
	if !ok {
		return p.errf(key, "expected an integer >= %d, got %s", min, describe(v))
	}
	if n < int64(min) {
		return p.errf(key, "expected an integer >= %d, got %d", min, n)
	}
	if limit := intLimit(key); n > int64(limit) {
		return p.errf(key, "expected ≤ %d, got %d", limit, n)
	}
	*dst = int(n)
	return nil
}

func (p *tableParser) number(key string, v any, dst *float64, positive bool) error {
	if v == nil {
		return nil
	}
	want := "expected a finite number >= 0"
	if positive {
		want = "expected a finite number > 0"
	}
	var x float64
	switch n := v.(type) {
	case float64:
		x = n
	case int64:
		x = float64(n)
	default:
		return p.errf(key, "%s, got %s", want, describe(v))
	}
	if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 || (positive && x == 0) {
		return p.errf(key, "%s, got %v", want, x)
	}
	*dst = x
	return nil
}

func (p *tableParser) boolean(key string, v any, dst *bool) error {
	if v == nil {
		return nil
	}
	b, ok := v.(bool)
	if !ok {
		return p.errf(key, "expected true or false, got %s", describe(v))
	}
	*dst = b
	return nil
}

// strList accepts a string or a list of strings.
func (p *tableParser) strList(key string, v any, choices []string) ([]string, error) {
	var items []any
	switch x := v.(type) {
	case string:
		items = []any{x}
	case []any:
		items = x
	default:
		return nil, p.errf(key, "expected a string or a list of strings, got %s", describe(v))
	}
	if len(items) == 0 {
		return nil, p.errf(key, "expected at least one value")
	}
	out := make([]string, len(items))
	for i, it := range items {
		k := key
		if _, isList := v.([]any); isList {
			k = fmt.Sprintf("%s[%d]", key, i)
		}
		if err := p.str(k, it, &out[i], choices...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (p *tableParser) grid(g *Grid, raw map[string]any) error {
	if err := p.allow("", raw, "name", "data", "train", "toy", "grid"); err != nil {
		return err
	}
	g.Name = "grid"
	if err := p.str("name", raw["name"], &g.Name); err != nil {
		return err
	}
	if err := p.checkName(g.Name); err != nil {
		return err
	}
	if err := p.data(g, raw["data"]); err != nil {
		return err
	}
	if err := p.train(g, raw["train"]); err != nil {
		return err
	}
	if err := p.toy(g, raw["toy"]); err != nil {
		return err
	}
	if err := p.axes(g, raw["grid"]); err != nil {
		return err
	}
	return p.checkDuplicates(g, raw)
}

func (p *tableParser) data(g *Grid, v any) error {
	t, err := p.table("data", v)
	if err != nil {
		return err
	}
	if err := p.allow("data", t, "dataset", "eval_dataset", "format", "tokenizer", "vocab_size", "max_prompt_tokens",
		"max_response_tokens", "probe_examples", "train_examples", "synthetic",
		"max_line_bytes", "max_data_bytes", "max_field_tokens", "append_eos", "chat_template"); err != nil {
		return err
	}
	d := DataConfig{Datasets: []string{"synthetic"}, Tokenizer: "byte", VocabSize: 512, MaxPromptTokens: 32,
		MaxResponseTokens: 32, ProbeExamples: 64, Paths: map[string]string{}, Synthetic: data.SyntheticConfig{Seed: 1},
		ChatTemplate: ChatTemplateModel}
	if v, ok := t["dataset"]; ok {
		if d.Datasets, err = p.strList("data.dataset", v, nil); err != nil {
			return err
		}
	}
	for i, ds := range d.Datasets {
		key := "data.dataset"
		if _, isList := t["dataset"].([]any); isList {
			key = fmt.Sprintf("data.dataset[%d]", i)
		}
		if ds == "synthetic" {
			continue
		}
		if hub.IsDatasetURL(ds) {
			if err := p.hubDataset(g, key, ds); err != nil {
				return err
			}
			continue
		}
		path := ds
		if !filepath.IsAbs(path) {
			path = filepath.Join(g.Dir, path)
		}
		if err := p.checkDataFile(key, ds, path, "\"synthetic\" or an existing data file (a regular file)"); err != nil {
			return err
		}
		d.Paths[ds] = filepath.Clean(path)
	}
	if err := p.evalDatasets(g, &d, t["eval_dataset"]); err != nil {
		return err
	}
	errs := []error{
		p.str("data.format", t["format"], &d.Format),
		p.str("data.tokenizer", t["tokenizer"], &d.Tokenizer, "byte", "bpe", "model"),
		p.integer("data.vocab_size", t["vocab_size"], &d.VocabSize, 260),
		p.integer("data.max_prompt_tokens", t["max_prompt_tokens"], &d.MaxPromptTokens, 1),
		p.integer("data.max_response_tokens", t["max_response_tokens"], &d.MaxResponseTokens, 1),
		p.integer("data.probe_examples", t["probe_examples"], &d.ProbeExamples, 1),
		p.integer("data.train_examples", t["train_examples"], &d.TrainExamples, 0),
		p.integer("data.max_line_bytes", t["max_line_bytes"], &d.MaxLineBytes, 1),
		p.size("data.max_data_bytes", t["max_data_bytes"], &d.MaxDataBytes),
		p.integer("data.max_field_tokens", t["max_field_tokens"], &d.MaxFieldTokens, 1),
		p.str("data.chat_template", t["chat_template"], &d.ChatTemplate, ChatTemplateModel, ChatTemplateHH),
	}
	if err := firstErr(errs); err != nil {
		return err
	}
	// unset, append_eos follows the cell's tokenizer (Grid.AppendEOSOf)
	if err := p.boolean("data.append_eos", t["append_eos"], &d.AppendEOS); err != nil {
		return err
	}
	_, d.AppendEOSSet = t["append_eos"]
	// aliases are stored (and enter the cell id) as their canonical name
	if d.Format, err = data.CanonicalFormat(d.Format); err != nil {
		return p.errf("data.format", "expected one of %s (\"\" = auto), got %q", strings.Join(data.FormatNames, ", "), t["format"])
	}
	if err := p.synthetic(&d.Synthetic, t["synthetic"]); err != nil {
		return err
	}
	_, g.tokSet = t["tokenizer"]
	g.Data = d
	return nil
}

// evalDatasets parses data.eval_dataset: a file (for every dataset) or a
// list with one file per dataset, in the order of data.dataset. Relative
// paths resolve against the grid file's directory, like dataset.
func (p *tableParser) evalDatasets(g *Grid, d *DataConfig, v any) error {
	if v == nil {
		return nil
	}
	names, err := p.strList("data.eval_dataset", v, nil)
	if err != nil {
		return err
	}
	_, isList := v.([]any)
	if isList && len(names) != len(d.Datasets) {
		return p.errf("data.eval_dataset", "expected one file for every dataset or a list of %d (one per data.dataset entry), got %d", len(d.Datasets), len(names))
	}
	for i, name := range names {
		key := "data.eval_dataset"
		if isList {
			key = fmt.Sprintf("data.eval_dataset[%d]", i)
		}
		if name == "synthetic" || name == "" {
			return p.errf(key, "expected a data file (the held-out probe set), got %q", name)
		}
		if hub.IsDatasetURL(name) {
			if err := p.hubDataset(g, key, name); err != nil {
				return err
			}
			continue
		}
		path := name
		if !filepath.IsAbs(path) {
			path = filepath.Join(g.Dir, path)
		}
		if err := p.checkDataFile(key, name, path, "an existing data file (a regular file)"); err != nil {
			return err
		}
		d.Paths[name] = filepath.Clean(path)
	}
	for i, ds := range d.Datasets {
		if ev := names[min(i, len(names)-1)]; ds != "synthetic" && (ev == ds || d.Paths[ev] != "" && d.Paths[ev] == d.Paths[ds]) {
			return p.errf("data.eval_dataset", "%q is the training file of data.dataset entry %d: expected a separate file of held-out pairs (omit eval_dataset to split the training file)", ev, i)
		}
		if ds == "synthetic" {
			return p.errf("data.eval_dataset", "does not apply to dataset = \"synthetic\" (entry %d of data.dataset): its held-out pairs are generated", i)
		}
	}
	d.EvalDatasets = names
	return nil
}

// EvalDataset returns the eval_dataset (as written) that holds the
// held-out probe pairs of dataset ds, or "" when the held-out set is split
// from ds itself.
func (d DataConfig) EvalDataset(ds string) string {
	switch len(d.EvalDatasets) {
	case 0:
		return ""
	case 1:
		return d.EvalDatasets[0]
	}
	for i, x := range d.Datasets {
		if x == ds {
			return d.EvalDatasets[i]
		}
	}
	return ""
}

// synthetic parses the [data.synthetic] table into the generator's
// config (experiments/data SyntheticConfig, whose doc says what each knob
// does): every exported field is a key in snake_case (TrainPairs →
// train_pairs), so new knobs of the generator are usable at once. A key
// left out takes the generator's default (seed: 1); a count that is given
// must be ≥ 1 (eval_pairs: or -1 for none), and every value is bounded
// (gridIntLimits).
func (p *tableParser) synthetic(c *data.SyntheticConfig, v any) error {
	t, err := p.table("data.synthetic", v)
	if err != nil {
		return err
	}
	rv := reflect.ValueOf(c).Elem()
	fields := map[string]int{}
	var names []string
	for i := 0; i < rv.NumField(); i++ {
		if f := rv.Type().Field(i); f.IsExported() {
			fields[snakeCase(f.Name)] = i
			names = append(names, snakeCase(f.Name))
		}
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		key := "data.synthetic." + k
		i, ok := fields[k]
		if !ok {
			return p.errf(key, "unknown key; expected one of %s", strings.Join(names, ", "))
		}
		f := rv.Field(i)
		switch f.Kind() {
		case reflect.Int, reflect.Int64:
			// counts are ≥ 1 when given (leave a key out for its default);
			// eval_pairs = -1 means no held-out pairs
			min := 1
			if k == "eval_pairs" {
				min = -1
			}
			var n int
			if err := p.integer(key, t[k], &n, min); err != nil {
				return err
			}
			if n == 0 {
				return p.errf(key, "expected an integer >= 1, or -1 for no held-out pairs, got 0")
			}
			f.SetInt(int64(n))
		case reflect.Uint64, reflect.Uint:
			var n int
			if err := p.integer(key, t[k], &n, 0); err != nil {
				return err
			}
			f.SetUint(uint64(n))
		case reflect.Float64:
			var x float64
			if err := p.number(key, t[k], &x, false); err != nil {
				return err
			}
			f.SetFloat(x)
		case reflect.Bool:
			var b bool
			if err := p.boolean(key, t[k], &b); err != nil {
				return err
			}
			f.SetBool(b)
		default:
			return p.errf(key, "not settable from a grid file")
		}
	}
	if err := c.Validate(); err != nil {
		return p.errf("data.synthetic", "%s", strings.TrimPrefix(err.Error(), "synthetic: "))
	}
	return nil
}

// snakeCase turns a Go field name into a TOML key: TrainPairs → train_pairs.
func snakeCase(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func firstErr(errs []error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func (p *tableParser) train(g *Grid, v any) error {
	t, err := p.table("train", v)
	if err != nil {
		return err
	}
	if err := p.allow("train", t, "sft_epochs", "pref_epochs", "batch_pairs", "optimizer", "lr", "sft_lr",
		"lr_schedule", "warmup_steps", "weight_decay", "max_grad_norm", "eval_every", "checkpoint_every",
		"dtype", "init_from"); err != nil {
		return err
	}
	c := TrainConfig{SFTEpochs: 8, PrefEpochs: 6, BatchPairs: 8, Optimizer: "adam", LR: 1e-3, LRSchedule: "constant",
		WarmupSteps: 20, MaxGradNorm: 10, EvalEvery: 50, CheckpointEvery: 200, DType: "float32"}
	errs := []error{
		p.integer("train.sft_epochs", t["sft_epochs"], &c.SFTEpochs, 0),
		p.integer("train.pref_epochs", t["pref_epochs"], &c.PrefEpochs, 0),
		p.integer("train.batch_pairs", t["batch_pairs"], &c.BatchPairs, 1),
		p.str("train.optimizer", t["optimizer"], &c.Optimizer, "adam", "adamw", "rmsprop"),
		p.number("train.lr", t["lr"], &c.LR, true),
		p.number("train.sft_lr", t["sft_lr"], &c.SFTLR, true),
		p.str("train.lr_schedule", t["lr_schedule"], &c.LRSchedule, "constant", "linear", "cosine"),
		p.integer("train.warmup_steps", t["warmup_steps"], &c.WarmupSteps, 0),
		p.number("train.weight_decay", t["weight_decay"], &c.WeightDecay, false),
		p.number("train.max_grad_norm", t["max_grad_norm"], &c.MaxGradNorm, false),
		p.integer("train.eval_every", t["eval_every"], &c.EvalEvery, 1),
		p.integer("train.checkpoint_every", t["checkpoint_every"], &c.CheckpointEvery, 1),
		p.str("train.dtype", t["dtype"], &c.DType, "float32", "float64"),
		p.str("train.init_from", t["init_from"], &c.InitFrom),
	}
	if err := firstErr(errs); err != nil {
		return err
	}
	if c.SFTLR == 0 {
		c.SFTLR = c.LR
	}
	if _, set := t["weight_decay"]; !set && c.Optimizer == "adamw" {
		c.WeightDecay = 0.01
	}
	if c.InitFrom != "" {
		path := c.InitFrom
		if !filepath.IsAbs(path) {
			path = filepath.Join(g.Dir, path)
		}
		if err := p.checkDataFile("train.init_from", c.InitFrom, path, "an existing checkpoint file (a regular file)"); err != nil {
			return err
		}
		c.InitFromPath = filepath.Clean(path)
	}
	g.Train = c
	return nil
}

func (p *tableParser) toy(g *Grid, v any) error {
	t, err := p.table("toy", v)
	if err != nil {
		return err
	}
	if err := p.allow("toy", t, "run", "steps", "seeds"); err != nil {
		return err
	}
	c := ToyConfig{Steps: 200, Seeds: 3}
	if err := firstErr([]error{
		p.boolean("toy.run", t["run"], &c.Run),
		p.integer("toy.steps", t["steps"], &c.Steps, 1),
		p.integer("toy.seeds", t["seeds"], &c.Seeds, 1),
	}); err != nil {
		return err
	}
	g.Toy = c
	return nil
}

func (p *tableParser) axes(g *Grid, v any) error {
	t, err := p.table("grid", v)
	if err != nil {
		return err
	}
	if err := p.allow("grid", t, "arch", "pipeline", "seed", "objective", "gate", "exclude"); err != nil {
		return err
	}
	g.Arch = []string{"transformer-xs"}
	if v, ok := t["arch"]; ok {
		if g.Arch, err = p.strList("grid.arch", v, nil); err != nil {
			return err
		}
		for i, a := range g.Arch {
			key := "grid.arch"
			if _, isList := v.([]any); isList {
				key = fmt.Sprintf("grid.arch[%d]", i)
			}
			if err := p.arch(g, key, a); err != nil {
				return err
			}
		}
	}
	if g.Data.Tokenizer == "model" {
		for _, a := range g.Arch {
			if !strings.HasPrefix(a, HFArchPrefix) {
				return p.errf("data.tokenizer", "\"model\" uses a Hugging Face model's tokenizer.json, but grid.arch has the preset %q; use byte or bpe, or hf: archs only", a)
			}
		}
	}
	g.Pipeline = []string{PipelineBaseline}
	if v, ok := t["pipeline"]; ok {
		if g.Pipeline, err = p.strList("grid.pipeline", v, []string{PipelineBaseline, PipelineExtendedSFT}); err != nil {
			return err
		}
	}
	g.Seed = []int{1}
	if v, ok := t["seed"]; ok {
		var items []any
		switch x := v.(type) {
		case int64:
			items = []any{x}
		case []any:
			items = x
		default:
			return p.errf("grid.seed", "expected an integer or a list of integers, got %s", describe(v))
		}
		if len(items) == 0 {
			return p.errf("grid.seed", "expected at least one seed")
		}
		g.Seed = make([]int, len(items))
		for i, it := range items {
			if err := p.integer(fmt.Sprintf("grid.seed[%d]", i), it, &g.Seed[i], 0); err != nil {
				return err
			}
		}
	}
	objTables, err := p.tableList("grid.objective", t["objective"])
	if err != nil {
		return err
	}
	if len(objTables) == 0 {
		objTables = []map[string]any{{"name": "dpo"}}
	}
	for i, ot := range objTables {
		key := fmt.Sprintf("grid.objective[%d]", i)
		spec, err := ParseObjective(ot)
		if err != nil {
			return p.keyErr(key, err)
		}
		if spec.Name == "sft" {
			return p.errf(key+".name", "sft is stage 1 of every cell; expected a preference objective")
		}
		g.Objectives = append(g.Objectives, spec)
	}
	gateTables, err := p.tableList("grid.gate", t["gate"])
	if err != nil {
		return err
	}
	if len(gateTables) == 0 {
		gateTables = []map[string]any{{"kind": "none"}}
	}
	for i, gt := range gateTables {
		key := fmt.Sprintf("grid.gate[%d]", i)
		taus := []any{gt["tau"]}
		if list, ok := gt["tau"].([]any); ok {
			if len(list) == 0 {
				return p.errf(key+".tau", "expected a number or a non-empty list of numbers")
			}
			taus = list
		}
		for j, tau := range taus {
			one := map[string]any{}
			for k, v := range gt {
				one[k] = v
			}
			if tau == nil {
				delete(one, "tau")
			} else {
				one["tau"] = tau
			}
			spec, err := gating.ParseSpec(one)
			if err != nil {
				if len(taus) > 1 {
					var ke *gating.KeyError
					if errors.As(err, &ke) && ke.Key == "tau" {
						return p.errf(fmt.Sprintf("%s.tau[%d]", key, j), "%s", ke.Msg)
					}
				}
				return p.keyErr(key, err)
			}
			if spec.Kind != gating.KindNone && spec.Tau == 0 {
				return p.errf(key+".tau", "gate kind %q needs tau > 0 (use kind = \"none\" for ungated DPO)", spec.Kind)
			}
			g.Gates = append(g.Gates, results.GateSpec(spec))
		}
	}
	return p.excludes(g, t["exclude"])
}

// excludes parses the [[grid.exclude]] tables: each names axis values
// (dataset, arch, pipeline, seed, objective, gate, tau; a value or a list
// of values), and a cell matching every key of one table is left out of
// the cross product. A value that is not on its axis is an error, so a
// misspelt exclusion cannot silently keep cells.
func (p *tableParser) excludes(g *Grid, v any) error {
	tables, err := p.tableList("grid.exclude", v)
	if err != nil {
		return err
	}
	for i, t := range tables {
		key := fmt.Sprintf("grid.exclude[%d]", i)
		if len(t) == 0 {
			return p.errf(key, "expected at least one of dataset, arch, pipeline, seed, objective, gate, tau")
		}
		if err := p.allow(key, t, excludeKeys...); err != nil {
			return err
		}
		rule := ExcludeRule{}
		for _, k := range sortedMapKeys(t) {
			items, isList := t[k].([]any)
			if !isList {
				items = []any{t[k]}
			}
			if len(items) == 0 {
				return p.errf(key+"."+k, "expected a value or a non-empty list of values")
			}
			axis := g.axisValues(k)
			for j, it := range items {
				ik := key + "." + k
				if isList {
					ik = fmt.Sprintf("%s[%d]", ik, j)
				}
				val, ok := excludeValue(it)
				if !ok {
					return p.errf(ik, "expected a string or a number, got %s", describe(it))
				}
				found := false
				for _, a := range axis {
					found = found || valueMatches(a, val)
				}
				if !found {
					return p.errf(ik, "%q is not a value of the %s axis (%s)", val, k, strings.Join(axis, ", "))
				}
				rule[k] = append(rule[k], val)
			}
		}
		g.Exclude = append(g.Exclude, rule)
	}
	return nil
}

// ExcludeRule is one [[grid.exclude]] table: axis key → values; a cell
// whose value on every key is one of the listed ones is excluded.
type ExcludeRule map[string][]string

var excludeKeys = []string{"dataset", "arch", "pipeline", "seed", "objective", "gate", "tau"}

func excludeValue(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	}
	return "", false
}

// axisValues lists the values of one exclude key's axis, as strings.
func (g *Grid) axisValues(key string) []string {
	var out []string
	add := func(s string) {
		for _, o := range out {
			if o == s {
				return
			}
		}
		out = append(out, s)
	}
	switch key {
	case "dataset":
		for _, d := range g.Data.Datasets {
			add(d)
		}
	case "arch":
		for _, a := range g.Arch {
			add(a)
		}
	case "pipeline":
		for _, a := range g.Pipeline {
			add(a)
		}
	case "seed":
		for _, s := range g.Seed {
			add(strconv.Itoa(s))
		}
	case "objective":
		for _, o := range g.Objectives {
			add(o.Name)
		}
	case "gate":
		for _, gt := range g.Gates {
			add(gt.Kind)
		}
	case "tau":
		for _, gt := range g.Gates {
			add(strconv.FormatFloat(gt.Tau, 'g', -1, 64))
		}
	}
	return out
}

// excluded reports whether a cell with these axis values matches one of
// the grid's exclude rules.
func (g *Grid) excluded(c *results.CellConfig) bool {
	have := map[string]string{
		"dataset":   c.Dataset,
		"arch":      c.Arch,
		"pipeline":  c.Pipeline,
		"seed":      strconv.Itoa(c.Seed),
		"objective": c.Objective.Name,
		"gate":      c.Gate.Kind,
		"tau":       strconv.FormatFloat(c.Gate.Tau, 'g', -1, 64),
	}
	for _, r := range g.Exclude {
		all := true
		for k, vals := range r {
			hit := false
			for _, v := range vals {
				hit = hit || valueMatches(have[k], v)
			}
			all = all && hit
		}
		if all {
			return true
		}
	}
	return false
}

// keyErr turns a key-bearing error of a vocabulary parser into a
// ConfigError under prefix.
func (p *tableParser) keyErr(prefix string, err error) error {
	var ke interface {
		error
		ErrKey() string
	}
	if errors.As(err, &ke) {
		msg := err.Error()
		if k := ke.ErrKey(); k != "" {
			msg = strings.TrimPrefix(msg, k+": ")
			return p.errf(joinKey(prefix, k), "%s", msg)
		}
		return p.errf(prefix, "%s", msg)
	}
	return p.errf(prefix, "%s", err.Error())
}

func (p *tableParser) tableList(key string, v any) ([]map[string]any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []map[string]any:
		return x, nil
	case []any:
		out := make([]map[string]any, len(x))
		for i, it := range x {
			m, ok := it.(map[string]any)
			if !ok {
				return nil, p.errf(fmt.Sprintf("%s[%d]", key, i), "expected a table, got %s", describe(it))
			}
			out[i] = m
		}
		return out, nil
	case map[string]any:
		return []map[string]any{x}, nil
	}
	return nil, p.errf(key, "expected [[%s]] tables, got %s", key, describe(v))
}
