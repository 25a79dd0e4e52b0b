package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gatedpo/experiments/data"
	"gatedpo/experiments/hub"
	"gatedpo/gating"
	"gatedpo/internal/tomlval"
	"gatedpo/objectives"
	"gatedpo/results"
)

// schemaField is one keyed field of a schema struct, from its tags.
type schemaField struct {
	index    int
	key      string // toml
	def      string // default ("" with hasDef false: the zero value)
	hasDef   bool
	derived  string
	min, max int64
	rng      tomlval.Range
	choices  []string
	custom   bool   // parse:"custom"
	cell     string // "", "custom" or "-"
}

var schemaCache sync.Map // reflect.Type → []schemaField

// schemaFields returns the keyed fields of a schema struct type, in
// declaration order (the order of the keys in errors and documentation).
func schemaFields(t reflect.Type) []schemaField {
	if v, ok := schemaCache.Load(t); ok {
		return v.([]schemaField)
	}
	var out []schemaField
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		key, ok := sf.Tag.Lookup("toml")
		if !ok {
			continue
		}
		f := schemaField{index: i, key: key, min: 0, max: math.MaxInt32,
			custom: sf.Tag.Get("parse") == "custom", cell: sf.Tag.Get("cell"), derived: sf.Tag.Get("derived")}
		f.def, f.hasDef = sf.Tag.Lookup("default")
		if s, ok := sf.Tag.Lookup("min"); ok {
			f.min = mustInt(t, sf, s)
		}
		if s, ok := sf.Tag.Lookup("max"); ok {
			f.max = mustInt(t, sf, s)
		}
		switch sf.Tag.Get("range") {
		case "positive":
			f.rng = tomlval.Positive
		case "nonneg":
			f.rng = tomlval.NonNegative
		case "":
			if sf.Type.Kind() == reflect.Float64 {
				panic(fmt.Sprintf("config: %s.%s: a number key needs a range tag", t.Name(), sf.Name))
			}
		}
		if s := sf.Tag.Get("choices"); s != "" {
			f.choices = strings.Split(s, "|")
		}
		out = append(out, f)
	}
	schemaCache.Store(t, out)
	return out
}

func mustInt(t reflect.Type, sf reflect.StructField, s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("config: %s.%s: bad bound %q", t.Name(), sf.Name, s))
	}
	return n
}

// schemaKeys are the keys of a schema struct type, in order.
func schemaKeys(t reflect.Type) []string {
	var keys []string
	for _, f := range schemaFields(t) {
		keys = append(keys, f.key)
	}
	return keys
}

// setDefaults sets every field of the schema struct v points at to its
// default tag's value.
func setDefaults(v reflect.Value) {
	for _, f := range schemaFields(v.Type()) {
		if !f.hasDef {
			continue
		}
		dst := v.Field(f.index)
		bad := func(err error) {
			panic(fmt.Sprintf("config: default of %s: %v", f.key, err))
		}
		switch dst.Kind() {
		case reflect.String:
			dst.SetString(f.def)
		case reflect.Int, reflect.Int64:
			n, err := strconv.ParseInt(f.def, 10, 64)
			if err != nil {
				bad(err)
			}
			dst.SetInt(n)
		case reflect.Float64:
			x, err := strconv.ParseFloat(f.def, 64)
			if err != nil {
				bad(err)
			}
			dst.SetFloat(x)
		case reflect.Bool:
			b, err := strconv.ParseBool(f.def)
			if err != nil {
				bad(err)
			}
			dst.SetBool(b)
		case reflect.Slice:
			items := strings.Split(f.def, ",")
			s := reflect.MakeSlice(dst.Type(), len(items), len(items))
			for i, it := range items {
				switch s.Index(i).Kind() {
				case reflect.String:
					s.Index(i).SetString(it)
				case reflect.Int:
					n, err := strconv.Atoi(it)
					if err != nil {
						bad(err)
					}
					s.Index(i).SetInt(int64(n))
				default:
					bad(fmt.Errorf("no default for a list of %s", s.Index(i).Kind()))
				}
			}
			dst.Set(s)
		default:
			bad(fmt.Errorf("no default for a %s", dst.Kind()))
		}
	}
}

// Defaults returns the keys of a grid file that sets none: every default
// of the schema (dataset "synthetic", arch "transformer-xs", one dpo
// objective, no gate, seed 1, …).
func Defaults() Schema {
	g, err := ParseGrid("defaults", "", nil)
	if err != nil {
		panic(fmt.Sprintf("config: the empty grid does not parse: %v", err))
	}
	return g.Schema
}

// tableParser reads decoded TOML with key paths for errors.
type tableParser struct{ pos *TOMLPositions }

func (p *tableParser) errf(key, format string, args ...any) error {
	return p.pos.Errorf(key, format, args...)
}

// at places a *tomlval.KeyError whose key is a full dotted key at that
// key's line.
func (p *tableParser) at(err error) error {
	var ke *tomlval.KeyError
	if errors.As(err, &ke) {
		return p.errf(ke.Key, "%s", ke.Msg)
	}
	return err
}

// keyErr places the *tomlval.KeyError of a vocabulary parser
// (objectives.ParseSpec, gating.ParseSpec), whose key is relative to its
// table, under the table's key prefix.
func (p *tableParser) keyErr(prefix string, err error) error {
	var ke *tomlval.KeyError
	if errors.As(err, &ke) && ke.Key != "" {
		return p.errf(joinKey(prefix, ke.Key), "%s", ke.Msg)
	}
	return p.errf(prefix, "%s", err.Error())
}

// allow checks that every key of table is in allowed.
func (p *tableParser) allow(prefix string, table map[string]any, allowed ...string) error {
	for _, k := range sortedMapKeys(table) {
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
		return nil, p.errf(key, "expected a table, got %s", tomlval.Describe(v))
	}
	return m, nil
}

// decodeValues reads every key of table t (at prefix) that the schema of
// the struct dst points into does not mark parse:"custom", in the schema's
// order, with the tags' types and bounds.
func (p *tableParser) decodeValues(prefix string, t map[string]any, dst reflect.Value) error {
	for _, f := range schemaFields(dst.Type()) {
		v, ok := t[f.key]
		if f.custom || !ok {
			continue
		}
		key := joinKey(prefix, f.key)
		field := dst.Field(f.index)
		switch field.Kind() {
		case reflect.String:
			s, err := tomlval.String(key, v, f.choices...)
			if err != nil {
				return p.at(err)
			}
			field.SetString(s)
		case reflect.Int:
			n, err := tomlval.Int(key, v, f.min, f.max)
			if err != nil {
				return p.at(err)
			}
			field.SetInt(n)
		case reflect.Int64: // a byte count
			n, ok := v.(int64)
			switch {
			case !ok:
				return p.errf(key, "expected an integer number of bytes, got %s", tomlval.Describe(v))
			case n < f.min:
				return p.errf(key, "expected an integer >= %d, got %d", f.min, n)
			case n > f.max:
				return p.errf(key, "expected ≤ %d, got %d", f.max, n)
			}
			field.SetInt(n)
		case reflect.Float64:
			x, err := tomlval.Number(key, v, f.rng)
			if err != nil {
				return p.at(err)
			}
			field.SetFloat(x)
		case reflect.Bool:
			b, err := tomlval.Bool(key, v)
			if err != nil {
				return p.at(err)
			}
			field.SetBool(b)
		default:
			panic(fmt.Sprintf("config: %s: no decoder for a %s (tag it parse:\"custom\")", key, field.Kind()))
		}
	}
	return nil
}

// schemaTable checks the keys of the table at key against the schema of
// the struct dst points to and sets its defaults.
func (p *tableParser) schemaTable(key string, v any, dst reflect.Value) (map[string]any, error) {
	t, err := p.table(key, v)
	if err != nil {
		return nil, err
	}
	if err := p.allow(key, t, schemaKeys(dst.Type())...); err != nil {
		return nil, err
	}
	setDefaults(dst)
	return t, nil
}

// integer reads an integer key of hand-written code (list elements, the
// synthetic knobs) in [min, max].
func (p *tableParser) integer(key string, v any, dst *int, min, max int) error {
	n, err := tomlval.Int(key, v, int64(min), int64(max))
	if err != nil {
		return p.at(err)
	}
	*dst = int(n)
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
		return nil, p.errf(key, "expected a string or a list of strings, got %s", tomlval.Describe(v))
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
		s, err := tomlval.String(k, it, choices...)
		if err != nil {
			return nil, p.at(err)
		}
		out[i] = s
	}
	return out, nil
}

func (p *tableParser) grid(g *Grid, raw map[string]any) error {
	if err := p.allow("", raw, schemaKeys(reflect.TypeOf(Schema{}))...); err != nil {
		return err
	}
	setDefaults(reflect.ValueOf(&g.Schema).Elem())
	if v, ok := raw["name"]; ok {
		s, err := tomlval.String("name", v)
		if err != nil {
			return p.at(err)
		}
		g.Name = s
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
	var d DataConfig
	t, err := p.schemaTable("data", v, reflect.ValueOf(&d).Elem())
	if err != nil {
		return err
	}
	d.Paths = map[string]string{}
	d.Synthetic = data.SyntheticConfig{Seed: 1}
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
	if err := p.decodeValues("data", t, reflect.ValueOf(&d).Elem()); err != nil {
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
	_, g.TokenizerSet = t["tokenizer"]
	g.Data = d
	return nil
}

// hubDataset records a hub dataset value of key (checked now, fetched by
// the runner).
func (p *tableParser) hubDataset(g *Grid, key, value string) error {
	ref, err := hub.ParseDatasetURL(value)
	if err != nil {
		return p.errf(key, "%v", err)
	}
	if g.HubDatasets == nil {
		g.HubDatasets = map[string]HubDataset{}
	}
	g.HubDatasets[value] = HubDataset{Ref: ref, Key: key}
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

// synthetic parses the [data.synthetic] table into the generator's
// config (experiments/data SyntheticConfig, whose doc says what each knob
// does): every exported field is a key in snake_case (TrainPairs →
// train_pairs), so new knobs of the generator are usable at once. A key
// left out takes the generator's default (seed: 1); a count that is given
// must be ≥ 1 (eval_pairs: or -1 for none), and every value is bounded
// (syntheticLimits).
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
	for _, k := range sortedMapKeys(t) {
		key := "data.synthetic." + k
		i, ok := fields[k]
		if !ok {
			return p.errf(key, "unknown key; expected one of %s", strings.Join(names, ", "))
		}
		limit, ok := syntheticLimits[k]
		if !ok {
			limit = math.MaxInt32
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
			if err := p.integer(key, t[k], &n, min, limit); err != nil {
				return err
			}
			if n == 0 {
				return p.errf(key, "expected an integer >= 1, or -1 for no held-out pairs, got 0")
			}
			f.SetInt(int64(n))
		case reflect.Uint64, reflect.Uint:
			var n int
			if err := p.integer(key, t[k], &n, 0, limit); err != nil {
				return err
			}
			f.SetUint(uint64(n))
		case reflect.Float64:
			x, err := tomlval.Number(key, t[k], tomlval.NonNegative)
			if err != nil {
				return p.at(err)
			}
			f.SetFloat(x)
		case reflect.Bool:
			b, err := tomlval.Bool(key, t[k])
			if err != nil {
				return p.at(err)
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

func (p *tableParser) train(g *Grid, v any) error {
	var c TrainConfig
	t, err := p.schemaTable("train", v, reflect.ValueOf(&c).Elem())
	if err != nil {
		return err
	}
	if err := p.decodeValues("train", t, reflect.ValueOf(&c).Elem()); err != nil {
		return err
	}
	if _, set := t["sft_lr"]; !set {
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
	if c.MicroPairs > 0 && c.BatchPairs%c.MicroPairs != 0 {
		return p.errf("train.micro_pairs", "%d does not divide train.batch_pairs = %d; expected a divisor of it (or 0 for whole batches)", c.MicroPairs, c.BatchPairs)
	}
	g.Train = c
	return nil
}

func (p *tableParser) toy(g *Grid, v any) error {
	var c ToyConfig
	t, err := p.schemaTable("toy", v, reflect.ValueOf(&c).Elem())
	if err != nil {
		return err
	}
	if err := p.decodeValues("toy", t, reflect.ValueOf(&c).Elem()); err != nil {
		return err
	}
	g.Toy = c
	return nil
}

// axisField returns the schema field of an [grid] key.
func axisField(key string) schemaField {
	for _, f := range schemaFields(reflect.TypeOf(Axes{})) {
		if f.key == key {
			return f
		}
	}
	panic("config: no grid key " + key)
}

func (p *tableParser) axes(g *Grid, v any) error {
	t, err := p.schemaTable("grid", v, reflect.ValueOf(&g.Axes).Elem())
	if err != nil {
		return err
	}
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
	if g.Data.Tokenizer == TokenizerModel {
		for _, a := range g.Arch {
			if !strings.HasPrefix(a, HFArchPrefix) {
				return p.errf("data.tokenizer", "\"model\" uses a Hugging Face model's tokenizer.json, but grid.arch has the preset %q; use byte or bpe, or hf: archs only", a)
			}
		}
	}
	if v, ok := t["pipeline"]; ok {
		if g.Pipeline, err = p.strList("grid.pipeline", v, axisField("pipeline").choices); err != nil {
			return err
		}
	}
	if v, ok := t["seed"]; ok {
		var items []any
		switch x := v.(type) {
		case int64:
			items = []any{x}
		case []any:
			items = x
		default:
			return p.errf("grid.seed", "expected an integer or a list of integers, got %s", tomlval.Describe(v))
		}
		if len(items) == 0 {
			return p.errf("grid.seed", "expected at least one seed")
		}
		f := axisField("seed")
		g.Seed = make([]int, len(items))
		for i, it := range items {
			if err := p.integer(fmt.Sprintf("grid.seed[%d]", i), it, &g.Seed[i], int(f.min), int(f.max)); err != nil {
				return err
			}
		}
	}
	objTables, err := p.tableList("grid.objective", t["objective"])
	if err != nil {
		return err
	}
	if len(objTables) == 0 {
		objTables = []map[string]any{{"name": objectives.DPO}}
	}
	for i, ot := range objTables {
		key := fmt.Sprintf("grid.objective[%d]", i)
		spec, err := objectives.ParseSpec(ot)
		if err != nil {
			return p.keyErr(key, err)
		}
		if spec.Name == objectives.SFT {
			return p.errf(key+".name", "sft is stage 1 of every cell; expected a preference objective")
		}
		if spec.Reduction() == objectives.Mixed && g.Train.Micro() < g.Train.BatchPairs {
			return p.errf("train.micro_pairs", "%d: %s = %v mixes a mean over pairs with a token mean over the whole batch, which micro-batches cannot reproduce; set train.micro_pairs = 0 or use another sft_norm", g.Train.MicroPairs, key, spec)
		}
		g.Objectives = append(g.Objectives, results.ObjectiveSpec(spec))
	}
	gateTables, err := p.tableList("grid.gate", t["gate"])
	if err != nil {
		return err
	}
	if len(gateTables) == 0 {
		gateTables = []map[string]any{{"kind": gating.KindNone}}
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
					var ke *tomlval.KeyError
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

// arch checks one grid.arch value: a preset name or "hf:…". An "hf:PATH"
// that names an existing directory is recorded as local (the runner loads
// and checks the model); otherwise the value must be a hub name.
func (p *tableParser) arch(g *Grid, key, a string) error {
	if _, ok := ArchPresets[a]; ok {
		return nil
	}
	if !strings.HasPrefix(a, HFArchPrefix) {
		return p.errf(key, "expected one of %s, hf:PATH (a local Hugging Face model directory) or hf:ORG/NAME[@REVISION] (a hub model), got %q", strings.Join(ArchNames(), ", "), a)
	}
	rel := strings.TrimPrefix(a, HFArchPrefix)
	if rel == "" {
		return p.errf(key, "hf: needs a model directory path or a hub name, e.g. \"hf:models/pythia-160m\" or \"hf:EleutherAI/pythia-14m\"")
	}
	path := rel
	if !filepath.IsAbs(path) {
		path = filepath.Join(g.Dir, path)
	}
	path = filepath.Clean(path)
	if g.HFArchs == nil {
		g.HFArchs = map[string]HFArch{}
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		g.HFArchs[a] = HFArch{Key: key, Path: path, Local: true}
		return nil
	}
	ref, err := hub.ParseRef(rel)
	if err != nil {
		return p.errf(key, "no such model directory %s, and not a hub model name: %v", path, err)
	}
	g.HFArchs[a] = HFArch{Key: key, Path: path, Ref: ref}
	return nil
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
			return p.errf(key, "expected at least one of %s", strings.Join(excludeKeys, ", "))
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
					return p.errf(ik, "expected a string or a number, got %s", tomlval.Describe(it))
				}
				found := false
				for _, a := range axis {
					found = found || ValueMatches(a, val)
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
				return nil, p.errf(fmt.Sprintf("%s[%d]", key, i), "expected a table, got %s", tomlval.Describe(it))
			}
			out[i] = m
		}
		return out, nil
	case map[string]any:
		return []map[string]any{x}, nil
	}
	return nil, p.errf(key, "expected [[%s]] tables, got %s", key, tomlval.Describe(v))
}

func sortedMapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
