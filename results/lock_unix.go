//go:build unix

package results

import (
	"errors"
	"os"
	"syscall"
)

// lockFile takes flock(LOCK_EX) on f; held is false when block is false
// and another open file holds the lock.
func lockFile(f *os.File, block bool) (held bool, err error) {
	how := syscall.LOCK_EX
	if !block {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

// unlockFile releases the lock taken by lockFile.
func unlockFile(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
