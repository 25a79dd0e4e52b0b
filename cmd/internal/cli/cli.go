// Package cli holds the habits every gatedpo command shares: -h prints the
// usage on stdout and exits 0, bad flags print one line on stderr and exit
// 2, and -version prints the version, the commit and the BLAS build.
package cli

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
)

// Version is the release version; release builds set it with
// -ldflags "-X gatedpo/cmd/internal/cli.Version=v1.2.3".
var Version = "dev"

// Parse parses args into fs. done is true when the command should exit at
// once with status code: 0 after -h/-help (the usage went to stdout) or
// after -version, 2 after a bad flag (one line on stderr).
// version is the text -version prints; "" means the command has no
// -version flag.
func Parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer, version string) (code int, done bool) {
	var showVersion bool
	if version != "" && fs.Lookup("version") == nil {
		fs.BoolVar(&showVersion, "version", false, "print the version, the commit and the BLAS build, and exit")
	}
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
	case showVersion:
		fmt.Fprintln(stdout, version)
		return 0, true
	}
	return 0, false
}

// Usage sets fs's usage to text followed by the flag defaults.
func Usage(fs *flag.FlagSet, text string) {
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintln(w, strings.TrimRight(text, "\n"))
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
	}
}

// VersionString describes this binary: command name, Version, the VCS
// commit the binary was built from (when the go command recorded it: go
// build and go install do, go run does not), the Go version and platform,
// and blas, the matrix-product backend ("" for commands without one).
func VersionString(cmd, blas string) string {
	commit := "unknown (built without VCS information, e.g. by go run)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified, when string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			case "vcs.time":
				when = s.Value
			}
		}
		if rev != "" {
			commit = rev
			if when != "" {
				commit += " (" + when + ")"
			}
			if modified == "true" {
				commit += " with uncommitted changes"
			}
		}
	}
	s := fmt.Sprintf("gatedpo %s %s\ncommit: %s\ngo: %s %s/%s", cmd, Version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if blas != "" {
		s += "\nblas: " + blas
	}
	return s
}
