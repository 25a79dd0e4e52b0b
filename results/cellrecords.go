package results

import (
	"errors"
	"os"
	"path/filepath"
)

// CellRecords are the metric records of one cell, as typed rows: what
// the sweep holds in memory while a cell trains and writes in full at
// every checkpoint and at the end.
type CellRecords struct {
	Train    []TrainRow        // train.csv
	Metrics  []ProbeMetricRow  // probe_metrics.csv
	Fields   []ProbeFieldRow   // probe_fields.csv
	Examples []ProbeExampleRow // probe_examples.csv.gz
	Tokens   []ProbeTokenRow   // probe_tokens.csv.gz
}

// Write writes the five record files of the cell directory dir, each
// atomically (WriteRows).
func (r *CellRecords) Write(dir string) error {
	for _, write := range []func() error{
		func() error { return WriteRows(filepath.Join(dir, TrainCSVFile), r.Train) },
		func() error { return WriteRows(filepath.Join(dir, ProbeMetricsFile), r.Metrics) },
		func() error { return WriteRows(filepath.Join(dir, ProbeFieldsFile), r.Fields) },
		func() error { return WriteRows(filepath.Join(dir, ProbeExamplesFile), r.Examples) },
		func() error { return WriteRows(filepath.Join(dir, ProbeTokensFile), r.Tokens) },
	} {
		if err := write(); err != nil {
			return err
		}
	}
	return nil
}

// ReadCellRecords reads the five record files of the cell directory dir
// (ReadRows). probe_tokens.csv.gz may be missing (cells recorded before
// it existed): Tokens is then empty.
func ReadCellRecords(dir string) (*CellRecords, error) {
	r := &CellRecords{}
	var err error
	if r.Train, err = ReadRows[TrainRow](filepath.Join(dir, TrainCSVFile)); err != nil {
		return nil, err
	}
	if r.Metrics, err = ReadRows[ProbeMetricRow](filepath.Join(dir, ProbeMetricsFile)); err != nil {
		return nil, err
	}
	if r.Fields, err = ReadRows[ProbeFieldRow](filepath.Join(dir, ProbeFieldsFile)); err != nil {
		return nil, err
	}
	if r.Examples, err = ReadRows[ProbeExampleRow](filepath.Join(dir, ProbeExamplesFile)); err != nil {
		return nil, err
	}
	if r.Tokens, err = ReadRows[ProbeTokenRow](filepath.Join(dir, ProbeTokensFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return r, nil
}

// Digests returns the sha256 of each record file's rows as Write would
// write them, without the header (RowsDigest), by file name.
func (r *CellRecords) Digests() map[string]string {
	return map[string]string{
		TrainCSVFile:      RowsDigest(r.Train),
		ProbeMetricsFile:  RowsDigest(r.Metrics),
		ProbeFieldsFile:   RowsDigest(r.Fields),
		ProbeExamplesFile: RowsDigest(r.Examples),
		ProbeTokensFile:   RowsDigest(r.Tokens),
	}
}
