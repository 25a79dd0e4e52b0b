package results_test

import (
	"bytes"
	"compress/gzip"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/results"
)

// TestEscapeTokenText checks the escapes of probe_tokens.csv.gz text and
// that UnescapeTokenText reverses them for arbitrary bytes.
func TestEscapeTokenText(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", " é": " é", "a\nb": `a\nb`, "\r\t": `\r\t`, `\`: `\\`, "\x01\x7f": `\u0001\u007f`,
		"\u0085": `\u0085`, "\xe2": `\xe2`, "\xe2\x82": `\xe2\x82`, "€": "€", `\n`: `\\n`, `"<b>",`: `"<b>",`,
	} {
		if got := results.EscapeTokenText(in); got != want {
			t.Errorf("EscapeTokenText(%q) = %q, want %q", in, got, want)
		}
		if back, err := results.UnescapeTokenText(want); err != nil || back != in {
			t.Errorf("UnescapeTokenText(%q) = %q, %v; want %q", want, back, err, in)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, rng.IntN(6))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		esc := results.EscapeTokenText(string(b))
		if strings.ContainsAny(esc, "\n\r\t\x00") {
			t.Fatalf("escaped %q still has a control character: %q", b, esc)
		}
		if back, err := results.UnescapeTokenText(esc); err != nil || back != string(b) {
			t.Fatalf("round trip of %q: %q via %q (%v)", b, back, esc, err)
		}
	}
	for _, bad := range []string{`\`, `\q`, `\x4`, `\u12`, `\xzz`} {
		if _, err := results.UnescapeTokenText(bad); err == nil {
			t.Errorf("UnescapeTokenText(%q): no error", bad)
		}
	}
}

func writeGz(t *testing.T, path, text string) {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(text))
	zw.Close()
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestReadProbeTokens reads a small probe_tokens.csv.gz and checks that a
// malformed one is refused with the file, line and column.
func TestReadProbeTokens(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, results.ProbeTokensFile)
	header := strings.Join(results.ProbeTokenColumns, ",") + "\n"
	writeGz(t, p, header+"0,heldout,chosen,1,0,72,\"a,\\n\",-1.5,-0.25,NaN\n10,heldout,rejected,1,3,2,,-7,-0.5,0.125\n")
	rows, err := results.ReadRows[results.ProbeTokenRow](p)
	if err != nil {
		t.Fatal(err)
	}
	want := []results.ProbeTokenRow{
		{Step: 0, Split: "heldout", Field: "chosen", Example: 1, Position: 0, Token: 72, Text: `a,\n`, LogP: -1.5, LogPMax: -0.25, Gate: math.NaN()},
		{Step: 10, Split: "heldout", Field: "rejected", Example: 1, Position: 3, Token: 2, Text: "", LogP: -7, LogPMax: -0.5, Gate: 0.125},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i := range want {
		g, w := rows[i], want[i]
		if math.IsNaN(w.Gate) != math.IsNaN(g.Gate) || (!math.IsNaN(w.Gate) && g.Gate != w.Gate) {
			t.Errorf("row %d gate %v, want %v", i, g.Gate, w.Gate)
		}
		g.Gate, w.Gate = 0, 0
		if g != w {
			t.Errorf("row %d = %+v, want %+v", i, g, w)
		}
	}
	for _, c := range []struct{ text, want string }{
		{header + "0,heldout,chosen,0,0,72,a,x,-1,NaN\n", "line 2: column logp: expected a number"},
		{header + "0,heldout,chosen,0,0,72,\\q,-1,-1,NaN\n", "line 2: column text:"},
		{"step,split,field\n", "missing column(s) example"},
	} {
		writeGz(t, p, c.text)
		if _, err := results.ReadRows[results.ProbeTokenRow](p); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("ReadRows[ProbeTokenRow](%q): %v, want an error naming the file and %q", c.text, err, c.want)
		}
	}
}
