package experiments

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"gatedpo/experiments/train"
	"gatedpo/results"
)

// cellStatus is the live state of one running cell, updated by its worker
// and read by the progress display.
type cellStatus struct {
	mu      sync.Mutex
	cell    *Cell
	started time.Time
	stg     string
	stp     int
	total   int
	loss    float64
	stageT0 time.Time
	stage0  int
}

// set records the current stage, step (of total) and loss.
func (s *cellStatus) set(stage string, step, total int, loss float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if stage != s.stg {
		s.stg, s.stageT0, s.stage0 = stage, time.Now(), step
	}
	s.stp, s.total, s.loss = step, total, loss
}

func (s *cellStatus) stage() string { s.mu.Lock(); defer s.mu.Unlock(); return s.stg }
func (s *cellStatus) step() int     { s.mu.Lock(); defer s.mu.Unlock(); return s.stp }

// line describes the cell in one line: stage, step/total, loss, ETA of the stage.
func (s *cellStatus) line() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	eta := ""
	if s.total > 0 && s.stp > s.stage0 {
		per := time.Since(s.stageT0).Seconds() / float64(s.stp-s.stage0)
		eta = fmt.Sprintf(" eta %s", time.Duration(per*float64(s.total-s.stp)*float64(time.Second)).Round(time.Second))
	}
	loss := ""
	if !math.IsNaN(s.loss) && s.stp > 0 {
		loss = fmt.Sprintf(" loss %.4g", s.loss)
	}
	steps := ""
	if s.total > 0 {
		steps = fmt.Sprintf(" %d/%d", s.stp, s.total)
	}
	return fmt.Sprintf("%s %-9s%s%s%s  [%s]", s.cell.ID, s.stg, steps, loss, eta, s.cell.Label())
}

// progress shows the sweep's state: a redrawn multi-line block on a
// terminal, periodic slog lines otherwise.
type progress struct {
	w        io.Writer
	log      *slog.Logger
	tty      bool
	every    time.Duration
	mu       sync.Mutex
	running  map[string]*cellStatus
	total    int
	done     int
	failed   int
	lines    int // lines drawn last time (terminal)
	quit     chan struct{}
	finished chan struct{}
	t0       time.Time
}

func newProgress(w io.Writer, log *slog.Logger, total, done int, every time.Duration) *progress {
	if every <= 0 {
		every = 10 * time.Second
	}
	p := &progress{w: w, log: log, every: every, running: map[string]*cellStatus{}, total: total, done: done,
		quit: make(chan struct{}), finished: make(chan struct{}), t0: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb" {
			p.tty = true
			p.every = 500 * time.Millisecond
		}
	}
	return p
}

func (p *progress) start() {
	go func() {
		defer close(p.finished)
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.quit:
				return
			case <-t.C:
				p.show()
			}
		}
	}()
}

func (p *progress) stop() {
	close(p.quit)
	<-p.finished
	if p.tty {
		p.mu.Lock()
		p.clear()
		p.mu.Unlock()
	}
}

// begin registers a starting cell.
func (p *progress) begin(c *Cell) *cellStatus {
	st := &cellStatus{cell: c, started: time.Now(), stg: "start", loss: math.NaN()}
	p.mu.Lock()
	p.running[c.ID] = st
	p.mu.Unlock()
	if !p.tty {
		p.log.Info("cell start", "cell", c.ID, "desc", c.Label())
	}
	return st
}

// end records a finished (or interrupted) cell.
func (p *progress) end(c *Cell, sum results.CellSummary, err error) {
	p.mu.Lock()
	delete(p.running, c.ID)
	if err == nil {
		p.done++
		if sum.Status == results.StatusFailed {
			p.failed++
		}
	}
	if p.tty {
		p.clear()
	}
	p.mu.Unlock()
	switch {
	case errors.Is(err, train.ErrInterrupted):
		p.log.Info("cell interrupted (checkpoint kept)", "cell", c.ID)
	case err != nil:
	case sum.Status == results.StatusFailed:
		p.log.Warn("cell failed", "cell", c.ID, "stage", sum.Failure.Stage, "step", sum.Failure.Step, "reason", firstLine(sum.Failure.Reason))
	default:
		p.log.Info("cell complete", "cell", c.ID, "steps", sum.Steps, "wall_s", math.Round(sum.WallS*10)/10,
			"dlp_chosen", round3(sum.Final["lp_chosen_final"]-sum.Final["lp_chosen_0"]),
			"gap", fmt.Sprintf("%.1f→%.1f", sum.Final["gap_0"], sum.Final["gap_final"]))
	}
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// clear erases the block drawn last time (terminal only; p.mu held).
func (p *progress) clear() {
	if p.lines > 0 {
		fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.lines)
		p.lines = 0
	}
}

// show draws the block (terminal) or logs one line per running cell.
func (p *progress) show() {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]string, 0, len(p.running))
	for id := range p.running {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	elapsed := time.Since(p.t0).Round(time.Second)
	head := fmt.Sprintf("cells %d/%d done (%d failed), %d running, %s elapsed", p.done, p.total, p.failed, len(ids), elapsed)
	if !p.tty {
		p.log.Info("progress", "done", p.done, "total", p.total, "failed", p.failed, "running", len(ids), "elapsed", elapsed.String())
		for _, id := range ids {
			p.log.Info("running", "cell", strings.TrimSpace(p.running[id].line()))
		}
		return
	}
	p.clear()
	var b strings.Builder
	b.WriteString(head + "\n")
	for _, id := range ids {
		b.WriteString("  " + p.running[id].line() + "\n")
	}
	fmt.Fprint(p.w, b.String())
	p.lines = 1 + len(ids)
}
