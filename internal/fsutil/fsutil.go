// Package fsutil holds the file-system step that both the record writers
// (results) and the safetensors writer (graph/safetensors) need, in one
// leaf package: graph sits below results in the import chain, so neither
// can borrow it from the other.
package fsutil

import (
	"errors"
	"os"
	"syscall"
)

// SyncDir fsyncs a directory, so that a rename into it (or the creation of
// a file in it) survives a power loss. File systems that cannot sync a
// directory (EINVAL, ENOTSUP) are not an error.
func SyncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		return nil
	}
	return err
}
