package plots

// The token view of report.html: for the first few held-out probe pairs,
// the chosen and rejected responses token by token, each token coloured by
// its ΔLP = log π(token | prefix) at the cell's last probe minus at step 0,
// for an ungated cell and a gated cell that differ only in the gate (same
// context and seed), side by side. The title of each token (shown on hover)
// gives its log-probs, probabilities and, on rejected tokens, the gate
// value the cell's gate gave it. Everything is read from the cells'
// probe_tokens.csv.gz (results.ProbeTokenColumns).

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"

	"gatedpo/results"
)

// MaxTokenViewPairs is how many (ungated, gated) cell pairs the token view
// shows; further pairs are counted in a note.
const MaxTokenViewPairs = 8

// tvToken is one token as the view draws it.
type tvToken struct {
	Text    string       // display text (DisplayTokenText)
	Style   template.CSS // background colour from ΔLP
	Title   string       // hover text
	Key     string       // "field/example/position"
	DLP     string       // ΔLP, shortest round-trip
	Special bool         // a special token (no text)
}

// tvResponse is one response of one cell.
type tvResponse struct {
	Field  string
	Tokens []tvToken
	Note   string // ΣΔLP, and the mean gate of a rejected response
}

// tvSide is one of the two cells of a pair.
type tvSide struct {
	Label       string // gate label
	Cell        string // cell id
	First, Last int    // the probe steps compared
}

// tvExample is one held-out pair under both cells: Rows[0] chosen,
// Rows[1] rejected; [0] ungated, [1] gated.
type tvExample struct {
	Example int
	Rows    [][2]tvResponse
}

// tvPair is one (ungated, gated) pair of cells.
type tvPair struct {
	Title    string
	Open     bool
	Sides    [2]tvSide
	Scale    string // colour scale: |ΔLP| at full colour (nats)
	NegColor template.CSS
	PosColor template.CSS
	Examples []tvExample
}

// tokenViewData is the token-view section of report.html.
type tokenViewData struct {
	NExamples int          // results.ProbeTokenExamples
	File      string       // results.ProbeTokensFile
	Neg, Pos  template.CSS // full-scale colours, for the explanation
	Pairs     []tvPair
	Notes     []string
	Omitted   int // pairs not shown (MaxTokenViewPairs)
}

// buildTokenView pairs every gated cell with the ungated cell of the same
// context and seed (the first common seed of each gate, in the order of
// results.GroupCells) and draws the pairs whose cells both recorded
// probe_tokens.csv.gz. Unreadable records become notes, not errors.
func buildTokenView(sw *results.Sweep) *tokenViewData {
	tv := &tokenViewData{NExamples: results.ProbeTokenExamples, File: results.ProbeTokensFile, Neg: cssColor(-1, 1), Pos: cssColor(1, 1)}
	if n := omittedNote(sw, results.ProbeTokensFile); n != "" {
		tv.Notes = append(tv.Notes, n)
	}
	groups := results.GroupCells(sw.Cells)
	ungated := map[string]*results.Group{}
	for _, g := range groups {
		if g.Gate.Ungated() {
			if _, ok := ungated[g.Context.Key]; !ok {
				ungated[g.Context.Key] = g
			}
		}
	}
	cache := map[string][]results.ProbeTokenRow{}
	load := func(c *results.Cell) []results.ProbeTokenRow {
		if rows, ok := cache[c.ID]; ok {
			return rows
		}
		rows, ok, err := c.LoadTokens()
		if err != nil {
			tv.Notes = append(tv.Notes, err.Error())
		}
		if !ok {
			rows = nil
		}
		cache[c.ID] = rows
		return rows
	}
	missing := 0
	for _, g := range groups {
		u := ungated[g.Context.Key]
		if g.Gate.Ungated() || u == nil {
			continue
		}
		if len(tv.Pairs) >= MaxTokenViewPairs {
			tv.Omitted++
			continue
		}
		var uc, gc *results.Cell
		for _, c := range g.Cells {
			for _, d := range u.Cells {
				if d.Config.Seed == c.Config.Seed && uc == nil && len(load(d)) > 0 && len(load(c)) > 0 {
					uc, gc = d, c
				}
			}
		}
		if uc == nil {
			missing++
			continue
		}
		p, err := tokenPair(g.Context, uc, gc, load(uc), load(gc))
		if err != nil {
			tv.Notes = append(tv.Notes, err.Error())
			continue
		}
		p.Open = len(tv.Pairs) == 0
		tv.Pairs = append(tv.Pairs, p)
	}
	if missing > 0 {
		tv.Notes = append(tv.Notes, fmt.Sprintf("%d gated configuration(s) have no ungated cell of the same context and seed with %s.", missing, results.ProbeTokensFile))
	}
	if tv.Omitted > 0 {
		tv.Notes = append(tv.Notes, fmt.Sprintf("%d further pair(s) not shown (at most %d).", tv.Omitted, MaxTokenViewPairs))
	}
	return tv
}

// tokenKey identifies a token of a cell's token records.
type tokenKey struct {
	field        string
	example, pos int
}

// tokenSteps returns a cell's token rows at its first and last probe step
// on the held-out split.
func tokenSteps(rows []results.ProbeTokenRow) (first, last int, at0, atN map[tokenKey]results.ProbeTokenRow) {
	first, last = math.MaxInt, math.MinInt
	for _, r := range rows {
		if r.Split == results.SplitHeldout {
			first, last = min(first, r.Step), max(last, r.Step)
		}
	}
	at0, atN = map[tokenKey]results.ProbeTokenRow{}, map[tokenKey]results.ProbeTokenRow{}
	for _, r := range rows {
		if r.Split != results.SplitHeldout {
			continue
		}
		k := tokenKey{r.Field, r.Example, r.Position}
		if r.Step == first {
			at0[k] = r
		}
		if r.Step == last {
			atN[k] = r
		}
	}
	return first, last, at0, atN
}

func tokenPair(ctx results.Context, uc, gc *results.Cell, urows, grows []results.ProbeTokenRow) (tvPair, error) {
	p := tvPair{Title: fmt.Sprintf("%s · seed %d: ungated vs %s", ctx.Label(), gc.Config.Seed, results.GateLabel(gc.Config.Gate))}
	cells := [2]*results.Cell{uc, gc}
	var steps [2][2]int
	var at0, atN [2]map[tokenKey]results.ProbeTokenRow
	for i, rows := range [2][]results.ProbeTokenRow{urows, grows} {
		steps[i][0], steps[i][1], at0[i], atN[i] = tokenSteps(rows)
		p.Sides[i] = tvSide{Label: results.GateLabel(cells[i].Config.Gate), Cell: cells[i].ID, First: steps[i][0], Last: steps[i][1]}
	}
	p.Sides[0].Label = "ungated (" + p.Sides[0].Label + ")"
	// the tokens both cells recorded, in (example, field, position) order
	var keys []tokenKey
	for k := range at0[0] {
		if _, ok := at0[1][k]; ok {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.example != b.example {
			return a.example < b.example
		}
		if a.field != b.field {
			return a.field == "chosen"
		}
		return a.pos < b.pos
	})
	if len(keys) == 0 {
		return p, fmt.Errorf("cells %s and %s: no token recorded by both", uc.ID, gc.ID)
	}
	dlp := func(i int, k tokenKey) float64 {
		a, ok0 := at0[i][k]
		b, okN := atN[i][k]
		if !ok0 || !okN || a.Token != b.Token {
			return math.NaN()
		}
		return b.LogP - a.LogP
	}
	var abs []float64
	for _, k := range keys {
		if at0[0][k].Token != at0[1][k].Token {
			return p, fmt.Errorf("cells %s and %s: %s of held-out pair %d differs at token %d (different data?)", uc.ID, gc.ID, k.field, k.example, k.pos)
		}
		for i := range 2 {
			if d := dlp(i, k); !math.IsNaN(d) {
				abs = append(abs, math.Abs(d))
			}
		}
	}
	scale := tokenColorScale(abs)
	p.Scale = strconv.FormatFloat(scale, 'g', -1, 64)
	p.NegColor, p.PosColor = cssColor(-1, 1), cssColor(1, 1)
	var cur *tvExample
	for _, k := range keys {
		if cur == nil || cur.Example != k.example {
			p.Examples = append(p.Examples, tvExample{Example: k.example})
			cur = &p.Examples[len(p.Examples)-1]
		}
		row := 0
		if k.field != "chosen" {
			row = 1
		}
		for len(cur.Rows) <= row {
			cur.Rows = append(cur.Rows, [2]tvResponse{})
		}
		for i := range 2 {
			r := &cur.Rows[row][i]
			r.Field = k.field
			a, b := at0[i][k], atN[i][k]
			d := dlp(i, k)
			text, special := DisplayTokenText(a.Text, a.Token)
			r.Tokens = append(r.Tokens, tvToken{Text: text, Special: special, Style: cssColor(d, scale),
				Key: fmt.Sprintf("%s/%d/%d", k.field, k.example, k.pos), DLP: strconv.FormatFloat(d, 'g', -1, 64),
				Title: tokenTitle(a, b, d, p.Sides[i], cells[i].Config.Gate)})
		}
	}
	for e := range p.Examples {
		for row := range p.Examples[e].Rows {
			for i := range 2 {
				p.Examples[e].Rows[row][i].Note = responseNote(at0[i], atN[i], p.Examples[e].Rows[row][i].Field, p.Examples[e].Example)
			}
		}
	}
	return p, nil
}

// tokenColorScale is the |ΔLP| drawn at full colour: the 95th percentile of
// the pair's |ΔLP| rounded up to 1, 2 or 5 × 10^k nats (at least 0.01), so
// a few outliers do not wash out the rest.
func tokenColorScale(abs []float64) float64 {
	if len(abs) == 0 {
		return 1
	}
	sort.Float64s(abs)
	q := abs[int(math.Ceil(0.95*float64(len(abs))))-1]
	q = math.Max(q, 0.01)
	e := math.Pow(10, math.Floor(math.Log10(q)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*e >= q*(1-1e-12) {
			return m * e
		}
	}
	return 10 * e
}

// TokenColor is the background of a token with change d (nats) on a scale
// where |d| = scale is full colour: white at 0, linearly to red
// (215, 48, 39) for d < 0 (the token lost probability) and to blue
// (33, 102, 172) for d > 0, clipped at |d| = scale; grey (221, 221, 221)
// when d is not a number (the token is missing at one of the steps).
func TokenColor(d, scale float64) (r, g, b uint8) {
	if math.IsNaN(d) {
		return 221, 221, 221
	}
	t := math.Min(1, math.Abs(d)/scale)
	to := [3]float64{33, 102, 172}
	if d < 0 {
		to = [3]float64{215, 48, 39}
	}
	c := func(x float64) uint8 { return uint8(math.Round(255 + t*(x-255))) }
	return c(to[0]), c(to[1]), c(to[2])
}

func cssColor(d, scale float64) template.CSS {
	r, g, b := TokenColor(d, scale)
	return template.CSS(fmt.Sprintf("background-color: rgb(%d, %d, %d)", r, g, b))
}

// DisplayTokenText turns a token's escaped text (results.EscapeTokenText)
// into what the view shows: newline as ↵ followed by a line break, tab as
// ⇥, carriage return as ␍, a backslash as itself; other escapes (\xNN of a
// partial UTF-8 character, \uXXXX of a control character) stay written
// out. An empty text (a special token) shows as ⟨id⟩ and special is true.
func DisplayTokenText(escaped string, id int) (text string, special bool) {
	if escaped == "" {
		return "⟨" + strconv.Itoa(id) + "⟩", true
	}
	var b strings.Builder
	for i := 0; i < len(escaped); i++ {
		c := escaped[i]
		if c != '\\' || i+1 == len(escaped) {
			b.WriteByte(c)
			continue
		}
		i++
		switch escaped[i] {
		case 'n':
			b.WriteString("↵\n")
		case 't':
			b.WriteString("⇥")
		case 'r':
			b.WriteString("␍")
		case '\\':
			b.WriteByte('\\')
		default:
			b.WriteByte('\\')
			b.WriteByte(escaped[i])
		}
	}
	return b.String(), false
}

// tokenTitle is the hover text of one token.
func tokenTitle(a, b results.ProbeTokenRow, d float64, side tvSide, gate results.GateSpec) string {
	var s strings.Builder
	text, _ := DisplayTokenText(a.Text, a.Token)
	fmt.Fprintf(&s, "%q · token %d · position %d\n", strings.ReplaceAll(text, "↵\n", "↵"), a.Token, a.Position)
	fmt.Fprintf(&s, "ΔLP = %s nats (step %d → %d)\n", fmtG(d, 4), side.First, side.Last)
	fmt.Fprintf(&s, "log p: %s → %s\n", fmtG(a.LogP, 4), fmtG(b.LogP, 4))
	fmt.Fprintf(&s, "p = %s → %s", fmtG(math.Exp(a.LogP), 3), fmtG(math.Exp(b.LogP), 3))
	if gate.Relative {
		fmt.Fprintf(&s, "\np / max p = %s → %s", fmtG(math.Exp(a.LogP-a.LogPMax), 3), fmtG(math.Exp(b.LogP-b.LogPMax), 3))
	}
	if a.Field != "rejected" {
		return s.String()
	}
	switch {
	case math.IsNaN(a.Gate) && math.IsNaN(b.Gate):
		s.WriteString("\ng: no gate applied (the objective does not read the rejected log-probs)")
	case gate.Ungated():
		fmt.Fprintf(&s, "\ng = %s → %s (no gate)", fmtG(a.Gate, 3), fmtG(b.Gate, 3))
	default:
		what := "g(p)"
		if gate.Relative {
			what = "g(p / max p)"
		}
		if gate.Level == "sequence" {
			what += " of the whole response (sequence level)"
		}
		fmt.Fprintf(&s, "\n%s = %s → %s [%s]", what, fmtG(a.Gate, 3), fmtG(b.Gate, 3), results.GateLabel(gate))
	}
	return s.String()
}

// responseNote summarises one response: ΣΔLP and, for a rejected
// response, its mean gate at the first and last step.
func responseNote(at0, atN map[tokenKey]results.ProbeTokenRow, field string, example int) string {
	var sum, g0, gN float64
	n, ng := 0, 0
	for k, a := range at0 {
		if k.field != field || k.example != example {
			continue
		}
		b, ok := atN[k]
		if !ok {
			continue
		}
		sum += b.LogP - a.LogP
		n++
		if !math.IsNaN(a.Gate) && !math.IsNaN(b.Gate) {
			g0 += a.Gate
			gN += b.Gate
			ng++
		}
	}
	s := fmt.Sprintf("ΔLP = %s nats over %d tokens", fmtG(sum, 3), n)
	if field == "rejected" && ng > 0 {
		s += fmt.Sprintf("; mean g %s → %s", fmtG(g0/float64(ng), 3), fmtG(gN/float64(ng), 3))
	}
	return s
}

// fmtG formats x with n significant digits, with a real minus sign.
func fmtG(x float64, n int) string {
	return strings.Replace(strconv.FormatFloat(x, 'g', n, 64), "-", "−", 1)
}

var _ = template.Must(reportTemplate.New("tokenview").Parse(`{{with .}}
<h2 id="tokens">Token view</h2>
<p>The chosen and rejected responses of the first {{$.NExamples}} held-out probe pairs, token by token, under an ungated cell (left) and a gated cell of the same context and seed (right). Each token is coloured by ΔLP = log π(token | prefix) at the cell's last probe minus at step 0: <span class="tk" style="{{$.Neg}}">red</span> lost probability, <span class="tk" style="{{$.Pos}}">blue</span> gained it, full colour at the pair's scale. Hover a token for its log-probs and probabilities; on a rejected token also the gate value g the cell's gate gave it at step 0 and at the last probe (what the gate multiplies that token's gradient by). Where ungated DPO squeezes, low-probability rejected tokens turn deep red on the left and the chosen response with them; a gate with g ≈ 0 on them leaves them paler on the right. From the cells' {{$.File}}.</p>
{{range .Pairs}}<details class="tv" data-scale="{{.Scale}}"{{if .Open}} open{{end}}><summary>{{.Title}}</summary>
<p class="tvlegend">Scale: <span class="tk" style="{{.NegColor}}">−{{.Scale}}</span><span class="tvbar"></span><span class="tk" style="{{.PosColor}}">+{{.Scale}}</span> nats ΔLP (clipped beyond).</p>
{{$p := .}}{{range .Examples}}<h4>Held-out pair {{.Example}}</h4>
<div class="tvgrid">
<div class="tvhead">{{(index $p.Sides 0).Label}} · cell <code>{{(index $p.Sides 0).Cell}}</code> · step {{(index $p.Sides 0).First}} → {{(index $p.Sides 0).Last}}</div><div class="tvhead">{{(index $p.Sides 1).Label}} · cell <code>{{(index $p.Sides 1).Cell}}</code> · step {{(index $p.Sides 1).First}} → {{(index $p.Sides 1).Last}}</div>
{{range .Rows}}{{range $i, $r := .}}<div class="tvresp" data-cell="{{(index $p.Sides $i).Cell}}" data-field="{{$r.Field}}"><div class="tvfield">{{$r.Field}}</div><div class="tvtext">{{range $r.Tokens}}<span class="tk{{if .Special}} sp{{end}}" data-k="{{.Key}}" data-dlp="{{.DLP}}" style="{{.Style}}" title="{{.Title}}">{{.Text}}</span>{{end}}</div><div class="tvnote">{{$r.Note}}</div></div>
{{end}}{{end}}</div>
{{end}}</details>
{{else}}<p>No gated cell with an ungated cell of the same context and seed that recorded {{$.File}}: nothing to show.</p>{{end}}
{{if .Notes}}<ul class="skipped">{{range .Notes}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{end}}`))

// extra-css styles the distributions and the token view, and keeps every
// block of the page within its width: wide tables scroll inside their box,
// long words (paths, ids, failure reasons) wrap.
var _ = template.Must(reportTemplate.New("extra-css").Parse(`
body { overflow-wrap: anywhere; }
.scroll { max-width: 100%; overflow-x: auto; }
.scroll table { overflow-wrap: normal; }
.dists { display: flex; flex-wrap: wrap; gap: 0.8em; }
.dists svg { max-width: 100%; height: auto; border: 1px solid #e2e2e2; background: #fff; }
.swatch { display: inline-block; width: 0.9em; height: 0.9em; margin-right: 0.4em; vertical-align: -0.1em; }
details.tv { border: 1px solid #ddd; padding: 0.3em 0.7em; margin: 0.6em 0; }
details.tv > summary { font-weight: bold; }
.tvlegend { font-size: 0.88em; }
.tvbar { display: inline-block; width: 9em; height: 0.8em; margin: 0 0.3em; vertical-align: -0.05em;
  background: linear-gradient(to right, rgb(215, 48, 39), rgb(255, 255, 255), rgb(33, 102, 172)); }
.tvgrid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0.4em 1em; margin-bottom: 1em; }
.tvhead { font-size: 0.85em; color: #444; border-bottom: 1px solid #ccc; }
.tvresp { min-width: 0; }
.tvfield { font-size: 0.8em; color: #666; text-transform: uppercase; letter-spacing: 0.04em; }
.tvtext { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.9em; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.7; }
.tk { border-radius: 2px; padding: 1px 0; }
.tvtext .tk:hover { outline: 1px solid #333; }
.tk.sp { color: #777; font-style: italic; }
.tvnote { font-size: 0.8em; color: #555; margin-top: 0.2em; }
`))
