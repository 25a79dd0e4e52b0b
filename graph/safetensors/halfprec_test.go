package safetensors

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestF16Decode checks binary16 decoding on hand-computed values, the
// subnormal range included (flushing them to zero would be wrong).
func TestF16Decode(t *testing.T) {
	cases := []struct {
		bits uint16
		want float64
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x3555, 0.333251953125}, {0x7bff, 65504},
		{0x0400, math.Ldexp(1, -14)},    // smallest normal
		{0x0001, math.Ldexp(1, -24)},    // smallest subnormal
		{0x03ff, math.Ldexp(1023, -24)}, // largest subnormal
		{0x8001, -math.Ldexp(1, -24)},   // negative subnormal
		{0x0200, math.Ldexp(1, -15)},    // a subnormal power of two
		{0x7c00, math.Inf(1)}, {0xfc00, math.Inf(-1)},
	}
	for _, c := range cases {
		if got := float64(F16ToFloat32(c.bits)); got != c.want {
			t.Errorf("F16 %#04x = %v, want %v", c.bits, got, c.want)
		}
	}
	if v := F16ToFloat32(0x7e00); !math.IsNaN(float64(v)) {
		t.Errorf("F16 0x7e00 = %v, want NaN", v)
	}
	if got := math.Float32bits(F16ToFloat32(0x8000)); got != 0x80000000 {
		t.Errorf("F16 −0 decodes to bits %#x", got)
	}
	// Every finite F16 value round-trips through float32 → the exact rational.
	for b := 0; b < 1<<16; b++ {
		h := uint16(b)
		exp, mant := int(h>>10)&0x1f, int(h&0x3ff)
		if exp == 0x1f {
			continue
		}
		want := math.Ldexp(float64(mant), -24)
		if exp > 0 {
			want = math.Ldexp(float64(1024+mant), exp-25)
		}
		if h&0x8000 != 0 {
			want = -want
		}
		if got := float64(F16ToFloat32(h)); got != want {
			t.Fatalf("F16 %#04x = %v, want %v", h, got, want)
		}
	}
}

func TestBF16Decode(t *testing.T) {
	for _, v := range []float32{0, 1, -2.5, 3.140625, float32(math.Inf(1)), 1e-40} {
		b := uint16(math.Float32bits(v) >> 16)
		want := math.Float32frombits(uint32(b) << 16)
		if got := BF16ToFloat32(b); got != want {
			t.Errorf("BF16 %#04x = %v, want %v", b, got, want)
		}
	}
	if BF16ToFloat32(0x3f80) != 1 || BF16ToFloat32(0xc020) != -2.5 {
		t.Error("BF16 decoding of 1 or −2.5 is wrong")
	}
}

// rawFile builds a safetensors file by hand from a header and data.
func rawFile(header string, data []byte) []byte {
	for (8+len(header))%8 != 0 {
		header += " "
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(out, header...), data...)
}

// TestParseHalfAndRawDtypes reads F16, BF16, BOOL and a 0-dim tensor.
func TestParseHalfAndRawDtypes(t *testing.T) {
	var data []byte
	data = binary.LittleEndian.AppendUint16(data, 0x3c00) // F16 1
	data = binary.LittleEndian.AppendUint16(data, 0x0001) // F16 2^-24
	data = binary.LittleEndian.AppendUint16(data, 0xc020) // BF16 -2.5
	data = append(data, 1, 0, 0, 1)                       // BOOL [2,2]
	data = binary.LittleEndian.AppendUint16(data, 0xff80) // BF16 0-dim -inf
	h := `{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[1],"data_offsets":[4,6]},` +
		`"m":{"dtype":"BOOL","shape":[2,2],"data_offsets":[6,10]},"s":{"dtype":"BF16","shape":[],"data_offsets":[10,12]}}`
	ts, _, err := Parse(rawFile(h, data), "test")
	if err != nil {
		t.Fatal(err)
	}
	if a := ts["a"].Float64s(); a[0] != 1 || a[1] != math.Ldexp(1, -24) || !ts["a"].IsFloat() {
		t.Errorf("F16 tensor = %v", a)
	}
	if b := ts["b"].Float32s(); b[0] != -2.5 {
		t.Errorf("BF16 tensor = %v", b)
	}
	if m := ts["m"]; m.IsFloat() || string(m.Raw) != "\x01\x00\x00\x01" || m.Len() != 4 {
		t.Errorf("BOOL tensor = %+v", m)
	}
	if s := ts["s"]; len(s.Shape) != 0 || s.Len() != 1 || !math.IsInf(float64(s.F32[0]), -1) {
		t.Errorf("0-dim tensor = %+v", s)
	}
	bad := `{"x":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}`
	if _, _, err := Parse(rawFile(bad, make([]byte, 8)), "test"); err == nil || !strings.Contains(err.Error(), `"C64"`) {
		t.Errorf("unknown dtype: err = %v", err)
	}
	// F16 and BF16 are read-only: Encode refuses them.
	if _, err := Encode(map[string]Tensor{"a": ts["a"]}, nil); err == nil {
		t.Error("Encode accepted an F16 tensor")
	}
}

// TestReadSharded writes a two-shard checkpoint and checks the merge and
// the index's consistency checks.
func TestReadSharded(t *testing.T) {
	dir := t.TempDir()
	one := map[string]Tensor{"a": {DType: F32, Shape: []int{2}, F32: []float32{1, 2}}}
	two := map[string]Tensor{"b": {DType: F64, Shape: []int{1}, F64: []float64{3}}}
	if err := Write(filepath.Join(dir, "s1.safetensors"), one, nil); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "s2.safetensors"), two, nil); err != nil {
		t.Fatal(err)
	}
	three := map[string]Tensor{"c": one["a"], "d": one["a"]}
	if err := Write(filepath.Join(dir, "s3.safetensors"), three, nil); err != nil {
		t.Fatal(err)
	}
	index := func(body string) string {
		p := filepath.Join(dir, IndexFile)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ts, _, err := ReadSharded(index(`{"metadata":{"total_size":16},"weight_map":{"a":"s1.safetensors","b":"s2.safetensors"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts["a"].F32[1] != 2 || ts["b"].F64[0] != 3 {
		t.Errorf("merged tensors = %+v", ts)
	}
	for body, want := range map[string]string{
		`{"weight_map":{"a":"s2.safetensors","b":"s2.safetensors"}}`:                      "absent from their shards: [a]",
		`{"weight_map":{"b":"s2.safetensors","d":"s2.safetensors","c":"s3.safetensors"}}`: `tensor "d" is in shard s3.safetensors, the index says s2.safetensors`,
		`{"weight_map":{"a":"s1.safetensors","b":"s2.safetensors","c":"s2.safetensors"}}`: "absent from their shards: [c]",
		`{"weight_map":{"c":"s3.safetensors"}}`:                                           `tensor "d" is in shard s3.safetensors but not in the index`,
		`{"weight_map":{"a":"../s1.safetensors","b":"s2.safetensors"}}`:                   "is not a file name",
		`{"weight_map":{}}`: "missing or empty",
		`[1,2]`:             "not a shard index",
	} {
		_, _, err := ReadSharded(index(body))
		if err == nil {
			t.Errorf("index %s: no error", body)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("index %s: error %q does not contain %q", body, err, want)
		}
	}
}

// TestSharedLlamaTinyShards reads the shared sharded F16 checkpoint: all
// tensors, and the 92 F16 subnormal values it is documented to contain
// decoded to non-zero values.
func TestSharedLlamaTinyShards(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "hf", "models", "llama-tiny")
	if _, err := os.Stat(filepath.Join(dir, IndexFile)); err != nil {
		t.Skipf("skipping: %s not found (../shared/hf is absent in a fresh clone)", dir)
	}
	ts, _, err := ReadSharded(filepath.Join(dir, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	sub := 0
	for name, x := range ts {
		if x.DType != F16 {
			t.Errorf("%s: dtype %s, want F16", name, x.DType)
		}
		for _, v := range x.F32 {
			if v != 0 && math.Abs(float64(v)) < math.Ldexp(1, -14) {
				sub++
			}
		}
	}
	if sub != 92 {
		t.Errorf("found %d F16 subnormals, the README documents 92", sub)
	}
	if len(ts) != 21 {
		t.Errorf("%d tensors, want 21 (embed, 2×9 layer tensors, norm, lm_head)", len(ts))
	}
}
