// Package cli holds the habits every gatedpo command shares: -h prints the
// usage on stdout and exits 0, bad flags print one line on stderr and exit
// 2, and -version prints the version, the commit and the BLAS build.
package cli

import (
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"gatedpo/internal/cliflag"
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
	if code, done := cliflag.Parse(fs, args, stdout, stderr); done {
		return code, true
	}
	if showVersion {
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

// Recover, deferred first in a command's run function, turns a panic into
// "NAME: internal error: panic: …" and the stack on stderr, and sets the
// exit status to 1.
func Recover(name string, stderr io.Writer, code *int) {
	if r := recover(); r != nil {
		fmt.Fprintf(stderr, "%s: internal error: panic: %v\n%s", name, r, debug.Stack())
		*code = 1
	}
}

// SplitList splits a comma-separated flag value, trimming spaces and
// dropping empty items.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// SweepExitStatus ends the usage text of the commands that read a sweep
// directory: the exit statuses they share.
const SweepExitStatus = `exit status: 0 ok; 1 damaged cells (records not matching their sha256)
were left out (0 with -allow-damaged); 2 bad flags or an unreadable sweep
directory; 3 a file could not be written (rerun)`

// SweepFlags are the flags every command that reads a sweep directory
// takes: -in (required), -out and -allow-damaged.
type SweepFlags struct {
	In, Out      string
	AllowDamaged bool
}

// AddSweepFlags registers the SweepFlags on fs; outHelp documents -out.
func AddSweepFlags(fs *flag.FlagSet, outHelp string) *SweepFlags {
	f := &SweepFlags{}
	fs.StringVar(&f.In, "in", "", "sweep directory to read (required)")
	fs.StringVar(&f.Out, "out", "", outHelp)
	fs.BoolVar(&f.AllowDamaged, "allow-damaged", false, "exit 0 even when damaged cells (records not matching their sha256) were left out")
	return f
}

// CheckArgs reports whether -in was given and no positional argument; if
// not it prints one line naming synopsis (the command's short usage) on
// stderr, and the command exits 2.
func (f *SweepFlags) CheckArgs(fs *flag.FlagSet, stderr io.Writer, synopsis string) bool {
	if f.In == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s: expected -in RUNS_DIR and no positional arguments (usage: %s)\n", fs.Name(), synopsis)
		return false
	}
	return true
}

// DamagedStatus is the exit status of a command that left n damaged cells
// out of what (e.g. "the comparison"): 0 when n is 0 or -allow-damaged was
// given, else 1 with one line on stderr saying how to recover.
func (f *SweepFlags) DamagedStatus(name string, stderr io.Writer, n int, what string) int {
	if n == 0 || f.AllowDamaged {
		return 0
	}
	fmt.Fprintf(stderr, "%s: %d damaged cell(s) left out of %s; rerun the sweep to recompute them, or pass -allow-damaged\n", name, n, what)
	return 1
}
