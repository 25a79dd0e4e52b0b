package sharedtest

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSkipsWithoutShared: in a module without a sibling shared/, Dir
// skips instead of failing; with one, it returns it and checks needs.
func TestSkipsWithoutShared(t *testing.T) {
	root := t.TempDir()
	mod := filepath.Join(root, "repo")
	os.MkdirAll(filepath.Join(mod, "pkg"), 0o755)
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module x\n"), 0o644)
	reached := false
	t.Run("absent", func(st *testing.T) {
		st.Chdir(filepath.Join(mod, "pkg"))
		Dir(st, "golden/golden.json")
		reached = true
	})
	if reached {
		t.Fatal("Dir returned although ../shared is absent")
	}
	os.MkdirAll(filepath.Join(root, "shared", "golden"), 0o755)
	os.WriteFile(filepath.Join(root, "shared", "golden", "golden.json"), []byte("{}"), 0o644)
	var got string
	t.Run("present", func(st *testing.T) {
		st.Chdir(filepath.Join(mod, "pkg"))
		got = Path(st, "golden/golden.json")
	})
	if want := filepath.Join(root, "shared", "golden", "golden.json"); got != want {
		t.Fatalf("Path = %q, want %q", got, want)
	}
	reached = false
	t.Run("missing file", func(st *testing.T) {
		st.Chdir(filepath.Join(mod, "pkg"))
		Dir(st, "hf/models")
		reached = true
	})
	if reached {
		t.Fatal("Dir returned although a needed path is missing")
	}
}
