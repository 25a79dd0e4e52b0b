package experiments

import (
	"math"

	"gatedpo/experiments/train"
	"gatedpo/results"
)

// A cell's records are held in memory as typed rows (results.CellRecords)
// and written in full (atomically) at every checkpoint and at the end, so
// the files on disk always match the newest checkpoint or a finished cell.

// loadRecordsUpTo reads the record files of dir and keeps the rows of the
// preference stage up to step (and every SFT row): the state of the
// checkpoint at that step. A checkpoint written before
// probe_tokens.csv.gz existed has none: the resumed cell records the token
// view from its next probe on.
func loadRecordsUpTo(dir string, step int) (*results.CellRecords, error) {
	r, err := results.ReadCellRecords(dir)
	if err != nil {
		return nil, err
	}
	r.Train = keepRows(r.Train, func(t results.TrainRow) bool { return t.Stage != "pref" || t.Step <= step })
	r.Metrics = keepRows(r.Metrics, func(m results.ProbeMetricRow) bool { return m.Step <= step })
	r.Fields = keepRows(r.Fields, func(f results.ProbeFieldRow) bool { return f.Step <= step })
	r.Examples = keepRows(r.Examples, func(e results.ProbeExampleRow) bool { return e.Step <= step })
	r.Tokens = keepRows(r.Tokens, func(t results.ProbeTokenRow) bool { return t.Step <= step })
	return r, nil
}

// keepRows returns the rows for which keep is true, in order.
func keepRows[R any](rows []R, keep func(R) bool) []R {
	var out []R
	for _, r := range rows {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

// trainRow is the train.csv row of one optimizer step: the loss, gradient
// norm and learning rate of out, and every other column from out.Metrics
// by its column name (NaN when the step does not report it).
func trainRow(stage string, step int, epoch float64, out train.Output) results.TrainRow {
	r := results.TrainRow{Stage: stage, Step: step, Epoch: epoch, Loss: out.Loss, GradNorm: out.GradNorm, LR: out.LR}
	for _, col := range results.FloatColumns[results.TrainRow]() {
		switch col {
		case "epoch", "loss", "grad_norm", "lr":
			continue
		}
		v, ok := out.Metrics[col]
		if !ok {
			v = math.NaN()
		}
		r.Set(col, v)
	}
	return r
}
