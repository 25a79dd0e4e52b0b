package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// Files a snapshot holds besides the weights.
const (
	ConfigFile          = "config.json"
	TokenizerFile       = "tokenizer.json"
	TokenizerConfigFile = "tokenizer_config.json"
	WeightsFile         = "model.safetensors"
	WeightsIndexFile    = "model.safetensors.index.json"
)

// Client fetches repositories into a cache. The zero value is not usable;
// New fills it from the environment.
type Client struct {
	Endpoint string // scheme://host[:port][/prefix], no trailing slash
	Token    string // sent as Authorization: Bearer to Endpoint's host; "" = none
	CacheDir string // the hub cache (models--ORG--NAME/… below it)
	Offline  bool   // never make a request; use the cache only
	HTTP     *http.Client
	// Stall aborts a request whose headers or body bytes do not arrive
	// for this long (default 30 s); a stalled body is resumed, up to
	// Retries times.
	Stall   time.Duration
	Retries int // extra attempts of a failed body transfer (default 3)
	// Progress receives download progress: a redrawn bar when Terminal,
	// else plain lines (start, every 10 s, end). nil = silent.
	Progress io.Writer
	Terminal bool
}

// New returns a client configured as huggingface_hub is, from HF_ENDPOINT,
// HF_TOKEN (or the login token file), the cache location (CacheDir) and
// HF_HUB_OFFLINE. progress gets download progress (nil = none); a bar is
// drawn when it is a terminal.
func New(progress io.Writer) *Client {
	c := &Client{Endpoint: Endpoint(), Token: Token(), CacheDir: CacheDir(), Offline: Offline(), Progress: progress}
	if f, ok := progress.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 && os.Getenv("TERM") != "dumb" {
			c.Terminal = true
		}
	}
	return c
}

// Error is a failed resolution or download, with a one-line message.
type Error struct {
	Repo   string // ORG/NAME
	File   string // the file concerned ("" for the repository)
	Status int    // HTTP status, 0 when no response
	Code   string // the hub's X-Error-Code (RepoNotFound, GatedRepo, …), or CodeNetwork, CodeCache
	Msg    string
	Err    error // the underlying error of CodeNetwork and CodeCache
}

// Codes of errors that do not come from the hub.
const (
	CodeNetwork = "network" // the endpoint could not be reached, or a transfer broke off
	CodeCache   = "cache"   // reading or writing the local cache failed (disk full, permissions, …)
)

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

func (e *Error) Error() string {
	where := e.Repo
	if e.File != "" {
		where += ": " + e.File
	}
	return "hub " + where + ": " + e.Msg
}

// Snapshot is a repository resolved to a commit whose files are all in the
// cache.
type Snapshot struct {
	Ref    Ref
	Commit string
	Dir    string   // <cache>/models--ORG--NAME/snapshots/<commit>
	Files  []string // files present, in fetch order (config, tokenizer files, weights)
	// Requests counts the HTTP requests this resolution made (HEAD and
	// GET; a redirect counts once); Downloaded counts the files fetched.
	Requests   int
	Downloaded int
	// Stale is set when the endpoint could not be reached and a cached
	// snapshot of the branch was used instead; it holds the reason.
	Stale string
}

// Has reports whether the snapshot holds file.
func (s *Snapshot) Has(file string) bool {
	for _, f := range s.Files {
		if f == file {
			return true
		}
	}
	return false
}

// fileMeta is what a HEAD says about a file.
type fileMeta struct {
	Commit   string
	ETag     string // blob name
	Size     int64
	SHA256   string // for LFS files
	Location string // where the GET should go ("" = the resolve URL)
}

// resolution is the state of one Snapshot call.
type resolution struct {
	c       *Client
	ctx     context.Context
	ref     Ref
	repoDir string
	commit  string // "" until known
	snap    *Snapshot
}

// Snapshot resolves ref and makes sure its files are in the cache (see the
// package doc for which files and how many requests).
func (c *Client) Snapshot(ctx context.Context, ref Ref) (*Snapshot, error) {
	r := &resolution{c: c, ctx: ctx, ref: ref, repoDir: filepath.Join(c.CacheDir, RepoFolder(ref.Repo)),
		snap: &Snapshot{Ref: ref}}
	rev := ref.Rev()
	switch {
	case IsCommit(rev):
		r.commit = rev
	case c.Offline:
		b, err := os.ReadFile(filepath.Join(r.repoDir, "refs", filepath.FromSlash(rev)))
		if err != nil {
			return nil, r.errf("", 0, "", "offline (HF_HUB_OFFLINE=1) and revision %q is not in the cache %s; download it once online", rev, c.CacheDir)
		}
		r.commit = strings.TrimSpace(string(b))
		if !IsCommit(r.commit) {
			return nil, r.errf("", 0, "", "cache file %s does not hold a commit hash", filepath.Join(r.repoDir, "refs", rev))
		}
	}
	err := r.fetchAll()
	if err != nil && !c.Offline && !IsCommit(rev) && isNetErr(err) {
		// as huggingface_hub: an unreachable endpoint falls back to the
		// snapshot the branch last resolved to, when it is complete
		if b, rerr := os.ReadFile(filepath.Join(r.repoDir, "refs", filepath.FromSlash(rev))); rerr == nil && IsCommit(strings.TrimSpace(string(b))) {
			off := *c
			off.Offline = true
			r2 := &resolution{c: &off, ctx: ctx, ref: ref, repoDir: r.repoDir, commit: strings.TrimSpace(string(b)), snap: &Snapshot{Ref: ref}}
			if r2.fetchAll() == nil {
				r2.finish()
				r2.snap.Stale = err.Error()
				r2.snap.Requests = r.snap.Requests
				return r2.snap, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	r.finish()
	return r.snap, nil
}

func (r *resolution) finish() {
	r.snap.Commit = r.commit
	r.snap.Dir = r.snapDir()
}

// fetchAll gets config, tokenizer files and weights.
func (r *resolution) fetchAll() error {
	if _, err := r.file(ConfigFile, false); err != nil {
		return err
	}
	for _, f := range []string{TokenizerFile, TokenizerConfigFile} {
		if _, err := r.file(f, true); err != nil {
			return err
		}
	}
	ok, err := r.file(WeightsFile, true)
	if err != nil || ok {
		return err
	}
	ok, err = r.file(WeightsIndexFile, true)
	if err != nil {
		return err
	}
	if !ok {
		return r.errf("", http.StatusNotFound, "", "no %s and no %s at revision %s (only safetensors weights are supported)", WeightsFile, WeightsIndexFile, r.ref.Rev())
	}
	shards, err := indexShards(filepath.Join(r.snapDir(), WeightsIndexFile))
	if err != nil {
		return r.errf(WeightsIndexFile, 0, "", "%v", err)
	}
	for _, s := range shards {
		if _, err := r.file(s, false); err != nil {
			return err
		}
	}
	return nil
}

func (r *resolution) snapDir() string { return filepath.Join(r.repoDir, "snapshots", r.commit) }

// indexShards reads the shard names of a safetensors index, in first-use
// order, each a clean relative path.
func indexShards(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("not a safetensors index: %v", err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("weight_map is empty")
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range idx.WeightMap {
		if !validFileName(f) {
			return nil, fmt.Errorf("weight_map names %q, not a file of the repository", f)
		}
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sortStrings(out)
	return out, nil
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// validFileName accepts a clean relative slash path inside the repository.
func validFileName(f string) bool {
	if f == "" || strings.ContainsAny(f, "\\\x00:") || strings.HasPrefix(f, "/") || path.Clean(f) != f {
		return false
	}
	for _, p := range strings.Split(f, "/") {
		if p == ".." || p == "." || p == "" {
			return false
		}
	}
	return true
}

// file makes sure one file is in the snapshot. ok is false for an optional
// file the repository does not have.
func (r *resolution) file(name string, optional bool) (ok bool, err error) {
	if r.commit != "" {
		if _, err := os.Stat(filepath.Join(r.snapDir(), filepath.FromSlash(name))); err == nil {
			r.snap.Files = append(r.snap.Files, name)
			return true, nil
		}
		if _, err := os.Stat(filepath.Join(r.repoDir, ".no_exist", r.commit, filepath.FromSlash(name))); err == nil && optional {
			return false, nil
		}
		if r.c.Offline {
			if optional {
				return false, nil
			}
			return false, r.errf(name, 0, "", "offline (HF_HUB_OFFLINE=1) and the file is not in the cache snapshot %s", r.snapDir())
		}
	}
	rev := r.commit
	if rev == "" {
		rev = r.ref.Rev()
	}
	meta, err := r.head(name, rev)
	if err != nil {
		var he *Error
		if optional && errors.As(err, &he) && he.Status == http.StatusNotFound && (he.Code == "" || he.Code == "EntryNotFound") && r.commit != "" {
			r.markMissing(name)
			return false, nil
		}
		if optional && errors.As(err, &he) && he.Status == http.StatusNotFound && he.Code == "EntryNotFound" && r.commit == "" && meta != nil && IsCommit(meta.Commit) {
			r.commit = meta.Commit
			r.markMissing(name)
			return false, nil
		}
		return false, err
	}
	if r.commit == "" {
		r.commit = meta.Commit
		if r.ref.Rev() != r.commit {
			if err := writeFileAtomic(filepath.Join(r.repoDir, "refs", filepath.FromSlash(r.ref.Rev())), []byte(r.commit)); err != nil {
				return false, r.cacheErr("", err)
			}
		}
	} else if meta.Commit != r.commit {
		return false, r.errf(name, 0, "", "the server answered with commit %s for a request at commit %s", meta.Commit, r.commit)
	}
	blob := filepath.Join(r.repoDir, "blobs", meta.ETag)
	if st, err := os.Stat(blob); err != nil || st.Size() != meta.Size {
		if err := r.download(name, meta, blob); err != nil {
			return false, err
		}
		r.snap.Downloaded++
	}
	if err := linkBlob(blob, filepath.Join(r.snapDir(), filepath.FromSlash(name))); err != nil {
		return false, r.cacheErr(name, err)
	}
	r.snap.Files = append(r.snap.Files, name)
	return true, nil
}

// markMissing records that the repository has no file name at the
// commit, as huggingface_hub's .no_exist markers do.
func (r *resolution) markMissing(name string) {
	p := filepath.Join(r.repoDir, ".no_exist", r.commit, filepath.FromSlash(name))
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			f.Close()
		}
	}
	r.snap.Commit = r.commit
}

// resolveURL is {endpoint}/{repo}/resolve/{rev}/{file}.
func (c *Client) resolveURL(repo, rev, file string) string {
	return c.Endpoint + "/" + repo + "/resolve/" + url.PathEscape(rev) + "/" + (&url.URL{Path: file}).EscapedPath()
}

// sameHost reports whether u goes to the endpoint's host (where the token
// may be sent).
func (c *Client) sameHost(u *url.URL) bool {
	e, err := url.Parse(c.Endpoint)
	return err == nil && strings.EqualFold(e.Host, u.Host) && e.Scheme == u.Scheme
}

// newRequest builds a request with the user agent, identity encoding and,
// for the endpoint's host, the token.
func (c *Client) newRequest(ctx context.Context, method, u string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "gatedpo; go/"+runtime.Version())
	req.Header.Set("Accept-Encoding", "identity")
	if c.Token != "" && c.sameHost(req.URL) {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	return req, nil
}

// httpClient is c.HTTP, or a default with connect and header timeouts,
// with a redirect policy: HEADs follow only same-host redirects; every
// request drops Authorization on a redirect to another host.
func (c *Client) httpClient(head bool) *http.Client {
	base := c.HTTP
	if base == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = c.stall()
		tr.DialContext = (&net.Dialer{Timeout: c.stall(), KeepAlive: 30 * time.Second}).DialContext
		base = &http.Client{Transport: tr}
	}
	hc := *base
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		cross := !strings.EqualFold(req.URL.Host, via[0].URL.Host) || req.URL.Scheme != via[0].URL.Scheme
		if cross && head {
			return http.ErrUseLastResponse // an LFS redirect: its headers are the metadata
		}
		if cross || !c.sameHost(req.URL) {
			req.Header.Del("Authorization")
		}
		return nil
	}
	return &hc
}

func (c *Client) stall() time.Duration {
	if c.Stall > 0 {
		return c.Stall
	}
	return 30 * time.Second
}

var etagRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// cleanETag strips W/ and quotes.
func cleanETag(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "W/")
	return strings.Trim(s, `"`)
}

// head asks for a file's metadata. On a 404 with a commit header, the
// returned meta (with the error) holds the commit.
func (r *resolution) head(name, rev string) (*fileMeta, error) {
	c := r.c
	req, err := c.newRequest(r.ctx, http.MethodHead, c.resolveURL(r.ref.Repo, rev, name))
	if err != nil {
		return nil, r.errf(name, 0, "", "%v", err)
	}
	r.snap.Requests++
	resp, err := c.httpClient(true).Do(req)
	if err != nil {
		return nil, r.netErr(name, err)
	}
	resp.Body.Close()
	meta := &fileMeta{Commit: resp.Header.Get("X-Repo-Commit")}
	if resp.StatusCode >= 400 {
		return meta, r.statusErr(name, rev, resp)
	}
	if resp.StatusCode >= 300 {
		meta.Location = resp.Header.Get("Location")
		if meta.Location == "" {
			return nil, r.errf(name, resp.StatusCode, "", "redirect without a Location header")
		}
		loc, err := req.URL.Parse(meta.Location)
		if err != nil {
			return nil, r.errf(name, resp.StatusCode, "", "bad redirect Location %q", meta.Location)
		}
		meta.Location = loc.String()
	}
	meta.ETag = cleanETag(resp.Header.Get("X-Linked-Etag"))
	if meta.ETag == "" {
		meta.ETag = cleanETag(resp.Header.Get("ETag"))
	}
	size := resp.Header.Get("X-Linked-Size")
	if size == "" {
		size = resp.Header.Get("Content-Length")
	}
	meta.Size, err = strconv.ParseInt(size, 10, 64)
	switch {
	case !IsCommit(meta.Commit):
		return nil, r.errf(name, resp.StatusCode, "", "the server sent no commit (X-Repo-Commit); is %s a Hugging Face hub?", c.Endpoint)
	case meta.ETag == "" || !etagRe.MatchString(meta.ETag) || meta.ETag == "." || meta.ETag == "..":
		return nil, r.errf(name, resp.StatusCode, "", "the server sent no usable ETag (got %q)", meta.ETag)
	case err != nil || meta.Size < 0:
		return nil, r.errf(name, resp.StatusCode, "", "the server sent no file size (X-Linked-Size or Content-Length)")
	}
	if sha := cleanETag(resp.Header.Get("X-Linked-Etag")); len(sha) == 64 && isHex(sha) {
		meta.SHA256 = strings.ToLower(sha)
	}
	return meta, nil
}

func isHex(s string) bool {
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// statusErr turns an HTTP error status into an *Error saying what to do.
func (r *resolution) statusErr(name, rev string, resp *http.Response) error {
	code := resp.Header.Get("X-Error-Code")
	hubMsg := strings.TrimSpace(resp.Header.Get("X-Error-Message"))
	st := resp.StatusCode
	var msg string
	switch {
	case code == "GatedRepo" || (st == http.StatusUnauthorized && strings.Contains(strings.ToLower(hubMsg), "gated")):
		if r.c.Token == "" {
			msg = fmt.Sprintf("gated repository: accept its conditions at %s/%s, then set HF_TOKEN to a token of that account", r.c.Endpoint, r.ref.Repo)
		} else {
			msg = fmt.Sprintf("gated repository: the token in HF_TOKEN has no access yet; accept its conditions at %s/%s", r.c.Endpoint, r.ref.Repo)
		}
	case code == "RepoNotFound" || (st == http.StatusUnauthorized && code == ""):
		if r.c.Token == "" {
			msg = fmt.Sprintf("repository not found at %s (if it is private or gated, set HF_TOKEN)", r.c.Endpoint)
		} else {
			msg = fmt.Sprintf("repository not found at %s, or the token in HF_TOKEN has no access to it", r.c.Endpoint)
		}
	case code == "RevisionNotFound":
		msg = fmt.Sprintf("revision %q not found", rev)
	case code == "EntryNotFound" || st == http.StatusNotFound:
		msg = fmt.Sprintf("no such file at revision %s (404)", rev)
		if name == ConfigFile && code == "" {
			msg = fmt.Sprintf("not found (404): the repository, revision %s or its config.json does not exist at %s", rev, r.c.Endpoint)
		}
	case st == http.StatusForbidden:
		msg = "access denied (403): the token has no access to this repository"
	default:
		msg = fmt.Sprintf("HTTP %s", resp.Status)
	}
	if hubMsg != "" && code != "RepoNotFound" && code != "GatedRepo" {
		msg += " (hub: " + hubMsg + ")"
	}
	return r.errf(name, st, code, "%s", msg)
}

// netErr wraps a transport error.
func (r *resolution) netErr(name string, err error) error {
	if r.ctx.Err() != nil {
		return r.ctx.Err()
	}
	return &Error{Repo: r.ref.Repo, File: name, Msg: fmt.Sprintf("cannot reach %s (%v); check the network, or set HF_HUB_OFFLINE=1 to use only the cache", r.c.Endpoint, unwrapURLErr(err)), Code: netCode, Err: err}
}

const netCode = CodeNetwork

// cacheErr wraps a failure of the local cache.
func (r *resolution) cacheErr(file string, err error) error {
	return &Error{Repo: r.ref.Repo, File: file, Code: CodeCache, Msg: fmt.Sprintf("cache %s: %v", r.c.CacheDir, err), Err: err}
}

func isNetErr(err error) bool {
	var he *Error
	return errors.As(err, &he) && he.Code == netCode
}

func unwrapURLErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (r *resolution) errf(file string, status int, code, format string, args ...any) error {
	return &Error{Repo: r.ref.Repo, File: file, Status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
}
