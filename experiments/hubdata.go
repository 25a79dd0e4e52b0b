package experiments

import (
	"context"
	"errors"
	"fmt"

	"gatedpo/experiments/hub"
)

// hubDataset is a grid dataset value hf://datasets/ORG/NAME[@REV]/PATH.
type hubDataset struct {
	Ref hub.DatasetRef
	Key string // the grid key that names it, for errors
}

// hubDataset records a hub dataset value of key (checked now, fetched by
// ResolveHubDatasets).
func (p *tableParser) hubDataset(g *Grid, key, value string) error {
	ref, err := hub.ParseDatasetURL(value)
	if err != nil {
		return p.errf(key, "%v", err)
	}
	if g.hubDatasets == nil {
		g.hubDatasets = map[string]hubDataset{}
	}
	g.hubDatasets[value] = hubDataset{Ref: ref, Key: key}
	return nil
}

// ResolveHubDatasets downloads the hf://datasets/… files of data.dataset
// and data.eval_dataset through c, into the Hugging Face cache the models
// use (datasets--ORG--NAME), expanding globs with the hub's listing API;
// LoadDatasets then reads them (the shards of a glob as one dataset, in
// name order). A grid without hub datasets makes no request. Errors name
// the grid key; a cache that cannot be written is an environmental
// failure, as for models.
func (g *Grid) ResolveHubDatasets(ctx context.Context, c *hub.Client, warn func(string)) error {
	for _, name := range append(append([]string(nil), g.Data.Datasets...), g.Data.EvalDatasets...) {
		h, ok := g.hubDatasets[name]
		if !ok || g.dataFiles[name] != nil {
			continue
		}
		snap, err := c.DatasetFiles(ctx, h.Ref)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var he *hub.Error
			if errors.As(err, &he) && he.Code == hub.CodeCache {
				return fmt.Errorf("%s: %w", name, err)
			}
			return g.pos.Errorf(h.Key, "%v", err)
		}
		if snap.Stale != "" && warn != nil {
			warn(fmt.Sprintf("%s: using the cached snapshot %s: %s", name, snap.Commit, snap.Stale))
		}
		if g.dataFiles == nil {
			g.dataFiles = map[string][]string{}
		}
		g.dataFiles[name] = snap.Paths
		g.Data.Paths[name] = snap.Paths[0]
	}
	return nil
}
