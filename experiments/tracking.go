package experiments

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gatedpo/results"
)

// tracker keeps a cell's live views up to date while stage 2 trains: the
// TensorBoard event file (TRL's scalar names under train/, the probe
// metrics under eval/<split>/) and train.csv, whose new rows are appended
// at every probe (every eval_every steps), between the full rewrites at
// checkpoints. Both are views: the records that count are the ones
// cellRecords.write writes.
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
func newTracker(dir string, rows [][]string, resumeStep int) (*tracker, error) {
	tr := &tracker{dir: dir}
	if err := results.WriteCSVAtomic(filepath.Join(dir, results.TrainCSVFile), results.TrainColumns, rows); err != nil {
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

// trainTags maps train.csv columns to TensorBoard tags (TRL's names).
var trainTags = func() map[string]string {
	m := map[string]string{"lr": "train/learning_rate"}
	for _, c := range results.TrainColumns {
		switch c {
		case "stage", "step", "lr":
		default:
			m[c] = "train/" + c
		}
	}
	return m
}()

// step records one optimizer step's train.csv row as scalars.
func (tr *tracker) step(k int, row []string) error {
	var tags []string
	var vals []float64
	for i, c := range results.TrainColumns {
		tag, ok := trainTags[c]
		if !ok {
			continue
		}
		tags = append(tags, tag)
		vals = append(vals, parseRecordFloat(row[i]))
	}
	return tr.ew.Scalars(k, tags, vals)
}

// probe records the probe_metrics.csv rows of one probe as scalars
// (eval/<split>/<metric>), appends the train rows not yet in train.csv,
// and flushes both files.
func (tr *tracker) probe(k int, metricRows [][]string, train [][]string) error {
	for _, row := range metricRows {
		var tags []string
		var vals []float64
		split := ""
		for i, c := range results.ProbeMetricColumns {
			if c == "split" {
				split = row[i]
			}
		}
		for i, c := range results.ProbeMetricColumns {
			if c == "step" || c == "split" {
				continue
			}
			tags = append(tags, "eval/"+split+"/"+c)
			vals = append(vals, parseRecordFloat(row[i]))
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
func (tr *tracker) appendTrain(train [][]string) error {
	if len(train) <= tr.onDisk {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(tr.dir, results.TrainCSVFile), os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(train[tr.onDisk:]); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	tr.onDisk = len(train)
	return nil
}

// rewritten tells the tracker that train.csv was rewritten in full with n
// rows (cellRecords.write at a checkpoint).
func (tr *tracker) rewritten(n int) { tr.onDisk = n }

// close flushes and closes the event file.
func (tr *tracker) close() error {
	if tr == nil || tr.ew == nil {
		return nil
	}
	return tr.ew.Close()
}

// parseRecordFloat reads a value formatted by results.FormatFloat ("NaN"
// included).
func parseRecordFloat(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return math.NaN()
	}
	return v
}
