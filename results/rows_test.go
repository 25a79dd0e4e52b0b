package results_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gatedpo/results"
)

// TestRecordHeaders pins the header of every record file: the column
// names and their order are the on-disk schema (earlier runs must load),
// so a renamed or reordered field of a row type must fail here.
func TestRecordHeaders(t *testing.T) {
	for _, c := range []struct {
		name string
		got  []string
		want string
	}{
		{"train.csv", results.Columns[results.TrainRow](), "stage,step,epoch,loss,rewards/chosen,rewards/rejected,rewards/margins,rewards/accuracies,logps/chosen,logps/rejected,grad_norm,lr,gate/mean_g,gate/frac_g_lt_0.5,gate/logp_q10,gate/logp_q50,gate/logp_q90"},
		{"probe_metrics.csv", results.Columns[results.ProbeMetricRow](), "step,split,lp_chosen,lptok_chosen,dlp_chosen,lp_rejected,dlp_rejected,lp_argmax,gap,top1_mass,entropy,collision,suppression,reward_acc,reward_margin"},
		{"probe_fields.csv", results.Columns[results.ProbeFieldRow](), "step,split,field,category,n,lp,lptok,dlp"},
		{"probe_examples.csv.gz", results.Columns[results.ProbeExampleRow](), "step,split,field,example,lp,ntok"},
		{"probe_tokens.csv.gz", results.Columns[results.ProbeTokenRow](), "step,split,field,example,position,token,text,logp,logp_max,gate"},
		{"toy_f1b.csv", results.Columns[results.ToyF1bRow](), "method,seed,step,logp_chosen,logp_rejected,top1_mass,entropy,top1_mass_rejected"},
	} {
		if got := strings.Join(c.got, ","); got != c.want {
			t.Errorf("%s header\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	for _, c := range [][2][]string{
		{results.TrainColumns, results.Columns[results.TrainRow]()},
		{results.ProbeMetricColumns, results.Columns[results.ProbeMetricRow]()},
		{results.ProbeFieldColumns, results.Columns[results.ProbeFieldRow]()},
		{results.ProbeExampleColumns, results.Columns[results.ProbeExampleRow]()},
		{results.ProbeTokenColumns, results.Columns[results.ProbeTokenRow]()},
		{results.ToyF1bColumns, results.Columns[results.ToyF1bRow]()},
	} {
		if !reflect.DeepEqual(c[0], c[1]) {
			t.Errorf("column list %v differs from its row type's %v", c[0], c[1])
		}
	}
}

func nan() float64 { return math.NaN() }

// sameRows compares rows field by field, NaN equal to NaN and -0 unequal
// to 0 (the bits must survive).
func sameRows[R any](a, b []R) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		va, vb := reflect.ValueOf(a[i]), reflect.ValueOf(b[i])
		for j := range va.NumField() {
			fa, fb := va.Field(j), vb.Field(j)
			if fa.Kind() == reflect.Float64 {
				x, y := fa.Float(), fb.Float()
				if math.Float64bits(x) != math.Float64bits(y) && !(math.IsNaN(x) && math.IsNaN(y)) {
					return false
				}
				continue
			}
			if fa.Interface() != fb.Interface() {
				return false
			}
		}
	}
	return true
}

func readPlain(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rd io.Reader = f
	if strings.HasSuffix(p, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		rd = zr
	}
	b, err := io.ReadAll(rd)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWriteRowsFormat checks the bytes WriteRows writes (integers in
// decimal, floats shortest round-trip, NaN and infinities spelled out,
// CSV quoting) and that reading them back and writing again gives the same
// bytes, which keeps resumed cells and their checkpoint digests identical.
func TestWriteRowsFormat(t *testing.T) {
	dir := t.TempDir()
	train := []results.TrainRow{
		{Stage: "sft", Step: 1, Epoch: 0.25, Loss: 3.5, RewardsChosen: nan(), RewardsRejected: nan(), RewardsMargins: nan(), RewardsAccuracies: nan(),
			LogpsChosen: nan(), LogpsRejected: nan(), GradNorm: 1e-300, LR: 0.001, GateMeanG: nan(), GateFracGLtHalf: nan(), GateLogpQ10: nan(), GateLogpQ50: nan(), GateLogpQ90: nan()},
		{Stage: "pref", Step: 12, Epoch: 2, Loss: 0.6931471805599453, RewardsChosen: math.Copysign(0, -1), RewardsRejected: -0.1, RewardsMargins: 0.1, RewardsAccuracies: 1,
			LogpsChosen: -123.456, LogpsRejected: math.Inf(-1), GradNorm: math.Inf(1), LR: 5e-7, GateMeanG: 0.5, GateFracGLtHalf: 1.0 / 3, GateLogpQ10: -1e21, GateLogpQ50: 123456789012, GateLogpQ90: 5e-324},
	}
	p := filepath.Join(dir, results.TrainCSVFile)
	if err := results.WriteRows(p, train); err != nil {
		t.Fatal(err)
	}
	want := strings.Join(results.TrainColumns, ",") + "\n" +
		"sft,1,0.25,3.5,NaN,NaN,NaN,NaN,NaN,NaN,1e-300,0.001,NaN,NaN,NaN,NaN,NaN\n" +
		"pref,12,2,0.6931471805599453,-0,-0.1,0.1,1,-123.456,-Inf,+Inf,5e-07,0.5,0.3333333333333333,-1e+21,1.23456789012e+11,5e-324\n"
	if got := readPlain(t, p); got != want {
		t.Fatalf("train.csv\n got %q\nwant %q", got, want)
	}
	back, err := results.ReadRows[results.TrainRow](p)
	if err != nil || !sameRows(back, train) {
		t.Fatalf("read back %+v (%v), want %+v", back, err, train)
	}

	tokens := []results.ProbeTokenRow{
		{Step: 0, Split: "heldout", Field: "chosen", Example: 1, Position: 0, Token: 72, Text: `a,"b"`, LogP: -1.5, LogPMax: -0.25, Gate: nan()},
		{Step: 10, Split: "heldout", Field: "rejected", Example: 1, Position: 3, Token: 2, Text: " the", LogP: -7, LogPMax: -0.5, Gate: 0.125},
		{Step: 10, Split: "heldout", Field: "rejected", Example: 1, Position: 4, Token: 3, Text: `\n\\`, LogP: -7, LogPMax: -0.5, Gate: 0.125},
		{Step: 10, Split: "heldout", Field: "rejected", Example: 1, Position: 5, Token: 50256, Text: "", LogP: -7, LogPMax: -0.5, Gate: 1},
	}
	p = filepath.Join(dir, results.ProbeTokensFile)
	if err := results.WriteRows(p, tokens); err != nil {
		t.Fatal(err)
	}
	want = strings.Join(results.ProbeTokenColumns, ",") + "\n" +
		"0,heldout,chosen,1,0,72,\"a,\"\"b\"\"\",-1.5,-0.25,NaN\n" +
		"10,heldout,rejected,1,3,2,\" the\",-7,-0.5,0.125\n" +
		"10,heldout,rejected,1,4,3,\\n\\\\,-7,-0.5,0.125\n" +
		"10,heldout,rejected,1,5,50256,,-7,-0.5,1\n"
	if got := readPlain(t, p); got != want {
		t.Fatalf("probe_tokens.csv.gz\n got %q\nwant %q", got, want)
	}
	first, _ := os.ReadFile(p)
	toks, err := results.ReadRows[results.ProbeTokenRow](p)
	if err != nil || !sameRows(toks, tokens) {
		t.Fatalf("read back %+v (%v)", toks, err)
	}
	if err := results.WriteRows(p, toks); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(p); !bytes.Equal(first, again) {
		t.Error("probe_tokens.csv.gz: written, read and written again: the compressed bytes differ")
	}
}

// TestRowsDigestAndAppend checks that RowsDigest is the sha256 of a file's
// rows as written (without the header) and that AppendRows continues a
// file to the bytes one WriteRows of all rows writes.
func TestRowsDigestAndAppend(t *testing.T) {
	dir := t.TempDir()
	rows := []results.ProbeMetricRow{
		{Step: 0, Split: "train", LPChosen: -10, LPTokChosen: -1.25, Suppression: nan(), RewardAcc: nan(), RewardMargin: nan()},
		{Step: 0, Split: "heldout", LPChosen: -11, Gap: 3, Top1Mass: 0.5},
		{Step: 5, Split: "heldout", LPChosen: -9.5, DLPChosen: 1.5, Gap: 2, Top1Mass: 0.625, Suppression: 0.5, RewardAcc: 1, RewardMargin: 0.75},
	}
	all := filepath.Join(dir, "all.csv")
	if err := results.WriteRows(all, rows); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(all)
	body := string(b)[strings.IndexByte(string(b), '\n')+1:]
	sum := sha256.Sum256([]byte(body))
	if got := results.RowsDigest(rows); got != hex.EncodeToString(sum[:]) {
		t.Errorf("RowsDigest %s, want the sha256 of the file's rows %x", got, sum)
	}
	if results.RowsDigest(rows[:2]) == results.RowsDigest(rows) {
		t.Error("RowsDigest does not see a dropped row")
	}
	part := filepath.Join(dir, "part.csv")
	if err := results.WriteRows(part, rows[:1]); err != nil {
		t.Fatal(err)
	}
	if err := results.AppendRows(part, rows[1:]); err != nil {
		t.Fatal(err)
	}
	if err := results.AppendRows(part, rows[:0]); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(part); !bytes.Equal(got, b) {
		t.Errorf("written then appended:\n%s\nwant\n%s", got, b)
	}
	if err := results.AppendRows(filepath.Join(dir, "x.csv.gz"), rows); err == nil {
		t.Error("AppendRows to a .gz file: no error")
	}
}

// TestReadRowsTolerance checks what ReadRows accepts besides its own
// output (columns in another order, unknown columns, integers written as
// floats, empty floats, a missing optional column) and that it refuses a
// missing required column or a malformed value, naming the file, line and
// column.
func TestReadRowsTolerance(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, results.ProbeFieldsFile)
	os.WriteFile(p, []byte("extra,dlp,field,split,step,lp\nz,-1.5,irr_hum,heldout,10.0,\n"), 0o644)
	rows, err := results.ReadRows[results.ProbeFieldRow](p)
	if err != nil {
		t.Fatal(err)
	}
	want := []results.ProbeFieldRow{{Step: 10, Split: "heldout", Field: "irr_hum", Category: results.CategoryIrrelevant, DLP: -1.5, LP: nan(), LPTok: nan()}}
	if !sameRows(rows, want) {
		t.Errorf("got %+v, want %+v", rows, want)
	}
	p = filepath.Join(dir, results.ToyF1bFile)
	os.WriteFile(p, []byte("method,seed,step,logp_chosen,logp_rejected,top1_mass,entropy\ndpo,1,0,-1,-2,0.5,1\n"), 0o644)
	toy, err := results.ReadRows[results.ToyF1bRow](p)
	if err != nil || len(toy) != 1 || !math.IsNaN(toy[0].Top1MassRejected) || toy[0].Method != "dpo" || toy[0].Entropy != 1 {
		t.Errorf("toy_f1b.csv without top1_mass_rejected: %+v, %v", toy, err)
	}
	for _, c := range []struct{ file, text, want string }{
		{results.TrainCSVFile, "step,loss\n1,2\n", "missing column(s) stage"},
		{results.ProbeExamplesFile + ".csv", "step,split,field,lp\n", "missing column(s) example, ntok"},
		{results.TrainCSVFile, "stage,step,loss\npref,1.5,2\n", "line 2: column step: expected an integer, got \"1.5\""},
		{results.TrainCSVFile, "stage,step,loss\npref,1,2\npref,2,x\n", "line 3: column loss: expected a number, got \"x\""},
		{results.TrainCSVFile, "stage,step,loss\npref,1\n", "wrong number of fields"},
		{results.TrainCSVFile, "", "empty file"},
		{results.ProbeTokensFile + ".csv", strings.Join(results.ProbeTokenColumns, ",") + "\n0,heldout,chosen,0,0,72,\\q,-1,-1,NaN\n", "line 2: column text:"},
	} {
		p := filepath.Join(dir, c.file)
		os.WriteFile(p, []byte(c.text), 0o644)
		var err error
		switch {
		case strings.HasPrefix(c.file, results.ProbeExamplesFile):
			_, err = results.ReadRows[results.ProbeExampleRow](p)
		case strings.HasPrefix(c.file, results.ProbeTokensFile):
			_, err = results.ReadRows[results.ProbeTokenRow](p)
		default:
			_, err = results.ReadRows[results.TrainRow](p)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%q: %v, want an error naming %s and %q", c.text, err, p, c.want)
		}
	}
	p = filepath.Join(dir, results.ProbeExamplesFile)
	os.WriteFile(p, []byte("step,split,field,example,lp,ntok\n"), 0o644)
	if _, err := results.ReadRows[results.ProbeExampleRow](p); err == nil || !strings.Contains(err.Error(), "expected a gzip file") {
		t.Errorf("plain text as .csv.gz: %v", err)
	}
	if _, err := results.ReadRows[results.TrainRow](filepath.Join(dir, "nope.csv")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v, want a not-exist error", err)
	}
}

// TestCellRecords writes a cell's five record files, reads them back and
// checks the digests against the files and that a cell without
// probe_tokens.csv.gz (recorded before it existed) still reads.
func TestCellRecords(t *testing.T) {
	dir := t.TempDir()
	rec := &results.CellRecords{
		Train:    []results.TrainRow{{Stage: "pref", Step: 1, Loss: 0.5, GateMeanG: nan()}},
		Metrics:  []results.ProbeMetricRow{{Step: 0, Split: "heldout", LPChosen: -3, Suppression: nan()}},
		Fields:   []results.ProbeFieldRow{{Step: 0, Split: "heldout", Field: "chosen", Category: results.CategoryChosen, N: 2, LP: -3, LPTok: -1, DLP: 0}},
		Examples: []results.ProbeExampleRow{{Step: 0, Split: "heldout", Field: "chosen", Example: 0, LP: -2, NTok: 2}, {Step: 0, Split: "heldout", Field: "chosen", Example: 1, LP: -4, NTok: 4}},
		Tokens:   []results.ProbeTokenRow{{Step: 0, Split: "heldout", Field: "chosen", Example: 0, Position: 0, Token: 5, Text: "x", LogP: -1, LogPMax: -0.5, Gate: nan()}},
	}
	if err := rec.Write(dir); err != nil {
		t.Fatal(err)
	}
	back, err := results.ReadCellRecords(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !sameRows(back.Train, rec.Train) || !sameRows(back.Metrics, rec.Metrics) || !sameRows(back.Fields, rec.Fields) ||
		!sameRows(back.Examples, rec.Examples) || !sameRows(back.Tokens, rec.Tokens) {
		t.Errorf("read back %+v, want %+v", back, rec)
	}
	digests := rec.Digests()
	if len(digests) != 5 {
		t.Fatalf("%d digests, want 5", len(digests))
	}
	for name, d := range digests {
		text := readPlain(t, filepath.Join(dir, name))
		sum := sha256.Sum256([]byte(text[strings.IndexByte(text, '\n')+1:]))
		if d != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: digest %s is not the sha256 of its rows", name, d)
		}
	}
	os.Remove(filepath.Join(dir, results.ProbeTokensFile))
	if back, err := results.ReadCellRecords(dir); err != nil || len(back.Tokens) != 0 || len(back.Examples) != 2 {
		t.Errorf("without probe_tokens.csv.gz: %v", err)
	}
	os.Remove(filepath.Join(dir, results.ProbeFieldsFile))
	if _, err := results.ReadCellRecords(dir); err == nil {
		t.Error("without probe_fields.csv: no error")
	}
}

// TestFinalMetrics checks the summary metrics read from probe rows: the
// held-out rows only, first and last in file order, the peak over all,
// non-finite values left out, nil without a held-out row.
func TestFinalMetrics(t *testing.T) {
	rows := []results.ProbeMetricRow{
		{Step: 0, Split: "train", LPChosen: 100},
		{Step: 0, Split: "heldout", LPChosen: -10, LPRejected: -12, LPArgmax: -4, Gap: 6, Top1Mass: 0.5, Suppression: nan(), RewardAcc: nan()},
		{Step: 5, Split: "heldout", LPChosen: -8, LPRejected: -20, LPArgmax: -3, Gap: 5, Top1Mass: 0.75, Suppression: 0.5, RewardAcc: 1},
		{Step: 10, Split: "heldout", LPChosen: -9, LPRejected: -25, LPArgmax: -2, Gap: 7, Top1Mass: 0.875, Suppression: 0.25, RewardAcc: math.Inf(1)},
	}
	want := map[string]float64{
		"lp_chosen_0": -10, "lp_chosen_peak": -8, "lp_chosen_final": -9, "lp_rejected_0": -12, "lp_rejected_final": -25,
		"lp_argmax_0": -4, "lp_argmax_final": -2, "gap_0": 6, "gap_final": 7, "top1_mass_0": 0.5, "top1_mass_final": 0.875,
		"suppression_final": 0.25,
	}
	if got := results.FinalMetrics(rows); !reflect.DeepEqual(got, want) {
		t.Errorf("FinalMetrics\n got %v\nwant %v", got, want)
	}
	if got := results.FinalMetrics(rows[:1]); got != nil {
		t.Errorf("no held-out row: %v, want nil", got)
	}
}
