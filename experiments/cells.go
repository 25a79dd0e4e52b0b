package experiments

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"gatedpo/experiments/config"
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
							if g.Excluded(&cfg) {
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
// are the cell's values of those axes): the schema's keys
// (config.Grid.CellTables) and the content hashes — of the dataset and the
// eval dataset, of the model's tokenizer.json with tokenizer = "model",
// and of the chat template that renders the records.
func (g *Grid) dataTable(ds, arch string) map[string]any {
	m, _ := g.CellTables(ds, arch)
	if set, ok := g.datasets[ds]; ok {
		m["dataset_hash"] = set.Hash // content, so a changed file or generator means new cells
	}
	if ev := g.Data.EvalDataset(ds); ev != "" {
		if set, ok := g.datasets[ev]; ok {
			m["eval_dataset_hash"] = set.Hash
		}
	}
	if g.TokenizerOf(arch) == config.TokenizerModel {
		if a, ok := g.hfArchs[arch]; ok && a.Tok != nil {
			m["tokenizer_sha256"] = a.Tok.Hash()
		}
	}
	g.chatTemplateHash(m, ds, arch)
	return normalizeJSON(m)
}

// trainTable is the resolved [train] table (config.Grid.CellTables).
func (g *Grid) trainTable() map[string]any {
	_, m := g.CellTables("", "")
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
			return nil, &config.ConfigError{File: "-only", Key: a, Msg: "expected key=value with a dotted key, e.g. gate.kind=ramp"}
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
			return nil, &config.ConfigError{File: "-only", Key: f.Key, Msg: "unknown key; expected one of " + strings.Join(keys, ", ")}
		}
	}
	var out []*Cell
	for i, c := range cells {
		keep := true
		for _, f := range filters {
			keep = keep && config.ValueMatches(flat[i][f.Key], f.Value)
		}
		if keep {
			out = append(out, c)
		}
	}
	return out, nil
}
