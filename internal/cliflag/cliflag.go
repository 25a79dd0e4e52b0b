// Package cliflag holds the flag habits shared by every gatedpo command and
// subcommand, wherever it is implemented (cmd/internal/cli for the
// commands, and the `inspect` subcommands that experiments/data and
// experiments/data/hftok implement): -h prints the usage on stdout with
// status 0, and a bad flag or bad input prints one line on stderr with
// status 2. It is a top-level internal package because both cmd/ and
// experiments/ use it.
package cliflag

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
)

// Parse parses args into fs. done is true when the command should exit at
// once with status code: 0 after -h/-help (the usage went to stdout), 2
// after a bad flag (one line on stderr naming fs and pointing to -h).
func Parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) (code int, done bool) {
	var buf bytes.Buffer
	out := fs.Output()
	fs.SetOutput(&buf)
	err := fs.Parse(args)
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		io.Copy(stdout, &buf)
		return 0, true
	case err != nil:
		fmt.Fprintf(stderr, "%s: %v (run '%s -h' for the usage)\n", fs.Name(), err, fs.Name())
		return 2, true
	}
	return 0, false
}

// BadInput returns a function that prints "NAME: " and a formatted
// message as one line on stderr and returns the bad-input status 2.
func BadInput(stderr io.Writer, name string) func(format string, a ...any) int {
	return func(format string, a ...any) int {
		fmt.Fprintf(stderr, name+": "+format+"\n", a...)
		return 2
	}
}
