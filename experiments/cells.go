package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gatedpo/results"
)

// Cell is one point of a grid: a resolved configuration and its id.
type Cell struct {
	ID     string             // stable hash of Config (see CellID)
	Config results.CellConfig // resolved configuration, written as config.json
	Index  int                // position in the expanded grid (for sharding and display)
}

// Label is a short human description of the cell for progress lines.
func (c *Cell) Label() string {
	return fmt.Sprintf("%s %s %s/%s seed %d", c.Config.Arch, c.Config.Pipeline, c.Config.Objective.Name, results.GateLabel(c.Config.Gate), c.Config.Seed)
}

// CellID returns the cell id of a resolved configuration: the first 12 hex
// digits of the SHA-256 of its canonical JSON encoding (encoding/json of
// results.CellConfig; map keys are sorted, floats shortest round-trip).
func CellID(c results.CellConfig) string {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("experiments: cell config does not encode: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:12]
}

// Cells expands the grid into its cells, in a fixed order: dataset, arch,
// pipeline, objective, gate, seed (seed varies fastest). Call
// LoadDatasets first: the datasets' content hashes are part of the cell
// configs (and so of the ids) a sweep uses; and ResolveHub when the grid
// names hub models (their weights' hash is in the model table).
func (g *Grid) Cells() []*Cell {
	var cells []*Cell
	for _, ds := range g.Data.Datasets {
		for _, arch := range g.Arch {
			for _, pipe := range g.Pipeline {
				for _, obj := range g.Objectives {
					for _, gate := range g.Gates {
						for _, seed := range g.Seed {
							cfg := results.CellConfig{
								Sweep:     g.Name,
								Arch:      arch,
								Dataset:   ds,
								Pipeline:  pipe,
								Seed:      seed,
								Objective: obj,
								Gate:      gate,
								Data:      g.dataTable(ds, arch),
								Train:     g.trainTable(),
							}
							if g.excluded(&cfg) {
								continue
							}
							model, _ := g.cellModelConfig(arch)
							cfg.Model = normalizeJSON(model)
							cells = append(cells, &Cell{ID: CellID(cfg), Config: cfg, Index: len(cells)})
						}
					}
				}
			}
		}
	}
	return cells
}

// dataTable is the resolved [data] table of one cell (dataset and arch
// are the cell's values of those axes). With tokenizer = "model" it also
// holds tokenizer_sha256, the hash of the model's tokenizer.json.
func (g *Grid) dataTable(ds, arch string) map[string]any {
	d := g.Data
	m := map[string]any{
		"dataset":             ds,
		"format":              d.Format,
		"tokenizer":           g.TokenizerOf(arch),
		"max_prompt_tokens":   d.MaxPromptTokens,
		"max_response_tokens": d.MaxResponseTokens,
		"probe_examples":      d.ProbeExamples,
		"train_examples":      d.TrainExamples,
	}
	if set, ok := g.datasets[ds]; ok {
		m["dataset_hash"] = set.Hash // content, so a changed file or generator means new cells
	}
	if ev := d.EvalDataset(ds); ev != "" { // only when set: ids of grids without it are unchanged
		m["eval_dataset"] = ev
		if set, ok := g.datasets[ev]; ok {
			m["eval_dataset_hash"] = set.Hash
		}
	}
	switch g.TokenizerOf(arch) {
	case "bpe":
		m["vocab_size"] = d.VocabSize
	case "model":
		if a, ok := g.hfArchs[arch]; ok && a.Tok != nil {
			m["tokenizer_sha256"] = a.Tok.Hash()
		}
	}
	if ds == "synthetic" {
		syn := map[string]any{}
		rv := reflect.ValueOf(d.Synthetic)
		for i := 0; i < rv.NumField(); i++ {
			if f := rv.Type().Field(i); f.IsExported() && !rv.Field(i).IsZero() {
				syn[snakeCase(f.Name)] = rv.Field(i).Interface()
			}
		}
		m["synthetic"] = syn // knobs set in the grid (zero = the generator's default)
	}
	g.dataKeysTable(m, ds, arch)
	return normalizeJSON(m)
}

// trainTable is the resolved [train] table.
func (g *Grid) trainTable() map[string]any {
	t := g.Train
	m := map[string]any{
		"sft_epochs":       t.SFTEpochs,
		"pref_epochs":      t.PrefEpochs,
		"batch_pairs":      t.BatchPairs,
		"optimizer":        t.Optimizer,
		"lr":               t.LR,
		"sft_lr":           t.SFTLR,
		"lr_schedule":      t.LRSchedule,
		"warmup_steps":     t.WarmupSteps,
		"weight_decay":     t.WeightDecay,
		"max_grad_norm":    t.MaxGradNorm,
		"eval_every":       t.EvalEvery,
		"checkpoint_every": t.CheckpointEvery,
		"dtype":            t.DType,
		"init_from":        t.InitFrom,
	}
	return normalizeJSON(m)
}

// normalizeJSON round-trips a map through encoding/json so that a config
// built in memory and one read back from config.json are identical
// (numbers become float64).
func normalizeJSON(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// flatten returns the dotted-key view of a cell config used by -only:
// arch, dataset, pipeline, seed, objective.name, objective.beta, gate.kind,
// gate.tau, data.*, train.*, model.*.
func flatten(c results.CellConfig) map[string]string {
	out := results.FlattenConfig(c)
	// the gate and objective spec fields that are omitted when zero
	for _, k := range []string{"objective.beta", "objective.label_smoothing", "objective.length_normalize",
		"objective.cal_weight", "objective.alpha", "objective.sft_norm", "objective.gamma", "objective.lambda"} {
		if _, ok := out[k]; !ok {
			out[k] = ""
		}
	}
	return out
}

// Filter is one -only key=value condition.
type Filter struct {
	Key, Value string
}

// ParseFilters parses -only arguments ("gate.kind=ramp"). The shorthand
// keys objective and gate mean objective.name and gate.kind.
func ParseFilters(args []string) ([]Filter, error) {
	var fs []Filter
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, &ConfigError{File: "-only", Key: a, Msg: "expected key=value with a dotted key, e.g. gate.kind=ramp"}
		}
		switch k {
		case "objective":
			k = "objective.name"
		case "gate":
			k = "gate.kind"
		}
		fs = append(fs, Filter{Key: k, Value: strings.TrimSpace(v)})
	}
	return fs, nil
}

// SelectCells keeps the cells matching every filter (numbers compare by
// value: tau=0.01 matches 1e-2). A key that no cell has is an error naming
// the valid keys.
func SelectCells(cells []*Cell, filters []Filter) ([]*Cell, error) {
	if len(filters) == 0 || len(cells) == 0 {
		return cells, nil
	}
	flat := make([]map[string]string, len(cells))
	for i, c := range cells {
		flat[i] = flatten(c.Config)
	}
	for _, f := range filters {
		if _, ok := flat[0][f.Key]; !ok {
			keys := make([]string, 0, len(flat[0]))
			for k := range flat[0] {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return nil, &ConfigError{File: "-only", Key: f.Key, Msg: "unknown key; expected one of " + strings.Join(keys, ", ")}
		}
	}
	var out []*Cell
	for i, c := range cells {
		keep := true
		for _, f := range filters {
			keep = keep && valueMatches(flat[i][f.Key], f.Value)
		}
		if keep {
			out = append(out, c)
		}
	}
	return out, nil
}

func valueMatches(have, want string) bool {
	if have == want {
		return true
	}
	a, err1 := strconv.ParseFloat(have, 64)
	b, err2 := strconv.ParseFloat(want, 64)
	return err1 == nil && err2 == nil && a == b
}
