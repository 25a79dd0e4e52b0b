package results

// Writers for the record format of schema.go. Every file is written
// atomically: to a temporary file in the same directory, then renamed over
// the final name, so a reader (or a rerun after a crash) sees either the
// old complete file or the new complete file, never a partial one.

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// TempPrefix starts the name of every temporary file a writer creates; a
// file with this prefix is never a record (cleanups may delete them).
const TempPrefix = ".tmp-"

// WriteFileAtomic creates path (and its directory) by calling write on a
// buffered temporary file in the same directory and renaming it into
// place. The file is fsynced before the rename and its directory after
// it, so once WriteFileAtomic returns nil the new content survives a
// power loss. On any error the temporary file is removed and path is left
// as it was.
func WriteFileAtomic(path string, write func(w io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, TempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// IsTempName reports whether a file name is a temporary file of an atomic
// write (ours, TempPrefix…, or safetensors.Write's ".<name>.tmp…") that a
// killed process may have left behind. Such files are never records.
func IsTempName(name string) bool {
	return strings.HasPrefix(name, TempPrefix) || (strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp"))
}

// RemoveTemps deletes the leftover temporary files and directories directly
// inside dir (not recursively). Call it only while holding the lock that
// guards dir's writers.
func RemoveTemps(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if IsTempName(e.Name()) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// WriteBytesAtomic writes b to path atomically.
func WriteBytesAtomic(path string, b []byte) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// WriteJSONAtomic writes v as indented JSON (with a final newline) to path
// atomically.
func WriteJSONAtomic(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("results: encode %s: %w", filepath.Base(path), err)
	}
	return WriteBytesAtomic(path, append(b, '\n'))
}

// WriteCSVAtomic writes a header and rows to path atomically; a path
// ending in ".gz" is gzip-compressed (deterministically: no name or time
// in the gzip header).
func WriteCSVAtomic(path string, header []string, rows [][]string) error {
	return WriteFileAtomic(path, func(w io.Writer) error {
		var gz *gzip.Writer
		if strings.HasSuffix(path, ".gz") {
			gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed)
			w = gz
		}
		cw := csv.NewWriter(w)
		if err := cw.Write(header); err != nil {
			return err
		}
		if err := cw.WriteAll(rows); err != nil {
			return err
		}
		if gz != nil {
			return gz.Close()
		}
		return nil
	})
}

// FormatFloat formats a CSV float as the schema says: strconv 'g' -1
// (shortest round-trip), NaN as "NaN", infinities as "+Inf"/"-Inf".
func FormatFloat(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NaN"
	case math.IsInf(x, 1):
		return "+Inf"
	case math.IsInf(x, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// FormatInt formats a CSV integer.
func FormatInt(n int) string { return strconv.Itoa(n) }

// Row builds a CSV row from the values of columns: value(name) returns
// the cell of each column, in order.
func Row(columns []string, value func(col string) string) []string {
	row := make([]string, len(columns))
	for i, c := range columns {
		row[i] = value(c)
	}
	return row
}
