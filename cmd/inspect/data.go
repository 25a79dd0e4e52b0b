package main

import (
	"os"

	"gatedpo/experiments/data"
)

// runData is `inspect data`: see data.Inspect for the flags and output.
func runData(args []string) int { return data.Inspect(args, os.Stdout, os.Stderr) }
