// Package results owns the on-disk record format of a sweep: one directory
// per cell plus sweep-level files, written atomically and read back by the
// figures and comparison tools.
//
// schema.go pins the layout and the column names (readers and writers
// share them). write.go holds the writers: WriteFileAtomic and its JSON
// and CSV forms (temporary file in the same directory + rename, so a
// reader or a rerun after a crash sees the old or the new complete file,
// never a partial one; IsTempName/RemoveTemps clean up after a killed
// process), and FormatFloat (strconv 'g' −1, "NaN"). summary.go rebuilds
// the sweep-level summary.csv from the cell directories (SummaryRow,
// RebuildSummaryCSV) under an flock-based LockFile, so shards sharing a
// directory need no merge step. load.go and compare.go read records back
// for figures and comparisons.
package results
