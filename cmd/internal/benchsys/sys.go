package benchsys

import (
	"bufio"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The helpers in this file read Linux /proc, as the peer's bench.py does,
// so the two programs report the same quantities. On another OS they
// return zero values (NaN for RSS) rather than failing the benchmark.

// RSSMiB returns the current resident set size in MiB (VmRSS).
func RSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fs := strings.Fields(rest)
			if len(fs) > 0 {
				kb, _ := strconv.ParseFloat(fs[0], 64)
				return kb / 1024
			}
		}
	}
	return -1
}

// BLASLibs lists the BLAS / LAPACK / OpenMP shared objects mapped into
// this process (the peer's blas_libs). The pure-Go build maps none, so it
// reports the Go BLAS by name instead.
func BLASLibs(goBLAS string) []string {
	set := map[string]bool{}
	if f, err := os.Open("/proc/self/maps"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) == 0 {
				continue
			}
			p := fs[len(fs)-1]
			if !strings.HasPrefix(p, "/") {
				continue
			}
			base := filepath.Base(p)
			for _, k := range []string{"blas", "lapack", "gomp", "omp", "dnnl", "mkl"} {
				if strings.Contains(base, k) {
					if r, err := filepath.EvalSymlinks(p); err == nil {
						base = filepath.Base(r)
					}
					set[base] = true
					break
				}
			}
		}
	}
	if len(set) == 0 {
		set[goBLAS] = true
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// CPUSnap is the machine's busy CPU seconds, this process's CPU seconds
// and the wall clock at one instant.
type CPUSnap struct {
	Busy, Own float64
	Wall      time.Time
}

// clkTck is USER_HZ, the unit of /proc/stat; 100 on every Linux this runs on.
const clkTck = 100

func SnapshotCPU() CPUSnap {
	s := CPUSnap{Wall: time.Now()}
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(b), "\n")
		fs := strings.Fields(line)
		var v []float64
		for _, f := range fs[1:] {
			x, _ := strconv.ParseFloat(f, 64)
			v = append(v, x)
		}
		if len(v) >= 8 {
			idle := v[3] + v[4]
			var sum float64
			for _, x := range v[:8] {
				sum += x
			}
			s.Busy = (sum - idle) / clkTck
		}
	}
	s.Own = OwnCPUSeconds()
	return s
}

// LoadAvg1 returns the 1-minute load average.
func LoadAvg1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	fs := strings.Fields(string(b))
	if len(fs) == 0 {
		return -1
	}
	x, _ := strconv.ParseFloat(fs[0], 64)
	return x
}
