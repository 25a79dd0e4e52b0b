package experiments

import (
	"fmt"
	"gatedpo/experiments/config"
	"os"
	"strconv"
	"strings"
)

// ShardsEnv is the environment variable that gives the shard count to a
// Kubernetes Indexed Job (whose JOB_COMPLETION_INDEX gives the index), as
// an alternative to -shards.
const ShardsEnv = "GATEDPO_SHARDS"

// ResolveShard works out this process's shard (0-based index, count) from,
// in order: the -shard flag "i/n" (0 ≤ i < n); a Slurm job array
// ((SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP,
// and SLURM_ARRAY_TASK_COUNT, so --array=0-30:2 gives shards 0..15 of 16); a Kubernetes Indexed Job (JOB_COMPLETION_INDEX,
// with the count from -shards or GATEDPO_SHARDS). No setting → (0, 1).
func ResolveShard(flag string, shards int, getenv func(string) string) (index, count int, err error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	bad := func(src, format string, args ...any) error {
		return &config.ConfigError{File: src, Msg: fmt.Sprintf(format, args...)}
	}
	if flag != "" {
		is, ns, ok := strings.Cut(flag, "/")
		i, e1 := strconv.Atoi(is)
		n, e2 := strconv.Atoi(ns)
		if !ok || e1 != nil || e2 != nil || n < 1 || i < 0 || i >= n {
			return 0, 0, bad("-shard", "expected i/n with 0 <= i < n (e.g. 0/4), got %q", flag)
		}
		return i, n, nil
	}
	if id := getenv("SLURM_ARRAY_TASK_ID"); id != "" {
		i, err := strconv.Atoi(id)
		if err != nil {
			return 0, 0, bad("SLURM_ARRAY_TASK_ID", "expected an integer, got %q", id)
		}
		if m := getenv("SLURM_ARRAY_TASK_MIN"); m != "" {
			mi, err := strconv.Atoi(m)
			if err != nil {
				return 0, 0, bad("SLURM_ARRAY_TASK_MIN", "expected an integer, got %q", m)
			}
			i -= mi
		}
		if st := getenv("SLURM_ARRAY_TASK_STEP"); st != "" {
			step, err := strconv.Atoi(st)
			if err != nil || step < 1 {
				return 0, 0, bad("SLURM_ARRAY_TASK_STEP", "expected a positive integer, got %q", st)
			}
			if i%step != 0 {
				return 0, 0, bad("SLURM_ARRAY_TASK_ID", "task %s is not on the array's step %d from its minimum", id, step)
			}
			i /= step
		}
		cs := getenv("SLURM_ARRAY_TASK_COUNT")
		n, err := strconv.Atoi(cs)
		if err != nil || n < 1 {
			return 0, 0, bad("SLURM_ARRAY_TASK_COUNT", "expected a positive integer with SLURM_ARRAY_TASK_ID set, got %q", cs)
		}
		if i < 0 || i >= n {
			return 0, 0, bad("SLURM_ARRAY_TASK_ID", "task %d is outside 0..%d (use --array=0-%d)", i, n-1, n-1)
		}
		return i, n, nil
	}
	if id := getenv("JOB_COMPLETION_INDEX"); id != "" {
		i, err := strconv.Atoi(id)
		if err != nil {
			return 0, 0, bad("JOB_COMPLETION_INDEX", "expected an integer, got %q", id)
		}
		n := shards
		if n == 0 {
			if s := getenv(ShardsEnv); s != "" {
				if n, err = strconv.Atoi(s); err != nil || n < 1 {
					return 0, 0, bad(ShardsEnv, "expected a positive integer, got %q", s)
				}
			}
		}
		if n < 1 {
			return 0, 0, bad("JOB_COMPLETION_INDEX", "set -shards N or %s to the Job's completions", ShardsEnv)
		}
		if i < 0 || i >= n {
			return 0, 0, bad("JOB_COMPLETION_INDEX", "index %d is outside 0..%d", i, n-1)
		}
		return i, n, nil
	}
	if shards > 1 {
		return 0, 0, bad("-shards", "-shards needs JOB_COMPLETION_INDEX (or use -shard i/n)")
	}
	return 0, 1, nil
}
