package data

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

// parquetMagic starts and ends every Parquet file.
var parquetMagic = []byte("PAR1")

// rowBytes is the size of a row's JSON object.
func rowBytes(obj map[string]json.RawMessage) int {
	n := 2
	for k, v := range obj {
		n += len(k) + len(v) + 4
	}
	return n
}

// loadParquet reads the Parquet file open as file (size bytes), whose
// rows have the columns of a JSONL record: every row becomes the JSON
// object of its columns (nested lists and structs as JSON lists and
// objects, a null as null, a byte column as a string when it is UTF-8) and
// goes through the same record rules as a JSONL line; errors name
// "path: row N" (1-based, in file order across row groups). The limits of
// opt bound it: max_data_bytes the file and its row groups' declared
// uncompressed size (checked from the footer before any column is
// decoded), max_line_bytes one row as JSON.
func loadParquet(path string, file *os.File, size int64, opt LoadOptions) (ds *Dataset, err error) {
	maxBytes := opt.maxDataBytes()
	if size > maxBytes {
		return nil, &LimitError{Path: path, Msg: fmt.Sprintf("the Parquet file is %d bytes, more than max_data_bytes = %d; raise [data] max_data_bytes in the grid (inspect data: -max-data-bytes) to read it, or split it into shards", size, maxBytes)}
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: cannot read: %v", path, unwrapPathErr(err))
	}
	raw := make([]byte, size)
	if _, err := io.ReadFull(file, raw); err != nil {
		return nil, fmt.Errorf("%s: cannot read: %v", path, unwrapPathErr(err))
	}
	if len(raw) < 12 || !bytes.Equal(raw[len(raw)-4:], parquetMagic) {
		return nil, fmt.Errorf("%s: truncated Parquet file (no footer), expected a whole Parquet file", path)
	}
	// the footer's length is checked before parquet-go sizes a buffer by it
	if n := binary.LittleEndian.Uint32(raw[len(raw)-8:]); int64(n) > int64(len(raw)-12) {
		return nil, fmt.Errorf("%s: corrupt Parquet file: a footer of %d bytes in a file of %d bytes", path, n, len(raw))
	}
	// parquet-go panics on some malformed inputs; a damaged file is an
	// input error, not a crash
	defer func() {
		if r := recover(); r != nil {
			ds, err = nil, fmt.Errorf("%s: corrupt Parquet file: %v", path, r)
		}
	}()
	f, err := parquet.OpenFile(bytes.NewReader(raw), int64(len(raw)), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt Parquet file: %v", path, err)
	}
	var total int64
	for _, rg := range f.Metadata().RowGroups {
		if rg.TotalByteSize < 0 {
			return nil, fmt.Errorf("%s: corrupt Parquet file: negative row group size", path)
		}
		total += rg.TotalByteSize
		if total > maxBytes {
			return nil, &LimitError{Path: path, Msg: fmt.Sprintf("the Parquet row groups hold more than max_data_bytes = %d bytes uncompressed; raise [data] max_data_bytes in the grid (inspect data: -max-data-bytes) to read it, or split it into shards", maxBytes)}
		}
	}
	schema := f.Schema()
	p := newRecordParser(path, opt)
	p.unit = "row"
	rowNo := 0
	buf := make([]parquet.Row, 64)
	for _, rg := range f.RowGroups() {
		rows := rg.Rows()
		for {
			n, rerr := rows.ReadRows(buf)
			for _, r := range buf[:n] {
				rowNo++
				m := map[string]any{}
				if err := schema.Reconstruct(&m, r); err != nil {
					rows.Close()
					return nil, fmt.Errorf("%s: row %d: corrupt Parquet row: %v", path, rowNo, err)
				}
				obj, err := rowObject(path, rowNo, m)
				if n := rowBytes(obj); err == nil && n > opt.maxLineBytes() {
					rows.Close()
					return nil, &LimitError{Path: path, Msg: fmt.Sprintf("row %d: %d bytes as JSON, more than max_line_bytes = %d; raise [data] max_line_bytes in the grid (inspect data: -max-line-bytes) to read it", rowNo, n, opt.maxLineBytes())}
				}
				if err == nil {
					err = p.add(rowNo, obj)
				} else {
					err = p.bad(err)
				}
				if err != nil {
					rows.Close()
					return nil, err
				}
			}
			if errors.Is(rerr, io.EOF) {
				break
			}
			if rerr != nil {
				rows.Close()
				return nil, fmt.Errorf("%s: row %d: corrupt Parquet data: %v", path, rowNo+1, rerr)
			}
		}
		rows.Close()
	}
	if rowNo == 0 {
		return nil, fmt.Errorf("%s: Parquet file with no rows, expected one preference pair per row", path)
	}
	ds, err = p.finish()
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(raw)
	ds.Path = path
	ds.Name = datasetName(path)
	ds.Hash = hex.EncodeToString(sum[:])
	return ds, nil
}

// rowObject encodes a reconstructed row as the JSON object a JSONL line
// would hold. Text must be UTF-8 (an invalid_utf8 record error names the
// column); []byte values that are UTF-8 become strings.
func rowObject(path string, rowNo int, m map[string]any) (map[string]json.RawMessage, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	obj := make(map[string]json.RawMessage, len(m))
	for _, k := range keys {
		v, err := jsonValue(reflect.ValueOf(m[k]))
		if err != nil {
			return nil, &RecordError{Path: path, Line: rowNo, Unit: "row", Reason: SkipInvalidUTF8, Msg: fmt.Sprintf("column %q: %v", k, err)}
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, &RecordError{Path: path, Line: rowNo, Unit: "row", Reason: SkipWrongType, Msg: fmt.Sprintf("column %q: %v", k, err)}
		}
		obj[k] = b
	}
	return obj, nil
}

// jsonValue turns a value of parquet-go's reconstruction (maps, slices,
// strings, []byte, numbers, nil) into one encoding/json writes without
// loss: invalid UTF-8 is an error instead of being replaced.
func jsonValue(v reflect.Value) (any, error) {
	if !v.IsValid() {
		return nil, nil
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return nil, nil
		}
		return jsonValue(v.Elem())
	case reflect.String:
		s := v.String()
		if !utf8.ValidString(s) {
			return nil, fmt.Errorf("invalid UTF-8, expected UTF-8 text")
		}
		return s, nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, nil
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			b := make([]byte, v.Len())
			reflect.Copy(reflect.ValueOf(b), v)
			if !utf8.Valid(b) {
				return nil, fmt.Errorf("invalid UTF-8, expected UTF-8 text")
			}
			return string(b), nil
		}
		out := make([]any, v.Len())
		for i := range out {
			x, err := jsonValue(v.Index(i))
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = x
		}
		return out, nil
	case reflect.Map:
		out := make(map[string]any, v.Len())
		it := v.MapRange()
		for it.Next() {
			k := fmt.Sprint(it.Key().Interface())
			x, err := jsonValue(it.Value())
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			out[k] = x
		}
		return out, nil
	case reflect.Struct:
		if m, ok := v.Interface().(json.Marshaler); ok {
			return m, nil // e.g. time.Time
		}
		out := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			if f := v.Type().Field(i); f.IsExported() {
				x, err := jsonValue(v.Field(i))
				if err != nil {
					return nil, err
				}
				out[f.Name] = x
			}
		}
		return out, nil
	}
	return v.Interface(), nil
}
