// Command compare prints the gated-vs-ungated comparison of a sweep
// directory and writes it as comparison.csv and comparison.md:
//
//	go run ./cmd/compare -in runs/demo [-out DIR] [-levels 10,20,40]
//
// For every gated configuration it pairs each seed with the ungated cell of
// the same settings and reports the mean difference gated − ungated of the
// final held-out ΔLP_chosen, gap, top-1 mass, suppression and reward
// accuracy with a Student-t 95 % interval over seeds, and the same at each
// matched train-probe margin level (nats of log-ratio, no β), each run
// interpolated between the two probes that bracket it (docs/method.md §7);
// every row counts failed, unpaired and not-reached seeds. A finished cell
// whose record files no longer match the sha256 in its summary.json is
// damaged: it is named, left out, and marked in the comparison (a note,
// and the rows it would have entered).
//
// Exit status (as for every gatedpo command): 0 ok; 1 damaged cells were
// left out (0 with -allow-damaged), or an internal error; 2 bad flags or
// an unreadable sweep directory, nothing written; 3 a file could not be
// written (disk full, I/O error): rerun.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"

	"gatedpo/cmd/internal/cli"
	"gatedpo/results"
)

const usage = `usage: compare -in RUNS_DIR [-out DIR] [-levels 10,20,40] [-allow-damaged]

Pairs every gated configuration of a sweep directory with its ungated
partner by seed, prints the gated − ungated differences with 95 % intervals,
and writes comparison.csv and comparison.md.

` + cli.SweepExitStatus

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) (code int) {
	defer cli.Recover("compare", stderr, &code)
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	cli.Usage(fs, usage)
	sf := cli.AddSweepFlags(fs, "directory for comparison.csv and comparison.md (default IN)")
	levels := fs.String("levels", "10,20,40", "train-probe reward margins to match at, comma-separated (\"\" for none)")
	if code, done := cli.Parse(fs, args, stdout, stderr, cli.VersionString("compare", "")); done {
		return code
	}
	if !sf.CheckArgs(fs, stderr, "compare -in RUNS_DIR [-out DIR] [-levels 10,20,40]") {
		return 2
	}
	lv := []float64{}
	for _, f := range cli.SplitList(*levels) {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(stderr, "compare: -levels %q: expected positive numbers separated by commas\n", *levels)
			return 2
		}
		lv = append(lv, v)
	}
	sw, err := results.LoadSweep(sf.In)
	if err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 2
	}
	for _, c := range sw.Skipped {
		fmt.Fprintf(stderr, "compare: cell %s not used: %s\n", c.ID, c.Reason)
	}
	if len(sw.Cells) == 0 {
		fmt.Fprintf(stderr, "compare: %s: no complete cells (expected cells/<id>/summary.json with status complete)\n", sf.In)
	}
	cmp := results.CompareSweep(sw, results.CompareOptions{MarginLevels: lv})
	sw.MarkDamaged(cmp)
	fmt.Fprint(stdout, cmp.Markdown())
	dir := sf.Out
	if dir == "" {
		dir = sf.In
	}
	paths, err := cmp.WriteFiles(dir)
	if err != nil {
		fmt.Fprintf(stderr, "compare: %v\n", err)
		return 3
	}
	for _, p := range paths {
		fmt.Fprintf(stdout, "wrote %s\n", p)
	}
	return sf.DamagedStatus("compare", stderr, len(sw.Damaged()), "the comparison")
}
