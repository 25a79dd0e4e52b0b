package safetensors

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gatedpo/internal/sharedtest"
)

// TestRoundTrip: Write then Read returns the same tensors bit for bit and
// the same metadata; the header is space-padded so 8+N is a multiple of 8,
// and tensors are packed in name order with no holes (the peer checks
// both).
func TestRoundTrip(t *testing.T) {
	ts := map[string]Tensor{
		"b.f64":  {DType: F64, Shape: []int{2, 3}, F64: []float64{1, -2, math.Pi, 0, math.SmallestNonzeroFloat64, math.MaxFloat64}},
		"a.f32":  {DType: F32, Shape: []int{3}, F32: []float32{1.5, -0, float32(math.Inf(1))}},
		"c.i64":  {DType: I64, Shape: []int{2, 1}, I64: []int64{-7, math.MaxInt64}},
		"scalar": {DType: F64, Shape: []int{}, F64: []float64{42}},
	}
	meta := map[string]string{"config": `{"vocab_size": 5}`, "note": "ünïcode"}
	p := filepath.Join(t.TempDir(), "x.safetensors")
	if err := Write(p, ts, meta); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	n := binary.LittleEndian.Uint64(raw)
	if (8+n)%8 != 0 {
		t.Errorf("8+N = %d is not a multiple of 8", 8+n)
	}
	if !strings.HasSuffix(strings.TrimRight(string(raw[8:8+n]), " "), "}") {
		t.Errorf("header is not JSON padded with spaces")
	}
	got, gm, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gm, meta) {
		t.Errorf("metadata %v, want %v", gm, meta)
	}
	for k, want := range ts {
		g := got[k]
		if g.DType != want.DType || g.Len() != want.Len() || len(g.Shape) != len(want.Shape) {
			t.Errorf("%s: got %+v, want %+v", k, g, want)
			continue
		}
		switch want.DType {
		case F64:
			for i := range want.F64 {
				if math.Float64bits(want.F64[i]) != math.Float64bits(g.F64[i]) {
					t.Errorf("%s[%d]: %v != %v", k, i, g.F64[i], want.F64[i])
				}
			}
		case F32:
			for i := range want.F32 {
				if math.Float32bits(want.F32[i]) != math.Float32bits(g.F32[i]) {
					t.Errorf("%s[%d]: %v != %v", k, i, g.F32[i], want.F32[i])
				}
			}
		case I64:
			if !reflect.DeepEqual(g.I64, want.I64) {
				t.Errorf("%s: %v != %v", k, g.I64, want.I64)
			}
		}
	}
	// byte-identical re-encoding (deterministic output)
	b1, _ := Encode(ts, meta)
	b2, _ := Encode(got, gm)
	if string(b1) != string(b2) {
		t.Errorf("re-encoding what was read changes the bytes")
	}
}

// TestPeerFile reads a file written by the PyTorch peer (skips when
// ../shared is absent): I64 ids, F64 tensors and string metadata.
func TestPeerFile(t *testing.T) {
	p := filepath.Join(sharedDir(t), "golden", "forward.safetensors")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("skipping: %s not found (../shared is absent in a fresh clone)", p)
	}
	ts, meta, err := Read(p)
	if err != nil {
		t.Fatal(err)
	}
	ids := ts["ids"]
	if ids.DType != I64 || !reflect.DeepEqual(ids.Shape, []int{8, 20}) || ts["policy_logits"].DType != F64 {
		t.Errorf("unexpected content: ids %v %v", ids.DType, ids.Shape)
	}
	if meta["note"] == "" {
		t.Errorf("metadata note missing: %v", meta)
	}
}

// sharedDir walks up from the package directory to the module root (the
// directory with go.mod) and returns ../shared beside it, or skips.
func sharedDir(t *testing.T) string {
	t.Helper()
	return sharedtest.Dir(t, "golden/forward.safetensors")
}

// TestErrors: malformed input gives errors naming the file and the tensor.
func TestErrors(t *testing.T) {
	good, _ := Encode(map[string]Tensor{"w": {DType: F32, Shape: []int{2}, F32: []float32{1, 2}}}, nil)
	cases := []struct {
		name string
		raw  []byte
		want string
	}{
		{"short", []byte{1, 2}, "too short"},
		{"hugeheader", append([]byte{255, 255, 255, 255, 0, 0, 0, 0}, good[8:]...), "exceeds"},
		{"truncated", good[:len(good)-1], `"w"`},
		{"notjson", append(append([]byte{}, good[:8]...), []byte(strings.Repeat("x", len(good)-8))...), "not a JSON"},
	}
	for _, c := range cases {
		_, _, err := Parse(c.raw, c.name+".safetensors")
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.name) {
			t.Errorf("%s: error %v, want one containing %q and the file name", c.name, err, c.want)
		}
	}
	if _, err := Encode(map[string]Tensor{"w": {DType: F32, Shape: []int{3}, F32: []float32{1}}}, nil); err == nil {
		t.Errorf("Encode with a shape/data mismatch: no error")
	}
	if _, err := Encode(map[string]Tensor{"w": {DType: "BF16", Shape: []int{1}}}, nil); err == nil {
		t.Errorf("Encode with an unsupported dtype: no error")
	}
	if err := Write(filepath.Join(t.TempDir(), "nodir", "x.safetensors"), map[string]Tensor{}, nil); err == nil {
		t.Errorf("Write into a missing directory: no error")
	}
}
