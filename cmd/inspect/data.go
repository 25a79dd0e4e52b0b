package main

import (
	"fmt"
	"os"
)

// runData is filled in by the data work.
func runData(args []string) int {
	fmt.Fprintln(os.Stderr, "inspect data: not built yet")
	return 1
}
