// Package results owns the on-disk record format of a sweep: one directory
// per cell plus sweep-level files, written atomically and read back by the
// figures and comparison tools.
//
// schema.go pins the layout, and a typed row per CSV record file
// (TrainRow, ProbeMetricRow, ProbeFieldRow, ProbeExampleRow,
// ProbeTokenRow, ToyF1bRow) whose csv tags name its columns in order.
// rows.go is their one codec: WriteRows (and AppendRows) and ReadRows
// serve every writer and reader (the sweep, its resume and checkpoint
// digests, the summary, the TensorBoard view, LoadSweep, the figures);
// cellrecords.go bundles a cell's five record files (CellRecords).
// write.go holds the atomic writers: WriteFileAtomic and its JSON and CSV
// forms (temporary file in the same directory + rename, so a reader or a
// rerun after a crash sees the old or the new complete file, never a
// partial one; IsTempName/RemoveTemps clean up after a killed process),
// and FormatFloat (strconv 'g' −1, "NaN"). summary.go rebuilds the
// sweep-level summary.csv from the cell directories (SummaryRow,
// RebuildSummaryCSV) under an flock-based LockFile, so shards sharing a
// directory need no merge step, and computes a cell's summary metrics
// (FinalMetrics). load.go and compare.go read records back for figures
// and comparisons.
package results
