//go:build !unix

package benchsys

// PeakRSSMiB is unknown without getrusage: -1, as when the call fails.
func PeakRSSMiB() float64 { return -1 }

// OwnCPUSeconds is unknown without getrusage: 0, as when the call fails.
func OwnCPUSeconds() float64 { return 0 }
