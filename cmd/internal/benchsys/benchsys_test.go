package benchsys

import (
	"runtime"
	"testing"
)

func TestSummarize(t *testing.T) {
	odd := Summarize([]float64{3, 1, 2})
	if odd != (Stats{Median: 2, Mean: 2, Min: 1, Max: 3}) {
		t.Errorf("odd: %+v", odd)
	}
	even := Summarize([]float64{4, 1, 3, 2})
	if even != (Stats{Median: 2.5, Mean: 2.5, Min: 1, Max: 4}) {
		t.Errorf("even: %+v", even)
	}
}

func TestReadings(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the /proc readings are Linux's")
	}
	if r, p := RSSMiB(), PeakRSSMiB(); r <= 0 || p < r*0.5 {
		t.Errorf("RSS %v MiB, peak %v MiB", r, p)
	}
	s := SnapshotCPU()
	if s.Wall.IsZero() || s.Own < 0 || s.Busy <= 0 {
		t.Errorf("snapshot %+v", s)
	}
	if LoadAvg1() < 0 {
		t.Error("no load average")
	}
	if libs := BLASLibs("gonum"); len(libs) == 0 {
		t.Error("no BLAS named")
	}
}
