// Package sharedtest locates the reference data that sits beside a
// development checkout (../shared: PyTorch goldens, Hugging Face models,
// real preference datasets) for tests. A user's clone has no ../shared,
// so every test that needs it skips, saying which file was missing.
package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the shared directory (the module root's sibling "shared"),
// after checking that every need path (slash-separated, relative to it)
// exists; otherwise it skips t with the missing path.
func Dir(t testing.TB, need ...string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Skipf("skipping: no working directory, so ../shared cannot be located: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("skipping: no go.mod above the package directory, so ../shared cannot be located")
		}
		dir = parent
	}
	shared := filepath.Join(filepath.Dir(dir), "shared")
	for _, n := range need {
		p := filepath.Join(shared, filepath.FromSlash(n))
		if _, err := os.Stat(p); err != nil {
			t.Skipf("skipping: %s not found (the reference data in ../shared is absent from a user's clone)", p)
		}
	}
	return shared
}

// Path returns the shared path rel (slash-separated), skipping t when it
// does not exist.
func Path(t testing.TB, rel string) string {
	t.Helper()
	return filepath.Join(Dir(t, rel), filepath.FromSlash(rel))
}
