// Command figures regenerates the paper's figures (F1–F8) of a sweep
// directory from its records alone (no training), and, unless -only is
// given, the gated-vs-ungated comparison, report.html and (when it writes
// into the sweep directory) summary.csv.
//
//	go run ./cmd/figures -in runs/demo [-out DIR] [-only F2,F3] [-formats png,svg,pdf] [-dpi 150]
//
// It prints one line per figure written and one per figure skipped, with
// the reason (e.g. "skipped F5: no τ axis ..."). A finished cell whose
// record files no longer match the sha256 in its summary.json is damaged:
// it is named, left out of every figure and of the comparison, and marked
// in report.html and comparison.md.
//
// Exit status (as for every gatedpo command): 0 ok; 1 damaged cells were
// left out (0 with -allow-damaged), or an internal error; 2 bad flags or
// an unreadable sweep directory, nothing written; 3 a file could not be
// written (disk full, I/O error): rerun.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gatedpo/cmd/internal/cli"
	"gatedpo/plots"
	"gatedpo/results"
)

const usage = `usage: figures -in RUNS_DIR [-out DIR] [-only F2,F3] [-formats png,svg,pdf] [-dpi 150] [-link-images] [-allow-damaged]

Redraws the paper's figures F1–F8 of a sweep directory from its records
alone (no training) and, unless -only is given, the comparison,
report.html and (without -out) the sweep's summary.csv.

` + cli.SweepExitStatus

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) (code int) {
	defer cli.Recover("figures", stderr, &code)
	fs := flag.NewFlagSet("figures", flag.ContinueOnError)
	cli.Usage(fs, usage)
	sf := cli.AddSweepFlags(fs, "directory for the figures (default IN/figures); report.html and comparison.* go there too")
	only := fs.String("only", "", "comma-separated figure ids to draw, e.g. F2,F3 (default: all; then no report)")
	formats := fs.String("formats", strings.Join(plots.Formats, ","), "comma-separated formats: png, svg, pdf")
	dpi := fs.Int("dpi", 150, "PNG resolution (dots per inch)")
	link := fs.Bool("link-images", false, "report.html links the PNGs (figures/…) instead of embedding them (a smaller file to commit; default: embedded unless the PNGs exceed 40 MiB)")
	if code, done := cli.Parse(fs, args, stdout, stderr, cli.VersionString("figures", "")); done {
		return code
	}
	if !sf.CheckArgs(fs, stderr, "figures -in RUNS_DIR [-out DIR] [-only F2,F3]") {
		return 2
	}
	if *dpi < 30 || *dpi > 1200 {
		fmt.Fprintf(stderr, "figures: -dpi %d: expected 30..1200\n", *dpi)
		return 2
	}
	opt := plots.Options{FiguresDir: sf.Out, OutDir: sf.Out, DPI: *dpi, ExternalImage: *link}
	for _, f := range cli.SplitList(*formats) {
		if f != "png" && f != "svg" && f != "pdf" {
			fmt.Fprintf(stderr, "figures: -formats %q: expected a comma-separated subset of png,svg,pdf\n", *formats)
			return 2
		}
		opt.Formats = append(opt.Formats, f)
	}
	opt.Only = cli.SplitList(*only)
	if err := rebuildSummary(sf.In, sf.Out, opt.Only); err != nil {
		fmt.Fprintf(stderr, "figures: %v\n", err)
		return 3
	}
	rep, err := plots.Generate(sf.In, opt)
	if err != nil {
		fmt.Fprintf(stderr, "figures: %v\n", err)
		var ie *plots.InputError
		if errors.As(err, &ie) {
			return 2
		}
		return 3
	}
	fmt.Fprint(stdout, rep.Summary())
	for _, d := range rep.Damaged {
		fmt.Fprintf(stderr, "figures: cell %s left out: %s\n", d.ID, d.Reason)
	}
	return sf.DamagedStatus("figures", stderr, len(rep.Damaged), "the figures and the comparison")
}

// rebuildSummary rewrites the sweep directory's summary.csv from its cell
// records before the report (which shows it) is drawn, when the report is
// written into the sweep directory itself (no -out, no -only) and the
// directory has cells: a directory whose cells changed since its sweep
// last ran (cells added, or left out of a published copy) then gets a
// summary that matches its records.
func rebuildSummary(in, out string, only []string) error {
	if len(only) > 0 || (out != "" && filepath.Clean(out) != filepath.Clean(in)) {
		return nil
	}
	if st, err := os.Stat(filepath.Join(in, results.CellsDir)); err != nil || !st.IsDir() {
		return nil
	}
	return results.RebuildSummaryCSV(in)
}
