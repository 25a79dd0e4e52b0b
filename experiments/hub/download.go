package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"gatedpo/results"
)

// download fetches a blob into blob via blob.incomplete, resuming it,
// under the blob's lock.
func (r *resolution) download(name string, meta *fileMeta, blob string) error {
	c := r.c
	lockPath := filepath.Join(c.CacheDir, ".locks", RepoFolder(r.ref.Repo), meta.ETag+".lock")
	unlock, err := results.LockFile(lockPath)
	if err != nil {
		return r.cacheErr(name, err)
	}
	defer unlock()
	if st, err := os.Stat(blob); err == nil && st.Size() == meta.Size {
		return nil // another process fetched it meanwhile
	}
	if err := os.MkdirAll(filepath.Dir(blob), 0o755); err != nil {
		return r.cacheErr(name, err)
	}
	inc := blob + ".incomplete"
	u := meta.Location
	if u == "" {
		u = c.resolveURL(r.ref.Repo, r.commit, name)
	}
	retries := c.Retries
	if retries <= 0 {
		retries = 3
	}
	p := newProgressMeter(c.Progress, c.Terminal, name, meta.Size)
	var last error
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-r.ctx.Done():
				return r.ctx.Err()
			case <-time.After(time.Duration(attempt) * time.Second):
			}
		}
		done, err := r.transfer(name, u, inc, meta, p)
		if err == nil && done {
			break
		}
		last = err
		var he *Error
		if r.ctx.Err() != nil {
			return r.ctx.Err()
		}
		if errors.As(err, &he) && he.Code != netCode {
			return err // a status or a check failed: retrying will not help
		}
		if attempt == retries {
			p.finish(false)
			return last
		}
	}
	if err := verify(inc, meta); err != nil {
		os.Remove(inc)
		p.finish(false)
		return r.errf(name, 0, "", "%v; the partial file was removed, run again to download it afresh", err)
	}
	if err := os.Rename(inc, blob); err != nil {
		return r.cacheErr(name, err)
	}
	p.finish(true)
	return nil
}

// transfer makes one GET, appending to inc from its current size. done is
// true when inc holds meta.Size bytes.
func (r *resolution) transfer(name, u, inc string, meta *fileMeta, p *progressMeter) (done bool, err error) {
	c := r.c
	f, err := os.OpenFile(inc, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return false, r.cacheErr(name, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, r.cacheErr(name, err)
	}
	have := st.Size()
	if have > meta.Size {
		if err := f.Truncate(0); err != nil {
			return false, r.cacheErr(name, err)
		}
		have = 0
	}
	if have == meta.Size {
		return true, nil
	}
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	req, err := c.newRequest(ctx, http.MethodGet, u)
	if err != nil {
		return false, r.errf(name, 0, "", "%v", err)
	}
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	r.snap.Requests++
	resp, err := c.httpClient(false).Do(req)
	if err != nil {
		return false, r.netErr(name, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			return false, r.errf(name, resp.StatusCode, "", "the server resumed at %q, asked for byte %d", resp.Header.Get("Content-Range"), have)
		}
	case resp.StatusCode == http.StatusOK:
		if err := f.Truncate(0); err != nil {
			return false, r.cacheErr(name, err)
		}
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		f.Truncate(0) // the partial file does not fit the server's: start again
		return false, &Error{Repo: r.ref.Repo, File: name, Status: resp.StatusCode, Code: netCode, Msg: fmt.Sprintf("size mismatch: the server has no bytes from %d on (416), but announced %d", have, meta.Size)}
	default:
		return false, r.statusErr(name, r.commit, resp)
	}
	if _, err := f.Seek(have, io.SeekStart); err != nil {
		return false, r.cacheErr(name, err)
	}
	p.start(have)
	// a watchdog cancels the request when no byte arrives for c.stall()
	timer := time.AfterFunc(c.stall(), cancel)
	defer timer.Stop()
	buf := make([]byte, 256<<10)
	for have < meta.Size {
		n, rerr := resp.Body.Read(buf)
		timer.Reset(c.stall())
		if n > 0 {
			if have+int64(n) > meta.Size {
				f.Truncate(0)
				return false, r.errf(name, 0, "", "size mismatch: the server sent more than the %d bytes it announced", meta.Size)
			}
			if _, err := f.Write(buf[:n]); err != nil {
				return false, r.cacheErr(name, err)
			}
			have += int64(n)
			p.add(int64(n))
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if ctx.Err() != nil && r.ctx.Err() == nil {
				rerr = fmt.Errorf("no data for %s", c.stall())
			}
			return false, r.netErr(name, rerr)
		}
	}
	if err := f.Sync(); err != nil {
		return false, r.cacheErr(name, err)
	}
	if have < meta.Size {
		return false, &Error{Repo: r.ref.Repo, File: name, Code: netCode,
			Msg: fmt.Sprintf("size mismatch: the transfer ended after %d of %d bytes", have, meta.Size)}
	}
	return true, nil
}

// contentRangeStart reads N of "bytes N-M/T".
func contentRangeStart(h string) (int64, bool) {
	s, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, false
	}
	a, _, ok := strings.Cut(s, "-")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(a, 10, 64)
	return n, err == nil
}

// verify checks the size of a finished download and, for LFS files, its
// sha256.
func verify(path string, meta *fileMeta) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var h hash.Hash = sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != meta.Size {
		return fmt.Errorf("size mismatch: %d bytes, the server announced %d", n, meta.Size)
	}
	if meta.SHA256 != "" {
		if got := hex.EncodeToString(h.Sum(nil)); got != meta.SHA256 {
			return fmt.Errorf("sha256 mismatch: the download hashes to %s, the server announced %s", got, meta.SHA256)
		}
	}
	return nil
}

// linkBlob makes snap a relative symbolic link to blob, or, where links
// cannot be made, a copy of it.
func linkBlob(blob, snap string) error {
	if err := os.MkdirAll(filepath.Dir(snap), 0o755); err != nil {
		return err
	}
	rel, relErr := filepath.Rel(filepath.Dir(snap), blob)
	if runtime.GOOS != "windows" && relErr == nil {
		if cur, err := os.Readlink(snap); err == nil && cur == rel {
			return nil // linked already (by another process, or an earlier run)
		}
		os.Remove(snap)
		if err := os.Symlink(rel, snap); err == nil {
			return nil
		} else if cur, rerr := os.Readlink(snap); rerr == nil && cur == rel {
			return nil // another process linked it meanwhile
		}
	}
	return copyFile(blob, snap)
}

// copyFile copies src to dst via a temporary file.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".incomplete"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, dst)
}

// writeFileAtomic writes b to path through a temporary file.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// progressMeter shows one file's download: a redrawn bar on a terminal
// (at most every 200 ms), else a line at the start, every 10 s and at the
// end.
type progressMeter struct {
	w        io.Writer
	tty      bool
	name     string
	total    int64
	have     int64
	resumed  int64
	t0, last time.Time
	started  bool
}

func newProgressMeter(w io.Writer, tty bool, name string, total int64) *progressMeter {
	return &progressMeter{w: w, tty: tty, name: name, total: total}
}

func (p *progressMeter) start(have int64) {
	p.have = have
	if p.started {
		return
	}
	p.started, p.resumed, p.t0, p.last = true, have, time.Now(), time.Now()
	if p.w == nil {
		return
	}
	if p.tty {
		p.draw()
		return
	}
	from := ""
	if have > 0 {
		from = fmt.Sprintf(", resuming at %s", mib(have))
	}
	fmt.Fprintf(p.w, "hub: downloading %s (%s%s)\n", p.name, mib(p.total), from)
}

func (p *progressMeter) add(n int64) {
	p.have += n
	if p.w == nil {
		return
	}
	every := 10 * time.Second
	if p.tty {
		every = 200 * time.Millisecond
	}
	if time.Since(p.last) < every {
		return
	}
	p.last = time.Now()
	if p.tty {
		p.draw()
	} else {
		fmt.Fprintf(p.w, "hub: %s %s/%s (%.0f%%)\n", p.name, mib(p.have), mib(p.total), 100*float64(p.have)/float64(max(p.total, 1)))
	}
}

func (p *progressMeter) rate() string {
	s := time.Since(p.t0).Seconds()
	if s <= 0 {
		return ""
	}
	return fmt.Sprintf("%.1f MiB/s", float64(p.have-p.resumed)/(1<<20)/s)
}

func (p *progressMeter) draw() {
	const width = 30
	frac := float64(p.have) / float64(max(p.total, 1))
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r\x1b[K%-28s [%s%s] %3.0f%% %s/%s %s", truncName(p.name, 28), strings.Repeat("=", n),
		strings.Repeat(" ", width-n), 100*frac, mib(p.have), mib(p.total), p.rate())
}

func (p *progressMeter) finish(ok bool) {
	if p.w == nil || !p.started {
		return
	}
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
		return
	}
	if ok {
		fmt.Fprintf(p.w, "hub: %s done: %s in %.1f s (%s)\n", p.name, mib(p.total), time.Since(p.t0).Seconds(), p.rate())
	} else {
		fmt.Fprintf(p.w, "hub: %s failed after %s\n", p.name, mib(p.have))
	}
}

func truncName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n+1:]
}

func mib(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
