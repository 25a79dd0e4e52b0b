package results

// Statistics of the comparison: means with Student-t confidence intervals
// over seeds.

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// Interval is a mean with a two-sided Student-t confidence interval.
type Interval struct {
	N     int     // number of values
	Mean  float64 // NaN when N = 0
	Lo    float64 // NaN when N < 2
	Hi    float64 // NaN when N < 2
	HasCI bool    // N ≥ 2
}

// ExcludesZero reports whether the interval exists and does not contain 0.
func (iv Interval) ExcludesZero() bool {
	return iv.HasCI && (iv.Lo > 0 || iv.Hi < 0)
}

// TQuantile returns the p-quantile of Student's t distribution with df
// degrees of freedom (df ≥ 1).
func TQuantile(p float64, df int) float64 {
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(df)}.Quantile(p)
}

// TInterval returns the mean of xs and its two-sided confidence interval
// mean ± t_{(1+conf)/2, n−1} · s/√n, s the sample standard deviation
// (denominator n − 1). With fewer than two values there is no interval.
func TInterval(xs []float64, conf float64) Interval {
	n := len(xs)
	iv := Interval{N: n, Mean: math.NaN(), Lo: math.NaN(), Hi: math.NaN()}
	if n == 0 {
		return iv
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	iv.Mean = sum / float64(n)
	if n < 2 {
		return iv
	}
	var ss float64
	for _, x := range xs {
		ss += (x - iv.Mean) * (x - iv.Mean)
	}
	sd := math.Sqrt(ss / float64(n-1))
	half := TQuantile((1+conf)/2, n-1) * sd / math.Sqrt(float64(n))
	iv.Lo, iv.Hi, iv.HasCI = iv.Mean-half, iv.Mean+half, true
	return iv
}

// meanOf is the mean of xs (NaN when empty).
func meanOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
