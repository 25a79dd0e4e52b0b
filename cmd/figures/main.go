// Command figures regenerates the paper's figures (F1–F8) of a sweep
// directory from its records alone (no training), and, unless -only is
// given, the gated-vs-ungated comparison and report.html.
//
//	go run ./cmd/figures -in runs/demo [-out DIR] [-only F2,F3] [-formats png,svg,pdf] [-dpi 150]
//
// It prints one line per figure written and one per figure skipped, with
// the reason (e.g. "skipped F5: no τ axis ..."). Exit status: 0 ok, 1 a
// file could not be written, 2 bad flags or an unreadable sweep directory.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"gatedpo/cmd/internal/cli"
	"gatedpo/plots"
)

const usage = `usage: figures -in RUNS_DIR [-out DIR] [-only F2,F3] [-formats png,svg,pdf] [-dpi 150]

Redraws the paper's figures F1–F8 of a sweep directory from its records
alone (no training) and, unless -only is given, the comparison and
report.html.

exit status: 0 ok, 1 a file could not be written, 2 bad flags or an
unreadable sweep directory`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("figures", flag.ContinueOnError)
	cli.Usage(fs, usage)
	in := fs.String("in", "", "sweep directory to read (required)")
	out := fs.String("out", "", "directory for the figures (default IN/figures); report.html and comparison.* go there too")
	only := fs.String("only", "", "comma-separated figure ids to draw, e.g. F2,F3 (default: all; then no report)")
	formats := fs.String("formats", strings.Join(plots.Formats, ","), "comma-separated formats: png, svg, pdf")
	dpi := fs.Int("dpi", 150, "PNG resolution (dots per inch)")
	if code, done := cli.Parse(fs, args, stdout, stderr, cli.VersionString("figures", "")); done {
		return code
	}
	if *in == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "figures: expected -in RUNS_DIR and no positional arguments (usage: figures -in RUNS_DIR [-out DIR] [-only F2,F3])")
		return 2
	}
	if *dpi < 30 || *dpi > 1200 {
		fmt.Fprintf(stderr, "figures: -dpi %d: expected 30..1200\n", *dpi)
		return 2
	}
	opt := plots.Options{FiguresDir: *out, OutDir: *out, DPI: *dpi}
	for _, f := range splitList(*formats) {
		if f != "png" && f != "svg" && f != "pdf" {
			fmt.Fprintf(stderr, "figures: -formats %q: expected a comma-separated subset of png,svg,pdf\n", *formats)
			return 2
		}
		opt.Formats = append(opt.Formats, f)
	}
	opt.Only = splitList(*only)
	rep, err := plots.Generate(*in, opt)
	if err != nil {
		fmt.Fprintf(stderr, "figures: %v\n", err)
		var ie *plots.InputError
		if errors.As(err, &ie) {
			return 2
		}
		return 1
	}
	fmt.Fprint(stdout, rep.Summary())
	return 0
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
