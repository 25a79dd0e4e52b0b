package experiments

import (
	"path/filepath"

	"gatedpo/results"
)

// tracker keeps a cell's live views up to date while stage 2 trains: the
// TensorBoard event file (TRL's scalar names under train/, the probe
// metrics under eval/<split>/) and train.csv, whose new rows are appended
// at every probe (every eval_every steps), between the full rewrites at
// checkpoints. Both are views: the records that count are the ones
// results.CellRecords.Write writes.
type tracker struct {
	dir    string
	ew     *results.EventWriter // nil when the event file could not be created
	onDisk int                  // rows of the train log that train.csv holds
}

// newTracker starts the views of the cell in dir. rows is the train log so
// far (stage-1 rows, then the preference rows up to resumeStep): train.csv
// is rewritten to exactly those rows, so rows of an interrupted run past
// its checkpoint are dropped. A new event file starts with a SessionLog
// START at resumeStep+1 when resuming, which makes TensorBoard drop the
// earlier files' events from that step on.
func newTracker(dir string, rows []results.TrainRow, resumeStep int) (*tracker, error) {
	tr := &tracker{dir: dir}
	if err := results.WriteRows(filepath.Join(dir, results.TrainCSVFile), rows); err != nil {
		return nil, err
	}
	tr.onDisk = len(rows)
	start := 0
	if resumeStep > 0 {
		start = resumeStep + 1
	}
	ew, err := results.NewEventWriter(dir, start)
	if err != nil {
		return nil, err
	}
	tr.ew = ew
	return tr, nil
}

// trainTags maps each float column of train.csv to its TensorBoard tag
// (TRL's names: train/<column>, and train/learning_rate for lr).
var trainTags = func() map[string]string {
	m := map[string]string{}
	for _, c := range results.FloatColumns[results.TrainRow]() {
		m[c] = "train/" + c
	}
	m["lr"] = "train/learning_rate"
	return m
}()

// step records one optimizer step's train.csv row as scalars.
func (tr *tracker) step(k int, row results.TrainRow) error {
	cols := results.FloatColumns[results.TrainRow]()
	tags := make([]string, len(cols))
	vals := make([]float64, len(cols))
	for i, c := range cols {
		tags[i] = trainTags[c]
		vals[i], _ = row.Value(c)
	}
	return tr.ew.Scalars(k, tags, vals)
}

// probe records the probe_metrics.csv rows of one probe as scalars
// (eval/<split>/<metric>), appends the train rows not yet in train.csv,
// and flushes both files.
func (tr *tracker) probe(k int, metricRows []results.ProbeMetricRow, train []results.TrainRow) error {
	cols := results.FloatColumns[results.ProbeMetricRow]()
	for _, row := range metricRows {
		tags := make([]string, len(cols))
		vals := make([]float64, len(cols))
		for i, c := range cols {
			tags[i] = "eval/" + row.Split + "/" + c
			vals[i], _ = row.Value(c)
		}
		if err := tr.ew.Scalars(k, tags, vals); err != nil {
			return err
		}
	}
	if err := tr.ew.Flush(); err != nil {
		return err
	}
	return tr.appendTrain(train)
}

// appendTrain appends train[tr.onDisk:] to train.csv.
func (tr *tracker) appendTrain(train []results.TrainRow) error {
	if len(train) <= tr.onDisk {
		return nil
	}
	if err := results.AppendRows(filepath.Join(tr.dir, results.TrainCSVFile), train[tr.onDisk:]); err != nil {
		return err
	}
	tr.onDisk = len(train)
	return nil
}

// rewritten tells the tracker that train.csv was rewritten in full with n
// rows (results.CellRecords.Write at a checkpoint).
func (tr *tracker) rewritten(n int) { tr.onDisk = n }

// close flushes and closes the event file.
func (tr *tracker) close() error {
	if tr == nil || tr.ew == nil {
		return nil
	}
	return tr.ew.Close()
}
