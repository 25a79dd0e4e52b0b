package experiments

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"gatedpo/gating"
	"gatedpo/models"
	"gatedpo/plots"
	"gatedpo/results"
)

// writeToy writes the toy squeeze experiment of SCIENCE.md §6 from the
// models/toy functions: toy/toy_f1.json (F1, the six single-step rows,
// seed toySeed) and toy/toy_f1b.csv (F1b, the multi-step toy: DPO and DPO
// with each gate of the grid, for [toy] seeds seeds and steps steps).
func writeToy(out string, g *Grid) error {
	const toySeed = 1
	rows, err := models.ToyF1(toySeed)
	if err != nil {
		return err
	}
	f1 := results.ToyF1{Seed: toySeed}
	for _, r := range rows {
		f1.Rows = append(f1.Rows, results.ToyF1Row(r))
	}
	dir := filepath.Join(out, results.ToyDir)
	results.RemoveTemps(dir)
	if err := results.WriteJSONAtomic(filepath.Join(dir, results.ToyF1File), f1); err != nil {
		return err
	}
	cfg := models.DefaultToyF1bConfig()
	cfg.Steps = g.Toy.Steps
	gates := []gating.Spec{gating.DefaultSpec()} // DPO
	seen := map[string]bool{models.ToyF1bMethod(gates[0]): true}
	for _, gs := range g.Gates {
		spec := gating.Spec(gs)
		if m := models.ToyF1bMethod(spec); !seen[m] {
			seen[m] = true
			gates = append(gates, spec)
		}
	}
	var csvRows [][]string
	for _, gate := range gates {
		method := models.ToyF1bMethod(gate)
		for seed := 1; seed <= g.Toy.Seeds; seed++ {
			pts, err := models.ToyF1b(cfg, uint64(seed), gate)
			if err != nil {
				return fmt.Errorf("toy F1b %s seed %d: %w", method, seed, err)
			}
			for _, p := range pts {
				csvRows = append(csvRows, []string{method, results.FormatInt(seed), results.FormatInt(p.Step),
					results.FormatFloat(p.LogpChosen), results.FormatFloat(p.LogpRejected),
					results.FormatFloat(p.Top1Mass), results.FormatFloat(p.Entropy)})
			}
		}
	}
	return results.WriteCSVAtomic(filepath.Join(dir, results.ToyF1bFile), results.ToyF1bColumns, csvRows)
}

// writeFigures regenerates the sweep's figures, comparison and report
// from its records (plots.WriteAll). Serialised across shards by the same
// lock as summary.csv, so the last process to finish draws the newest.
func writeFigures(out string, log *slog.Logger) error {
	unlock, err := results.LockFile(filepath.Join(out, ".figures.lock"))
	if err != nil {
		return err
	}
	defer unlock()
	rep, err := plots.WriteAll(out)
	if err != nil {
		return err
	}
	log.Info("figures", "figures", len(rep.Figures), "skipped", len(rep.Skipped), "report", rep.HTML)
	return nil
}
