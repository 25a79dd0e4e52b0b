// Package experiments expands TOML grids into cells, trains and probes
// each cell, and records the results.
package experiments
