package experiments

import (
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"

	"gatedpo/graph"
	"gatedpo/results"
)

var (
	provOnce sync.Once
	provBase results.Provenance
)

// baseProvenance is the part of a cell's provenance that does not depend
// on the cell: schema version, git commit (from the build info, else `git
// rev-parse HEAD`, with "-dirty" when the tree has changes), Go version and
// BLAS build.
func baseProvenance() results.Provenance {
	provOnce.Do(func() {
		provBase = results.Provenance{SchemaVersion: results.SchemaVersion, GoVersion: runtime.Version(), BLAS: graph.BLASName()}
		if bi, ok := debug.ReadBuildInfo(); ok {
			rev, dirty := "", false
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					rev = s.Value
				case "vcs.modified":
					dirty = s.Value == "true"
				}
			}
			if rev != "" {
				if dirty {
					rev += "-dirty"
				}
				provBase.GitCommit = rev
			}
		}
		if provBase.GitCommit == "" {
			if out, err := exec.Command("git", "rev-parse", "HEAD").Output(); err == nil {
				provBase.GitCommit = strings.TrimSpace(string(out))
				if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(strings.TrimSpace(string(st))) > 0 {
					provBase.GitCommit += "-dirty"
				}
			} else {
				provBase.GitCommit = "unknown"
			}
		}
	})
	return provBase
}
