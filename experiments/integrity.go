package experiments

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"

	"gatedpo/results"
)

// ErrEnvironment is returned by Run when at least one cell stopped on an
// environmental failure (a full disk, an I/O error, …): such a failure is
// not a property of the cell, so it is not recorded; the cell keeps its
// checkpoint and a rerun retries it. Exit status 3.
var ErrEnvironment = errors.New("some cells stopped on an environmental failure (disk full, I/O error); rerun the same command to retry them")

// envError marks a cell error as environmental.
type envError struct{ err error }

func (e *envError) Error() string {
	return "environmental failure (not recorded; a rerun retries): " + e.err.Error()
}
func (e *envError) Unwrap() error { return e.err }

// environmentalErrnos are the system errors that say nothing about a
// cell's configuration: a rerun on a healthy machine may succeed.
var environmentalErrnos = []syscall.Errno{
	syscall.ENOSPC, syscall.EIO, syscall.EDQUOT, syscall.EROFS, syscall.ENOMEM, syscall.EMFILE,
	syscall.ENFILE, syscall.ESTALE, syscall.EAGAIN, syscall.EINTR, syscall.ENXIO, syscall.EBUSY,
	syscall.ETIMEDOUT, syscall.ECONNRESET, syscall.EPIPE, syscall.ENOTCONN,
}

// IsEnvironmental reports whether err is a failure of the machine rather
// than of the inputs: a known system error (ENOSPC, EIO, …) or any failed
// file-system operation (*fs.PathError, *os.LinkError, *os.SyscallError).
func IsEnvironmental(err error) bool {
	if err == nil {
		return false
	}
	var ee *envError
	if errors.As(err, &ee) || isEnvErrno(err) {
		return true
	}
	var pe *fs.PathError
	var le *os.LinkError
	var se *os.SyscallError
	return errors.As(err, &pe) || errors.As(err, &le) || errors.As(err, &se)
}

// finishedCell reads a cell's summary and says whether the cell is done:
// complete with records that match their hashes, or failed (unless
// retryFailed). A complete cell whose records are damaged is not done:
// damaged is the reason, and the caller recomputes it (resetDamagedCell).
func finishedCell(dir string, retryFailed bool) (sum results.CellSummary, done bool, damaged error) {
	_, s, ok := results.ReadCellRecord(dir)
	if !ok {
		if _, err := os.Stat(filepath.Join(dir, results.CellSummaryFile)); err == nil {
			if b, err := os.ReadFile(filepath.Join(dir, results.CellSummaryFile)); err == nil && !json.Valid(b) {
				return s, false, &results.DamagedError{Path: filepath.Join(dir, results.CellSummaryFile), Reason: "is not valid JSON"}
			}
		}
		return s, false, nil
	}
	switch s.Status {
	case results.StatusComplete:
		if err := results.VerifyRecords(dir, s); err != nil {
			return s, false, err
		}
		return s, true, nil
	case results.StatusFailed:
		return s, !retryFailed, nil
	}
	return s, false, nil
}

// resetDamagedCell removes the records, summary and final weights of a
// finished cell whose records are damaged, so that it is recomputed: from
// its newest step checkpoint when one is left and its records still match
// (checkpointRecordsOK), otherwise from scratch (stage 2; the shared SFT
// model is reused). config.json is rewritten by the run.
func resetDamagedCell(dir string) error {
	for _, name := range []string{results.CellSummaryFile, results.TrainCSVFile, results.ProbeMetricsFile,
		results.ProbeFieldsFile, results.ProbeExamplesFile, results.ProbeTokensFile} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Remove(filepath.Join(dir, results.CheckpointDir, "final.safetensors")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return results.SyncDir(dir)
}

// ckptRecordsFile, inside a step checkpoint, holds the sha256 of the
// cell's record rows as they were when the checkpoint was taken
// (results.CellRecords.Digests: each file's rows CSV-encoded, without
// header): a resume checks that the rows
// it continues (those up to the checkpoint's step) are the ones the
// checkpoint belongs to. Rows rather than files, because train.csv grows
// between checkpoints (rows appended at every probe).
const ckptRecordsFile = "records.sha256.json"

// writeCheckpointRecords writes ckptRecordsFile for r into a checkpoint
// being assembled in tmp.
func writeCheckpointRecords(tmp string, r *results.CellRecords) error {
	return results.WriteJSONAtomic(filepath.Join(tmp, ckptRecordsFile), r.Digests())
}

// checkpointRecordsOK says whether the rows read back from cellDir up to
// the checkpoint's step (r) are the rows the checkpoint in ckpt was taken
// with (nil when the checkpoint predates record digests).
func checkpointRecordsOK(ckpt, cellDir string, r *results.CellRecords) error {
	b, err := os.ReadFile(filepath.Join(ckpt, ckptRecordsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var want map[string]string
	if err := json.Unmarshal(b, &want); err != nil {
		return &results.DamagedError{Path: filepath.Join(ckpt, ckptRecordsFile), Reason: "is not valid JSON"}
	}
	got := r.Digests()
	names := make([]string, 0, len(want))
	for name := range want {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if got[name] != want[name] {
			return &results.DamagedError{Path: filepath.Join(cellDir, name),
				Reason: "does not hold the rows the checkpoint " + filepath.Base(ckpt) + " was taken with (truncated or edited)"}
		}
	}
	return nil
}

// isEnvErrno reports whether err wraps one of environmentalErrnos.
func isEnvErrno(err error) bool {
	for _, e := range environmentalErrnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
