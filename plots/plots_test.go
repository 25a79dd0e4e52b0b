package plots_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/plots"
	"gatedpo/results"
	"gatedpo/results/resultstest"
)

// smallFixture is a sweep with a τ axis (two ramp thresholds), two model
// sizes, two seeds and the toy records: every figure but F7 applies.
func smallFixture(noise uint64) resultstest.Options {
	return resultstest.Options{
		Seeds: []int{1, 2}, Archs: []string{"d64", "d128"}, Steps: 20, EvalEvery: 5, Noise: noise, Toy: true, Failed: true,
		Gates: []results.GateSpec{{Kind: "none", Level: "token"}, resultstest.Ramp(1e-3), resultstest.Ramp(1e-2)},
	}
}

func generate(t *testing.T, o resultstest.Options, opt plots.Options) (string, *plots.Report) {
	t.Helper()
	dir := t.TempDir()
	if err := resultstest.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	rep, err := plots.Generate(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	return dir, rep
}

// TestGenerateFixture draws every figure from a recorded fixture sweep and
// checks the files: PNGs decode at the size the figure asked for, SVGs are
// well-formed XML, PDFs start with the PDF magic, and the report embeds
// every figure.
func TestGenerateFixture(t *testing.T) {
	dir, rep := generate(t, smallFixture(1), plots.Options{})
	got := map[string]int{}
	for _, f := range rep.Figures {
		got[f.ID]++
		if !strings.HasPrefix(filepath.Base(f.Name), f.ID+"_") {
			t.Errorf("figure %s: file stem %q should start with its id", f.ID, f.Name)
		}
		if len(f.Files) != 3 {
			t.Errorf("%s: %d files, want png, svg, pdf", f.Name, len(f.Files))
		}
		for _, p := range f.Files {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			switch filepath.Ext(p) {
			case ".png":
				img, err := png.Decode(bytes.NewReader(b))
				if err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				if sz := img.Bounds().Size(); sz.X != f.WidthPx || sz.Y != f.HeightPx || sz.X < 600 {
					t.Errorf("%s: %v, want %dx%d (≥ 600 wide)", p, sz, f.WidthPx, f.HeightPx)
				}
			case ".svg":
				checkXML(t, p, b)
			case ".pdf":
				if !bytes.HasPrefix(b, []byte("%PDF-")) {
					t.Errorf("%s: not a PDF", p)
				}
			}
		}
		if f.Caption == "" || f.Title == "" {
			t.Errorf("%s: empty title or caption", f.Name)
		}
	}
	for _, id := range []string{"F1", "F1b", "F2", "F3", "F4", "F5", "F6", "F8"} {
		if got[id] == 0 {
			t.Errorf("figure %s not drawn; skipped: %v", id, rep.Skipped)
		}
	}
	if len(rep.Skipped) != 1 || rep.Skipped[0].ID != "F7" || !strings.Contains(rep.Skipped[0].Reason, "one objective") {
		t.Errorf("skipped = %v, want only F7 (one objective)", rep.Skipped)
	}
	if len(rep.CellsSkipped) != 2 {
		t.Errorf("cells skipped = %v, want the failed and the running cell", rep.CellsSkipped)
	}
	html, err := os.ReadFile(filepath.Join(dir, results.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(html), `src="data:image/png;base64,`); n != len(rep.Figures) {
		t.Errorf("report.html embeds %d images, want %d", n, len(rep.Figures))
	}
	for _, want := range []string{"ramp τ=0.01 token", "summary.csv", "At matched train-probe reward margin L =", "F7</b>: one objective", "loss is NaN"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	for _, f := range []string{results.ComparisonCSVFile, results.ComparisonMDFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if s := rep.Summary(); !strings.Contains(s, "skipped F7: one objective") || !strings.Contains(s, "wrote   F5: ") {
		t.Errorf("Summary() lacks the skip or write lines:\n%s", s)
	}
}

func checkXML(t *testing.T, path string, b []byte) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(b))
	root := ""
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: not well-formed XML: %v", path, err)
		}
		if se, ok := tok.(xml.StartElement); ok && root == "" {
			root = se.Name.Local
		}
	}
	if root != "svg" {
		t.Fatalf("%s: root element %q, want svg", path, root)
	}
}

// TestFiguresFollowTheData redraws from a fixture with other noise and
// checks every figure's PNG changes (no figure is drawn from constants),
// and that the same records draw the same bytes.
func TestFiguresFollowTheData(t *testing.T) {
	opt := plots.Options{Formats: []string{"png"}, DPI: 40, NoReport: true, NoComparison: true}
	hashes := func(rep *plots.Report) map[string][32]byte {
		m := map[string][32]byte{}
		for _, f := range rep.Figures {
			b, err := os.ReadFile(f.Files[0])
			if err != nil {
				t.Fatal(err)
			}
			m[f.Name] = sha256.Sum256(b)
		}
		return m
	}
	_, r1 := generate(t, smallFixture(1), opt)
	_, r1b := generate(t, smallFixture(1), opt)
	_, r2 := generate(t, smallFixture(2), opt)
	h1, h1b, h2 := hashes(r1), hashes(r1b), hashes(r2)
	if len(h1) < 8 {
		t.Fatalf("only %d figures drawn", len(h1))
	}
	for name, h := range h1 {
		if h1b[name] != h {
			t.Errorf("%s: same records, different image", name)
		}
		if h2[name] == h {
			t.Errorf("%s: different records, same image", name)
		}
	}
}

// TestSkipReasons: a sweep with one gate threshold, one arch, one objective
// and no toy records supports F2–F4 and F8 only, and says why for the rest.
func TestSkipReasons(t *testing.T) {
	o := resultstest.Options{Seeds: []int{1}, Steps: 10, EvalEvery: 5,
		Gates: []results.GateSpec{{Kind: "none", Level: "token"}, resultstest.Ramp(1e-2)}}
	_, rep := generate(t, o, plots.Options{Formats: []string{"png"}, DPI: 30, Only: []string{"F1", "F1b", "F2", "F5", "F6", "F7"}})
	want := map[string]string{"F1": "toy_f1.json", "F1b": "toy_f1b.csv", "F5": "no τ axis", "F6": "one model size", "F7": "one objective"}
	if len(rep.Skipped) != len(want) {
		t.Errorf("skipped %v, want %v", rep.Skipped, want)
	}
	for _, s := range rep.Skipped {
		if !strings.Contains(s.Reason, want[s.ID]) {
			t.Errorf("%s skipped for %q, want a reason mentioning %q", s.ID, s.Reason, want[s.ID])
		}
	}
	if len(rep.Figures) != 1 || rep.Figures[0].ID != "F2" || rep.HTML != "" {
		t.Errorf("with -only F1,F1b,F2,F5,F6,F7 drew %v and report %q; want F2 only and no report", rep.Figures, rep.HTML)
	}
	_, err := plots.Generate(t.TempDir(), plots.Options{Only: []string{"F9"}})
	var ie *plots.InputError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), `"F9"`) {
		t.Errorf("unknown id: err = %v, want an InputError naming F9", err)
	}
	_, err = plots.Generate(filepath.Join(t.TempDir(), "missing"), plots.Options{})
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing dir: err = %v, want an InputError naming the path", err)
	}
}

func checkToyShape(t *testing.T, toy *results.ToyF1) {
	t.Helper()
	if len(toy.Rows) != 6 {
		t.Fatalf("%d toy rows, want 6", len(toy.Rows))
	}
	r3 := toy.Rows[2]
	if m := r3.After[r3.ArgmaxAfter]; m <= 0.95 {
		t.Errorf("row 3: argmax mass after the step %.4f, want > 0.95", m)
	}
	if rs := r3.Risers(); len(rs) != 1 || rs[0] != r3.ArgmaxAfter {
		t.Errorf("row 3: classes that rise %v, want only the argmax %d", rs, r3.ArgmaxAfter)
	}
	// "No class jumps": no probability rises by more than 0.02 (row 5's
	// ungated step moves the argmax by far more than that).
	if r := toy.Rows[5].MaxRise(); r > 0.02 {
		t.Errorf("row 6 (gated): a class rises by %.4f, want ≤ 0.02", r)
	}
	if r := toy.Rows[4].MaxRise(); r < 0.1 {
		t.Errorf("row 5 (ungated): largest rise %.4f, expected a jump (> 0.1)", r)
	}
}

// TestObjectivesAndPipelines: two objectives × two pipelines give F7 (with
// the extended-SFT pipeline labelled ext-SFT→) and one comparison section
// per pipeline.
func TestObjectivesAndPipelines(t *testing.T) {
	o := resultstest.Options{Seeds: []int{1, 2}, Steps: 10, EvalEvery: 5, Objectives: []string{"dpo", "ipo"},
		Pipelines: []string{"baseline", "extended_sft"}}
	dir, rep := generate(t, o, plots.Options{Formats: []string{"svg"}, NoReport: true})
	var f7 []plots.FigureFile
	for _, f := range rep.Figures {
		if f.ID == "F7" {
			f7 = append(f7, f)
		}
	}
	if len(f7) != 1 {
		t.Fatalf("%d F7 figures, want 1; skipped %v", len(f7), rep.Skipped)
	}
	svg, err := os.ReadFile(f7[0].Files[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(svg), ">ext-SFT<") || !strings.Contains(string(svg), ">→dpo<") {
		t.Errorf("F7 lacks the two-line ext-SFT / →dpo tick label")
	}
	md, err := os.ReadFile(filepath.Join(dir, results.ComparisonMDFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Pipeline baseline", "## Pipeline extended_sft", "| ipo |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("comparison.md lacks %q", want)
		}
	}
}
