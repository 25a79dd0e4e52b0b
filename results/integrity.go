package results

// Integrity of the records: content hashes of a finished cell's files and
// durable (fsynced) writes. summary.json of a finished cell lists the
// sha256 of every record file (CellSummary.Files); a cell is "complete"
// only while its files still match. Readers (LoadSweep) and the sweep
// runner check them: a mismatch marks the cell damaged instead of letting a
// truncated or edited file silently change a figure or a comparison.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"gatedpo/internal/fsutil"
)

// RecordFiles are the files of a cell directory whose sha256 a finished
// cell's summary.json records in Files.
var RecordFiles = []string{CellConfigFile, TrainCSVFile, ProbeMetricsFile, ProbeFieldsFile, ProbeExamplesFile, ProbeTokensFile}

// SyncDir fsyncs a directory, so that a rename into it (or the creation of
// a file in it) survives a power loss. File systems that cannot sync a
// directory (EINVAL, ENOTSUP) are not an error.
func SyncDir(dir string) error { return fsutil.SyncDir(dir) }

// HashFile returns the hex sha256 of a file's bytes.
func HashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// HashRecords returns the sha256 of every RecordFiles file present in a
// cell directory, by file name.
func HashRecords(dir string) (map[string]string, error) {
	out := map[string]string{}
	for _, name := range RecordFiles {
		h, err := HashFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[name] = h
	}
	return out, nil
}

// DamagedError says that a record file of a finished cell no longer
// matches the sha256 its summary.json lists (or is gone).
type DamagedError struct {
	Path   string // the record file
	Reason string // "does not match …", "is missing"
}

// Error names the file and what is wrong with it.
func (e *DamagedError) Error() string {
	return fmt.Sprintf("damaged record: %s %s", e.Path, e.Reason)
}

// OmittedFile, in a sweep directory, names record files left out of every
// cell on purpose: a sweep published in a repository (docs/results) keeps
// its per-example records out to stay small. {"files": [...], "reason":
// "..."}; only OmittableFiles may be listed. A listed file that is absent
// is not damage; one that is present is still checked against its hash.
const OmittedFile = "omitted.json"

// OmittableFiles are the record files no figure or comparison needs (the
// report's distributions and token view read them, and say so when they
// are absent).
var OmittableFiles = []string{ProbeExamplesFile, ProbeTokensFile}

// Omitted is the content of OmittedFile.
type Omitted struct {
	Files  []string `json:"files"`
	Reason string   `json:"reason"`
}

// ReadOmitted reads a sweep directory's OmittedFile: nil when there is
// none, an error naming the file when it is malformed or lists a file that
// is not in OmittableFiles.
func ReadOmitted(sweepDir string) (*Omitted, error) {
	p := filepath.Join(sweepDir, OmittedFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var o Omitted
	if err := json.Unmarshal(b, &o); err != nil {
		return nil, fmt.Errorf("%s: expected {\"files\": [...], \"reason\": \"...\"}: %v", p, err)
	}
	for _, f := range o.Files {
		ok := false
		for _, a := range OmittableFiles {
			ok = ok || f == a
		}
		if !ok {
			return nil, fmt.Errorf("%s: files: %q cannot be omitted; expected one of %v", p, f, OmittableFiles)
		}
	}
	return &o, nil
}

// omittedIn reports whether name is listed in the OmittedFile of the sweep
// directory holding cell directory dir (dir/../..). A malformed
// OmittedFile omits nothing.
func omittedIn(dir, name string) bool {
	o, err := ReadOmitted(filepath.Dir(filepath.Dir(dir)))
	if err != nil || o == nil {
		return false
	}
	for _, f := range o.Files {
		if f == name {
			return true
		}
	}
	return false
}

// VerifyRecords checks the record files of a cell directory against the
// hashes in sum.Files. It returns nil when every listed file matches, and
// when sum lists none (a cell recorded before hashes were kept: nothing
// to check against); otherwise a *DamagedError naming the first bad file.
// A listed file that is absent because the sweep's OmittedFile names it is
// not damage.
func VerifyRecords(dir string, sum CellSummary) error {
	names := make([]string, 0, len(sum.Files))
	for name := range sum.Files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if filepath.Base(name) != name || name == "." || name == ".." {
			return &DamagedError{Path: filepath.Join(dir, CellSummaryFile), Reason: fmt.Sprintf("lists a file outside the cell (%q)", name)}
		}
		p := filepath.Join(dir, name)
		got, err := HashFile(p)
		switch {
		case errors.Is(err, os.ErrNotExist) && omittedIn(dir, name):
			continue
		case errors.Is(err, os.ErrNotExist):
			return &DamagedError{Path: p, Reason: "is missing (" + CellSummaryFile + " lists it)"}
		case err != nil:
			return &DamagedError{Path: p, Reason: "cannot be read: " + err.Error()}
		case got != sum.Files[name]:
			return &DamagedError{Path: p, Reason: "does not match the sha256 in " + CellSummaryFile + " (truncated or edited)"}
		}
	}
	return nil
}

// StatusDamaged is the status summary.csv gives a cell whose summary.json
// says complete but whose records no longer match their hashes (a rerun of
// the sweep recomputes it). It never appears in a summary.json.
const StatusDamaged = "damaged"

// DamagedReasonPrefix starts the SkippedCell.Reason of a damaged cell.
const DamagedReasonPrefix = "DAMAGED: "

// checkDamaged returns the skip entry of a cell directory whose summary
// says complete but whose records do not match their hashes.
func checkDamaged(dir string) (SkippedCell, bool) {
	b, err := os.ReadFile(filepath.Join(dir, CellSummaryFile))
	if err != nil {
		return SkippedCell{}, false // not finished
	}
	var sum CellSummary
	if err := json.Unmarshal(b, &sum); err != nil {
		// summary.json is written atomically: a partial one is damage, not a killed run
		return SkippedCell{ID: filepath.Base(dir), Reason: DamagedReasonPrefix + filepath.Join(dir, CellSummaryFile) +
			" is not valid JSON (" + err.Error() + "); left out (rerun the sweep to recompute the cell)", Damaged: true}, true
	}
	if sum.Status != StatusComplete {
		return SkippedCell{}, false
	}
	if err := VerifyRecords(dir, sum); err != nil {
		return SkippedCell{ID: filepath.Base(dir), Reason: DamagedReasonPrefix + err.Error() + "; left out (rerun the sweep to recompute the cell)", Damaged: true}, true
	}
	return SkippedCell{}, false
}

// Damaged lists the cells left out because their records are damaged.
func (sw *Sweep) Damaged() []SkippedCell {
	var out []SkippedCell
	for _, s := range sw.Skipped {
		if s.Damaged {
			out = append(out, s)
		}
	}
	return out
}

// DamagedNotes are lines for a comparison or a report, one per damaged
// cell left out.
func (sw *Sweep) DamagedNotes() []string {
	var out []string
	for _, s := range sw.Damaged() {
		out = append(out, fmt.Sprintf("cell %s left out: %s", s.ID, s.Reason))
	}
	return out
}

// MarkDamaged marks a comparison built without the damaged cells of sw:
// a note per damaged cell (first in Notes), and on every row the damaged
// cell would have entered (same arch, dataset, pipeline and objective; the
// same gate, or any gate when the damaged cell is ungated) a Note saying
// that its n is short of that cell.
func (sw *Sweep) MarkDamaged(c *Comparison) {
	damaged := sw.Damaged()
	if c == nil || len(damaged) == 0 {
		return
	}
	c.Notes = append(sw.DamagedNotes(), c.Notes...)
	for _, d := range damaged {
		var cfg CellConfig
		b, err := os.ReadFile(filepath.Join(sw.Dir, CellsDir, d.ID, CellConfigFile))
		if err != nil || json.Unmarshal(b, &cfg) != nil {
			continue // unknown settings: the note above still names the cell
		}
		for i := range c.Rows {
			r := &c.Rows[i]
			if r.Context.Arch != cfg.Arch || r.Context.Dataset != cfg.Dataset || r.Context.Pipeline != cfg.Pipeline ||
				r.Context.Objective != cfg.Objective.Name {
				continue
			}
			if !cfg.Gate.Ungated() && GateLabel(r.Gate) != GateLabel(cfg.Gate) {
				continue
			}
			msg := fmt.Sprintf("DAMAGED cell %s (seed %d) left out", d.ID, cfg.Seed)
			if r.Note != "" {
				msg = r.Note + "; " + msg
			}
			r.Note = msg
		}
	}
}
