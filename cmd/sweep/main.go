// Command sweep trains, probes and records every cell of a TOML grid.
//
//	go run ./cmd/sweep                      # the built-in default grid → runs/default/
//	go run ./cmd/sweep -grid my.toml        # or: go run ./cmd/sweep my.toml
//	go run ./cmd/sweep -dry-run -only gate.kind=ramp -only arch=transformer-s
//	go run ./cmd/sweep -workers 2 -shard 0/4 -out /scratch/sweep
//	go run ./cmd/sweep -grid my.toml -set train.lr=3e-4 -set 'grid.seed=[1,2,3]'
//
// Exit status (the same for every gatedpo command; README "Exit status"):
//
//	0  every selected cell complete
//	1  some cell failed deterministically (divergence; the others were
//	   run; it stays failed until -retry-failed), or an internal error
//	2  bad input: nothing was run or written
//	3  interrupted (SIGINT/SIGTERM) or an environmental failure (disk
//	   full, I/O error): not recorded as a property of any cell; rerun the
//	   same command to continue
//
// See package experiments for the grid format.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"

	"gatedpo/cmd/internal/cli"
	"gatedpo/experiments"
	"gatedpo/experiments/config"
	"gatedpo/graph"
	"gatedpo/plots"
)

// drawFigures redraws a sweep's figures, comparison and report.html from
// its records once its cells are done.
func drawFigures(dir string) (string, error) {
	rep, err := plots.WriteAll(dir)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d figures, %d skipped, %s", len(rep.Figures), len(rep.Skipped), rep.HTML), nil
}

const usage = `usage: sweep [flags] [GRID]

Trains, probes and records every cell of a TOML grid (a file, or a built-in
grid name; default: the built-in "default" grid), then writes the summary,
the comparison, the figures and report.html into the sweep directory.
Rerunning the same command skips complete cells and resumes interrupted
ones.

exit status: 0 every selected cell complete; 1 some cell failed
deterministically (divergence; the others were run); 2 bad input (nothing
run or written); 3 interrupted or an environmental failure such as a full
disk (not recorded: rerun the same command to continue)`

// multiFlag is a repeatable string flag (-only).
type multiFlag []string

// String joins the values (flag.Value).
func (m *multiFlag) String() string { return strings.Join(*m, ",") }

// Set appends a value (flag.Value).
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func main() { os.Exit(run()) }

// Exit statuses.
const (
	exitOK          = 0
	exitFailed      = 1 // cells failed deterministically, or an internal error
	exitBadInput    = 2
	exitInterrupted = 3 // interrupted or environmental: rerun to continue
)

// sweepGCPercent is the sweep's GOGC unless the environment sets one. The
// graph ops reuse their output buffers across runs (graph's buffer pool),
// so a step allocates little besides them: the live heap is the running
// graph's buffers plus the pool, and the garbage that triggers a
// collection accrues slowly. A collection is then rare and cheap (the
// buffers hold no pointers), and the peak heap is about (1 + GOGC/100)
// times the live one: 50 keeps it at 1.5 times for no measurable CPU
// (an hh-probe cell used the same CPU time at 50 and at 150).
const sweepGCPercent = 50

func setGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(sweepGCPercent)
	}
}

// writeHeapProfile writes the live heap (after a GC) to path.
func writeHeapProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func run() (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "sweep: internal error: panic: %v\n%s", r, debug.Stack())
			code = exitFailed
		}
	}()
	setGCPercent()
	fs := flag.NewFlagSet("sweep", flag.ContinueOnError)
	cli.Usage(fs, usage)
	var o experiments.Options
	var only, set multiFlag
	var shard string
	var shards int
	fs.StringVar(&o.Grid, "grid", "", "grid TOML file or built-in grid name ("+strings.Join(config.BuiltinGrids(), ", ")+"); default: default")
	fs.StringVar(&o.Out, "out", "", "sweep directory (default runs/<grid name>)")
	fs.BoolVar(&o.DryRun, "dry-run", false, "list the cells and their state; run and write nothing")
	fs.Var(&only, "only", "run only cells with key=value (dotted keys, e.g. gate.kind=ramp); repeatable")
	fs.Var(&set, "set", "override a grid key: dotted TOML key = TOML value, e.g. train.lr=3e-4 or 'grid.seed=[1,2]'; repeatable; validated like the file and recorded in grid.resolved.json")
	fs.IntVar(&o.Workers, "workers", 0, "cells trained in parallel (default: GOMAXPROCS, which follows container CPU limits)")
	fs.StringVar(&shard, "shard", "", "run shard i/n of the cells (0-based); also SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX")
	fs.IntVar(&shards, "shards", 0, "shard count for a Kubernetes Indexed Job (JOB_COMPLETION_INDEX); also "+experiments.ShardsEnv)
	fs.BoolVar(&o.RetryFailed, "retry-failed", false, "rerun cells recorded as failed")
	var memProfile, cpuProfile string
	fs.StringVar(&memProfile, "memprofile", "", "write a heap profile to this file when the sweep ends (go tool pprof)")
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole sweep to this file (go tool pprof)")
	// flags may come before or after a bare grid path
	var positional []string
	version := cli.VersionString("sweep", graph.BLASName())
	for args := os.Args[1:]; ; {
		if code, done := cli.Parse(fs, args, os.Stdout, os.Stderr, version); done {
			return code
		}
		if fs.NArg() == 0 {
			break
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case len(positional) == 1 && o.Grid == "":
		o.Grid = positional[0]
	case len(positional) > 0:
		fmt.Fprintf(os.Stderr, "sweep: unexpected arguments %q (one grid file, or -grid FILE)\n", positional)
		return 2
	}
	o.Only = only
	o.Set = set
	o.Figures = drawFigures
	var err error
	if o.Shard, o.Shards, err = experiments.ResolveShard(shard, shards, nil); err != nil {
		fmt.Fprintln(os.Stderr, "sweep:", err)
		return 2
	}
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "sweep: -cpuprofile: %v\n", err)
			return 2
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			fmt.Fprintf(os.Stderr, "sweep: -cpuprofile: %v\n", err)
			return 2
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintf(os.Stderr, "sweep: -cpuprofile: %v\n", err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	finished := make(chan struct{})
	var training atomic.Bool
	o.Training = func() { training.Store(true) }
	go func() {
		select {
		case <-ctx.Done():
			select {
			case <-finished: // cancelled by stop() after Run returned: no signal
				return
			default:
			}
			stop() // a second Ctrl-C quits at once
			if !training.Load() {
				// validating or loading data: no cell has anything to save
				// yet, and a read may not return soon
				fmt.Fprintln(os.Stderr, "sweep: interrupted before any cell started; rerun the same command to continue")
				os.Exit(exitInterrupted)
			}
			fmt.Fprintln(os.Stderr, "sweep: stopping: running cells save a checkpoint (Ctrl-C again to quit now)")
		case <-finished:
		}
	}()
	_, err = experiments.Run(ctx, o)
	close(finished)
	if memProfile != "" {
		if perr := writeHeapProfile(memProfile); perr != nil {
			fmt.Fprintln(os.Stderr, "sweep:", perr)
		}
	}
	stop()
	return exitStatus(err)
}

// exitStatus maps the error of experiments.Run to the exit status and
// prints it.
func exitStatus(err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "sweep:", err)
	switch {
	case config.IsConfigError(err):
		return exitBadInput
	case errors.Is(err, experiments.ErrCellsFailed):
		return exitFailed
	case errors.Is(err, experiments.ErrInterrupted), errors.Is(err, experiments.ErrEnvironment),
		experiments.IsEnvironmental(err):
		return exitInterrupted
	}
	return exitFailed
}
