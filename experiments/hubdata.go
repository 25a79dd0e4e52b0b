package experiments

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"gatedpo/experiments/hub"
	"gatedpo/results"
)

// hubDataset is a grid dataset value hf://datasets/ORG/NAME[@REV]/PATH.
type hubDataset struct {
	Ref    hub.DatasetRef
	Key    string            // the grid key that names it, for errors
	Commit string            // resolved by ResolveHubDatasets
	Files  map[string]string // repository path → sha256 of the files read
}

// ResolveHubDatasets downloads the hf://datasets/… files of data.dataset
// and data.eval_dataset through c, into the Hugging Face cache the models
// use (datasets--ORG--NAME), expanding globs with the hub's listing API;
// LoadDatasets then reads them (the shards of a glob as one dataset, in
// name order). A revision the sweep directory out has resolved before is
// taken at the commit its hub-lock.json records (as for hub models), so a
// rerun reads the same files even if the branch moved. A grid without hub
// datasets makes no request. Errors name the grid key; a cache that cannot
// be written is an environmental failure, as for models.
func (g *Grid) ResolveHubDatasets(ctx context.Context, out string, c *hub.Client, warn func(string)) error {
	if len(g.hubDatasets) == 0 {
		return nil
	}
	lock, err := readHubLock(out)
	if err != nil {
		return err
	}
	for _, name := range append(append([]string(nil), g.Data.Datasets...), g.Data.EvalDatasets...) {
		h, ok := g.hubDatasets[name]
		if !ok || g.dataFiles[name] != nil {
			continue
		}
		var snap *hub.DatasetSnapshot
		var err error
		if e, ok := lock[name]; ok && hub.IsCommit(e.Commit) && len(e.Files) > 0 {
			// the files the first run read, at its commit: no listing, and
			// no request at all when they are in the cache
			snap, err = pinnedDatasetFiles(ctx, c, h.Ref, e)
		} else {
			snap, err = c.DatasetFiles(ctx, h.Ref)
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var he *hub.Error
			if errors.As(err, &he) && he.Code == hub.CodeCache {
				return fmt.Errorf("%s: %w", name, err)
			}
			return g.Errorf(h.Key, "%v", err)
		}
		if snap.Stale != "" && warn != nil {
			warn(fmt.Sprintf("%s: using the cached snapshot %s: %s", name, snap.Commit, snap.Stale))
		}
		if g.dataFiles == nil {
			g.dataFiles = map[string][]string{}
		}
		g.dataFiles[name] = snap.Paths
		g.Data.Paths[name] = snap.Paths[0]
		h.Commit = snap.Commit
		h.Files = map[string]string{}
		for i, f := range snap.Files {
			sum, err := results.HashFile(snap.Paths[i])
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			h.Files[f] = sum
		}
		g.hubDatasets[name] = h
	}
	return nil
}

// pinnedDatasetFiles fetches (or finds in the cache) the files a lock
// entry lists, at its commit, and checks that their contents are the
// ones the sweep's first run read.
func pinnedDatasetFiles(ctx context.Context, c *hub.Client, ref hub.DatasetRef, e hubLockEntry) (*hub.DatasetSnapshot, error) {
	names := make([]string, 0, len(e.Files))
	for f := range e.Files {
		names = append(names, f)
	}
	sort.Strings(names)
	out := &hub.DatasetSnapshot{Ref: ref, Commit: e.Commit}
	for _, f := range names {
		s, err := c.DatasetFiles(ctx, hub.DatasetRef{Repo: ref.Repo, Revision: e.Commit, Path: f})
		if err != nil {
			return nil, err
		}
		if sum, err := results.HashFile(s.Paths[0]); err != nil || sum != e.Files[f] {
			return nil, fmt.Errorf("%s in the cache (%s) differs from the file the sweep's first run read (sha256 %s, %s); the cache was modified", f, s.Paths[0], e.Files[f], HubLockFile)
		}
		out.Dir = s.Dir
		out.Files = append(out.Files, f)
		out.Paths = append(out.Paths, s.Paths[0])
	}
	return out, nil
}

// hubDatasetLock is the hub-lock.json entry of each resolved hub dataset
// (keyed by the value as written): repository, revision, commit and the
// sha256 of every file read.
func (g *Grid) hubDatasetLock(lock map[string]hubLockEntry) {
	for name, h := range g.hubDatasets {
		if h.Commit != "" {
			lock[name] = hubLockEntry{Repo: "datasets/" + h.Ref.Repo, Revision: h.Ref.Rev(), Commit: h.Commit, Files: h.Files}
		}
	}
}
