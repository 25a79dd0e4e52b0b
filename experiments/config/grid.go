package config

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"gatedpo/experiments/data"
	"gatedpo/experiments/hub"
	"gatedpo/results"
)

// The built-in grids live beside the parser that reads them, so
// LoadGrid("paper") works for every command that reads grids, not only
// the sweep runner.
//
//go:embed grids/*.toml
var builtinGrids embed.FS

// BuiltinGrids lists the names of the grids shipped inside the binary
// (`default`, `paper`, `paper-small-dpo`, `paper-small-objectives`,
// `paper-small-fixes`, `test`); LoadGrid accepts these names in place of a
// file.
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

// Grid is a parsed and validated grid file: its keys (Schema, every
// default filled in) and where it came from. Its cross product of axes is
// the set of cells (experiments expands them).
type Grid struct {
	Schema
	File      string   // where it came from ("builtin:default" for shipped grids)
	Source    []byte   // the TOML text as given
	Overrides []string // command-line -set key=value, in order (applied to Source)
	Dir       string   // directory relative paths resolve against

	// TokenizerSet says whether data.tokenizer was written (else its
	// default depends on the arch: TokenizerOf).
	TokenizerSet bool
	// HFArchs are the grid.arch values "hf:…", checked for syntax; the
	// runner loads the models.
	HFArchs map[string]HFArch
	// HubDatasets are the hf://datasets/… values of data.dataset and
	// data.eval_dataset; the runner fetches them.
	HubDatasets map[string]HubDataset

	pos *TOMLPositions
}

// HFArchPrefix marks a grid arch value that names a Hugging Face model:
// "hf:PATH", a local model directory (PATH relative to the grid file's
// directory, or absolute), or "hf:ORG/NAME" with an optional "@REVISION",
// a model on the hub. As in Hugging Face's libraries, an existing local
// directory wins. The cell config records the value as written. (It is
// models/hf's DirPrefix; a test in experiments checks they agree.)
const HFArchPrefix = "hf:"

// HFArch is one grid.arch value "hf:…".
type HFArch struct {
	Key   string  // the grid key that names it (grid.arch or grid.arch[i]), for errors
	Path  string  // the local directory it names (resolved against the grid's directory)
	Local bool    // Path is an existing directory; else Ref names a hub model
	Ref   hub.Ref // the hub model (when not Local)
}

// HubDataset is one data.dataset or data.eval_dataset value
// hf://datasets/ORG/NAME[@REV]/PATH.
type HubDataset struct {
	Key string         // the grid key that names it, for errors
	Ref hub.DatasetRef // as written
}

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

// Errorf returns a *ConfigError for key of the grid, at its line (or
// against the -set override that gave it).
func (g *Grid) Errorf(key, format string, args ...any) error {
	return g.pos.Errorf(key, format, args...)
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

// Micro is the number of pairs of one forward/backward pass of a
// training step: micro_pairs, or batch_pairs when it is 0.
func (t TrainConfig) Micro() int {
	if t.MicroPairs == 0 {
		return t.BatchPairs
	}
	return t.MicroPairs
}

// LoadOptions are the [data] table's loader options: the format and the
// data limits.
func (d DataConfig) LoadOptions() data.LoadOptions {
	return data.LoadOptions{Format: d.Format, MaxLineBytes: d.MaxLineBytes, MaxDataBytes: d.MaxDataBytes}
}

// TokenizerOf is the tokenizer the cells of arch use: data.tokenizer when
// the grid sets it, else "model" (the model's own tokenizer.json) for an
// "hf:…" arch and "byte" for a preset.
func (g *Grid) TokenizerOf(arch string) string {
	if !g.TokenizerSet && strings.HasPrefix(arch, HFArchPrefix) {
		return TokenizerModel
	}
	return g.Data.Tokenizer
}

// AppendEOSOf says whether the responses of arch's cells end with the
// tokenizer's EOS: append_eos as written, else on for a model's own
// tokenizer (tokenizer = "model", as TRL) and off for byte and bpe, whose
// earlier results had no EOS.
func (g *Grid) AppendEOSOf(arch string) bool {
	if g.Data.AppendEOSSet {
		return g.Data.AppendEOS
	}
	return g.TokenizerOf(arch) == TokenizerModel
}

// cellRules give the cell:"custom" keys of the schema their value in the
// config of a cell of dataset ds and arch; ok false leaves the key out. A
// key added after sweeps were run enters the table only when it is not at
// the value every earlier grid had, so existing cell ids stay as they were.
var cellRules = map[string]func(g *Grid, ds, arch string) (v any, ok bool){
	"data.dataset": func(g *Grid, ds, arch string) (any, bool) { return ds, true },
	"data.eval_dataset": func(g *Grid, ds, arch string) (any, bool) {
		ev := g.Data.EvalDataset(ds)
		return ev, ev != ""
	},
	"data.tokenizer":  func(g *Grid, ds, arch string) (any, bool) { return g.TokenizerOf(arch), true },
	"data.vocab_size": func(g *Grid, ds, arch string) (any, bool) { return g.Data.VocabSize, g.TokenizerOf(arch) == "bpe" },
	// the knobs set in the grid (zero = the generator's default)
	"data.synthetic": func(g *Grid, ds, arch string) (any, bool) {
		if ds != "synthetic" {
			return nil, false
		}
		syn := map[string]any{}
		rv := reflect.ValueOf(g.Data.Synthetic)
		for i := 0; i < rv.NumField(); i++ {
			if f := rv.Type().Field(i); f.IsExported() && !rv.Field(i).IsZero() {
				syn[snakeCase(f.Name)] = rv.Field(i).Interface()
			}
		}
		return syn, true
	},
	"data.append_eos": func(g *Grid, ds, arch string) (any, bool) { return true, g.AppendEOSOf(arch) },
	"data.chat_template": func(g *Grid, ds, arch string) (any, bool) {
		return g.Data.ChatTemplate, g.Data.ChatTemplate != ChatTemplateModel
	},
	"train.pack_pairs": func(g *Grid, ds, arch string) (any, bool) { return true, g.Train.PackPairs },
	"train.micro_pairs": func(g *Grid, ds, arch string) (any, bool) {
		return g.Train.MicroPairs, g.Train.Micro() < g.Train.BatchPairs
	},
}

// CellTables returns the [data] and [train] tables of the config of a
// cell of dataset ds and arch, as the schema says (cell tags): every key
// by default, none of the cell:"-" ones, the cell:"custom" ones by
// cellRules. The runner adds the content hashes (dataset_hash, …). Values
// are Go values; results.CellConfig stores them as JSON numbers.
func (g *Grid) CellTables(ds, arch string) (dataTable, trainTable map[string]any) {
	table := func(prefix string, v any) map[string]any {
		m := map[string]any{}
		rv := reflect.ValueOf(v)
		for _, f := range schemaFields(rv.Type()) {
			key := prefix + "." + f.key
			switch f.cell {
			case "-":
			case "custom":
				if x, ok := cellRules[key](g, ds, arch); ok {
					m[f.key] = x
				}
			default:
				m[f.key] = rv.Field(f.index).Interface()
			}
		}
		return m
	}
	return table("data", g.Data), table("train", g.Train)
}

// ExcludeRule is one [[grid.exclude]] table: axis key → values; a cell
// whose value on every key is one of the listed ones is excluded.
type ExcludeRule map[string][]string

// excludeKeys are the keys of a [[grid.exclude]] table.
var excludeKeys = []string{"dataset", "arch", "pipeline", "seed", "objective", "gate", "tau"}

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

// Excluded reports whether a cell with these axis values matches one of
// the grid's exclude rules.
func (g *Grid) Excluded(c *results.CellConfig) bool {
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
				hit = hit || ValueMatches(have[k], v)
			}
			all = all && hit
		}
		if all {
			return true
		}
	}
	return false
}

// ValueMatches reports whether a config value (as a string) matches a
// wanted one: equal strings, or numbers of equal value (0.01 matches 1e-2).
// [[grid.exclude]] and the sweep's -only compare this way.
func ValueMatches(have, want string) bool {
	if have == want {
		return true
	}
	a, err1 := strconv.ParseFloat(have, 64)
	b, err2 := strconv.ParseFloat(want, 64)
	return err1 == nil && err2 == nil && a == b
}
