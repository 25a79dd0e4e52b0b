package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCRC32CKnownValue pins the checksum against the CRC-32C check value
// of "123456789" (0xE3069283, from the polynomial's catalogue entry).
func TestCRC32CKnownValue(t *testing.T) {
	c := maskedCRC([]byte("123456789"))
	raw := uint32(0xE3069283)
	if want := ((raw >> 15) | (raw << 17)) + 0xa282ead8; c != want {
		t.Fatalf("masked crc %#x, want %#x", c, want)
	}
}

// tbEvent is one event as results/testdata/read_tfevents.py prints it.
type tbEvent struct {
	WallTime    float64        `json:"wall_time"`
	Step        int64          `json:"step"`
	FileVersion string         `json:"file_version"`
	SessionLog  *int           `json:"session_log_status"`
	Scalars     map[string]any `json:"scalars"`
}

// readEventsPython reads event files with the independent Python reader
// (CRC checks included); the test skips without python3.
func readEventsPython(t *testing.T, paths ...string) ([]tbEvent, error) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: the independent TensorBoard reader (testdata/read_tfevents.py) needs it")
	}
	cmd := exec.Command(py, append([]string{filepath.Join("testdata", "read_tfevents.py")}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, &readErr{stderr.String()}
	}
	var evs []tbEvent
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		var ev tbEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

type readErr struct{ msg string }

func (e *readErr) Error() string { return e.msg }

func TestEventWriterReadBack(t *testing.T) {
	dir := t.TempDir()
	ew, err := NewEventWriter(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	tags := []string{"train/loss", "train/rewards/margins", "eval/heldout/gap"}
	for step := 1; step <= 3; step++ {
		vals := []float64{0.5 / float64(step), float64(step) * 1.25, math.NaN()}
		if err := ew.Scalars(step, tags, vals); err != nil {
			t.Fatal(err)
		}
	}
	if err := ew.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(ew.Path), EventFilePrefix) {
		t.Errorf("file name %s", ew.Path)
	}
	evs, err := readEventsPython(t, ew.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 || evs[0].FileVersion != "brain.Event:2" || evs[0].WallTime <= 0 {
		t.Fatalf("events %+v", evs)
	}
	for i, ev := range evs[1:] {
		step := float64(i + 1)
		if ev.Step != int64(i+1) {
			t.Errorf("event %d step %d", i+1, ev.Step)
		}
		if got := ev.Scalars["train/loss"].(float64); got != float64(float32(0.5/step)) {
			t.Errorf("step %v loss %v", step, got)
		}
		if got := ev.Scalars["train/rewards/margins"].(float64); got != step*1.25 {
			t.Errorf("step %v margin %v", step, got)
		}
		if ev.Scalars["eval/heldout/gap"] != "NaN" {
			t.Errorf("step %v NaN written as %v", step, ev.Scalars["eval/heldout/gap"])
		}
	}

	// a resumed writer starts with a SessionLog START at the resume step
	ew2, err := NewEventWriter(dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	ew2.Close()
	if ew2.Path == ew.Path {
		t.Fatal("second writer reused the first file")
	}
	evs, err = readEventsPython(t, ew2.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[1].SessionLog == nil || *evs[1].SessionLog != 1 || evs[1].Step != 2 {
		t.Fatalf("resume events %+v", evs)
	}

	// the reader really checks the CRCs: flip one data byte
	b, _ := os.ReadFile(ew.Path)
	b[len(b)-10] ^= 0x40
	bad := filepath.Join(t.TempDir(), EventFilePrefix+"bad")
	os.WriteFile(bad, b, 0o644)
	if _, err := readEventsPython(t, bad); err == nil || !strings.Contains(err.Error(), "CRC") {
		t.Errorf("a corrupted file was read without a CRC error: %v", err)
	}
}
