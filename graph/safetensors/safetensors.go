// Package safetensors reads and writes the safetensors checkpoint format
// used by gatedpo and by the PyTorch peer (shared/peer/tinygpt.py):
//
//	u64 little-endian N | N bytes of UTF-8 JSON header | data buffer
//
// The header maps each tensor name to {"dtype", "shape", "data_offsets"}
// (offsets relative to the start of the data buffer) plus an optional
// "__metadata__" object of string to string. Tensors are row-major and
// little-endian. Read and Write support F32, F64 and I64; Read also
// decodes F16 and BF16 (exactly, into F32: every F16/BF16 value, F16
// subnormals included, is a float32) and keeps the raw bytes of BOOL, U8,
// I8, U16, I16, U32, I32 and U64 tensors (buffers such as attention
// masks). ReadSharded reads a Hugging Face sharded checkpoint. The reader
// enforces what the format requires: tensors are contiguous, do not overlap
// and cover the data buffer exactly (no holes, no trailing bytes); sizes
// are checked against the file before anything is allocated, and only
// regular files are read.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"gatedpo/internal/fsutil"
)

// Dtype names as they appear in a safetensors header.
const (
	F32 = "F32" // little-endian IEEE-754 binary32
	F64 = "F64" // little-endian IEEE-754 binary64
	I64 = "I64" // little-endian two's-complement int64

	F16  = "F16"  // IEEE-754 binary16; decoded into Tensor.F32
	BF16 = "BF16" // bfloat16 (the top 16 bits of a binary32); decoded into Tensor.F32
)

// rawDtypes are the non-float dtypes Parse accepts, with their element
// sizes; their data is kept as bytes in Tensor.Raw.
var rawDtypes = map[string]int{"BOOL": 1, "U8": 1, "I8": 1, "U16": 2, "I16": 2, "U32": 4, "I32": 4, "U64": 8}

// MetadataKey is the reserved header key that holds the string metadata.
const MetadataKey = "__metadata__"

// maxHeaderBytes bounds the JSON header we accept (guards against reading
// a non-safetensors file as a huge header).
const maxHeaderBytes = 100 << 20

// Tensor is one tensor of a safetensors file. Exactly one of F32, F64, I64
// and Raw holds the data (row-major), according to DType.
type Tensor struct {
	DType string    // "F32" | "F64" | "I64" | "F16" | "BF16" | a raw dtype
	Shape []int     // dimensions; empty for a scalar
	F32   []float32 // data when DType is "F32", "F16" or "BF16" (decoded exactly)
	F64   []float64 // data when DType == "F64"
	I64   []int64   // data when DType == "I64"
	Raw   []byte    // little-endian bytes for the other dtypes (BOOL, U8, I32, …)
}

// IsFloat reports whether the tensor holds floating-point data (F16, BF16,
// F32 or F64).
func (t Tensor) IsFloat() bool {
	switch t.DType {
	case F16, BF16, F32, F64:
		return true
	}
	return false
}

// F16ToFloat32 decodes an IEEE-754 binary16 value exactly (subnormals,
// infinities and NaN included).
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := int(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf / NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0: // zero or subnormal: mant·2^−24, exact in float32
		v := float32(math.Ldexp(float64(mant), -24))
		if sign != 0 {
			v = -v
		}
		return v
	}
	return math.Float32frombits(sign | uint32(exp-15+127)<<23 | mant<<13)
}

// BF16ToFloat32 decodes a bfloat16 value (exact: it is the top half of a
// binary32).
func BF16ToFloat32(b uint16) float32 { return math.Float32frombits(uint32(b) << 16) }

// Len is the number of elements the shape implies.
func (t Tensor) Len() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// dataLen is the number of elements actually stored for the tensor's dtype.
func (t Tensor) dataLen() (int, error) {
	switch t.DType {
	case F32, F16, BF16:
		return len(t.F32), nil
	case F64:
		return len(t.F64), nil
	case I64:
		return len(t.I64), nil
	}
	return 0, fmt.Errorf("unsupported dtype %q (want F32, F64 or I64)", t.DType)
}

// Float64s returns the data converted to float64 (a copy for F32/F16/
// BF16/I64, the slice itself for F64; nil for raw dtypes).
func (t Tensor) Float64s() []float64 {
	switch t.DType {
	case F64:
		return t.F64
	case F32, F16, BF16:
		return convert[float64](t.F32)
	case I64:
		return convert[float64](t.I64)
	}
	return nil
}

// Float32s returns the data converted to float32 (a copy for F64/I64, the
// slice itself for F32/F16/BF16; nil for raw dtypes).
func (t Tensor) Float32s() []float32 {
	switch t.DType {
	case F32, F16, BF16:
		return t.F32
	case F64:
		return convert[float32](t.F64)
	case I64:
		return convert[float32](t.I64)
	}
	return nil
}

// convert returns a copy of src with every element converted to D.
func convert[D, S float32 | float64 | int64](src []S) []D {
	out := make([]D, len(src))
	for i, v := range src {
		out[i] = D(v)
	}
	return out
}

type headerEntry struct {
	DType       string   `json:"dtype"`
	Shape       []int    `json:"shape"`
	DataOffsets [2]int64 `json:"data_offsets"`
}

func elemSize(dtype string) (int, error) {
	switch dtype {
	case F32:
		return 4, nil
	case F64, I64:
		return 8, nil
	}
	return 0, fmt.Errorf("unsupported dtype %q (want F32, F64 or I64)", dtype)
}

// readOnlySize is the element size of the dtypes Parse decodes but Encode
// does not write (F16, BF16 and the raw dtypes); 0 for unknown dtypes.
func readOnlySize(dtype string) int {
	if dtype == F16 || dtype == BF16 {
		return 2
	}
	return rawDtypes[dtype]
}

// Read loads every tensor of the safetensors file at path, with the header's
// __metadata__ (empty map when absent). Errors name the path and, where it
// applies, the offending tensor.
func Read(path string) (map[string]Tensor, map[string]string, error) {
	raw, err := readRegular(path)
	if err != nil {
		return nil, nil, err
	}
	return Parse(raw, path)
}

// readRegular reads a regular file. Anything else (a FIFO, /dev/zero, a
// directory) is refused before it is read: such a file may block forever
// or never end. The open does not block on a FIFO (O_NONBLOCK), and the
// type is checked on the opened file.
func readRegular(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("safetensors %s: not a regular file (%s); expected a .safetensors file", path, st.Mode().Type())
	}
	raw := make([]byte, st.Size())
	if _, err := io.ReadFull(f, raw); err != nil {
		return nil, fmt.Errorf("safetensors %s: %w", path, err)
	}
	return raw, nil
}

// Parse decodes a safetensors file held in memory; name is used in errors.
func Parse(raw []byte, name string) (map[string]Tensor, map[string]string, error) {
	fail := func(format string, a ...any) (map[string]Tensor, map[string]string, error) {
		return nil, nil, fmt.Errorf("safetensors %s: %s", name, fmt.Sprintf(format, a...))
	}
	if len(raw) < 8 {
		return fail("file too short (%d bytes) for the 8-byte header length", len(raw))
	}
	n := binary.LittleEndian.Uint64(raw[:8])
	if n > maxHeaderBytes || n > uint64(len(raw)-8) {
		return fail("header length %d exceeds the file (%d bytes)", n, len(raw))
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(raw[8:8+n], &header); err != nil {
		return fail("header is not a JSON object: %v", err)
	}
	data := raw[8+n:]
	meta := map[string]string{}
	if m, ok := header[MetadataKey]; ok {
		if string(m) != "null" {
			if err := json.Unmarshal(m, &meta); err != nil {
				return fail("%s is not an object of strings: %v", MetadataKey, err)
			}
		}
		delete(header, MetadataKey)
	}
	// validate every entry before allocating anything: sizes fit the file,
	// and the tensors are contiguous, do not overlap and cover the data
	// buffer exactly (as the format requires: no holes, no trailing bytes)
	type entry struct {
		key   string
		e     headerEntry
		count int64
	}
	entries := make([]entry, 0, len(header))
	for key, msg := range header {
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return fail("tensor %q: bad header entry: %v", key, err)
		}
		size, err := elemSize(e.DType)
		if err != nil {
			if size = readOnlySize(e.DType); size == 0 {
				return fail("tensor %q: unsupported dtype %q (want F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL, U16, U32 or U64)", key, e.DType)
			}
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || end < b || end > int64(len(data)) {
			return fail("tensor %q: data_offsets [%d, %d] outside the %d-byte data buffer", key, b, end, len(data))
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 {
				return fail("tensor %q: negative dimension in shape %v", key, e.Shape)
			}
			if d > 0 && count > (int64(len(data))/int64(size))/int64(d) {
				return fail("tensor %q: shape %v %s needs more bytes than the %d-byte data buffer", key, e.Shape, e.DType, len(data))
			}
			count *= int64(d)
		}
		if end-b != count*int64(size) {
			return fail("tensor %q: %d bytes for shape %v %s (want %d)", key, end-b, e.Shape, e.DType, count*int64(size))
		}
		entries = append(entries, entry{key, e, count})
	}
	sort.Slice(entries, func(i, j int) bool {
		oi, oj := entries[i].e.DataOffsets, entries[j].e.DataOffsets
		if oi[0] != oj[0] {
			return oi[0] < oj[0]
		}
		if oi[1] != oj[1] {
			return oi[1] < oj[1]
		}
		return entries[i].key < entries[j].key
	})
	var pos int64
	prev := ""
	for _, en := range entries {
		b, end := en.e.DataOffsets[0], en.e.DataOffsets[1]
		switch {
		case b < pos:
			return fail("tensor %q: data_offsets [%d, %d] overlap tensor %q (ends at %d)", en.key, b, end, prev, pos)
		case b > pos:
			return fail("tensor %q: data_offsets [%d, %d] leave a hole at [%d, %d] (tensors must be contiguous)", en.key, b, end, pos, b)
		}
		pos, prev = end, en.key
	}
	if pos != int64(len(data)) {
		return fail("%d trailing bytes after the last tensor (the data buffer is %d bytes, the tensors cover %d)", int64(len(data))-pos, len(data), pos)
	}
	out := make(map[string]Tensor, len(entries))
	for _, en := range entries {
		key, e, count := en.key, en.e, en.count
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		buf := data[b:end]
		t := Tensor{DType: e.DType, Shape: append([]int{}, e.Shape...)}
		switch e.DType {
		case F32:
			t.F32 = make([]float32, count)
			for i := range t.F32 {
				t.F32[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
			}
		case F64:
			t.F64 = make([]float64, count)
			for i := range t.F64 {
				t.F64[i] = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
			}
		case I64:
			t.I64 = make([]int64, count)
			for i := range t.I64 {
				t.I64[i] = int64(binary.LittleEndian.Uint64(buf[8*i:]))
			}
		case F16:
			t.F32 = make([]float32, count)
			for i := range t.F32 {
				t.F32[i] = F16ToFloat32(binary.LittleEndian.Uint16(buf[2*i:]))
			}
		case BF16:
			t.F32 = make([]float32, count)
			for i := range t.F32 {
				t.F32[i] = BF16ToFloat32(binary.LittleEndian.Uint16(buf[2*i:]))
			}
		default:
			t.Raw = append([]byte{}, buf...)
		}
		out[key] = t
	}
	return out, meta, nil
}

// Encode serialises tensors and metadata: tensors packed in name-sorted
// order with no holes, the JSON header right-padded with spaces so that
// 8+N is a multiple of 8 (as the peer writes it).
func Encode(ts map[string]Tensor, meta map[string]string) ([]byte, error) {
	names := make([]string, 0, len(ts))
	for k := range ts {
		if k == MetadataKey {
			return nil, fmt.Errorf("safetensors: tensor name %q is reserved", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	header := make(map[string]any, len(ts)+1)
	var off int64
	for _, k := range names {
		t := ts[k]
		size, err := elemSize(t.DType)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %v", k, err)
		}
		have, _ := t.dataLen()
		if have != t.Len() {
			return nil, fmt.Errorf("safetensors: tensor %q: shape %v needs %d elements, data has %d", k, t.Shape, t.Len(), have)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		nb := int64(have * size)
		header[k] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: [2]int64{off, off + nb}}
		off += nb
	}
	if len(meta) > 0 {
		header[MetadataKey] = meta
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return nil, fmt.Errorf("safetensors: encoding header: %v", err)
	}
	if pad := (8 - (8+len(hb))%8) % 8; pad > 0 {
		hb = append(hb, strings.Repeat(" ", pad)...)
	}
	out := make([]byte, 8, 8+len(hb)+int(off))
	binary.LittleEndian.PutUint64(out, uint64(len(hb)))
	out = append(out, hb...)
	for _, k := range names {
		t := ts[k]
		switch t.DType {
		case F32:
			for _, v := range t.F32 {
				out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
			}
		case F64:
			for _, v := range t.F64 {
				out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
			}
		case I64:
			for _, v := range t.I64 {
				out = binary.LittleEndian.AppendUint64(out, uint64(v))
			}
		}
	}
	return out, nil
}

// Write saves tensors and metadata to path atomically and durably
// (WriteFileAtomic).
func Write(path string, ts map[string]Tensor, meta map[string]string) error {
	b, err := Encode(ts, meta)
	if err != nil {
		return fmt.Errorf("%v (writing %s)", err, path)
	}
	if err := WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("safetensors: %w", err)
	}
	return nil
}

// WriteFileAtomic writes b to path atomically and durably: the bytes go to
// a temporary file in the same directory, which is fsynced and renamed
// over path, then the directory is fsynced. On error path is unchanged and
// the temporary file removed.
func WriteFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := fsutil.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}
