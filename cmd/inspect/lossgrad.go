package main

import (
	"fmt"
	"os"
)

// runLossgrad is filled in by the objectives/gate work.
func runLossgrad(args []string) int {
	fmt.Fprintln(os.Stderr, "inspect lossgrad: not built yet")
	return 1
}
