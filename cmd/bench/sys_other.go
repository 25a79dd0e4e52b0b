//go:build !unix

package main

// peakRSSMiB is unknown without getrusage: -1, as when the call fails.
func peakRSSMiB() float64 { return -1 }

// ownCPUSeconds is unknown without getrusage: 0, as when the call fails.
func ownCPUSeconds() float64 { return 0 }
