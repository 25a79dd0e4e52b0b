package experiments

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"syscall"
	"testing"
	"time"

	"gatedpo/results"
)

// defaultStats summarises a finished default sweep: per gate, the mean
// over seeds of the held-out summary metrics, and the probe time as a
// fraction of preference training time.
type defaultStats struct {
	ByGate        map[string]map[string]float64 // gate label → metric → mean over seeds
	Seeds         map[string]int
	ProbeFraction float64 // Σ probe_s / Σ pref_train_s over cells
}

func analyzeSweep(t testing.TB, dir string) defaultStats {
	st := defaultStats{ByGate: map[string]map[string]float64{}, Seeds: map[string]int{}}
	cells, err := os.ReadDir(filepath.Join(dir, results.CellsDir))
	if err != nil {
		t.Fatal(err)
	}
	var probe, train float64
	for _, c := range cells {
		cfg, s, ok := results.ReadCellRecord(filepath.Join(dir, results.CellsDir, c.Name()))
		if !ok || s.Status != results.StatusComplete {
			continue
		}
		probe += s.Timing["probe_s"]
		train += s.Timing["pref_train_s"]
		label := cfg.Gate.Kind
		if cfg.Gate.Kind != "none" {
			label = fmt.Sprintf("%s τ=%g", cfg.Gate.Kind, cfg.Gate.Tau)
		}
		if st.ByGate[label] == nil {
			st.ByGate[label] = map[string]float64{}
		}
		for k, v := range s.Final {
			st.ByGate[label][k] += v
		}
		st.Seeds[label]++
	}
	for g, m := range st.ByGate {
		for k := range m {
			m[k] /= float64(st.Seeds[g])
		}
	}
	if train > 0 {
		st.ProbeFraction = probe / train
	}
	return st
}

func (st defaultStats) log(t testing.TB) {
	labels := make([]string, 0, len(st.ByGate))
	for g := range st.ByGate {
		labels = append(labels, g)
	}
	sort.Strings(labels)
	for _, g := range labels {
		m := st.ByGate[g]
		t.Logf("%-16s seeds %d  chosen %.1f→%.1f  rejected %.1f→%.1f  argmax %.1f→%.1f  gap %.1f→%.1f  top1 %.3f→%.3f  suppression %.2f  reward_acc %.2f",
			g, st.Seeds[g], m["lp_chosen_0"], m["lp_chosen_final"], m["lp_rejected_0"], m["lp_rejected_final"], m["lp_argmax_0"], m["lp_argmax_final"],
			m["gap_0"], m["gap_final"], m["top1_mass_0"], m["top1_mass_final"], m["suppression_final"], m["reward_acc_final"])
	}
	t.Logf("probe time / preference training time: %.3f", st.ProbeFraction)
}

// BenchmarkDefaultSweep runs the built-in default grid once per iteration
// (use -benchtime=1x) with one worker per CPU and reports the wall time,
// the average number of cores used (process CPU time / wall time), the
// probe-evaluation time as a fraction of training time at the default
// eval_every, and the mass-dynamics numbers per gate (held-out probe,
// mean over seeds). GATEDPO_BENCH_OUT keeps the sweep directory.
//
//	go test ./experiments -run '^$' -bench DefaultSweep -benchtime 1x -v
func BenchmarkDefaultSweep(b *testing.B) {
	for i := 0; i < b.N; i++ {
		out := os.Getenv("GATEDPO_BENCH_OUT")
		if out == "" {
			out = filepath.Join(b.TempDir(), "default")
		}
		var r0, r1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &r0)
		t0 := time.Now()
		if _, err := Run(context.Background(), quietOptions("default", out, runtime.NumCPU())); err != nil {
			b.Fatal(err)
		}
		wall := time.Since(t0).Seconds()
		syscall.Getrusage(syscall.RUSAGE_SELF, &r1)
		cpu := tv(r1.Utime) + tv(r1.Stime) - tv(r0.Utime) - tv(r0.Stime)
		st := analyzeSweep(b, out)
		st.log(b)
		b.ReportMetric(wall, "wall_s")
		b.ReportMetric(cpu/wall, "cores_used")
		// time-average of cells in flight (Σ cell wall / sweep wall): the
		// CPU use an idle machine would give, whatever else shares this one
		cellWall := 0.0
		cells, _ := os.ReadDir(filepath.Join(out, results.CellsDir))
		for _, c := range cells {
			if _, s, ok := results.ReadCellRecord(filepath.Join(out, results.CellsDir, c.Name())); ok {
				cellWall += s.WallS
			}
		}
		b.ReportMetric(cellWall/wall, "workers_busy")
		b.ReportMetric(st.ProbeFraction, "probe_fraction")
	}
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }

// TestDefaultShowsSqueezing checks the squeezing signature of ungated DPO
// on a finished default sweep: chosen and rejected log-probs fall and the
// argmax–chosen gap widens (held-out probe, mean over seeds), and logs
// the argmax and top-1 mass and the gated cells for comparison. It needs
// a sweep directory (GATEDPO_DEFAULT_DIR, e.g. runs/default after `go run
// ./cmd/sweep`) and skips without one: running the grid takes minutes.
func TestDefaultShowsSqueezing(t *testing.T) {
	dir := os.Getenv("GATEDPO_DEFAULT_DIR")
	if dir == "" {
		t.Skip("set GATEDPO_DEFAULT_DIR to a finished default sweep (go run ./cmd/sweep → runs/default)")
	}
	st := analyzeSweep(t, dir)
	st.log(t)
	m := st.ByGate["none"]
	if m == nil {
		t.Fatal("no complete ungated cell")
	}
	if !(m["lp_chosen_final"] < m["lp_chosen_0"]) {
		t.Errorf("ungated: chosen did not fall (%.1f → %.1f)", m["lp_chosen_0"], m["lp_chosen_final"])
	}
	if !(m["lp_rejected_final"] < m["lp_rejected_0"]) {
		t.Errorf("ungated: rejected did not fall (%.1f → %.1f)", m["lp_rejected_0"], m["lp_rejected_final"])
	}
	if !(m["gap_final"] > m["gap_0"]) {
		t.Errorf("ungated: gap did not widen (%.1f → %.1f)", m["gap_0"], m["gap_final"])
	}
	if !(m["suppression_final"] > 0.5) {
		t.Errorf("ungated: suppression %.2f", m["suppression_final"])
	}
	if m["lp_argmax_final"] <= m["lp_argmax_0"] || m["top1_mass_final"] <= m["top1_mass_0"] {
		t.Logf("note: the argmax (%.1f → %.1f) and top-1 mass (%.3f → %.3f) do not rise at this scale",
			m["lp_argmax_0"], m["lp_argmax_final"], m["top1_mass_0"], m["top1_mass_final"])
	}
}
