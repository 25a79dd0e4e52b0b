//go:build unix

package benchsys

import (
	"runtime"
	"syscall"
)

// PeakRSSMiB returns the peak resident set size in MiB (getrusage
// ru_maxrss, as the peer reports it: KiB on Linux, bytes on macOS).
func PeakRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return -1
	}
	if runtime.GOOS == "darwin" {
		return float64(ru.Maxrss) / (1 << 20)
	}
	return float64(ru.Maxrss) / 1024
}

// OwnCPUSeconds returns this process's user + system CPU seconds.
func OwnCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return tv(ru.Utime) + tv(ru.Stime)
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
