package experiments

import (
	"gatedpo/experiments/config"
	"gatedpo/experiments/data"
	"gatedpo/models/hf"
)

// Grid is a parsed grid (config.Grid: the keys, every default filled in)
// with what running it needs beyond its text: the Hugging Face models its
// arch values name, its datasets (LoadDatasets), and the hub models and
// datasets it resolves (ResolveHub, ResolveHubDatasets).
type Grid struct {
	*config.Grid
	datasets map[string]*data.Dataset // loaded by LoadDatasets
	hfArchs  map[string]hfArch        // resolved "hf:…" arch values
	hubArchs map[string]*hubArch      // "hf:ORG/NAME[@REV]" arch values (resolved by ResolveHub)
	// chatTemplates maps an "hf:…" arch to its model's chat template
	// (nil: none), read by LoadDatasets and ResolveHub
	chatTemplates map[string]*data.ChatTemplate
	// hubDatasets are the hf://datasets/… values of data.dataset and
	// data.eval_dataset; ResolveHubDatasets fills dataFiles with their
	// local files
	hubDatasets map[string]hubDataset
	dataFiles   map[string][]string
}

// NewGrid prepares a parsed grid for running: it loads and checks the
// local Hugging Face model of every "hf:PATH" arch (its config.json, its
// tokenizer for tokenizer = "model", that the data fit the model) and
// notes the hub models and datasets to resolve. Errors are
// *config.ConfigError naming the arch's key.
func NewGrid(c *config.Grid) (*Grid, error) {
	g := &Grid{Grid: c}
	if c.Train.PackPairs {
		for _, a := range c.Arch {
			if p, ok := config.ArchPresets[a]; ok && p.Kind == "mlp" {
				return nil, g.Errorf("train.pack_pairs", "packed preference pairs need a model that builds packed rows (a transformer-* or hf: arch); grid.arch %q is an MLP (set train.pack_pairs = false or drop it)", a)
			}
		}
	}
	for _, a := range c.Arch {
		h, ok := c.HFArchs[a]
		switch {
		case !ok:
		case h.Local:
			if !hf.IsModelDir(h.Path) {
				return nil, g.Errorf(h.Key, "%s is not a Hugging Face model directory (no config.json)", h.Path)
			}
			if err := g.checkHFDir(h.Key, a, h.Path, nil); err != nil {
				return nil, err
			}
		default:
			if g.hubArchs == nil {
				g.hubArchs = map[string]*hubArch{}
			}
			g.hubArchs[a] = &hubArch{Key: h.Key, Ref: h.Ref, Local: h.Path}
		}
	}
	for value, d := range c.HubDatasets {
		if g.hubDatasets == nil {
			g.hubDatasets = map[string]hubDataset{}
		}
		g.hubDatasets[value] = hubDataset{Ref: d.Ref, Key: d.Key}
	}
	return g, nil
}

// loadGrid is config.LoadGrid then NewGrid.
func loadGrid(nameOrPath string, sets ...config.Override) (*Grid, error) {
	c, err := config.LoadGrid(nameOrPath, sets...)
	if err != nil {
		return nil, err
	}
	return NewGrid(c)
}

// parseGrid is config.ParseGrid then NewGrid.
func parseGrid(file, dir string, src []byte, sets ...config.Override) (*Grid, error) {
	c, err := config.ParseGrid(file, dir, src, sets...)
	if err != nil {
		return nil, err
	}
	return NewGrid(c)
}
