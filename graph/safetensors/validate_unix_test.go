//go:build unix

package safetensors

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadSpecialFiles: a FIFO or /dev/zero is refused at once, without
// blocking or reading without end, and without growing memory.
func TestReadSpecialFiles(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo.safetensors")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, p := range []string{fifo, "/dev/zero", t.TempDir()} {
		if p == "/dev/zero" {
			if _, err := os.Stat(p); err != nil {
				continue
			}
		}
		done := make(chan error, 1)
		go func() { _, _, err := Read(p); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), p) {
				t.Errorf("Read(%s): error %v, want one naming the file", p, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Read(%s) blocked", p)
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("refusing special files allocated %d MB", grew>>20)
	}
}
