package plots

// This file holds the figure machinery shared by F1–F8: colours and line
// styles, a multi-panel figure with a title and a legend strip below the
// panels (so a legend never covers data), mean ± Student-t bands over seeds,
// and writing PNG, SVG and PDF.

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgpdf"
	"gonum.org/v1/plot/vg/vgsvg"

	"gatedpo/results"
)

// hex parses "#rrggbb".
func hex(s string) color.NRGBA {
	var r, g, b uint8
	fmt.Sscanf(s, "#%02x%02x%02x", &r, &g, &b)
	return color.NRGBA{R: r, G: g, B: b, A: 255}
}

// CategoryColor is the colour of each probe category (docs/method.md §5).
var CategoryColor = map[string]color.NRGBA{
	results.CategoryChosen:     hex("#1f77b4"), // blue
	results.CategoryChosenLike: hex("#8ec5ea"), // light blue
	results.CategoryChosenFmt:  hex("#008080"), // teal
	results.CategoryRejected:   hex("#ff7f0e"), // orange
	results.CategoryRejLike:    hex("#ffbb78"), // light orange
	results.CategoryRejFmt:     hex("#8c564b"), // brown
	results.CategoryIrrelevant: hex("#d62728"), // red
	results.CategoryRandom:     hex("#17becf"), // cyan
	"argmax":                   hex("#000000"), // black
}

// CategoryOrder is the display order of the categories.
var CategoryOrder = []string{
	results.CategoryChosen, results.CategoryChosenLike, results.CategoryChosenFmt,
	results.CategoryRejected, results.CategoryRejLike, results.CategoryRejFmt,
	results.CategoryIrrelevant, results.CategoryRandom,
}

// methodPalette colours gated configurations (the ungated run is black).
var methodPalette = []color.NRGBA{
	hex("#9467bd"), hex("#2ca02c"), hex("#e377c2"), hex("#bcbd22"),
	hex("#1f77b4"), hex("#ff7f0e"), hex("#8c564b"), hex("#17becf"), hex("#d62728"), hex("#7f7f7f"),
}

var black = color.NRGBA{A: 255}

// dashes for gated curves; solid (nil) for ungated ones.
var gatedDashes = []vg.Length{vg.Points(5), vg.Points(2.5)}

// methodStyle is the line style of a method: ungated solid black, the i-th
// gated configuration dashed in methodPalette[i].
func methodStyle(ungated bool, i int) draw.LineStyle {
	if ungated {
		return draw.LineStyle{Color: black, Width: vg.Points(1.6)}
	}
	return draw.LineStyle{Color: methodPalette[i%len(methodPalette)], Width: vg.Points(1.6), Dashes: gatedDashes}
}

// withAlpha returns c with alpha a (0..1), for bands.
func withAlpha(c color.Color, a float64) color.Color {
	r, g, b, _ := c.RGBA()
	return color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: uint8(255 * a)}
}

// legendItem is one entry of a figure's legend strip.
type legendItem struct {
	label  string
	thumbs []plot.Thumbnailer
}

// figure is a grid of panels with a title above and a legend strip below.
type figure struct {
	id        string // "F2"
	name      string // file stem without extension, e.g. "F2_mass_dynamics"
	title     string
	caption   string // what to look for (report.html)
	rows      int
	cols      int
	panels    [][]*plot.Plot // rows × cols, nil = empty tile
	legend    []legendItem
	rowTitles []string  // optional title above each row of panels
	width     vg.Length // total size
	height    vg.Length // of the panel area; title and legend strip are added
}

// newPanel returns a plot with our defaults: title, axis labels, a light
// grid, font sizes readable at paper size.
func newPanel(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(9.5)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.X.Label.TextStyle.Font.Size = vg.Points(8.5)
	p.Y.Label.TextStyle.Font.Size = vg.Points(8.5)
	p.X.Tick.Label.Font.Size = vg.Points(8)
	p.Y.Tick.Label.Font.Size = vg.Points(8)
	p.X.Tick.Length, p.Y.Tick.Length = vg.Points(4), vg.Points(4)
	for _, st := range []*text.Style{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle, &p.X.Tick.Label, &p.Y.Tick.Label} {
		st.Font.Typeface, st.Font.Variant = "Liberation", "Sans"
	}
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{Y: 225}
	g.Horizontal.Color = color.Gray{Y: 225}
	p.Add(g)
	return p
}

// textStyle returns a text style of the given size in the default font.
func textStyle(size vg.Length, bold bool) text.Style {
	f := font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
	if bold {
		// A bold face breaks vgpdf's font embedding; use a larger size instead.
		f.Size *= 1.1
	}
	return text.Style{Color: black, Font: f, Handler: plot.DefaultTextHandler, XAlign: draw.XLeft, YAlign: draw.YTop}
}

const (
	titleHeight = vg.Length(22)
	legendRowH  = vg.Length(13)
)

// legendLayout returns the number of columns and rows of the legend strip.
func (f *figure) legendLayout() (cols, rows int, colW vg.Length) {
	if len(f.legend) == 0 {
		return 0, 0, 0
	}
	st := textStyle(vg.Points(8.5), false)
	maxW := vg.Length(0)
	for _, it := range f.legend {
		maxW = max(maxW, st.Width(it.label))
	}
	colW = maxW + vg.Points(40)
	cols = max(1, int((f.width-vg.Points(20))/colW))
	cols = min(cols, len(f.legend))
	rows = (len(f.legend) + cols - 1) / cols
	return cols, rows, colW
}

// titleLineH is the height of a second title line.
const titleLineH = vg.Length(15)

// titleLines splits the title at " — " when it is wider than the figure.
func (f *figure) titleLines() []string {
	ts := textStyle(vg.Points(11.5), true)
	if ts.Width(f.title) <= f.width-vg.Points(20) {
		return []string{f.title}
	}
	if i := strings.Index(f.title, " — "); i > 0 {
		return []string{f.title[:i], f.title[i+len(" — "):]}
	}
	return []string{f.title}
}

// titleH is the height of the title strip.
func (f *figure) titleH() vg.Length {
	return titleHeight + vg.Length(len(f.titleLines())-1)*titleLineH
}

// size returns the full figure size (panels + title + legend strip).
func (f *figure) size() (vg.Length, vg.Length) {
	_, lrows, _ := f.legendLayout()
	h := f.height + f.titleH() + vg.Length(len(f.rowTitles))*rowTitleH
	if lrows > 0 {
		h += vg.Length(lrows)*legendRowH + vg.Points(10)
	}
	return f.width, h
}

// draw renders the figure on a canvas of size f.size().
func (f *figure) draw(dc draw.Canvas) {
	top := dc.Max.Y
	// Title.
	ts := textStyle(vg.Points(11.5), true)
	ts.XAlign = draw.XCenter
	for i, line := range f.titleLines() {
		dc.FillText(ts, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: top - vg.Points(6) - vg.Length(i)*titleLineH}, line)
	}
	// Legend strip at the bottom.
	lcols, lrows, colW := f.legendLayout()
	legendH := vg.Length(0)
	if lrows > 0 {
		legendH = vg.Length(lrows)*legendRowH + vg.Points(10)
		total := vg.Length(lcols) * colW
		x0 := dc.Min.X + (dc.Max.X-dc.Min.X-total)/2
		for c := 0; c < lcols; c++ {
			l := plot.NewLegend()
			l.Top, l.Left = true, true
			l.TextStyle = textStyle(vg.Points(8.5), false)
			l.TextStyle.YAlign = draw.YBottom
			l.ThumbnailWidth = vg.Points(26)
			l.Padding = vg.Points(3)
			for r := 0; r < lrows; r++ {
				i := c*lrows + r
				if i < len(f.legend) {
					l.Add(f.legend[i].label, f.legend[i].thumbs...)
				}
			}
			sub := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
				Min: vg.Point{X: x0 + vg.Length(c)*colW, Y: dc.Min.Y + vg.Points(4)},
				Max: vg.Point{X: x0 + vg.Length(c+1)*colW, Y: dc.Min.Y + legendH},
			}}
			l.Draw(sub)
		}
	}
	area := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
		Min: vg.Point{X: dc.Min.X, Y: dc.Min.Y + legendH},
		Max: vg.Point{X: dc.Max.X, Y: top - f.titleH()},
	}}
	if len(f.rowTitles) == 0 {
		drawTiles(f.panels, f.cols, area)
		return
	}
	// One strip per row: its title, then the row's panels.
	rowH := (area.Max.Y - area.Min.Y) / vg.Length(f.rows)
	rs := textStyle(vg.Points(9), false)
	for r := range f.panels {
		y1 := area.Max.Y - vg.Length(r)*rowH
		if r < len(f.rowTitles) {
			rs.XAlign = draw.XLeft
			dc.FillText(rs, vg.Point{X: area.Min.X + vg.Points(8), Y: y1 - vg.Points(2)}, f.rowTitles[r])
		}
		sub := draw.Canvas{Canvas: dc.Canvas, Rectangle: vg.Rectangle{
			Min: vg.Point{X: area.Min.X, Y: y1 - rowH},
			Max: vg.Point{X: area.Max.X, Y: y1 - rowTitleH},
		}}
		drawTiles([][]*plot.Plot{f.panels[r]}, f.cols, sub)
	}
}

// rowTitleH is the height of a row title strip.
const rowTitleH = vg.Length(14)

// drawTiles aligns panels on a grid filling c and draws them.
func drawTiles(panels [][]*plot.Plot, cols int, c draw.Canvas) {
	tiles := draw.Tiles{Rows: len(panels), Cols: cols,
		PadX: vg.Points(14), PadY: vg.Points(14),
		PadLeft: vg.Points(6), PadRight: vg.Points(10), PadTop: vg.Points(2), PadBottom: vg.Points(4)}
	canvases := plot.Align(panels, tiles, c)
	for r := range panels {
		for i, p := range panels[r] {
			if p != nil {
				p.Draw(canvases[r][i])
			}
		}
	}
}

// niceTicks are gonum's default ticks with labels in the shortest form
// ("-75", not "-75.00").
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'g', 4, 64)
		}
	}
	return ts
}

// decadeTicks labels at most about five decades of a log axis and marks the
// others with unlabelled ticks.
type decadeTicks struct{}

// Ticks implements plot.Ticker.
func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= 0 || lo >= hi {
		return nil
	}
	a, b := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	step := max(1, int(math.Ceil(float64(b-a)/5)))
	var ts []plot.Tick
	for e := a; e <= b; e++ {
		v := math.Pow(10, float64(e))
		if v < lo*(1-1e-9) || v > hi*(1+1e-9) {
			continue
		}
		t := plot.Tick{Value: v}
		if (b-e)%step == 0 {
			t.Label = decadeLabel(e)
		}
		ts = append(ts, t)
	}
	return ts
}

func decadeLabel(e int) string {
	switch e {
	case 0:
		return "1"
	case -1:
		return "0.1"
	case -2:
		return "0.01"
	case 1:
		return "10"
	case 2:
		return "100"
	}
	return fmt.Sprintf("1e%d", e)
}

// Formats are the file formats written for every figure.
var Formats = []string{"png", "svg", "pdf"}

// save writes the figure in each format into dir and returns the paths.
func (f *figure) save(dir string, formats []string, dpi int) ([]string, error) {
	w, h := f.size()
	var paths []string
	for _, ext := range formats {
		var buf bytes.Buffer
		switch ext {
		case "png":
			ic := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(dpi))
			f.draw(draw.New(ic))
			if _, err := (vgimg.PngCanvas{Canvas: ic}).WriteTo(&buf); err != nil {
				return nil, fmt.Errorf("%s.png: %v", f.name, err)
			}
		case "svg":
			sc := vgsvg.New(w, h)
			f.draw(draw.New(sc))
			if _, err := sc.WriteTo(&buf); err != nil {
				return nil, fmt.Errorf("%s.svg: %v", f.name, err)
			}
		case "pdf":
			pc := vgpdf.New(w, h)
			pc.EmbedFonts(true)
			f.draw(draw.New(pc))
			if _, err := pc.WriteTo(&buf); err != nil {
				return nil, fmt.Errorf("%s.pdf: %v", f.name, err)
			}
		default:
			return nil, fmt.Errorf("figure format %q: expected png, svg or pdf", ext)
		}
		p := filepath.Join(dir, f.name+"."+ext)
		// Atomic: a reader (or a second shard regenerating the figures)
		// never sees half a file.
		if err := results.WriteBytesAtomic(p, buf.Bytes()); err != nil {
			return nil, fmt.Errorf("%s: %v", p, err)
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// pixelSize is the PNG size of the figure at dpi.
func (f *figure) pixelSize(dpi int) (int, int) {
	w, h := f.size()
	return int(float64(w/vg.Inch)*float64(dpi) + 0.5), int(float64(h/vg.Inch)*float64(dpi) + 0.5)
}

// xy is one seed's curve.
type xy struct{ x, y []float64 }

// band is the mean and Student-t 95 % interval over seeds at each x.
type band struct {
	x, mean, lo, hi []float64
	n               []int
}

// aggregate combines curves (one per seed) into a band, matching points by
// x. Non-finite values are dropped. With one seed at an x, lo = hi = mean.
func aggregate(curves []xy) band {
	byX := map[float64][]float64{}
	for _, c := range curves {
		for i := range c.x {
			if i < len(c.y) && !math.IsNaN(c.y[i]) && !math.IsInf(c.y[i], 0) {
				byX[c.x[i]] = append(byX[c.x[i]], c.y[i])
			}
		}
	}
	var xs []float64
	for x := range byX {
		xs = append(xs, x)
	}
	sort.Float64s(xs)
	var b band
	for _, x := range xs {
		iv := results.TInterval(byX[x], 0.95)
		lo, hi := iv.Lo, iv.Hi
		if !iv.HasCI {
			lo, hi = iv.Mean, iv.Mean
		}
		b.x, b.mean, b.lo, b.hi, b.n = append(b.x, x), append(b.mean, iv.Mean), append(b.lo, lo), append(b.hi, hi), append(b.n, iv.N)
	}
	return b
}

// maxN is the largest number of seeds at any x of the band.
func (b band) maxN() int {
	n := 0
	for _, v := range b.n {
		n = max(n, v)
	}
	return n
}

// yRange returns the min and max of the band (lo..hi).
func (b band) yRange() (float64, float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range b.x {
		lo, hi = math.Min(lo, b.lo[i]), math.Max(hi, b.hi[i])
	}
	return lo, hi
}

// addBand draws the band's shaded interval (when any x has ≥ 2 seeds) and its
// mean line on p, and returns the line for the legend.
func addBand(p *plot.Plot, b band, style draw.LineStyle) *plotter.Line {
	return addBandAlpha(p, b, style, 0.18)
}

// addBandAlpha is addBand with the band's opacity (0..1).
func addBandAlpha(p *plot.Plot, b band, style draw.LineStyle, alpha float64) *plotter.Line {
	if len(b.x) == 0 {
		return nil
	}
	if b.maxN() >= 2 {
		pts := make(plotter.XYs, 0, 2*len(b.x))
		for i := range b.x {
			pts = append(pts, plotter.XY{X: b.x[i], Y: b.hi[i]})
		}
		for i := len(b.x) - 1; i >= 0; i-- {
			pts = append(pts, plotter.XY{X: b.x[i], Y: b.lo[i]})
		}
		if poly, err := plotter.NewPolygon(pts); err == nil {
			poly.Color = withAlpha(style.Color, alpha)
			poly.LineStyle.Width = 0
			p.Add(poly)
		}
	}
	pts := make(plotter.XYs, len(b.x))
	for i := range b.x {
		pts[i] = plotter.XY{X: b.x[i], Y: b.mean[i]}
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil
	}
	l.LineStyle = style
	p.Add(l)
	return l
}

// lineThumb is a legend thumbnail: a line in the given style.
func lineThumb(style draw.LineStyle) plot.Thumbnailer {
	l := &plotter.Line{LineStyle: style}
	return l
}

// setYRange gives every panel in ps the same y range, padded by 4 %.
func setYRange(ps []*plot.Plot, lo, hi float64) {
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) || math.IsNaN(lo) || math.IsNaN(hi) {
		return
	}
	pad := 0.04 * (hi - lo)
	if pad == 0 {
		pad = 0.5
	}
	for _, p := range ps {
		p.Y.Min, p.Y.Max = lo-pad, hi+pad
	}
}

// useLogX switches p's x axis to log scale with decade ticks.
func useLogX(p *plot.Plot) {
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = decadeTicks{}
}

// useLogY switches p's y axis to log scale with decade ticks.
func useLogY(p *plot.Plot) {
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = decadeTicks{}
}

// maxSlug bounds a file-name fragment, so that figure names stay well
// under the file system's 255-byte limit whatever a context's label holds.
const maxSlug = 120

// slug turns a label into a file-name fragment: lower case, runs of other
// characters as one '-'; a fragment longer than maxSlug is cut and ends in
// 8 hex digits of the label's SHA-256, so distinct labels keep distinct
// names.
func slug(s string) string {
	out := slugAll(s)
	if len(out) <= maxSlug {
		return out
	}
	sum := sha256.Sum256([]byte(s))
	return strings.TrimRight(out[:maxSlug-9], "-.") + "-" + fmt.Sprintf("%x", sum[:4])
}

func slugAll(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '.'
		if ok {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-.")
}

// grid arranges panels into rows of at most cols.
func grid(ps []*plot.Plot, cols int) [][]*plot.Plot {
	cols = max(1, min(cols, len(ps)))
	var out [][]*plot.Plot
	for i := 0; i < len(ps); i += cols {
		row := make([]*plot.Plot, cols)
		copy(row, ps[i:min(i+cols, len(ps))])
		out = append(out, row)
	}
	return out
}

// newFigure fills the layout fields of a figure from its panels: each panel
// panelW × panelH.
func newFigure(id, name, title, caption string, panels [][]*plot.Plot, panelW, panelH vg.Length, legend []legendItem) *figure {
	rows := len(panels)
	cols := 0
	for _, r := range panels {
		cols = max(cols, len(r))
	}
	// At least 500 pt (a two-column paper's text width) wide, so that the title and the legend fit.
	return &figure{id: id, name: name, title: title, caption: caption, rows: rows, cols: cols, panels: panels,
		legend: legend, width: max(vg.Length(cols)*panelW, vg.Points(500)), height: vg.Length(rows) * panelH}
}
