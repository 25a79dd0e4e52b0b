package results

// This file is the one codec of the CSV record files: every row type of
// schema.go (TrainRow, ProbeMetricRow, ProbeFieldRow, ProbeExampleRow,
// ProbeTokenRow, ToyF1bRow) is written by WriteRows (or AppendRows) and
// read by ReadRows, whoever the writer or reader is (the sweep, its
// resume, the summary, the TensorBoard view, LoadSweep, the figures).
//
// A row type's fields map to the file's columns through their csv tags,
// in field order: `csv:"name"`, or `csv:"name,required"` for a column
// that a file must have (ReadRows refuses a file without it; a missing
// optional column reads as NaN, 0 or ""). Fields are string, int or
// float64; the encoding is the one schema.go states: integers in decimal,
// floats with FormatFloat (strconv 'g' −1, "NaN", "+Inf", "-Inf"), so a
// value read back and written again gives the same bytes.

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// RecordRow is the set of typed record rows, one type per CSV record file.
type RecordRow interface {
	TrainRow | ProbeMetricRow | ProbeFieldRow | ProbeExampleRow | ProbeTokenRow | ToyF1bRow
}

// column is one column of a row type: a field with its csv tag.
type column struct {
	name     string
	field    int          // index of the struct field
	kind     reflect.Kind // reflect.String, reflect.Int or reflect.Float64
	required bool
}

// rowLayout is the column list of a row type.
type rowLayout struct {
	cols  []column
	index map[string]int // column name → position in cols
}

var layouts sync.Map // reflect.Type → *rowLayout

// layoutOf returns the columns of row type R, from its csv tags. It
// panics on a field without a tag or of another kind: a programming
// error in schema.go that every test would hit.
func layoutOf[R RecordRow]() *rowLayout {
	t := reflect.TypeFor[R]()
	if l, ok := layouts.Load(t); ok {
		return l.(*rowLayout)
	}
	l := &rowLayout{index: map[string]int{}}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("csv")
		if !ok {
			panic(fmt.Sprintf("results: %s.%s has no csv tag", t.Name(), f.Name))
		}
		name, opt, _ := strings.Cut(tag, ",")
		k := f.Type.Kind()
		if k != reflect.String && k != reflect.Int && k != reflect.Float64 {
			panic(fmt.Sprintf("results: %s.%s: a record field is a string, an int or a float64, not %s", t.Name(), f.Name, k))
		}
		if _, dup := l.index[name]; dup || name == "" || (opt != "" && opt != "required") {
			panic(fmt.Sprintf("results: %s.%s: bad csv tag %q", t.Name(), f.Name, tag))
		}
		l.index[name] = len(l.cols)
		l.cols = append(l.cols, column{name: name, field: i, kind: k, required: opt == "required"})
	}
	v, _ := layouts.LoadOrStore(t, l)
	return v.(*rowLayout)
}

// Columns returns the column names of row type R, in file order: the
// header its file has.
func Columns[R RecordRow]() []string {
	l := layoutOf[R]()
	out := make([]string, len(l.cols))
	for i, c := range l.cols {
		out[i] = c.name
	}
	return out
}

// encode formats one row as its CSV record.
func (l *rowLayout) encode(v reflect.Value, rec []string) []string {
	rec = rec[:0]
	for _, c := range l.cols {
		f := v.Field(c.field)
		switch c.kind {
		case reflect.String:
			rec = append(rec, f.String())
		case reflect.Int:
			rec = append(rec, FormatInt(int(f.Int())))
		default:
			rec = append(rec, FormatFloat(f.Float()))
		}
	}
	return rec
}

// records formats rows as CSV records (no header).
func records[R RecordRow](rows []R) [][]string {
	l := layoutOf[R]()
	out := make([][]string, len(rows))
	for i := range rows {
		out[i] = l.encode(reflect.ValueOf(&rows[i]).Elem(), make([]string, 0, len(l.cols)))
	}
	return out
}

// WriteRows writes rows, with their header, to path atomically
// (WriteCSVAtomic: a path ending in ".gz" is gzip-compressed,
// deterministically).
func WriteRows[R RecordRow](path string, rows []R) error {
	return WriteCSVAtomic(path, Columns[R](), records(rows))
}

// AppendRows appends rows to the end of a CSV file that WriteRows wrote
// (not a ".gz" one). Unlike WriteRows it is not atomic: it serves live
// views of a file (train.csv while a cell trains) that are rewritten
// atomically in full later.
func AppendRows[R RecordRow](path string, rows []R) error {
	if strings.HasSuffix(path, ".gz") {
		return fmt.Errorf("results: cannot append to %s (compressed)", path)
	}
	if len(rows) == 0 {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if err := csv.NewWriter(f).WriteAll(records(rows)); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// RowsDigest returns the hex sha256 of rows as their file holds them,
// without the header (the uncompressed CSV text): equal digests mean
// equal bytes on disk.
func RowsDigest[R RecordRow](rows []R) string {
	h := sha256.New()
	csv.NewWriter(h).WriteAll(records(rows)) // a hash never fails to write
	return hex.EncodeToString(h.Sum(nil))
}

// ReadRows reads a record file of row type R (gzip-compressed when the
// path ends in ".gz"). Columns are found by their header name, in any
// order; other columns are ignored. It fails, naming the file (and the
// line and column), on a missing required column or a value that does not
// parse: an integer column also takes an integral float ("10.0"), a
// float column reads an empty value as NaN.
func ReadRows[R RecordRow](path string) ([]R, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var rd io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: expected a gzip file: %v", path, err)
		}
		defer zr.Close()
		rd = zr
	}
	return parseRows[R](path, rd)
}

// parseRows reads the CSV text of a record file of row type R; path names
// it in errors.
func parseRows[R RecordRow](path string, rd io.Reader) ([]R, error) {
	l := layoutOf[R]()
	cr := csv.NewReader(rd)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: empty file, expected a header row", path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: expected CSV with a header row: %v", path, err)
	}
	at := make([]int, len(l.cols)) // column of the file holding each field, -1 if none
	for i := range at {
		at[i] = -1
	}
	for j, h := range header {
		if i, ok := l.index[strings.TrimSpace(h)]; ok && at[i] < 0 {
			at[i] = j
		}
	}
	var missing []string
	for i, c := range l.cols {
		if at[i] < 0 && c.required {
			missing = append(missing, c.name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: missing column(s) %s", path, strings.Join(missing, ", "))
	}
	var rows []R
	for line := 2; ; line++ { // line 1 is the header
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: expected CSV with a header row: %v", path, err)
		}
		var r R
		v := reflect.ValueOf(&r).Elem()
		for i, c := range l.cols {
			s := ""
			if at[i] >= 0 {
				s = rec[at[i]]
			}
			if err := c.set(v.Field(c.field), s, at[i] >= 0); err != nil {
				return nil, fmt.Errorf("%s: line %d: %v", path, line, err)
			}
		}
		if chk, ok := any(&r).(interface{ check() error }); ok {
			if err := chk.check(); err != nil {
				return nil, fmt.Errorf("%s: line %d: %v", path, line, err)
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// set parses one CSV value into field f; present is false for a column
// the file does not have (the zero value, NaN for a float).
func (c column) set(f reflect.Value, s string, present bool) error {
	switch c.kind {
	case reflect.String:
		f.SetString(s)
	case reflect.Int:
		if !present {
			return nil
		}
		n, err := parseRecordInt(c.name, s)
		if err != nil {
			return err
		}
		f.SetInt(int64(n))
	default:
		x, err := parseRecordFloat(c.name, s)
		if err != nil {
			return err
		}
		f.SetFloat(x)
	}
	return nil
}

func parseRecordInt(col, s string) (int, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.Atoi(s)
	if err != nil {
		// Tolerate integers written as floats ("10.0", "1e3").
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
			return 0, fmt.Errorf("column %s: expected an integer, got %q", col, s)
		}
		v = int(f)
	}
	return v, nil
}

func parseRecordFloat(col, s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("column %s: expected a number, got %q", col, s)
	}
	return v, nil
}

// floatField returns the float64 field of row r stored in column col (nil
// for no such column or one that is not a float).
func floatField[R RecordRow](r *R, col string) *float64 {
	l := layoutOf[R]()
	i, ok := l.index[col]
	if !ok || l.cols[i].kind != reflect.Float64 {
		return nil
	}
	return reflect.ValueOf(r).Elem().Field(l.cols[i].field).Addr().Interface().(*float64)
}

// FloatColumns returns the names of the float columns of row type R, in
// file order (every column but the keys: stage, step, split, …).
func FloatColumns[R RecordRow]() []string {
	var out []string
	for _, c := range layoutOf[R]().cols {
		if c.kind == reflect.Float64 {
			out = append(out, c.name)
		}
	}
	return out
}
