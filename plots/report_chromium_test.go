package plots_test

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatedpo/plots"
)

// chromiumPath returns the headless browser to render report.html with, or
// "" when none is installed.
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// runChromium renders url headless with extra flags and returns its stderr.
func runChromium(t *testing.T, bin, url string, extra ...string) (stdout, stderr []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--no-first-run", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, se.String())
	}
	return so.Bytes(), se.Bytes()
}

// consoleLine matches Chromium's log lines for page console output
// ("...:INFO:CONSOLE:1] "Uncaught ...""); the report has no scripts, so any
// such line is an error.
var consoleLine = regexp.MustCompile(`(?m)^.*:CONSOLE[:(].*$`)

// TestReportRendersInChromium opens report.html of a fixture sweep in
// headless Chromium (no network, empty profile) and checks the page loads
// with no console output, every image is embedded (nothing to fetch), and
// the DOM holds the comparison and every figure. With
// GATEDPO_REPORT_SCREENSHOT=path it also saves a screenshot there (used for
// docs/report.png).
func TestReportRendersInChromium(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("no chromium on PATH (Debian package chromium): report.html not rendered")
	}
	dir, rep := generate(t, smallFixture(3), plots.Options{Formats: []string{"png"}})
	html, err := os.ReadFile(rep.HTML)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`<img src="([^"]{0,40})`).FindAllStringSubmatch(string(html), -1) {
		if !strings.HasPrefix(m[1], "data:image/png;base64,") {
			t.Errorf("report.html: image %q is not embedded", m[1])
		}
	}
	if regexp.MustCompile(`(?i)<script|<link[^>]+stylesheet|https?://`).Match(html) {
		t.Errorf("report.html refers to scripts, stylesheets or the network")
	}
	url := "file://" + filepath.ToSlash(rep.HTML)
	dom, stderr := runChromium(t, bin, url, "--dump-dom")
	if lines := consoleLine.FindAll(stderr, -1); len(lines) > 0 {
		t.Errorf("console output while rendering report.html:\n%s", bytes.Join(lines, []byte("\n")))
	}
	for _, want := range []string{"Gated vs ungated", "ramp τ=0.01 token", "F5: gate-threshold sweep"} {
		if !bytes.Contains(dom, []byte(want)) {
			t.Errorf("rendered DOM lacks %q", want)
		}
	}
	if n := bytes.Count(dom, []byte("<figure")); n != len(rep.Figures) {
		t.Errorf("rendered DOM has %d figures, want %d", n, len(rep.Figures))
	}
	shot := os.Getenv("GATEDPO_REPORT_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(dir, "report.png")
	}
	runChromium(t, bin, url, "--window-size=1280,1600", "--screenshot="+shot)
	b, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil || img.Bounds().Dx() != 1280 {
		t.Fatalf("screenshot %s: %v (err %v), want a 1280-wide PNG", shot, img.Bounds(), err)
	}
}
