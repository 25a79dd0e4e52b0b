// Package benchsys holds what cmd/bench measures besides the step itself:
// the step-time summary (median, mean, min, max), and the process and
// machine readings the PyTorch peer's bench scripts report (resident and
// peak memory from /proc and getrusage, this process's CPU seconds, the
// machine's busy CPU time and load average, the BLAS libraries mapped in),
// so that the two programs' JSON lines compare key for key. Readings that
// an OS does not offer come back as -1 or 0 instead of failing a run.
package benchsys
