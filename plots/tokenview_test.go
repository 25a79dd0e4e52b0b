package plots_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gatedpo/plots"
	"gatedpo/results"
	"gatedpo/results/resultstest"
)

// TestTokenColorAndText checks the documented colour map and the display
// of escaped token text.
func TestTokenColorAndText(t *testing.T) {
	for _, c := range []struct {
		d, scale float64
		r, g, b  uint8
	}{
		{0, 1, 255, 255, 255}, {-1, 1, 215, 48, 39}, {-5, 1, 215, 48, 39}, {2, 2, 33, 102, 172},
		{0.5, 1, 144, 179, 214}, {-0.5, 2, 245, 203, 201}, {math.NaN(), 1, 221, 221, 221},
	} {
		r, g, b := plots.TokenColor(c.d, c.scale)
		if r != c.r || g != c.g || b != c.b {
			t.Errorf("TokenColor(%v, %v) = %d,%d,%d, want %d,%d,%d", c.d, c.scale, r, g, b, c.r, c.g, c.b)
		}
	}
	for in, want := range map[string]string{
		"abc": "abc", `a\nb`: "a↵\nb", `\t`: "⇥", `\r`: "␍", `\\`: `\`, `\xe2`: `\xe2`, `\u0001`: `\u0001`, `\\n`: `\n`,
	} {
		if got, sp := plots.DisplayTokenText(in, 9); got != want || sp {
			t.Errorf("DisplayTokenText(%q) = %q, %v; want %q", in, got, sp, want)
		}
	}
	if got, sp := plots.DisplayTokenText("", 2); got != "⟨2⟩" || !sp {
		t.Errorf("special token shown as %q (%v)", got, sp)
	}
}

// TestDistributionsFollowRecords checks the per-example table of
// report.html against the quantiles computed here from the cells'
// probe_examples.csv.gz (ungated cells of one context, seeds pooled).
func TestDistributionsFollowRecords(t *testing.T) {
	dir, rep := generate(t, smallFixture(5), plots.Options{Formats: []string{"png"}, NoComparison: true})
	page, err := os.ReadFile(rep.HTML)
	if err != nil {
		t.Fatal(err)
	}
	sw, err := results.LoadSweep(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"d64", "d128"} {
		for _, field := range []string{"chosen", "rejected"} {
			var v []float64
			for _, c := range sw.Cells {
				if c.Config.Arch != arch || !c.Ungated() {
					continue
				}
				rows, err := results.ReadRows[results.ProbeExampleRow](filepath.Join(c.Dir, results.ProbeExamplesFile))
				if err != nil {
					t.Fatal(err)
				}
				lo, hi := math.MaxInt, math.MinInt
				for _, r := range rows {
					if r.Split == results.SplitHeldout {
						lo, hi = min(lo, r.Step), max(hi, r.Step)
					}
				}
				base := map[int]float64{}
				for _, r := range rows {
					if r.Split == results.SplitHeldout && r.Field == field && r.Step == lo {
						base[r.Example] = r.LP
					}
				}
				for _, r := range rows {
					if r.Split == results.SplitHeldout && r.Field == field && r.Step == hi {
						v = append(v, r.LP-base[r.Example])
					}
				}
			}
			sort.Float64s(v)
			pos := 0.5 * float64(len(v)-1)
			i := int(pos)
			med := v[i] + (pos-float64(i))*(v[min(i+1, len(v)-1)]-v[i])
			sum := 0.0
			for _, x := range v {
				sum += x
			}
			f := func(x float64) string { return strings.Replace(strconv.FormatFloat(x, 'g', 4, 64), "-", "−", 1) }
			sec := string(page)
			sec = sec[strings.Index(sec, `id="distributions"`):]
			sec = sec[strings.Index(sec, "<h3>"+arch+" · "):]
			re := regexp.MustCompile(`</span>ungated</td><td>ΔLP_` + field + `</td><td>1, 2</td><td>(\d+)</td><td>([^<]*)</td><td>[^<]*</td><td>([^<]*)</td>`)
			m := re.FindStringSubmatch(sec)
			if m == nil {
				t.Fatalf("%s %s: no ungated row in the distributions table", arch, field)
			}
			if m[1] != strconv.Itoa(len(v)) || m[2] != f(sum/float64(len(v))) || m[3] != f(med) {
				t.Errorf("%s ΔLP_%s: table n %s mean %s median %s, want %d %s %s", arch, field, m[1], m[2], m[3], len(v), f(sum/float64(len(v))), f(med))
			}
		}
	}
	if n := strings.Count(string(page), `<svg class="hist"`); n != 4 {
		t.Errorf("%d histograms, want 2 contexts × 2 fields", n)
	}
	if !strings.Contains(string(page), `id="tokens"`) || strings.Count(string(page), `<details class="tv"`) != 4 {
		t.Error("token view missing or not one pair per gated configuration")
	}
}

// TestTokenViewLimit: a sweep with more gated configurations than
// MaxTokenViewPairs shows that many pairs and says how many it left out;
// cells without probe_tokens.csv.gz (recorded before it existed) are
// left out with a note instead of failing the report.
func TestTokenViewLimit(t *testing.T) {
	o := resultstest.Options{Seeds: []int{1}, Steps: 10, EvalEvery: 5, Gates: []results.GateSpec{{Kind: "none", Level: "token"}}}
	for i := range plots.MaxTokenViewPairs + 2 {
		o.Gates = append(o.Gates, resultstest.Ramp(math.Pow(10, -1-float64(i)/4)))
	}
	dir := t.TempDir()
	if err := resultstest.Write(dir, o); err != nil {
		t.Fatal(err)
	}
	rep, err := plots.Generate(dir, plots.Options{Formats: []string{"png"}, NoComparison: true})
	if err != nil {
		t.Fatal(err)
	}
	page, _ := os.ReadFile(rep.HTML)
	if n := strings.Count(string(page), `<details class="tv"`); n != plots.MaxTokenViewPairs {
		t.Errorf("%d pairs shown, want %d", n, plots.MaxTokenViewPairs)
	}
	if !strings.Contains(string(page), "2 further pair(s) not shown") {
		t.Error("no note on the pairs left out")
	}
	// an older sweep: no token records at all (and none in the summaries'
	// record hashes)
	cells, _ := os.ReadDir(filepath.Join(dir, results.CellsDir))
	for _, c := range cells {
		cd := filepath.Join(dir, results.CellsDir, c.Name())
		os.Remove(filepath.Join(cd, results.ProbeTokensFile))
		b, err := os.ReadFile(filepath.Join(cd, results.CellSummaryFile))
		if err != nil {
			continue
		}
		var sum results.CellSummary
		if err := json.Unmarshal(b, &sum); err != nil {
			t.Fatal(err)
		}
		delete(sum.Files, results.ProbeTokensFile)
		if err := results.WriteJSONAtomic(filepath.Join(cd, results.CellSummaryFile), sum); err != nil {
			t.Fatal(err)
		}
	}
	if rep, err = plots.Generate(dir, plots.Options{Formats: []string{"png"}, NoComparison: true}); err != nil {
		t.Fatal(err)
	}
	page, _ = os.ReadFile(rep.HTML)
	if strings.Contains(string(page), `<details class="tv"`) || !strings.Contains(string(page), "no ungated cell of the same context and seed with probe_tokens.csv.gz") {
		t.Error("a sweep without token records: want no pair and a note")
	}
}
