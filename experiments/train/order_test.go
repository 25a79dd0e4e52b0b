package train

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

// TestEpochOrder: an epoch's batches are full, disjoint, drawn from
// 0..n−1, a pure function of (n, batch, seed, epoch), and different for
// another epoch or seed.
func TestEpochOrder(t *testing.T) {
	const n, b = 23, 4
	o := EpochOrder(n, b, 9, 0)
	if len(o) != n/b {
		t.Fatalf("%d batches, want %d (the last partial batch dropped)", len(o), n/b)
	}
	seen := map[int]bool{}
	for _, bt := range o {
		if len(bt) != b {
			t.Errorf("batch %v has %d examples, want %d", bt, len(bt), b)
		}
		for _, i := range bt {
			if i < 0 || i >= n || seen[i] {
				t.Errorf("index %d out of range or repeated", i)
			}
			seen[i] = true
		}
	}
	if !reflect.DeepEqual(o, EpochOrder(n, b, 9, 0)) {
		t.Error("the same arguments gave another order")
	}
	if reflect.DeepEqual(o, EpochOrder(n, b, 9, 1)) || reflect.DeepEqual(o, EpochOrder(n, b, 10, 0)) {
		t.Error("another epoch or seed gave the same order")
	}
	if o := EpochOrder(3, 4, 1, 0); len(o) != 0 {
		t.Errorf("fewer examples than a batch: %v, want no batch", o)
	}
}

// TestBucket: row lengths round up to multiples of 16 (32 beyond 64
// tokens), within [2, maxT].
func TestBucket(t *testing.T) {
	for _, c := range []struct{ longest, maxT, want int }{
		{1, 48, 16}, {16, 48, 16}, {17, 48, 32}, {40, 48, 48}, {60, 48, 48},
		{0, 48, 2}, {5, 3, 3},
		{33, 192, 64}, {64, 192, 64}, {65, 192, 96}, {190, 192, 192},
	} {
		if got := Bucket(c.longest, c.maxT); got != c.want {
			t.Errorf("Bucket(%d, %d) = %d, want %d", c.longest, c.maxT, got, c.want)
		}
	}
}

type fakeGraph struct {
	t      int
	closed *[]int
}

func (g *fakeGraph) Close() { *g.closed = append(*g.closed, g.t) }

// TestBuckets: a graph is built once per row length, a build error is
// returned and not kept, and Close closes every graph built.
func TestBuckets(t *testing.T) {
	var built, closed []int
	fail := true
	b := NewBuckets(func(t int) (*fakeGraph, error) {
		if t == 99 && fail {
			return nil, errors.New("no graph")
		}
		built = append(built, t)
		return &fakeGraph{t: t, closed: &closed}, nil
	})
	for _, n := range []int{16, 32, 16, 16, 32, 48} {
		g, err := b.Get(n)
		if err != nil || g.t != n {
			t.Fatalf("Get(%d) = %v, %v", n, g, err)
		}
	}
	if _, err := b.Get(99); err == nil {
		t.Error("a failing build returned no error")
	}
	fail = false
	if g, err := b.Get(99); err != nil || g.t != 99 {
		t.Errorf("the build after a failure: %v, %v", g, err)
	}
	if !reflect.DeepEqual(built, []int{16, 32, 48, 99}) {
		t.Errorf("built %v, want each length once", built)
	}
	b.Close()
	slices.Sort(closed)
	if !reflect.DeepEqual(closed, []int{16, 32, 48, 99}) {
		t.Errorf("closed %v", closed)
	}
}
