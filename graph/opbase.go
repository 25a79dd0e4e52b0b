package graph

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// elem is the element type constraint of every kernel in this package.
type elem interface{ ~float32 | ~float64 }

// opSeq numbers stateful op instances (ops that cache forward results for
// their backward op), so that two of them never share a hash and are never
// merged by Gorgonia's common-subexpression elimination.
var opSeq atomic.Uint64

func nextOpID() uint64 { return opSeq.Add(1) }

// hashOf is the Hashcode of an op: FNV-1a over its WriteHash.
func hashOf(op interface{ WriteHash(hash.Hash) }) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// fnType builds the op type a₁ → a₂ → … → out where every operand is a
// tensor of the given rank over one type variable 'a' (rank 0 = scalar a).
func fnType(ranks ...int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, len(ranks))
	for i, r := range ranks {
		if r == 0 {
			ts[i] = a
		} else {
			ts[i] = G.TensorType{Dims: r, Of: a}
		}
	}
	return hm.NewFnType(ts...)
}

// denseOf returns v as a *tensor.Dense with contiguous, non-view storage
// (materialising a view when needed).
func denseOf(v G.Value) (*tensor.Dense, error) {
	d, ok := v.(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("expected a *tensor.Dense, got %T", v)
	}
	if d.IsView() || d.RequiresIterator() {
		m := d.Materialize()
		if md, ok := m.(*tensor.Dense); ok {
			return md, nil
		}
		return nil, fmt.Errorf("cannot materialise a %T", m)
	}
	return d, nil
}

// sliceOf returns the backing data of a dense value as []T.
func sliceOf[T elem](v G.Value) ([]T, error) {
	d, err := denseOf(v)
	if err != nil {
		return nil, err
	}
	s, ok := d.Data().([]T)
	if !ok {
		var z T
		return nil, fmt.Errorf("expected %T data, got %T", []T{z}, d.Data())
	}
	return s, nil
}

// newDense allocates a zeroed tensor of the element type T.
func newDense[T elem](shape ...int) (*tensor.Dense, []T) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]T, n)
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data)), data
}

// gemm computes C = alpha·op(A)·op(B) + beta·C on row-major matrices with
// leading dimensions lda, ldb, ldc, through gonum's blas32/blas64
// implementation (which graph/blas*.go may switch to OpenBLAS).
func gemm[T elem](tA, tB bool, m, n, k int, alpha T, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	if tA && !tB && isPureGoBLAS() && m*k >= 4096 {
		// gonum's Trans×NoTrans kernel runs at about half the speed of its
		// NoTrans×NoTrans one; a blocked transpose of A costs far less.
		at := getScratch[T](m * k)
		transposeInto(at, a, k, m, lda)
		gemm(false, false, m, n, k, alpha, at, k, b, ldb, beta, c, ldc)
		putScratch(at)
		return
	}
	switch aa := any(a).(type) {
	case []float64:
		blas64.Implementation().Dgemm(ta, tb, m, n, k, float64(alpha), aa, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	case []float32:
		blas32.Implementation().Sgemm(ta, tb, m, n, k, float32(alpha), aa, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	}
}

// parallelFor runs body(i) for i in [0, n) on up to GOMAXPROCS goroutines,
// handing out indices one at a time. Small n runs inline.
func parallelFor(n int, body func(i int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		for i := 0; i < n; i++ {
			body(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				body(i)
			}
		}()
	}
	wg.Wait()
}

// parallelRange splits [0, n) into up to GOMAXPROCS contiguous chunks and
// runs body(lo, hi) on each; below minPer items per chunk it runs inline.
func parallelRange(n, minPer int, body func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if minPer < 1 {
		minPer = 1
	}
	if w := n / minPer; w < workers {
		workers = w
	}
	if workers <= 1 {
		body(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		lo, hi := n*w/workers, n*(w+1)/workers
		go func() {
			defer wg.Done()
			body(lo, hi)
		}()
	}
	wg.Wait()
}

// checkArity returns an error when an op receives the wrong number of inputs.
func checkArity(op G.Op, n int) error {
	if op.Arity() >= 0 && n != op.Arity() {
		return fmt.Errorf("%v: expected %d inputs, got %d", op, op.Arity(), n)
	}
	return nil
}

// shapeOf converts a DimSizer passed to InferShape into a shape.
func shapeOf(d G.DimSizer) (tensor.Shape, error) {
	s, ok := d.(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("expected a tensor.Shape, got %T", d)
	}
	return s, nil
}

// dispatch runs f32 or f64 according to the dtype of v.
func dispatch(v G.Value, f32 func() (G.Value, error), f64 func() (G.Value, error)) (G.Value, error) {
	switch v.Dtype() {
	case tensor.Float32:
		return f32()
	case tensor.Float64:
		return f64()
	}
	return nil, fmt.Errorf("unsupported dtype %v (want float32 or float64)", v.Dtype())
}

// pureOp is embedded by every op of this package: Do calls nothing
// external and overwrites no input, and its result is the op's own: a
// buffer the op reuses on its next run (outBufs; see "Output buffers
// reused across runs") or a fresh value. Ops without a SymDiff of their own
// (the backward ops: second-order gradients are not supported) embed it
// alone.
type pureOp struct{ outBufs }

func (pureOp) ReturnsPtr() bool     { return false }
func (pureOp) CallsExtern() bool    { return false }
func (pureOp) OverwritesInput() int { return -1 }

// forwardOnly is embedded by ops whose output is a constant to G.Grad
// (statistics read for probes): no input is differentiated.
type forwardOnly struct{ pureOp }

func (forwardOnly) DiffWRT(n int) []bool { return make([]bool, n) }
func (forwardOnly) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("graph: a forward-only op has no gradient")
}

// backwardOf is embedded by the backward op of a stateful forward op fwd
// (an op instance that caches, for its backward, what its forward
// computed): it hashes as "gatedpo."+tag+"/" followed by fwd's hash (so it
// is never merged with the backward of another instance), prints as fwd
// followed by suffix, and its output has its first input's shape.
type backwardOf[F G.Op] struct {
	pureOp
	tag, suffix string
	fwd         F
}

func (b *backwardOf[F]) WriteHash(h hash.Hash) {
	fmt.Fprint(h, "gatedpo."+b.tag+"/")
	b.fwd.WriteHash(h)
}
func (b *backwardOf[F]) Hashcode() uint32 { return hashOf(b) }
func (b *backwardOf[F]) String() string   { return b.fwd.String() + b.suffix }
func (b *backwardOf[F]) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapeOf(in[0])
	if err != nil {
		return nil, err
	}
	return s.Clone(), nil
}

// doOp is the Do of an op over float32 or float64 values: it checks the
// number of inputs, then runs f32 or f64 according to the dtype of in[0].
func doOp[O G.Op](op O, in []G.Value, f32 func(O, []G.Value) (G.Value, error), f64 func(O, []G.Value) (G.Value, error)) (G.Value, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	return dispatch(in[0], func() (G.Value, error) { return f32(op, in) },
		func() (G.Value, error) { return f64(op, in) })
}

// slicesOf returns the backing data of dense values as []T, in order.
func slicesOf[T elem](vs ...G.Value) ([][]T, error) {
	out := make([][]T, len(vs))
	for i, v := range vs {
		s, err := sliceOf[T](v)
		if err != nil {
			return nil, err
		}
		out[i] = s
	}
	return out, nil
}

// elementwiseShape is the InferShape of an op whose output has its first
// input's shape.
func elementwiseShape(op G.Op, in []G.DimSizer) (tensor.Shape, error) {
	if err := checkArity(op, len(in)); err != nil {
		return nil, err
	}
	s, err := shapeOf(in[0])
	if err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	return s.Clone(), nil
}

// elementwiseType is the op type a → … → a with n operands and the result
// all of one type (scalar or tensor of any rank).
func elementwiseType(n int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, n+1)
	for i := range ts {
		ts[i] = a
	}
	return hm.NewFnType(ts...)
}

// dtypeBufs holds one buffer per element type, for the ops that keep a
// forward result or scratch space across runs.
type dtypeBufs struct {
	f32 []float32
	f64 []float64
}

// bufOf returns the buffer of b for element type T.
func bufOf[T elem](b *dtypeBufs) *[]T {
	var z T
	if _, ok := any(z).(float32); ok {
		return any(&b.f32).(*[]T)
	}
	return any(&b.f64).(*[]T)
}

// sizedBuf returns b's buffer for T with length n, taking another one from
// the buffer pool when the held one has another length. Its contents are
// unspecified (the previous run's, or another op's): the caller writes
// every element it later reads.
func sizedBuf[T elem](b *dtypeBufs, n int) []T {
	p := bufOf[T](b)
	switch {
	case len(*p) == n:
	case n > 0 && cap(*p) >= n && cap(*p) <= 4*n:
		*p = (*p)[:n]
	default:
		*p = takeBuf[T](n) // a held buffer that does not fit is dropped, never pooled
	}
	return *p
}

// bytes is the memory of b's buffers (their capacity).
func (b dtypeBufs) bytes() int64 { return int64(cap(b.f32))*4 + int64(cap(b.f64))*8 }

// putBufs hands b's buffers to the buffer pool and forgets them; a second
// call is a no-op. Only the buffer's one owner may call it, and only when
// no value of the graph still refers to the buffer (ReleaseValues).
func putBufs(b *dtypeBufs) {
	if b.f32 != nil {
		giveBuf(b.f32)
	}
	if b.f64 != nil {
		giveBuf(b.f64)
	}
	*b = dtypeBufs{}
}

// # Output buffers reused across runs
//
// An op that embeds outBufs writes its output (and any scratch it keeps)
// into buffers it holds, one per slot, and hands them out again on its
// next run instead of allocating: a graph run by a TapeMachine allocates
// its activations and gradients once. The rules that make this safe:
//
//   - A value an op of this package returns is valid until the next run of
//     its graph or ReleaseValues, whichever comes first: the next run
//     overwrites it in place, and ReleaseValues hands the buffer to the
//     pool, where any graph's next run may take it. Whoever keeps a value
//     past that copies it (G.Read targets and Float64s are copies; the
//     optimizer reads gradients before the step's release).
//   - Every op instance owns its buffers: an op that embeds outBufs is a
//     pointer made once per ApplyOp call and is never applied to two nodes.
//   - The output header is a fresh *tensor.Dense over the held backing on
//     every run (a Gorgonia op that reshapes or transposes its input in
//     place changes only that header).
//   - A reused buffer holds stale data: kernels overwrite every element, or
//     take a zeroed buffer (reuseZeroDense) when they accumulate.
//
// The pool (below) hands a released buffer to any request of its element
// type that it fits, so a graph whose values were released gets buffers
// back on its next run, and it holds at most one released graph's worth.

// outBufs holds an op's output buffers, one dtypeBufs per slot.
type outBufs struct{ slots []dtypeBufs }

// slotBuf returns the held buffer of slot for T with length n (taking one
// from the pool when the held one is missing or of another length); it
// has unspecified contents (all NaN under poisonBufs).
func slotBuf[T elem](o *outBufs, slot, n int) []T {
	for len(o.slots) <= slot {
		o.slots = append(o.slots, dtypeBufs{})
	}
	b := sizedBuf[T](&o.slots[slot], n)
	poison(b)
	return b
}

// reuseDense returns a tensor of the given shape over slot's buffer: a new
// header every run, the backing reused. Its contents are unspecified: the
// caller overwrites every element.
func reuseDense[T elem](o *outBufs, slot int, shape ...int) (*tensor.Dense, []T) {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := slotBuf[T](o, slot, n)
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data)), data
}

// reuseZeroDense is reuseDense with every element set to zero, for kernels
// that accumulate into their output.
func reuseZeroDense[T elem](o *outBufs, slot int, shape ...int) (*tensor.Dense, []T) {
	out, data := reuseDense[T](o, slot, shape...)
	clear(data)
	return out, data
}

// releaseOutputs hands every held buffer to the pool (ReleaseValues).
func (o *outBufs) releaseOutputs() {
	for i := range o.slots {
		putBufs(&o.slots[i])
	}
	o.slots = nil
}

// heldOutputs lists the held buffers (HeldBytes).
func (o *outBufs) heldOutputs() []dtypeBufs { return o.slots }

// The buffer pool. Released buffers wait here, newest last, for the next
// run of any graph. A request for n elements takes the smallest pooled
// buffer of capacity n … 4n (the newest among equals), so the graphs of
// different batch shapes (the training loop keeps one per row-length
// bucket) share one set of buffers, sized by the largest. Buffers are
// allocated with the capacity of their size class (eight classes per
// octave: at most 12.5 % above the length). The pool holds at most
// pool.limit bytes, the largest set of buffers one ReleaseValues has
// returned so far (raised by beginRelease): beyond it the oldest buffers
// are dropped for the garbage collector, and so is a buffer no run has
// taken for poolMaxAge releases. Live memory is then at most the running
// graph's buffers plus one graph's worth in the pool, whatever the number
// of graphs kept.
var pool struct {
	mu    sync.Mutex
	bufs  []pooledBuf // oldest first
	bytes int64
	limit int64
	epoch uint64 // ReleaseValues calls so far
}

// pooledBuf is one pooled buffer (one of the two slices set) and the
// release that pooled it.
type pooledBuf struct {
	dtypeBufs
	epoch uint64
}

// poolMaxAge is how many releases a pooled buffer waits for a run to take
// it before it is dropped: buffers of a graph that is no longer run (a
// finished stage, a probe pass) do not stay in the pool.
const poolMaxAge = 16

// sizeClass is the capacity a buffer for length n is allocated with.
func sizeClass(n int) int {
	k := bits.Len(uint(n-1)) - 4
	if n <= 16 || k <= 0 {
		return n
	}
	return ((n-1)>>k + 1) << k
}

// takeBuf returns a buffer of length n: the best fit from the pool
// (stale contents), or a newly allocated, zeroed one.
func takeBuf[T elem](n int) []T {
	if n == 0 {
		return []T{}
	}
	pool.mu.Lock()
	best := -1
	for i := len(pool.bufs) - 1; i >= 0; i-- {
		c := cap(*bufOf[T](&pool.bufs[i].dtypeBufs))
		if c >= n && c <= 4*n && (best < 0 || c < cap(*bufOf[T](&pool.bufs[best].dtypeBufs))) {
			best = i
		}
	}
	if best >= 0 {
		s := (*bufOf[T](&pool.bufs[best].dtypeBufs))[:n]
		pool.bytes -= pool.bufs[best].bytes()
		pool.bufs = append(pool.bufs[:best], pool.bufs[best+1:]...)
		pool.mu.Unlock()
		poison(s)
		return s
	}
	pool.mu.Unlock()
	return make([]T, n, sizeClass(n))
}

// giveBuf hands s to the pool, dropping the oldest pooled buffers beyond
// the pool's limit. The caller must hold the only reference to s.
func giveBuf[T elem](s []T) {
	if cap(s) == 0 {
		return
	}
	var b dtypeBufs
	*bufOf[T](&b) = s[:cap(s)]
	pool.mu.Lock()
	defer pool.mu.Unlock()
	pool.bufs = append(pool.bufs, pooledBuf{b, pool.epoch})
	pool.bytes += b.bytes()
	evictLocked()
}

// evictLocked drops the oldest pooled buffers while the pool is over its
// limit or they are older than poolMaxAge releases (pool.mu held).
func evictLocked() {
	drop := 0
	for drop < len(pool.bufs) && (pool.bytes > pool.limit || pool.bufs[drop].epoch+poolMaxAge < pool.epoch) {
		pool.bytes -= pool.bufs[drop].bytes()
		drop++
	}
	if drop > 0 {
		n := copy(pool.bufs, pool.bufs[drop:])
		clear(pool.bufs[n:])
		pool.bufs = pool.bufs[:n]
	}
}

// beginRelease starts a ReleaseValues that will pool n bytes: it lets the
// pool hold them and advances the pool's clock.
func beginRelease(n int64) {
	pool.mu.Lock()
	pool.limit = max(pool.limit, n)
	pool.epoch++
	evictLocked()
	pool.mu.Unlock()
}

// pooledBytes is the memory the pool holds.
func pooledBytes() int64 {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	return pool.bytes
}

// poisonBufs, set by tests only, fills every buffer handed to an op with
// NaN, so a kernel that reads an element it did not write shows up.
var poisonBufs bool

func poison[T elem](s []T) {
	if !poisonBufs {
		return
	}
	nan := T(math.NaN())
	for i := range s {
		s[i] = nan
	}
}

// isPureGoBLAS reports whether gonum's pure-Go BLAS is in use (it is
// replaced by OpenBLAS in the -tags openblas build).
func isPureGoBLAS() bool {
	_, ok := blas32.Implementation().(gonum.Implementation)
	return ok
}

var scratch32, scratch64 sync.Pool

// getScratch returns a scratch slice of length n from a pool.
func getScratch[T elem](n int) []T {
	var z T
	pool := &scratch64
	if _, ok := any(z).(float32); ok {
		pool = &scratch32
	}
	if v, ok := pool.Get().(*[]T); ok && cap(*v) >= n {
		return (*v)[:n]
	}
	return make([]T, n)
}

// putScratch returns a slice to its pool.
func putScratch[T elem](s []T) {
	var z T
	if _, ok := any(z).(float32); ok {
		scratch32.Put(&s)
		return
	}
	scratch64.Put(&s)
}

// transposeInto writes the transpose of the rows×cols matrix src (leading
// dimension ld) into dst as a dense cols×rows matrix, in cache blocks.
func transposeInto[T elem](dst, src []T, rows, cols, ld int) {
	const bs = 32
	for i0 := 0; i0 < rows; i0 += bs {
		i1 := min(i0+bs, rows)
		for j0 := 0; j0 < cols; j0 += bs {
			j1 := min(j0+bs, cols)
			for i := i0; i < i1; i++ {
				row := src[i*ld : i*ld+j1]
				for j := j0; j < j1; j++ {
					dst[j*rows+i] = row[j]
				}
			}
		}
	}
}
