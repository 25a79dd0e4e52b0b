package plots

// Per-example distributions in report.html: for each context (cells that
// share everything but gate and seed), histograms of the per-example
// ΔLP_chosen and ΔLP_rejected on the held-out probe set (LP at the cell's
// last probe minus at step 0, one value per probe pair, seeds pooled), one
// outline per gate, drawn as inline SVG, with their quantiles in a table.
// Read from the cells' probe_examples.csv.gz.

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"

	"gatedpo/results"
)

// MaxDistContexts is how many contexts the distributions section draws.
const MaxDistContexts = 8

// distFields are the probe fields whose per-example ΔLP is drawn.
var distFields = []struct{ Field, Label string }{
	{"chosen", "ΔLP_chosen"},
	{"rejected", "ΔLP_rejected"},
}

// distSeries is one gate's per-example values in one context.
type distSeries struct {
	Label  string
	Color  string
	Seeds  string
	Values map[string][]float64 // field → per-example ΔLP (nats)
}

// distRow is one line of a context's quantile table.
type distRow struct {
	Swatch                     template.CSS
	Label, Field, Seeds        string
	N                          int
	Mean, Q10, Q50, Q90, Below string
}

// distContext is one context of the distributions section.
type distContext struct {
	Title  string
	Panels []template.HTML // one inline SVG per field
	Rows   []distRow
}

// distData is the distributions section of report.html.
type distData struct {
	File     string
	Contexts []distContext
	Notes    []string
}

// gatePalette colours the gated series (the ungated one is black).
var gatePalette = []string{"#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4"}

// exampleDeltas returns, per field, the per-example ΔLP of a cell on the
// held-out split between its first and last probe step, in example order.
func exampleDeltas(rows []results.ProbeExampleRow) map[string][]float64 {
	first, last := math.MaxInt, math.MinInt
	for _, r := range rows {
		if r.Split == results.SplitHeldout {
			first, last = min(first, r.Step), max(last, r.Step)
		}
	}
	type key struct {
		field   string
		example int
	}
	base := map[key]float64{}
	for _, r := range rows {
		if r.Split == results.SplitHeldout && r.Step == first {
			base[key{r.Field, r.Example}] = r.LP
		}
	}
	out := map[string][]float64{}
	if last <= first {
		return out
	}
	for _, r := range rows {
		if r.Split != results.SplitHeldout || r.Step != last {
			continue
		}
		if b, ok := base[key{r.Field, r.Example}]; ok {
			out[r.Field] = append(out[r.Field], r.LP-b)
		}
	}
	return out
}

// buildDistributions reads the probe_examples.csv.gz of every complete
// cell and draws the distributions section. Unreadable records become notes.
func buildDistributions(sw *results.Sweep) *distData {
	dd := &distData{File: results.ProbeExamplesFile}
	if n := omittedNote(sw, results.ProbeExamplesFile); n != "" {
		dd.Notes = append(dd.Notes, n)
	}
	groups := results.GroupCells(sw.Cells)
	var order []string
	byCtx := map[string][]*results.Group{}
	for _, g := range groups {
		if _, ok := byCtx[g.Context.Key]; !ok {
			order = append(order, g.Context.Key)
		}
		byCtx[g.Context.Key] = append(byCtx[g.Context.Key], g)
	}
	omitted := 0
	for _, key := range order {
		if len(dd.Contexts) >= MaxDistContexts {
			omitted++
			continue
		}
		gs := byCtx[key]
		var series []distSeries
		for _, g := range gs {
			s := distSeries{Label: results.GateLabel(g.Gate), Values: map[string][]float64{}}
			if g.Gate.Ungated() {
				s.Label = "ungated"
			}
			var seeds []string
			for _, c := range g.Cells {
				rows, ok, err := c.LoadExamples()
				if err != nil {
					dd.Notes = append(dd.Notes, err.Error())
				}
				if !ok {
					continue
				}
				d := exampleDeltas(rows)
				if len(d) == 0 {
					continue
				}
				seeds = append(seeds, strconv.Itoa(c.Config.Seed))
				for f, v := range d {
					s.Values[f] = append(s.Values[f], v...)
				}
			}
			if len(seeds) == 0 {
				continue
			}
			s.Seeds = strings.Join(seeds, ", ")
			series = append(series, s)
		}
		if len(series) == 0 {
			continue
		}
		k := 0
		for i := range series {
			if series[i].Label == "ungated" {
				series[i].Color = "#222222"
				continue
			}
			series[i].Color = gatePalette[k%len(gatePalette)]
			k++
		}
		dc := distContext{Title: gs[0].Context.Label()}
		for _, f := range distFields {
			dc.Panels = append(dc.Panels, histogramSVG(f.Label+" per held-out pair (nats)", f.Field, series))
			for _, s := range series {
				v := append([]float64(nil), s.Values[f.Field]...)
				if len(v) == 0 {
					continue
				}
				sort.Float64s(v)
				below := 0
				sum := 0.0
				for _, x := range v {
					sum += x
					if x < 0 {
						below++
					}
				}
				dc.Rows = append(dc.Rows, distRow{Label: s.Label, Swatch: template.CSS("background-color: " + s.Color), Field: f.Label, Seeds: s.Seeds, N: len(v),
					Mean: fmtG(sum/float64(len(v)), 4), Q10: fmtG(quantile(v, 0.1), 4), Q50: fmtG(quantile(v, 0.5), 4),
					Q90: fmtG(quantile(v, 0.9), 4), Below: fmtG(float64(below)/float64(len(v)), 3)})
			}
		}
		dd.Contexts = append(dd.Contexts, dc)
	}
	if omitted > 0 {
		dd.Notes = append(dd.Notes, fmt.Sprintf("%d further context(s) not drawn (at most %d).", omitted, MaxDistContexts))
	}
	return dd
}

// histogramSVG draws the per-example values of one field for every series
// as outline histograms on shared bins, as the share of each series'
// examples per bin, with a dashed line at 0.
func histogramSVG(title, field string, series []distSeries) template.HTML {
	const W, H, ml, mr, mt, mb = 520.0, 250.0, 46.0, 12.0, 26.0, 40.0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, x := range s.Values[field] {
			if !math.IsNaN(x) && !math.IsInf(x, 0) {
				lo, hi = math.Min(lo, x), math.Max(hi, x)
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="hist" data-field="%s" viewBox="0 0 %g %g" width="%g" height="%g" role="img" aria-label="%s">`,
		html.EscapeString(field), W, H, W, H, html.EscapeString(title))
	fmt.Fprintf(&b, `<text x="%g" y="16" font-size="13" font-weight="bold">%s</text>`, ml, html.EscapeString(title))
	if math.IsInf(lo, 0) {
		b.WriteString(`<text x="60" y="120" font-size="12">no values</text></svg>`)
		return template.HTML(b.String())
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.5, hi+0.5
	}
	const nb = 24
	ticks := niceTicksFor(lo, hi, 6)
	lo, hi = math.Min(lo, ticks[0]), math.Max(hi, ticks[len(ticks)-1])
	w := (hi - lo) / nb
	shares := make([][]float64, len(series))
	ymax := 0.0
	for i, s := range series {
		v := s.Values[field]
		shares[i] = make([]float64, nb)
		for _, x := range v {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
			k := min(nb-1, max(0, int((x-lo)/w)))
			shares[i][k]++
		}
		for k := range shares[i] {
			if len(v) > 0 {
				shares[i][k] /= float64(len(v))
			}
			ymax = math.Max(ymax, shares[i][k])
		}
	}
	if ymax == 0 {
		ymax = 1
	}
	yt := niceTicksFor(0, ymax, 4)
	ymax = math.Max(ymax, yt[len(yt)-1])
	px := func(x float64) float64 { return ml + (x-lo)/(hi-lo)*(W-ml-mr) }
	py := func(y float64) float64 { return H - mb - y/ymax*(H-mt-mb) }
	fmt.Fprintf(&b, `<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#999"/>`, ml, mt, W-ml-mr, H-mt-mb)
	for _, t := range ticks {
		if t < lo-1e-12 || t > hi+1e-12 {
			continue
		}
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#999"/><text x="%.1f" y="%g" font-size="11" text-anchor="middle">%s</text>`,
			px(t), px(t), H-mb, H-mb+4, px(t), H-mb+16, fmtG(t, 4))
	}
	for _, t := range yt {
		fmt.Fprintf(&b, `<line x1="%g" x2="%g" y1="%.1f" y2="%.1f" stroke="#999"/><text x="%g" y="%.1f" font-size="11" text-anchor="end">%s</text>`,
			ml-4, ml, py(t), py(t), ml-6, py(t)+4, fmtG(t, 3))
	}
	fmt.Fprintf(&b, `<text x="%g" y="%g" font-size="11" text-anchor="middle">per-example ΔLP (nats), last probe − step 0</text>`, (ml+W-mr)/2, H-6)
	fmt.Fprintf(&b, `<text x="12" y="%g" font-size="11" text-anchor="middle" transform="rotate(-90 12 %g)">share of pairs</text>`, (mt+H-mb)/2, (mt+H-mb)/2)
	if lo < 0 && hi > 0 {
		fmt.Fprintf(&b, `<line x1="%.1f" x2="%.1f" y1="%g" y2="%g" stroke="#777" stroke-dasharray="4 3"/>`, px(0), px(0), mt, H-mb)
	}
	for i, s := range series {
		var d strings.Builder
		fmt.Fprintf(&d, "M%.1f %.1f", px(lo), py(0))
		for k, v := range shares[i] {
			fmt.Fprintf(&d, " L%.1f %.1f L%.1f %.1f", px(lo+float64(k)*w), py(v), px(lo+float64(k+1)*w), py(v))
		}
		fmt.Fprintf(&d, " L%.1f %.1f", px(hi), py(0))
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.8" data-series="%s"><title>%s (%d pairs)</title></path>`,
			d.String(), s.Color, html.EscapeString(s.Label), html.EscapeString(s.Label), len(s.Values[field]))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// niceTicksFor returns about n round tick values covering [lo, hi].
func niceTicksFor(lo, hi float64, n int) []float64 {
	span := hi - lo
	if span <= 0 {
		return []float64{lo}
	}
	raw := span / float64(n)
	e := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * e
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= raw {
			step = m * e
			break
		}
	}
	var out []float64
	for t := math.Floor(lo/step) * step; t <= hi+step*0.999; t += step {
		out = append(out, math.Round(t/step)*step)
		if len(out) > 4*n+4 {
			break
		}
	}
	return out
}

var _ = template.Must(reportTemplate.New("distributions").Parse(`{{with .}}
<h2 id="distributions">Per-example distributions</h2>
<p>Per held-out probe pair: ΔLP = LP at the cell's last probe − LP at step 0 (summed response log-prob, nats), seeds pooled, as the share of pairs per bin; one outline per gate (ungated in black), dashed line at 0. A mean can hide a few collapsing examples; here they show as a tail. From the cells' {{.File}}.</p>
{{range .Contexts}}<h3>{{.Title}}</h3>
<div class="dists">{{range .Panels}}{{.}}{{end}}</div>
<div class="scroll"><table>
<tr><th>gate</th><th>value</th><th>seeds</th><th>n</th><th>mean</th><th>10 %</th><th>median</th><th>90 %</th><th>share &lt; 0</th></tr>
{{range .Rows}}<tr><td><span class="swatch" style="{{.Swatch}}"></span>{{.Label}}</td><td>{{.Field}}</td><td>{{.Seeds}}</td><td>{{.N}}</td><td>{{.Mean}}</td><td>{{.Q10}}</td><td>{{.Q50}}</td><td>{{.Q90}}</td><td>{{.Below}}</td></tr>
{{end}}</table></div>
{{else}}<p>No complete cell with {{.File}} records at two probe steps.</p>{{end}}
{{if .Notes}}<ul class="skipped">{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{end}}`))

// quantile is the q-quantile of sorted values, interpolating linearly at
// position q·(n−1) (numpy's default).
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q * float64(len(sorted)-1)
	i := int(math.Floor(pos))
	j := min(i+1, len(sorted)-1)
	return sorted[i] + (pos-float64(i))*(sorted[j]-sorted[i])
}

// omittedNote says that a sweep directory leaves a record file out on
// purpose (results.OmittedFile), or is "" when it does not.
func omittedNote(sw *results.Sweep, file string) string {
	o, err := results.ReadOmitted(sw.Dir)
	if err != nil {
		return err.Error()
	}
	if o == nil {
		return ""
	}
	for _, f := range o.Files {
		if f == file {
			return fmt.Sprintf("This sweep directory leaves the cells' %s out (%s: %s); running its grid.toml into a new directory regenerates them (the same config and seed give the same records).", file, results.OmittedFile, o.Reason)
		}
	}
	return ""
}
