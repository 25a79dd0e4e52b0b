package main

import (
	"os"

	"gatedpo/experiments/data/hftok"
)

// runTokenize is `inspect tokenize`: see hftok.Inspect for the flags and
// output.
func runTokenize(args []string) int { return hftok.Inspect(args, os.Stdin, os.Stdout, os.Stderr) }
