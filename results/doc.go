// Package results owns the on-disk record format of a sweep: one directory
// per cell plus sweep-level files, written atomically and read back by the
// figures and comparison tools.
package results
