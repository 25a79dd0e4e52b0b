package plots_test

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"gatedpo/plots"
	"gatedpo/results"
)

// domProbe is injected into a copy of report.html (the report itself has
// no scripts): after layout it writes what the test checks into a <pre>
// as JSON — every token span of the token view with its computed
// background and title, the page and table widths, and the histograms.
const domProbe = `<script>(function () {
  var out = {tokens: [], pairs: [], doc: {}, tables: [], svgs: []};
  document.querySelectorAll("details.tv").forEach(function (d) {
    var cells = [];
    d.querySelectorAll(".tvresp").forEach(function (r) { if (cells.indexOf(r.dataset.cell) < 0) cells.push(r.dataset.cell); });
    out.pairs.push({cells: cells, scale: d.dataset.scale});
  });
  document.querySelectorAll(".tvresp .tk[data-k]").forEach(function (s) {
    var r = s.closest(".tvresp");
    out.tokens.push({cell: r.dataset.cell, field: r.dataset.field, k: s.dataset.k, scale: s.closest("details").dataset.scale,
      bg: getComputedStyle(s).backgroundColor, title: s.title, text: s.textContent});
  });
  var de = document.documentElement;
  out.doc = {scrollWidth: de.scrollWidth, clientWidth: de.clientWidth};
  document.querySelectorAll("table").forEach(function (t) {
    var b = t.closest(".scroll"), rc = (b || t).getBoundingClientRect();
    out.tables.push({boxed: !!b, right: rc.right, scrolls: !!b && b.scrollWidth > b.clientWidth});
  });
  document.querySelectorAll("svg.hist").forEach(function (s) {
    out.svgs.push({field: s.dataset.field, paths: s.querySelectorAll("path").length, right: s.getBoundingClientRect().right});
  });
  var pre = document.createElement("pre");
  pre.id = "gatedpo-probe";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();</script>`

type probeOut struct {
	Tokens []struct {
		Cell, Field, K, Scale, Bg, Title, Text string
	}
	Pairs []struct {
		Cells []string
		Scale string
	}
	Doc    struct{ ScrollWidth, ClientWidth float64 }
	Tables []struct {
		Boxed   bool
		Right   float64
		Scrolls bool
	}
	Svgs []struct {
		Field string
		Paths int
		Right float64
	}
}

// wantColor is the documented colour map of the token view, written out
// again: white at ΔLP 0, linearly to red (215, 48, 39) below and blue
// (33, 102, 172) above, full colour at |ΔLP| ≥ scale.
func wantColor(d, scale float64) string {
	t := math.Min(1, math.Abs(d)/scale)
	to := []float64{33, 102, 172}
	if d < 0 {
		to = []float64{215, 48, 39}
	}
	var c [3]int
	for i := range c {
		c[i] = int(math.Round(255 + t*(to[i]-255)))
	}
	return fmt.Sprintf("rgb(%d, %d, %d)", c[0], c[1], c[2])
}

// TestTokenViewRendersInChromium renders report.html of the fixture sweep
// in headless Chromium at a narrow width and checks, from the rendered
// DOM: each token-view pair is an ungated and a gated cell of the same
// context and seed; every token span's computed background is the colour
// map of its ΔLP computed here from the cells' probe_tokens.csv.gz; its
// title (the hover text) carries the probability and, on rejected tokens,
// the gate value at step 0 and at the last probe; markup in token text is
// shown as text; the page does not overflow its width (wide tables scroll
// inside their box); the histograms have one outline per gate.
func TestTokenViewRendersInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("no chromium on PATH (Debian package chromium): token view not rendered")
	}
	dir, _ := generate(t, smallFixture(3), plots.Options{Formats: []string{"png"}})
	// a failure reason with a long unbreakable path must wrap, not widen the page
	long := "loss is NaN at " + strings.Repeat("/a_long_path_segment", 60)
	sw0, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, sk := range sw0.Skipped {
		p := filepath.Join(dir, results.CellsDir, sk.ID, results.CellSummaryFile)
		_, s, ok := results.ReadCellRecord(filepath.Dir(p))
		if ok && s.Failure != nil {
			s.Failure.Reason = long
			b, _ := json.Marshal(s)
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	rep, err := plots.Generate(dir, plots.Options{Formats: []string{"png"}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytesContains(rep.HTML, long) {
		t.Fatal("the long failure reason is not in report.html")
	}
	page, err := os.ReadFile(rep.HTML)
	if err != nil {
		t.Fatal(err)
	}
	probed := strings.Replace(string(page), "</body>", domProbe+"</body>", 1)
	probedPath := filepath.Join(dir, "report-probed.html")
	if err := os.WriteFile(probedPath, []byte(probed), 0o644); err != nil {
		t.Fatal(err)
	}
	dom, stderr := runChromium(t, bin, "file://"+filepath.ToSlash(probedPath), "--window-size=900,1200", "--dump-dom")
	if lines := consoleLine.FindAll(stderr, -1); len(lines) > 0 {
		t.Errorf("console output while rendering:\n%s", strings.Join(func() []string {
			var s []string
			for _, l := range lines {
				s = append(s, string(l))
			}
			return s
		}(), "\n"))
	}
	m := regexp.MustCompile(`(?s)<pre id="gatedpo-probe">(.*?)</pre>`).FindSubmatch(dom)
	if m == nil {
		t.Fatalf("the DOM probe did not run; DOM tail:\n%s", dom[max(0, len(dom)-2000):])
	}
	var out probeOut
	if err := json.Unmarshal([]byte(html.UnescapeString(string(m[1]))), &out); err != nil {
		t.Fatal(err)
	}

	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	cells := map[string]*results.Cell{}
	gatedGroups := 0
	for _, g := range results.GroupCells(sw.Cells) {
		if !g.Gate.Ungated() {
			gatedGroups++
		}
	}
	for _, c := range sw.Cells {
		cells[c.ID] = c
	}
	// pairs: one per gated (context, gate), ungated first, same context and seed
	if len(out.Pairs) != gatedGroups {
		t.Errorf("%d token-view pairs, want %d (one per gated configuration)", len(out.Pairs), gatedGroups)
	}
	for _, p := range out.Pairs {
		if len(p.Cells) != 2 || cells[p.Cells[0]] == nil || cells[p.Cells[1]] == nil {
			t.Fatalf("pair cells %v", p.Cells)
		}
		u, g := cells[p.Cells[0]].Config, cells[p.Cells[1]].Config
		if !u.Gate.Ungated() || g.Gate.Ungated() || u.Seed != g.Seed || results.ContextKey(u) != results.ContextKey(g) {
			t.Errorf("pair %v: not an ungated and a gated cell of one context and seed", p.Cells)
		}
	}
	// tokens: colour from ΔLP, hover text with p and g
	type key struct {
		cell, k string
	}
	first, last := map[key]results.ProbeTokenRow{}, map[key]results.ProbeTokenRow{}
	for _, c := range sw.Cells {
		rows, ok, err := c.LoadTokens()
		if err != nil || !ok {
			t.Fatalf("cell %s: %v %v", c.ID, ok, err)
		}
		lo, hi := math.MaxInt, math.MinInt
		for _, r := range rows {
			lo, hi = min(lo, r.Step), max(hi, r.Step)
		}
		for _, r := range rows {
			k := key{c.ID, fmt.Sprintf("%s/%d/%d", r.Field, r.Example, r.Position)}
			if r.Step == lo {
				first[k] = r
			}
			if r.Step == hi {
				last[k] = r
			}
		}
	}
	perCell := map[string]int{}
	sawMarkup, sawGate := false, false
	for _, s := range out.Tokens {
		k := key{s.Cell, s.K}
		a, ok0 := first[k]
		b, okN := last[k]
		if !ok0 || !okN {
			t.Fatalf("span %s of cell %s: no such token in the records", s.K, s.Cell)
		}
		perCell[s.Cell]++
		scale, err := strconv.ParseFloat(s.Scale, 64)
		if err != nil || !(scale > 0) {
			t.Fatalf("pair scale %q", s.Scale)
		}
		if want := wantColor(b.LogP-a.LogP, scale); s.Bg != want {
			t.Errorf("cell %s token %s: background %s, want %s (ΔLP %v, scale %v)", s.Cell, s.K, s.Bg, want, b.LogP-a.LogP, scale)
		}
		if p := "p = " + strconv.FormatFloat(math.Exp(a.LogP), 'g', 3, 64) + " → " + strconv.FormatFloat(math.Exp(b.LogP), 'g', 3, 64); !strings.Contains(s.Title, p) {
			t.Errorf("cell %s token %s: title %q lacks %q", s.Cell, s.K, s.Title, p)
		}
		gate := cells[s.Cell].Config.Gate
		gText := "g(p) = " + strconv.FormatFloat(a.Gate, 'g', 3, 64) + " → " + strconv.FormatFloat(b.Gate, 'g', 3, 64) + " [" + results.GateLabel(gate) + "]"
		switch {
		case s.Field == "chosen":
			if strings.Contains(s.Title, "g(p)") || strings.Contains(s.Title, "\ng ") {
				t.Errorf("chosen token %s has a gate in its title %q", s.K, s.Title)
			}
		case gate.Ungated():
			if !strings.Contains(s.Title, "g = 1 → 1 (no gate)") {
				t.Errorf("ungated rejected token %s: title %q", s.K, s.Title)
			}
		default:
			sawGate = true
			if !strings.Contains(s.Title, gText) {
				t.Errorf("gated rejected token %s: title %q lacks %q", s.K, s.Title, gText)
			}
		}
		raw, err := results.UnescapeTokenText(a.Text)
		if err != nil {
			t.Fatal(err)
		}
		if raw == " <b>" || raw == "</b>" || raw == " &" {
			sawMarkup = true
			if s.Text != raw {
				t.Errorf("token %q shown as %q", raw, s.Text)
			}
		}
		if raw == "" && s.Text != "⟨"+strconv.Itoa(a.Token)+"⟩" {
			t.Errorf("special token %d shown as %q", a.Token, s.Text)
		}
	}
	if !sawMarkup || !sawGate {
		t.Errorf("no markup token (%v) or gated rejected token (%v) rendered", sawMarkup, sawGate)
	}
	for _, p := range out.Pairs {
		for _, id := range p.Cells {
			n := 0
			for k := range last {
				if k.cell == id {
					n++
				}
			}
			if perCell[id] < n {
				t.Errorf("cell %s: %d token spans, want at least its %d recorded tokens", id, perCell[id], n)
			}
		}
	}
	t.Logf("%d pairs, %d token spans, %d tables, %d histograms; page %v/%v px", len(out.Pairs), len(out.Tokens), len(out.Tables), len(out.Svgs), out.Doc.ScrollWidth, out.Doc.ClientWidth)
	// layout at 900 px: nothing wider than the page; wide tables scroll in their box
	if out.Doc.ScrollWidth > out.Doc.ClientWidth {
		t.Errorf("page is %v px wide in a %v px window", out.Doc.ScrollWidth, out.Doc.ClientWidth)
	}
	scrolls := false
	for i, tb := range out.Tables {
		if !tb.Boxed || tb.Right > out.Doc.ClientWidth+0.5 {
			t.Errorf("table %d: in a scroll box %v, right edge %v of %v", i, tb.Boxed, tb.Right, out.Doc.ClientWidth)
		}
		scrolls = scrolls || tb.Scrolls
	}
	if !scrolls {
		t.Error("no table scrolls inside its box at 900 px (the summary table is wider than that)")
	}
	// histograms: two fields per context, one outline per gate
	ctxs := map[string]bool{}
	for _, c := range sw.Cells {
		ctxs[results.ContextKey(c.Config)] = true
	}
	if len(out.Svgs) != 2*len(ctxs) {
		t.Errorf("%d histograms, want %d", len(out.Svgs), 2*len(ctxs))
	}
	for _, s := range out.Svgs {
		if s.Paths != len(smallFixture(3).Gates) || s.Right > out.Doc.ClientWidth+0.5 {
			t.Errorf("histogram %s: %d outlines (want %d), right edge %v", s.Field, s.Paths, len(smallFixture(3).Gates), s.Right)
		}
	}
}

func bytesContains(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}
