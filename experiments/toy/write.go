package toy

import (
	"fmt"
	"path/filepath"

	"gatedpo/gating"
	"gatedpo/results"
)

// F1Seed is the seed of the single-step rows written by Write.
const F1Seed = 1

// Write writes the toy records of a sweep under out/toy: toy_f1.json
// (F1, the six single-step rows, seed F1Seed) and toy_f1b.csv (F1b, the
// multi-step toy of DefaultF1bConfig with steps steps: ungated DPO, named
// "dpo", and DPO with each distinct gate of gates, for seeds 1..seeds;
// one row per (method, seed, step), columns results.ToyF1bColumns).
func Write(out string, steps, seeds int, gates []gating.Spec) error {
	rows, err := F1(F1Seed)
	if err != nil {
		return err
	}
	dir := filepath.Join(out, results.ToyDir)
	results.RemoveTemps(dir)
	if err := results.WriteJSONAtomic(filepath.Join(dir, results.ToyF1File), results.ToyF1{Seed: F1Seed, Rows: rows}); err != nil {
		return err
	}
	cfg := DefaultF1bConfig()
	cfg.Steps = steps
	methods := []gating.Spec{gating.DefaultSpec()} // DPO
	seen := map[string]bool{Method(methods[0]): true}
	for _, g := range gates {
		if m := Method(g); !seen[m] {
			seen[m] = true
			methods = append(methods, g)
		}
	}
	var f1b []results.ToyF1bRow
	for _, gate := range methods {
		method := Method(gate)
		for seed := 1; seed <= seeds; seed++ {
			pts, err := F1b(cfg, uint64(seed), gate)
			if err != nil {
				return fmt.Errorf("toy F1b %s seed %d: %w", method, seed, err)
			}
			for _, p := range pts {
				f1b = append(f1b, results.ToyF1bRow{Method: method, Seed: seed, Step: p.Step, LogpChosen: p.LogpChosen,
					LogpRejected: p.LogpRejected, Top1Mass: p.Top1Mass, Entropy: p.Entropy, Top1MassRejected: p.Top1MassRejected})
			}
		}
	}
	return results.WriteRows(filepath.Join(dir, results.ToyF1bFile), f1b)
}
