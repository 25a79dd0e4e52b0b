package benchsys

import "sort"

// Stats summarises timed steps as the PyTorch peer's bench scripts do.
type Stats struct {
	Median, Mean, Min, Max float64
}

// Summarize returns the median (the mean of the two middle values for an
// even count), mean, minimum and maximum of xs; xs must not be empty.
func Summarize(xs []float64) Stats {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return Stats{Median: med, Mean: sum / float64(n), Min: s[0], Max: s[n-1]}
}
