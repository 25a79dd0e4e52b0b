package experiments

import (
	"compress/gzip"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"gatedpo/experiments/train"
	"gatedpo/results"
)

// cellRecords holds a cell's metric rows in memory, already formatted.
// They are written in full (atomically) at every checkpoint and at the
// end, so the files on disk always match the newest checkpoint or a
// finished cell.
type cellRecords struct {
	Train    [][]string // results.TrainColumns
	Metrics  [][]string // results.ProbeMetricColumns
	Fields   [][]string // results.ProbeFieldColumns
	Examples [][]string // results.ProbeExampleColumns
	Tokens   [][]string // results.ProbeTokenColumns
}

// write writes the five record files of dir atomically.
func (r *cellRecords) write(dir string) error {
	files := []struct {
		name   string
		header []string
		rows   [][]string
	}{
		{results.TrainCSVFile, results.TrainColumns, r.Train},
		{results.ProbeMetricsFile, results.ProbeMetricColumns, r.Metrics},
		{results.ProbeFieldsFile, results.ProbeFieldColumns, r.Fields},
		{results.ProbeExamplesFile, results.ProbeExampleColumns, r.Examples},
		{results.ProbeTokensFile, results.ProbeTokenColumns, r.Tokens},
	}
	for _, f := range files {
		if err := results.WriteCSVAtomic(filepath.Join(dir, f.name), f.header, f.rows); err != nil {
			return err
		}
	}
	return nil
}

// readCSVRows reads a record file written by write (header dropped).
func readCSVRows(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rd io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		rd = gz
	}
	rows, err := csv.NewReader(rd).ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, errors.New(path + ": empty")
	}
	return rows[1:], nil
}

// loadRecordsUpTo reads the record files of dir and keeps the rows of the
// preference stage up to step (and every SFT row): the state of the
// checkpoint at that step.
func loadRecordsUpTo(dir string, step int) (*cellRecords, error) {
	r := &cellRecords{}
	var err error
	keep := func(rows [][]string, stepCol int, stageCol int) [][]string {
		var out [][]string
		for _, row := range rows {
			if stageCol >= 0 && row[stageCol] != "pref" {
				out = append(out, row)
				continue
			}
			if k, e := strconv.Atoi(row[stepCol]); e == nil && k <= step {
				out = append(out, row)
			}
		}
		return out
	}
	if r.Train, err = readCSVRows(filepath.Join(dir, results.TrainCSVFile)); err != nil {
		return nil, err
	}
	r.Train = keep(r.Train, 1, 0)
	if r.Metrics, err = readCSVRows(filepath.Join(dir, results.ProbeMetricsFile)); err != nil {
		return nil, err
	}
	r.Metrics = keep(r.Metrics, 0, -1)
	if r.Fields, err = readCSVRows(filepath.Join(dir, results.ProbeFieldsFile)); err != nil {
		return nil, err
	}
	r.Fields = keep(r.Fields, 0, -1)
	if r.Examples, err = readCSVRows(filepath.Join(dir, results.ProbeExamplesFile)); err != nil {
		return nil, err
	}
	r.Examples = keep(r.Examples, 0, -1)
	// a checkpoint written before probe_tokens.csv.gz existed has none:
	// the resumed cell records the token view from its next probe on
	r.Tokens, err = readCSVRows(filepath.Join(dir, results.ProbeTokensFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	r.Tokens = keep(r.Tokens, 0, -1)
	return r, nil
}

// trainRow formats one train.csv row.
func trainRow(stage string, step int, epoch float64, out train.Output) []string {
	return results.Row(results.TrainColumns, func(col string) string {
		switch col {
		case "stage":
			return stage
		case "step":
			return results.FormatInt(step)
		case "epoch":
			return results.FormatFloat(epoch)
		case "loss":
			return results.FormatFloat(out.Loss)
		case "grad_norm":
			return results.FormatFloat(out.GradNorm)
		case "lr":
			return results.FormatFloat(out.LR)
		}
		if v, ok := out.Metrics[col]; ok {
			return results.FormatFloat(v)
		}
		return "NaN"
	})
}
