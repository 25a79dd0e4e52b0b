package results

import (
	"compress/gzip"
	"encoding/csv"
	"io"
	"os"
	"path/filepath"
	"sort"
)

// MetricsLongFile is the sweep-level long-format table: one row per cell ×
// probe step × split × metric, with every cell's flattened config, for
// pandas/polars (pd.read_csv reads the .gz directly).
const MetricsLongFile = "metrics_long.csv.gz"

// MetricsLongFixed are the leading columns of metrics_long.csv.gz. The
// flattened config keys (FlattenConfig, sorted, union over cells) follow,
// each prefixed "config.".
var MetricsLongFixed = []string{"cell_id", "status", "step", "split", "metric", "value"}

// RebuildMetricsLong rewrites <sweepDir>/metrics_long.csv.gz atomically
// from the probe_metrics.csv of every cell whose summary.json says
// complete or failed, sorted by cell id, then as the cell's file orders its
// rows, then by metric column order (ProbeMetricColumns). Values are
// formatted as the cell's file writes them (FormatFloat), so they read the
// same as there. The gzip header carries no name or time,
// so the same records give the same bytes. A cell whose probe_metrics.csv
// is missing or unreadable, or whose records no longer match the sha256 in
// its summary.json (damaged), contributes no rows.
func RebuildMetricsLong(sweepDir string) error {
	// under the lock of the sweep-level files: another shard's rebuild (or
	// start) removes leftover temporary files of the sweep directory, which
	// would include this one's while it is being written
	unlock, err := LockFile(filepath.Join(sweepDir, SweepLockFile))
	if err != nil {
		return err
	}
	defer unlock()
	entries, err := os.ReadDir(filepath.Join(sweepDir, CellsDir))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	type cell struct {
		id, status string
		flat       map[string]string
		rows       []ProbeMetricRow
	}
	var cells []cell
	keys := map[string]bool{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(sweepDir, CellsDir, e.Name())
		cfg, sum, ok := ReadCellRecord(dir)
		if !ok || (sum.Status != StatusComplete && sum.Status != StatusFailed) {
			continue
		}
		if sum.Status == StatusComplete && VerifyRecords(dir, sum) != nil {
			continue // damaged: its rows are not the cell's (see VerifyRecords)
		}
		rows, err := ReadRows[ProbeMetricRow](filepath.Join(dir, ProbeMetricsFile))
		if err != nil {
			continue
		}
		c := cell{id: e.Name(), status: sum.Status, flat: FlattenConfig(cfg), rows: rows}
		for k := range c.flat {
			keys[k] = true
		}
		cells = append(cells, c)
	}
	sort.Slice(cells, func(i, j int) bool { return cells[i].id < cells[j].id })
	cfgKeys := make([]string, 0, len(keys))
	for k := range keys {
		cfgKeys = append(cfgKeys, k)
	}
	sort.Strings(cfgKeys)
	header := append([]string(nil), MetricsLongFixed...)
	for _, k := range cfgKeys {
		header = append(header, "config."+k)
	}
	return WriteFileAtomic(filepath.Join(sweepDir, MetricsLongFile), func(w io.Writer) error {
		zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
		if err != nil {
			return err
		}
		cw := csv.NewWriter(zw)
		if err := cw.Write(header); err != nil {
			return err
		}
		metrics := FloatColumns[ProbeMetricRow]()
		row := make([]string, len(header))
		for _, c := range cells {
			for i, k := range cfgKeys {
				row[len(MetricsLongFixed)+i] = c.flat[k]
			}
			row[0], row[1] = c.id, c.status
			for _, r := range c.rows {
				row[2], row[3] = FormatInt(r.Step), r.Split
				for _, name := range metrics {
					v, _ := r.Value(name)
					row[4], row[5] = name, FormatFloat(v)
					if err := cw.Write(row); err != nil {
						return err
					}
				}
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return err
		}
		return zw.Close()
	})
}
