package plots

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gatedpo/results"
)

// InputError is an error in what the caller asked for or in the records
// (a missing sweep directory, an unknown figure id, a malformed sweep-level
// file), as opposed to a failure to write. Commands exit 2 on it.
type InputError struct{ Err error }

// Error implements error.
func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *InputError) Unwrap() error { return e.Err }

// Options controls Generate. The zero value regenerates everything in place.
type Options struct {
	FiguresDir   string   // where figures go; default <sweep>/figures
	OutDir       string   // where comparison.csv|md and report.html go; default the sweep directory
	Only         []string // figure ids to draw (e.g. "F2", "F3"); nil = all. Comparison and report are then not written.
	Formats      []string // figure formats; default Formats (png, svg, pdf)
	DPI          int      // PNG resolution; default 150
	NoComparison bool     // do not write comparison.csv|md
	NoReport     bool     // do not write report.html
	MarginLevels []float64
	// ExternalImage makes report.html link the PNGs by relative path
	// instead of embedding them; it is also used when the PNGs together
	// exceed MaxEmbedBytes.
	ExternalImage bool
}

// MaxEmbedBytes is the total PNG size above which report.html links the
// figures (figures/…, relative paths) instead of embedding them, to keep
// the page light enough for a browser.
const MaxEmbedBytes = 40 << 20

// FigureFile is one figure written by Generate.
type FigureFile struct {
	ID       string   // "F2"
	Name     string   // file stem, "F2_mass_dynamics"
	Title    string   // the figure's title
	Caption  string   // what to look for
	Files    []string // paths written, one per format
	WidthPx  int      // PNG size
	HeightPx int
}

// Skip says why a figure was not drawn.
type Skip struct {
	ID     string
	Reason string
}

// Report is what Generate did.
type Report struct {
	SweepDir     string
	Figures      []FigureFile
	Skipped      []Skip
	CellsUsed    int
	CellsSkipped []results.SkippedCell
	// Damaged lists the finished cells left out because a record file no
	// longer matches the sha256 in their summary.json (also in
	// CellsSkipped). Commands exit non-zero on it unless told to continue.
	Damaged         []results.SkippedCell
	Comparison      *results.Comparison // nil when not computed
	ComparisonFiles []string            // comparison.csv, comparison.md
	HTML            string              // path of report.html ("" when not written)
}

// WriteAll regenerates, from a sweep directory's records alone, every figure
// they support into <sweep>/figures (PNG, SVG, PDF), comparison.csv and
// comparison.md, and report.html, and says in the Report which figures it
// skipped and why. The sweep runner calls it after its cells finish.
func WriteAll(sweepDir string) (*Report, error) {
	return Generate(sweepDir, Options{})
}

var figFileRE = regexp.MustCompile(`^(F\d+b?)_.*\.(png|svg|pdf)$`)

// Generate is WriteAll with options.
func Generate(sweepDir string, opt Options) (*Report, error) {
	want := map[string]bool{}
	for _, id := range opt.Only {
		id = strings.TrimSpace(id)
		for _, known := range FigureIDs { // accept "f2", "f1B"
			if strings.EqualFold(id, known) {
				id = known
			}
		}
		if _, ok := builders[id]; !ok {
			return nil, &InputError{fmt.Errorf("figure id %q: expected one of %s", id, strings.Join(FigureIDs, ", "))}
		}
		want[id] = true
	}
	if opt.FiguresDir == "" {
		opt.FiguresDir = filepath.Join(sweepDir, results.FiguresDir)
	}
	if opt.OutDir == "" {
		opt.OutDir = sweepDir
	}
	if len(opt.Formats) == 0 {
		opt.Formats = Formats
	}
	if opt.DPI == 0 {
		opt.DPI = 150
	}
	sw, err := results.LoadSweep(sweepDir)
	if err != nil {
		return nil, &InputError{err}
	}
	rep := &Report{SweepDir: sweepDir, CellsUsed: len(sw.Cells), CellsSkipped: sw.Skipped, Damaged: sw.Damaged()}
	if err := os.MkdirAll(opt.FiguresDir, 0o755); err != nil {
		return nil, fmt.Errorf("figures directory %s: %v", opt.FiguresDir, err)
	}
	// one rebuild at a time per figures directory; it removes what a
	// killed rebuild left (temporary figure, report and comparison files)
	unlock, err := results.LockFile(filepath.Join(opt.FiguresDir, rebuildLockFile))
	if err != nil {
		return nil, err
	}
	defer unlock()
	results.RemoveTemps(opt.FiguresDir)
	removeOwnTemps(opt.OutDir)
	// Remove stale figure files of the ids being regenerated.
	if entries, err := os.ReadDir(opt.FiguresDir); err == nil {
		for _, e := range entries {
			m := figFileRE.FindStringSubmatch(e.Name())
			if m != nil && (len(want) == 0 || want[m[1]]) {
				os.Remove(filepath.Join(opt.FiguresDir, e.Name()))
			}
		}
	}
	v := newSweepView(sw)
	for _, id := range FigureIDs {
		if len(want) > 0 && !want[id] {
			continue
		}
		figs, reason := builders[id](v)
		if len(figs) == 0 {
			rep.Skipped = append(rep.Skipped, Skip{ID: id, Reason: reason})
			continue
		}
		for _, f := range figs {
			paths, err := f.save(opt.FiguresDir, opt.Formats, opt.DPI)
			if err != nil {
				return nil, err
			}
			w, h := f.pixelSize(opt.DPI)
			rep.Figures = append(rep.Figures, FigureFile{ID: f.id, Name: f.name, Title: f.title, Caption: f.caption,
				Files: paths, WidthPx: w, HeightPx: h})
		}
	}
	if len(opt.Only) > 0 {
		return rep, nil
	}
	rep.Comparison = results.CompareSweep(sw, results.CompareOptions{MarginLevels: opt.MarginLevels})
	sw.MarkDamaged(rep.Comparison)
	if !opt.NoComparison {
		if rep.ComparisonFiles, err = rep.Comparison.WriteFiles(opt.OutDir); err != nil {
			return nil, err
		}
	}
	if !opt.NoReport {
		p := filepath.Join(opt.OutDir, results.ReportFile)
		if err := writeHTML(p, sw, rep, opt); err != nil {
			return nil, err
		}
		rep.HTML = p
	}
	return rep, nil
}

// Summary is a few lines for a terminal: figures written, figures skipped
// and why, cells not used.
func (r *Report) Summary() string {
	var b strings.Builder
	for _, f := range r.Figures {
		var exts []string
		for _, p := range f.Files {
			exts = append(exts, strings.TrimPrefix(filepath.Ext(p), "."))
		}
		dir := ""
		if len(f.Files) > 0 {
			dir = filepath.Dir(f.Files[0])
		}
		fmt.Fprintf(&b, "wrote   %s: %s.{%s}\n", f.ID, filepath.Join(dir, f.Name), strings.Join(exts, ","))
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "skipped %s: %s\n", s.ID, s.Reason)
	}
	for _, c := range r.CellsSkipped {
		fmt.Fprintf(&b, "cell %s not used: %s\n", c.ID, c.Reason)
	}
	for _, p := range r.ComparisonFiles {
		fmt.Fprintf(&b, "wrote   %s\n", p)
	}
	if r.HTML != "" {
		fmt.Fprintf(&b, "wrote   %s\n", r.HTML)
	}
	return b.String()
}

// htmlFigure is a figure as report.html shows it.
type htmlFigure struct {
	ID, Title, Caption string
	Src                template.URL
	Links              []htmlLink
	Anchor             string
}

type htmlLink struct{ Name, Href string }

// diffClass is the CSS class of a paired difference: "sig" when its
// interval excludes 0, "weak" with fewer than two seeds.
func diffClass(d results.Interval) string {
	switch {
	case d.ExcludesZero():
		return "sig"
	case d.N < 2:
		return "weak"
	}
	return ""
}

type htmlTable struct {
	Title  string
	Lead   string // a paragraph before the table
	Note   string // shown instead of the table when there are no rows
	Header []string
	Rows   [][]htmlCell
}

type htmlCell struct {
	Text  string
	Class string
}

type htmlData struct {
	Title        string
	Generated    string
	Damaged      []results.SkippedCell
	Dir          string
	Grid         string
	Grids        []results.NamedGrid // when several grids wrote into the directory
	Resolved     string
	CellsUsed    int
	CellsSkipped []results.SkippedCell
	Summary      *htmlTable
	Comparison   []htmlTable
	CompNote     string
	CompNotes    []string
	Figures      []htmlFigure
	Skipped      []Skip
	Dists        *distData      // per-example distributions (distributions.go)
	Tokens       *tokenViewData // token view (tokenview.go)
}

func writeHTML(path string, sw *results.Sweep, rep *Report, opt Options) error {
	d := htmlData{
		Title:     "gatedpo sweep report — " + filepath.Base(filepath.Clean(sw.Dir)),
		Generated: time.Now().UTC().Format("2006-01-02 15:04 UTC"),
		Dir:       sw.Dir, Grid: sw.GridTOML, CellsUsed: len(sw.Cells), CellsSkipped: sw.Skipped, Skipped: rep.Skipped,
		Damaged: rep.Damaged,
	}
	if len(sw.Grids) > 1 {
		d.Grids = sw.Grids
	}
	if len(sw.GridResolved) > 0 {
		var v any
		if json.Unmarshal(sw.GridResolved, &v) == nil {
			b, _ := json.MarshalIndent(v, "", "  ")
			d.Resolved = string(b)
		}
	}
	if sw.SummaryHeader != nil {
		t := &htmlTable{Title: "summary.csv", Header: sw.SummaryHeader}
		for _, r := range sw.SummaryRows {
			var row []htmlCell
			for _, c := range r {
				row = append(row, htmlCell{Text: shortNumber(c)})
			}
			t.Rows = append(t.Rows, row)
		}
		d.Summary = t
	}
	if c := rep.Comparison; c != nil {
		d.CompNote = fmt.Sprintf("Paired by seed: mean of (gated − ungated) over seeds with the same settings, "+
			"[%g %% CI, Student t, df = n − 1]; n = paired seeds (n = 2 gives t = %.1f: wide); * and bold: the CI "+
			"excludes 0. Held-out probe metrics; ΔLP_chosen and gap in nats. Matched margin L: the train-probe reward "+
			"margin r⁺ − r⁻ in nats of log-ratio (no β; TRL's rewards/margins carries β), each run read by linear "+
			"interpolation between the two consecutive probes that bracket L; only seeds where both runs reach L count "+
			"(\"not reached\" counts the others); step g/u is the mean interpolated step. Only complete cells are "+
			"compared: \"failed\" counts seeds whose gated or ungated run failed, \"unpaired\" seeds with a complete run "+
			"on one side only (docs/method.md).", c.Confidence*100, results.TQuantile((1+c.Confidence)/2, 1))
		d.CompNotes = c.Notes
		for _, f := range c.FailedCells {
			d.CompNotes = append(d.CompNotes, "failed cell "+f.ID+" (not compared): "+f.Reason)
		}
		for _, dp := range c.Duplicates {
			d.CompNotes = append(d.CompNotes, "duplicate run "+dp.ID+" set aside (same context, gate and seed); counted the newer "+dp.Kept)
		}
		for _, p := range c.Pipelines() {
			for _, at := range c.Points() {
				var rows []results.TableRow
				for _, tr := range c.Table(at) {
					if tr.Context.Pipeline == p {
						rows = append(rows, tr)
					}
				}
				if len(rows) == 0 {
					continue
				}
				if results.NoneReached(rows) {
					d.Comparison = append(d.Comparison, htmlTable{Title: "Pipeline " + p + ": " + results.PointTitle(at),
						Note: "Not reached by any run."})
					continue
				}
				showSettings := false
				for _, tr := range rows {
					showSettings = showSettings || tr.Context.Variant != ""
				}
				t := htmlTable{Title: "Pipeline " + p + ": " + results.PointTitle(at),
					Header: []string{"arch", "dataset", "objective", "settings", "gate", "n", "failed", "unpaired", "step g/u"}}
				if !showSettings {
					t.Header = append(t.Header[:3], t.Header[4:]...)
				}
				if at != "final" {
					t.Header = append(t.Header, "reached", "not reached")
				}
				for _, m := range results.CompareMetrics {
					h := m.Label
					if m.Unit != "" {
						h += " (" + m.Unit + ")"
					}
					t.Header = append(t.Header, h)
				}
				for _, tr := range rows {
					row := []htmlCell{{Text: tr.Context.Arch}, {Text: tr.Context.Dataset}, {Text: tr.Context.Objective},
						{Text: dash(tr.Context.Variant)}, {Text: tr.GateLabel}, {Text: fmt.Sprint(tr.N)},
						{Text: fmt.Sprint(tr.Failed)}, {Text: fmt.Sprint(tr.Unpaired)}, {Text: dash(tr.Steps)}}
					if !showSettings {
						row = append(row[:3], row[4:]...)
					}
					if at != "final" {
						row = append(row, htmlCell{Text: tr.Reached}, htmlCell{Text: fmt.Sprint(tr.NotReached)})
					}
					for i, cell := range tr.Cells {
						row = append(row, htmlCell{Text: cell, Class: diffClass(tr.Rows[i].Diff)})
					}
					t.Rows = append(t.Rows, row)
				}
				d.Comparison = append(d.Comparison, t)
			}
		}
		for _, at := range results.SizePoints {
			rows := c.SizeTable(at)
			if len(rows) == 0 {
				continue
			}
			t := htmlTable{Title: "Smaller gated vs larger ungated model (F6): " + results.SizeTitle(at),
				Lead: results.SizeNote, Header: results.SizeHeader(at)}
			for _, tr := range rows {
				f := tr.Fields(at)
				row := make([]htmlCell, 0, len(f))
				for _, x := range f[:len(f)-len(tr.Cells)] {
					row = append(row, htmlCell{Text: x})
				}
				for i, cell := range tr.Cells {
					row = append(row, htmlCell{Text: cell, Class: diffClass(tr.Rows[i].Diff)})
				}
				t.Rows = append(t.Rows, row)
			}
			d.Comparison = append(d.Comparison, t)
		}
	}
	external := opt.ExternalImage
	var total int64
	for _, f := range rep.Figures {
		for _, p := range f.Files {
			if st, err := os.Stat(p); err == nil && filepath.Ext(p) == ".png" {
				total += st.Size()
			}
		}
	}
	if total > MaxEmbedBytes {
		external = true
	}
	for _, f := range rep.Figures {
		hf := htmlFigure{ID: f.ID, Title: f.Title, Caption: f.Caption, Anchor: f.Name}
		for _, p := range f.Files {
			rel, err := filepath.Rel(filepath.Dir(path), p)
			if err != nil {
				rel = p
			}
			rel = filepath.ToSlash(rel)
			hf.Links = append(hf.Links, htmlLink{Name: strings.TrimPrefix(filepath.Ext(p), "."), Href: rel})
			if filepath.Ext(p) == ".png" && hf.Src == "" {
				if external {
					hf.Src = template.URL(rel)
				} else {
					b, err := os.ReadFile(p)
					if err != nil {
						return fmt.Errorf("%s: %v", p, err)
					}
					hf.Src = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(b))
				}
			}
		}
		d.Figures = append(d.Figures, hf)
	}
	d.Dists, d.Tokens = buildDistributions(sw), buildTokenView(sw)
	var b strings.Builder
	if err := reportTemplate.Execute(&b, d); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if err := results.WriteBytesAtomic(path, []byte(b.String())); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	return nil
}

// shortNumber shows a long float from summary.csv with 5 significant
// digits; anything else is returned unchanged.
func shortNumber(s string) string {
	if len(s) <= 8 {
		return s
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(v, 'g', 5, 64)
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; margin: 1.5em auto; max-width: 1250px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.8em; }
h3 { font-size: 1.05em; margin-top: 1.3em; }
.meta { color: #666; font-size: 0.9em; }
nav a { margin-right: 0.9em; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.5em 0 1em; }
th, td { border: 1px solid #d4d4d4; padding: 3px 7px; text-align: left; white-space: nowrap; }
th { background: #f2f2f2; }
tr:nth-child(even) td { background: #fafafa; }
td.sig { font-weight: bold; background: #e8f3e8 !important; }
td.weak { color: #777; }
.scroll { overflow-x: auto; }
pre { background: #f6f6f6; border: 1px solid #ddd; padding: 0.6em; overflow: auto; max-height: 14em; font-size: 0.8em; }
figure { margin: 1.2em 0 2em; }
figure img { max-width: 100%; height: auto; border: 1px solid #e2e2e2; }
figcaption { font-size: 0.92em; color: #333; margin-top: 0.4em; }
.skipped li { color: #7a4b00; }
.damaged { border: 2px solid #b00020; background: #fdecee; padding: 0.5em 0.8em; margin: 0.8em 0; }
details summary { cursor: pointer; color: #1f4e99; }
.toc { font-size: 0.9em; columns: 2; }
{{template "extra-css"}}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta">Generated {{.Generated}} from the records in <code>{{.Dir}}</code> ({{.CellsUsed}} complete cells). Every figure and number below is computed from those records.</p>
{{if .Damaged}}<div class="damaged"><b>Damaged records: {{len .Damaged}} finished cell(s) left out of every figure and of the comparison.</b> Rerun the sweep to recompute them.<ul>{{range .Damaged}}<li><code>{{.ID}}</code>: {{.Reason}}</li>{{end}}</ul></div>{{end}}
<nav><a href="#grid">Grid</a><a href="#comparison">Gated vs ungated</a><a href="#figures">Figures</a><a href="#distributions">Distributions</a><a href="#tokens">Token view</a><a href="#summary">Summary table</a></nav>

<h2 id="grid">Grid</h2>
{{if .Grids}}<p>{{len .Grids}} grids wrote into this directory (grids/):</p>
{{range .Grids}}<h3>{{.Name}}</h3><pre>{{.TOML}}</pre>{{end}}
{{else if .Grid}}<pre>{{.Grid}}</pre>{{else}}<p>No grid.toml in this directory.</p>{{end}}
{{if .Resolved}}<details><summary>Resolved grid (grid.resolved.json)</summary><pre>{{.Resolved}}</pre></details>{{end}}
{{if .CellsSkipped}}<p>Cells not used:</p><ul class="skipped">{{range .CellsSkipped}}<li><code>{{.ID}}</code>: {{.Reason}}</li>{{end}}</ul>{{end}}

<h2 id="comparison">Gated vs ungated</h2>
<p>{{.CompNote}}</p>
{{range .Comparison}}<h3>{{.Title}}</h3>
{{if .Lead}}<p>{{.Lead}}</p>{{end}}
{{if .Note}}<p>{{.Note}}</p>{{else}}<div class="scroll"><table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td{{if .Class}} class="{{.Class}}"{{end}}>{{.Text}}</td>{{end}}</tr>
{{end}}</table></div>{{end}}
{{else}}<p>No gated cell with an ungated partner: nothing to compare.</p>{{end}}
{{if .CompNotes}}<ul>{{range .CompNotes}}<li>{{.}}</li>{{end}}</ul>{{end}}

<h2 id="figures">Figures</h2>
{{if .Skipped}}<p>Not drawn from these records:</p><ul class="skipped">{{range .Skipped}}<li><b>{{.ID}}</b>: {{.Reason}}</li>{{end}}</ul>{{end}}
{{if .Figures}}<ol class="toc">{{range .Figures}}<li><a href="#{{.Anchor}}">{{.Title}}</a></li>{{end}}</ol>{{end}}
{{range .Figures}}<figure id="{{.Anchor}}">
<img src="{{.Src}}" alt="{{.Title}}">
<figcaption><b>{{.Title}}.</b> {{.Caption}} Files: {{range .Links}}<a href="{{.Href}}">{{.Name}}</a> {{end}}</figcaption>
</figure>
{{end}}
{{template "distributions" .Dists}}
{{template "tokenview" .Tokens}}
<h2 id="summary">Summary (summary.csv)</h2>
{{with .Summary}}<div class="scroll"><table>
<tr>{{range .Header}}<th>{{.}}</th>{{end}}</tr>
{{range .Rows}}<tr>{{range .}}<td>{{.Text}}</td>{{end}}</tr>
{{end}}</table></div>{{else}}<p>No summary.csv in this directory.</p>{{end}}

</body>
</html>
`))

// rebuildLockFile (in the figures directory) serialises rebuilds of one
// figures directory.
const rebuildLockFile = ".rebuild.lock"

// removeOwnTemps removes the temporary files a killed rebuild left in
// the output directory: only those of the files Generate writes there
// (report.html, comparison.csv|md), since other writers share it.
func removeOwnTemps(dir string) {
	for _, name := range []string{results.ReportFile, results.ComparisonCSVFile, results.ComparisonMDFile} {
		matches, _ := filepath.Glob(filepath.Join(dir, results.TempPrefix+name+"-*"))
		for _, m := range matches {
			os.Remove(m)
		}
	}
}
