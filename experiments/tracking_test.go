package experiments

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gatedpo/results"
)

// tbEvent is one event as results/testdata/read_tfevents.py (an
// independent reader that checks every record's CRCs) prints it.
type tbEvent struct {
	Step       int64          `json:"step"`
	SessionLog *int           `json:"session_log_status"`
	Scalars    map[string]any `json:"scalars"`
}

func readEvents(t *testing.T, paths ...string) []tbEvent {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found: the independent TensorBoard reader needs it")
	}
	cmd := exec.Command(py, append([]string{filepath.Join("..", "results", "testdata", "read_tfevents.py")}, paths...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("read_tfevents.py: %v: %s", err, stderr.String())
	}
	var evs []tbEvent
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var ev tbEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	return evs
}

func eventFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, results.EventFilePrefix+"*"))
	return m
}

// TestSweepTensorBoard checks every finished cell of the reference run:
// one event file, TRL's train/ scalars at every preference step equal to
// train.csv (as float32), and the probe metrics under eval/<split>/ at
// every probe step equal to probe_metrics.csv.
func TestSweepTensorBoard(t *testing.T) {
	dir := referenceRun(t)
	cells, _ := os.ReadDir(filepath.Join(dir, results.CellsDir))
	checked := 0
	for _, c := range cells {
		if !c.IsDir() {
			continue
		}
		cd := filepath.Join(dir, results.CellsDir, c.Name())
		files := eventFiles(t, cd)
		if len(files) != 1 {
			t.Fatalf("cell %s: %d event files, want 1", c.Name(), len(files))
		}
		evs := readEvents(t, files...)
		train := map[int64]map[string]any{}
		eval := map[int64]map[string]any{}
		for _, ev := range evs {
			for tag := range ev.Scalars {
				if strings.HasPrefix(tag, "train/") {
					train[ev.Step] = ev.Scalars
				} else if strings.HasPrefix(tag, "eval/") {
					if eval[ev.Step] == nil {
						eval[ev.Step] = map[string]any{}
					}
					for k, v := range ev.Scalars {
						eval[ev.Step][k] = v
					}
				}
				break
			}
		}
		rows, err := results.ReadRows[results.TrainRow](filepath.Join(cd, results.TrainCSVFile))
		if err != nil {
			t.Fatal(err)
		}
		pref := 0
		for _, r := range rows {
			if r.Stage != "pref" {
				continue
			}
			pref++
			k := int64(r.Step)
			sc, ok := train[k]
			if !ok {
				t.Fatalf("cell %s: no train event at step %d", c.Name(), k)
			}
			for _, col := range results.TrainColumns {
				tag := map[string]string{"lr": "train/learning_rate", "loss": "train/loss", "rewards/margins": "train/rewards/margins",
					"rewards/accuracies": "train/rewards/accuracies", "logps/chosen": "train/logps/chosen", "grad_norm": "train/grad_norm"}[col]
				if tag == "" {
					continue
				}
				v, _ := r.Value(col)
				if got, _ := sc[tag].(float64); got != float64(float32(v)) {
					t.Fatalf("cell %s step %d %s: event %v, train.csv %v", c.Name(), k, tag, sc[tag], v)
				}
			}
		}
		if pref == 0 || len(train) != pref {
			t.Fatalf("cell %s: %d train events for %d preference steps", c.Name(), len(train), pref)
		}
		metrics, err := results.ReadRows[results.ProbeMetricRow](filepath.Join(cd, results.ProbeMetricsFile))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range metrics {
			k := int64(r.Step)
			tag := "eval/" + r.Split + "/lp_chosen"
			if got, _ := eval[k][tag].(float64); got != float64(float32(r.LPChosen)) {
				t.Fatalf("cell %s step %d %s: event %v, probe_metrics.csv %v", c.Name(), k, tag, eval[k][tag], r.LPChosen)
			}
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no cells")
	}
}

// TestTrackerAppendsTrainCSV checks that train.csv grows at every probe,
// not only at checkpoints, and that a resumed tracker cuts rows past the
// checkpoint.
func TestTrackerAppendsTrainCSV(t *testing.T) {
	dir := t.TempDir()
	row := func(k int) results.TrainRow {
		r := results.TrainRow{Stage: "pref", Step: k}
		for _, c := range results.FloatColumns[results.TrainRow]() {
			r.Set(c, 1)
		}
		return r
	}
	rows := []results.TrainRow{row(1)}
	tr, err := newTracker(dir, rows, 0)
	if err != nil {
		t.Fatal(err)
	}
	for k := 2; k <= 5; k++ {
		rows = append(rows, row(k))
		if err := tr.step(k, rows[len(rows)-1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.probe(5, nil, rows); err != nil {
		t.Fatal(err)
	}
	got, err := results.ReadRows[results.TrainRow](filepath.Join(dir, results.TrainCSVFile))
	if err != nil || len(got) != 5 || got[4] != rows[4] {
		t.Fatalf("train.csv after the probe: %d rows (%v), want 5", len(got), err)
	}
	tr.close()
	// a resume from step 3 rewrites train.csv to the checkpoint's rows
	tr2, err := newTracker(dir, rows[:3], 3)
	if err != nil {
		t.Fatal(err)
	}
	tr2.close()
	got, _ = results.ReadRows[results.TrainRow](filepath.Join(dir, results.TrainCSVFile))
	if len(got) != 3 {
		t.Fatalf("train.csv after resuming at step 3: %d rows", len(got))
	}
	files := eventFiles(t, dir)
	if len(files) != 2 {
		t.Fatalf("%d event files, want 2", len(files))
	}
	evs := readEvents(t, files...)
	starts := 0
	for _, ev := range evs {
		if ev.SessionLog != nil && *ev.SessionLog == 1 && ev.Step == 4 {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("%d SessionLog START events at step 4, want 1", starts)
	}
}
