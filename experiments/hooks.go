package experiments

import (
	"log/slog"
	"path/filepath"

	"gatedpo/experiments/toy"
	"gatedpo/gating"
	"gatedpo/results"
)

// writeToy writes the toy records (toy.Write): F1, and F1b with DPO and
// DPO with each gate of the grid, for [toy] seeds seeds and steps steps.
func writeToy(out string, g *Grid) error {
	gates := make([]gating.Spec, len(g.Gates))
	for i, gs := range g.Gates {
		gates[i] = gating.Spec(gs)
	}
	return toy.Write(out, g.Toy.Steps, g.Toy.Seeds, gates)
}

// writeFigures regenerates the sweep's figures, comparison and report
// from its records with draw (Options.Figures), under a lock on the sweep
// directory, so that of several shards the last to finish draws the
// newest.
func writeFigures(out string, draw func(string) (string, error), log *slog.Logger) error {
	unlock, err := results.LockFile(filepath.Join(out, ".figures.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	msg, err := draw(out)
	if err != nil {
		return err
	}
	log.Info("figures", "drawn", msg)
	return nil
}
