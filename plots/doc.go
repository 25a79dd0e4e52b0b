// Package plots draws the paper's figures (F1–F8) from recorded runs.
package plots
