package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// DatasetScheme starts a dataset file reference in a grid:
// hf://datasets/ORG/NAME[@REVISION]/PATH, as huggingface_hub's file
// system writes it. PATH may be a glob (*, ?, [...]) over the files of the
// repository, e.g. data/train_prefs-*.parquet for the shards of a split.
const DatasetScheme = "hf://datasets/"

// DatasetRef is a file, or a glob over files, of a dataset repository.
type DatasetRef struct {
	Repo     string // ORG/NAME
	Revision string // "" = DefaultRevision
	Path     string // a clean relative path; may hold glob characters
}

// IsDatasetURL reports whether s is written as a hub dataset reference.
func IsDatasetURL(s string) bool { return strings.HasPrefix(s, DatasetScheme) }

// Glob reports whether the reference's path is a pattern.
func (d DatasetRef) Glob() bool { return strings.ContainsAny(d.Path, "*?[") }

// Rev is the revision, DefaultRevision when none was given.
func (d DatasetRef) Rev() string {
	if d.Revision == "" {
		return DefaultRevision
	}
	return d.Revision
}

// String is the reference as ParseDatasetURL reads it.
func (d DatasetRef) String() string {
	rev := ""
	if d.Revision != "" {
		rev = "@" + d.Revision
	}
	return DatasetScheme + d.Repo + rev + "/" + d.Path
}

// repoPath is the repository's path on the endpoint and in errors.
func (d DatasetRef) repoPath() string { return "datasets/" + d.Repo }

// ParseDatasetURL reads hf://datasets/ORG/NAME[@REVISION]/PATH.
func ParseDatasetURL(s string) (DatasetRef, error) {
	rest, ok := strings.CutPrefix(s, DatasetScheme)
	if !ok {
		return DatasetRef{}, fmt.Errorf("%q: expected %sORG/NAME[@REVISION]/PATH", s, DatasetScheme)
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) < 3 || parts[2] == "" {
		return DatasetRef{}, fmt.Errorf("%q: expected %sORG/NAME[@REVISION]/PATH (a file or a glob such as data/train-*.parquet)", s, DatasetScheme)
	}
	ref, err := ParseRef(parts[0] + "/" + parts[1])
	if err != nil {
		return DatasetRef{}, fmt.Errorf("%q: %v", s, err)
	}
	p := parts[2]
	if !validFileName(p) {
		return DatasetRef{}, fmt.Errorf("%q: %q is not a clean path inside the repository", s, p)
	}
	if _, err := path.Match(p, ""); err != nil {
		return DatasetRef{}, fmt.Errorf("%q: bad glob %q: %v", s, p, err)
	}
	return DatasetRef{Repo: ref.Repo, Revision: ref.Revision, Path: p}, nil
}

// DatasetSnapshot is a dataset reference resolved to a commit, its files
// in the cache.
type DatasetSnapshot struct {
	Ref    DatasetRef
	Commit string
	Dir    string   // <cache>/datasets--ORG--NAME/snapshots/<commit>
	Files  []string // the repository paths the reference names, sorted
	Paths  []string // their local paths, in the same order
	// Requests counts the HTTP requests (listing pages, HEAD, GET);
	// Downloaded the files fetched.
	Requests   int
	Downloaded int
	Stale      string // set when a cached snapshot was used because the endpoint could not be reached
}

// treeEntry is one entry of the hub's listing API.
type treeEntry struct {
	Type string `json:"type"` // "file" or "directory"
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// maxListing bounds the entries a listing may return (all pages).
const maxListing = 1_000_000

// DatasetFiles resolves a dataset reference and makes sure its files are
// in the cache, in huggingface_hub's layout (datasets--ORG--NAME, the
// same blobs, snapshots and refs as models). A file comes from
// /datasets/{repo}/resolve/{revision}/{path}; a glob is expanded with the
// listing API, /api/datasets/{repo}/tree/{revision}/{dir}?recursive=true
// (dir: the pattern's directories before the first glob character; pages
// followed through the Link header), matching each path with path.Match
// (so * does not cross a /). The files are fetched at one commit: the
// first file's, and the others at that commit. Offline (or when the
// endpoint cannot be reached and the cache has the branch), a glob is
// expanded over the cached snapshot instead. A glob that matches nothing
// is an error.
func (c *Client) DatasetFiles(ctx context.Context, d DatasetRef) (*DatasetSnapshot, error) {
	ref := Ref{Repo: d.repoPath(), Revision: d.Revision}
	r := &resolution{c: c, ctx: ctx, ref: ref, repoDir: filepath.Join(c.CacheDir, DatasetFolder(d.Repo)), snap: &Snapshot{Ref: ref}}
	out := &DatasetSnapshot{Ref: d}
	rev := d.Rev()
	switch {
	case IsCommit(rev):
		r.commit = rev
	case c.Offline:
		b, err := os.ReadFile(filepath.Join(r.repoDir, "refs", filepath.FromSlash(rev)))
		if err != nil || !IsCommit(strings.TrimSpace(string(b))) {
			return nil, r.errf(d.Path, 0, "", "offline (HF_HUB_OFFLINE=1) and revision %q is not in the cache %s; download it once online", rev, c.CacheDir)
		}
		r.commit = strings.TrimSpace(string(b))
	}
	files, err := c.datasetNames(r, d)
	if err != nil && !c.Offline && !IsCommit(rev) && isNetErr(err) {
		if b, rerr := os.ReadFile(filepath.Join(r.repoDir, "refs", filepath.FromSlash(rev))); rerr == nil && IsCommit(strings.TrimSpace(string(b))) {
			off := *c
			off.Offline = true
			snap, oerr := off.DatasetFiles(ctx, DatasetRef{Repo: d.Repo, Revision: strings.TrimSpace(string(b)), Path: d.Path})
			if oerr == nil {
				snap.Ref, snap.Stale = d, err.Error()
				return snap, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if _, err := r.file(f, false); err != nil {
			return nil, err
		}
	}
	r.finish()
	out.Commit, out.Dir, out.Files = r.commit, r.snapDir(), files
	for _, f := range files {
		out.Paths = append(out.Paths, filepath.Join(out.Dir, filepath.FromSlash(f)))
	}
	out.Requests += r.snap.Requests
	out.Downloaded = r.snap.Downloaded
	return out, nil
}

// DatasetFolder is the cache folder of a dataset repository:
// datasets--ORG--NAME.
func DatasetFolder(repo string) string {
	return "datasets--" + strings.ReplaceAll(repo, "/", "--")
}

// datasetNames lists the repository paths d names: its path, or the
// files its glob matches (sorted).
func (c *Client) datasetNames(r *resolution, d DatasetRef) ([]string, error) {
	if !d.Glob() {
		return []string{d.Path}, nil
	}
	if c.Offline { // r.commit is known (DatasetFiles)
		matches, _ := filepath.Glob(filepath.Join(r.snapDir(), filepath.FromSlash(d.Path)))
		var files []string
		for _, m := range matches {
			rel, err := filepath.Rel(r.snapDir(), m)
			if err == nil {
				files = append(files, filepath.ToSlash(rel))
			}
		}
		if len(files) == 0 {
			return nil, r.errf(d.Path, 0, "", "offline (HF_HUB_OFFLINE=1) and no file of the cached snapshot %s matches", r.snapDir())
		}
		sort.Strings(files)
		return files, nil
	}
	dir := globDir(d.Path)
	rev := d.Rev()
	if r.commit != "" {
		rev = r.commit
	}
	u := c.Endpoint + "/api/datasets/" + d.Repo + "/tree/" + url.PathEscape(rev)
	if dir != "" {
		u += "/" + (&url.URL{Path: dir}).EscapedPath()
	}
	u += "?recursive=true"
	var files []string
	listed := 0
	for pages := 0; u != ""; pages++ {
		if pages >= 10000 {
			return nil, r.errf(d.Path, 0, "", "the listing of %s did not end after %d pages", dir, pages)
		}
		entries, next, err := c.listPage(r, d, u, rev)
		if err != nil {
			return nil, err
		}
		listed += len(entries)
		if listed > maxListing {
			return nil, r.errf(d.Path, 0, "", "the listing of %s has more than %d entries; name a narrower directory", dir, maxListing)
		}
		for _, e := range entries {
			if e.Type != "file" || !validFileName(e.Path) {
				continue
			}
			if ok, _ := path.Match(d.Path, e.Path); ok {
				files = append(files, e.Path)
			}
		}
		u = next
	}
	if len(files) == 0 {
		where := dir
		if where == "" {
			where = "the repository root"
		}
		return nil, r.errf(d.Path, http.StatusNotFound, "", "no file matches at revision %s (%d entries listed under %s)", rev, listed, where)
	}
	sort.Strings(files)
	return files, nil
}

// globDir is the directory part of a pattern before its first glob
// character ("" for the root).
func globDir(p string) string {
	i := strings.IndexAny(p, "*?[")
	if i < 0 {
		return path.Dir(p)
	}
	j := strings.LastIndex(p[:i], "/")
	if j < 0 {
		return ""
	}
	return p[:j]
}

// listPage fetches one page of the listing API: its entries and the next
// page's URL (from Link: <…>; rel="next"), or "" on the last page.
func (c *Client) listPage(r *resolution, d DatasetRef, u, rev string) ([]treeEntry, string, error) {
	req, err := c.newRequest(r.ctx, http.MethodGet, u)
	if err != nil {
		return nil, "", r.errf(d.Path, 0, "", "%v", err)
	}
	r.snap.Requests++
	resp, err := c.httpClient(false).Do(req)
	if err != nil {
		return nil, "", r.netErr(d.Path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return nil, "", r.statusErr(d.Path, rev, resp)
	}
	var entries []treeEntry
	if err := json.NewDecoder(io.LimitReader(resp.Body, 256<<20)).Decode(&entries); err != nil {
		return nil, "", r.errf(d.Path, resp.StatusCode, "", "the listing API answered with something other than a JSON list of files (%v); is %s a Hugging Face hub?", err, c.Endpoint)
	}
	next := ""
	for _, link := range resp.Header.Values("Link") {
		for _, part := range strings.Split(link, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
			if !ok || !strings.Contains(params, `rel="next"`) {
				continue
			}
			target = strings.Trim(strings.TrimSpace(target), "<>")
			nu, err := req.URL.Parse(target)
			if err != nil || !c.sameHost(nu) {
				return nil, "", r.errf(d.Path, resp.StatusCode, "", "bad next-page link %q", target)
			}
			next = nu.String()
		}
	}
	return entries, next, nil
}
