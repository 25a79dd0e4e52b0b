package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
)

// rawFile assembles a safetensors file from a header and a data buffer.
func stFile(t testing.TB, header map[string]any, data []byte) []byte {
	t.Helper()
	hb, err := json.Marshal(header)
	if err != nil {
		t.Fatal(err)
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(hb)))
	return append(append(out, hb...), data...)
}

func entry(dtype string, shape []int, b, e int64) map[string]any {
	return map[string]any{"dtype": dtype, "shape": shape, "data_offsets": []int64{b, e}}
}

// TestLayoutValidation: the reader refuses what the format forbids —
// overlapping tensors, holes, trailing bytes — and shapes whose element
// count cannot fit the file (checked before allocating), each with a
// message naming the file and the tensor.
func TestLayoutValidation(t *testing.T) {
	data := make([]byte, 32)
	cases := []struct {
		name   string
		header map[string]any
		data   []byte
		want   string
	}{
		{"overlap", map[string]any{"a": entry(F32, []int{4}, 0, 16), "b": entry(F32, []int{4}, 8, 24), "c": entry(F32, []int{2}, 24, 32)}, data, "overlap"},
		{"alias", map[string]any{"a": entry(F32, []int{8}, 0, 32), "b": entry(F32, []int{8}, 0, 32)}, data, "overlap"},
		{"hole", map[string]any{"a": entry(F32, []int{2}, 0, 8), "b": entry(F32, []int{4}, 16, 32)}, data, "hole"},
		{"trailing", map[string]any{"a": entry(F32, []int{4}, 0, 16)}, data, "trailing bytes"},
		{"late start", map[string]any{"a": entry(F32, []int{4}, 16, 32)}, data, "hole"},
		{"huge shape", map[string]any{"a": entry(F64, []int{1 << 40, 1 << 40}, 0, 0)}, nil, "needs more bytes"},
		{"overflow shape", map[string]any{"a": entry(F32, []int{1 << 31, 1 << 31, 1 << 31, 8}, 0, 32)}, data, "needs more bytes"},
	}
	for _, c := range cases {
		name := strings.ReplaceAll(c.name, " ", "_") + ".safetensors"
		_, _, err := Parse(stFile(t, c.header, c.data), name)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), name) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %v, want one line containing %q and the file name", c.name, err, c.want)
		}
	}
	// a valid layout in any header order, and zero-size tensors anywhere
	ok := map[string]any{"z": entry(F32, []int{0}, 16, 16), "b": entry(F32, []int{4}, 16, 32), "a": entry(F32, []int{4}, 0, 16), "e": entry(F64, []int{0, 3}, 32, 32)}
	ts, _, err := Parse(stFile(t, ok, data), "ok.safetensors")
	if err != nil || len(ts) != 4 {
		t.Fatalf("valid layout: %v (%d tensors)", err, len(ts))
	}
}

// FuzzParse: the reader never panics, never allocates more than the file
// justifies, and every error is one line naming the file. Seeds run in
// normal tests; fuzz by hand:
//
//	go test ./graph/safetensors -run '^$' -fuzz FuzzParse -fuzztime 60s
func FuzzParse(f *testing.F) {
	good, _ := Encode(map[string]Tensor{
		"a": {DType: F32, Shape: []int{2}, F32: []float32{1, 2}},
		"b": {DType: F64, Shape: []int{1, 2}, F64: []float64{3, 4}},
		"c": {DType: I64, Shape: []int{}, I64: []int64{5}},
	}, map[string]string{"config": "{}"})
	f.Add(good)
	f.Add(good[:len(good)-3])
	f.Add(append(append([]byte{}, good...), 0, 0, 0, 0))
	f.Add(stFile(f, map[string]any{"a": entry(F32, []int{4}, 0, 16), "b": entry(F32, []int{4}, 8, 24)}, make([]byte, 24)))
	f.Add(stFile(f, map[string]any{"a": entry(F64, []int{1 << 40, 1 << 40}, 0, 0)}, nil))
	f.Add(stFile(f, map[string]any{"__metadata__": map[string]any{"x": 1}}, nil))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		ts, _, err := Parse(raw, "fuzz.safetensors")
		if err != nil {
			if msg := err.Error(); strings.Contains(msg, "\n") || !strings.Contains(msg, "fuzz.safetensors") {
				t.Fatalf("error is not one line naming the file: %q", msg)
			}
			return
		}
		total := 0
		for name, tn := range ts {
			size := readOnlySize(tn.DType)
			if s, err := elemSize(tn.DType); err == nil {
				size = s
			}
			if tn.Raw != nil || rawDtypes[tn.DType] > 0 {
				if len(tn.Raw) != tn.Len()*size {
					t.Fatalf("tensor %q: %d raw bytes for shape %v", name, len(tn.Raw), tn.Shape)
				}
				total += len(tn.Raw)
				continue
			}
			n, err := tn.dataLen()
			if err != nil || n != tn.Len() {
				t.Fatalf("tensor %q: %d elements for shape %v", name, n, tn.Shape)
			}
			total += n * size
		}
		if total > len(raw) {
			t.Fatalf("decoded %d bytes of tensors from a %d-byte file", total, len(raw))
		}
	})
}
