// Package hubtest is a fake Hugging Face hub for tests: an httptest server
// that answers /{repo}/resolve/{revision}/{file} as the hub does, with a
// second server on another host standing in for the LFS storage.
//
// Like the hub, it sends X-Repo-Commit on every answer about a repository,
// ETag (the git blob id) for regular files, and for LFS files (*.safetensors
// and other weights) a 302 to the LFS host with X-Linked-Etag (the sha256)
// and X-Linked-Size. It serves HEAD and Range requests, answers 404 with
// X-Error-Code RepoNotFound, RevisionNotFound or EntryNotFound, and 401
// GatedRepo to a gated repository's requests without the right token.
// Every request is counted.
//
// A dataset repository is registered under the id "datasets/ORG/NAME": its
// files are served at /datasets/ORG/NAME/resolve/{revision}/{file}, as the
// hub serves them, and listed by /api/datasets/ORG/NAME/tree/{revision}/
// {dir} (recursive=true lists the whole subtree, else one level with its
// directories), a JSON list of {type, oid, size, path} (lfs {oid, size}
// for LFS files), in pages of PageSize entries linked by
// Link: <…>; rel="next" as the hub paginates.
package hubtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Repo is one repository at one commit.
type Repo struct {
	Files    map[string][]byte // path in the repository → contents
	Commit   string            // 40 hex digits (default: derived from the contents)
	Branches []string          // names that resolve to Commit (default: main)
	Gated    bool              // requests need Authorization: Bearer <Server.Token>
}

// Server is the fake hub. Set its fields before the first request.
type Server struct {
	*httptest.Server                  // the hub (URL = HF_ENDPOINT)
	LFS              *httptest.Server // the LFS storage, another host
	Token            string           // the token gated repositories accept
	// Corrupt, when set, replaces the bytes the LFS host serves for a
	// file (by repository path), keeping the announced size and sha256.
	Corrupt map[string][]byte
	// CutAfter, when > 0, makes the LFS host close the connection after
	// that many body bytes of the next GET without a Range header (once).
	CutAfter int
	// Renamed maps an old repository id to its new one: requests for the
	// old id get a 307 to the same path under the new id, as the hub
	// answers for renamed repositories.
	Renamed map[string]string
	// PageSize, when > 0, splits tree listings into pages of that many
	// entries (default: one page).
	PageSize int

	mu       sync.Mutex
	repos    map[string]*Repo
	counts   map[string]int // "METHOD host-kind path" → requests
	lfsAuth  int            // LFS requests that carried Authorization
	ranges   []string       // Range headers the LFS host saw
	requests int
}

// New starts a fake hub with the given repositories (repo id → Repo).
func New(repos map[string]*Repo) *Server {
	s := &Server{repos: map[string]*Repo{}, counts: map[string]int{}, Token: "hf_test_token"}
	for id, r := range repos {
		if r.Commit == "" {
			r.Commit = derivedCommit(id, r.Files)
		}
		if len(r.Branches) == 0 {
			r.Branches = []string{"main"}
		}
		s.repos[id] = r
	}
	s.LFS = httptest.NewServer(http.HandlerFunc(s.serveLFS))
	s.Server = httptest.NewServer(http.HandlerFunc(s.serveHub))
	return s
}

// Close stops both servers.
func (s *Server) Close() {
	s.Server.Close()
	s.LFS.Close()
}

// SetRepo adds or replaces a repository (e.g. a new commit on main).
func (s *Server) SetRepo(id string, r *Repo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Commit == "" {
		r.Commit = derivedCommit(id, r.Files)
	}
	if len(r.Branches) == 0 {
		r.Branches = []string{"main"}
	}
	s.repos[id] = r
}

// RepoFromDir reads every regular file of dir (not recursive) into a Repo.
func RepoFromDir(dir string) (*Repo, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	r := &Repo{Files: map[string][]byte{}}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		r.Files[e.Name()] = b
	}
	return r, nil
}

func derivedCommit(id string, files map[string][]byte) string {
	h := sha1.New()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(h, "%s\x00", id)
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%x\x00", n, sha256.Sum256(files[n]))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// IsLFS says which files the fake hub stores in LFS: weights and Parquet
// files.
func IsLFS(name string) bool {
	return strings.HasSuffix(name, ".safetensors") || strings.HasSuffix(name, ".bin") || strings.HasSuffix(name, ".parquet")
}

// GitBlobID is the ETag the hub gives a regular file.
func GitBlobID(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// Requests is the number of requests both hosts answered.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Count is the number of requests with method to path on the hub
// ("/ORG/NAME/resolve/REV/FILE") or on the LFS host ("lfs:/ORG/NAME/FILE").
func (s *Server) Count(method, path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[method+" "+path]
}

// Gets is the number of GET requests on both hosts.
func (s *Server) Gets() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, v := range s.counts {
		if strings.HasPrefix(k, "GET ") {
			n += v
		}
	}
	return n
}

// LFSAuth is the number of LFS requests that carried an Authorization
// header (the token must not leave the hub's host).
func (s *Server) LFSAuth() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lfsAuth
}

// Ranges lists the Range headers the LFS host received.
func (s *Server) Ranges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

// ResetCounts zeroes the request counters.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts, s.requests, s.lfsAuth, s.ranges = map[string]int{}, 0, 0, nil
}

func hubErr(w http.ResponseWriter, status int, code, msg, commit string) {
	if commit != "" {
		w.Header().Set("X-Repo-Commit", commit)
	}
	w.Header().Set("X-Error-Code", code)
	w.Header().Set("X-Error-Message", msg)
	http.Error(w, msg, status)
}

func (s *Server) serveHub(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	s.requests++
	s.counts[req.Method+" "+req.URL.Path]++
	s.mu.Unlock()
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	// /{repo}/resolve/{rev}/{file}; rev is one escaped segment
	raw := req.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(raw, "/api/datasets/"); ok && req.Method == http.MethodGet {
		s.serveTree(w, req, rest)
		return
	}
	before, after, ok := strings.Cut(strings.TrimPrefix(raw, "/"), "/resolve/")
	if !ok {
		http.NotFound(w, req)
		return
	}
	revEsc, fileEsc, ok := strings.Cut(after, "/")
	if !ok {
		http.NotFound(w, req)
		return
	}
	repoID := before
	s.mu.Lock()
	to, renamed := s.Renamed[repoID]
	s.mu.Unlock()
	if renamed {
		w.Header().Set("Location", "/"+to+"/resolve/"+revEsc+"/"+fileEsc)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	rev, err1 := pathUnescape(revEsc)
	file, err2 := pathUnescape(fileEsc)
	if err1 != nil || err2 != nil {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	r, ok := s.repoAt(w, req, repoID, rev, "Repository Not Found for url: "+req.URL.String()+".",
		"Access to model "+repoID+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
	if !ok {
		return
	}
	b, ok := r.Files[file]
	if !ok {
		hubErr(w, http.StatusNotFound, "EntryNotFound", file+" does not exist on \""+rev+"\"", r.Commit)
		return
	}
	w.Header().Set("X-Repo-Commit", r.Commit)
	if IsLFS(file) {
		sum := sha256.Sum256(b)
		w.Header().Set("X-Linked-Etag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("X-Linked-Size", fmt.Sprint(len(b)))
		w.Header().Set("ETag", `"`+GitBlobID([]byte("lfs pointer "+file))+`"`)
		w.Header().Set("Location", s.LFS.URL+"/"+repoID+"/"+file+"?sig=test")
		w.WriteHeader(http.StatusFound)
		return
	}
	w.Header().Set("ETag", `"`+GitBlobID(b)+`"`)
	http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(b))
}

func (s *Server) serveLFS(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	s.requests++
	s.counts[req.Method+" lfs:"+req.URL.Path]++
	if req.Header.Get("Authorization") != "" {
		s.lfsAuth++
	}
	if rg := req.Header.Get("Range"); rg != "" {
		s.ranges = append(s.ranges, rg)
	}
	cut := 0
	if req.Method == http.MethodGet && req.Header.Get("Range") == "" && s.CutAfter > 0 {
		cut, s.CutAfter = s.CutAfter, 0
	}
	var found []byte
	ok := false
	for id, r := range s.repos {
		if f, has := strings.CutPrefix(req.URL.Path, "/"+id+"/"); has {
			if b, has := r.Files[f]; has {
				found, ok = b, true
				if c, has := s.Corrupt[f]; has {
					found = c
				}
			}
		}
	}
	s.mu.Unlock()
	if !ok || req.URL.Query().Get("sig") != "test" {
		http.Error(w, "AccessDenied", http.StatusForbidden)
		return
	}
	if cut > 0 && cut < len(found) {
		w.Header().Set("Content-Length", fmt.Sprint(len(found)))
		w.WriteHeader(http.StatusOK)
		w.Write(found[:cut])
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
			}
		}
		return
	}
	http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(found))
}

func pathUnescape(s string) (string, error) { return url.PathUnescape(s) }

// treeEntry is one entry of a tree listing, as the hub writes it.
type treeEntry struct {
	Type string    `json:"type"`
	OID  string    `json:"oid"`
	Size int       `json:"size"`
	Path string    `json:"path"`
	LFS  *lfsEntry `json:"lfs,omitempty"`
}

type lfsEntry struct {
	OID         string `json:"oid"`
	Size        int    `json:"size"`
	PointerSize int    `json:"pointerSize"`
}

// repoAt finds repository repoID at revision rev (its commit or a branch)
// for a request, as the Hub does for file downloads and tree listings: an
// unknown repository (notFound), a gated one without the token (gated) or
// an unknown revision is answered with the Hub's error, and ok is false.
func (s *Server) repoAt(w http.ResponseWriter, req *http.Request, repoID, rev, notFound, gated string) (r *Repo, ok bool) {
	s.mu.Lock()
	r, ok = s.repos[repoID]
	s.mu.Unlock()
	if !ok {
		hubErr(w, http.StatusNotFound, "RepoNotFound", notFound, "")
		return nil, false
	}
	if r.Gated && req.Header.Get("Authorization") != "Bearer "+s.Token {
		hubErr(w, http.StatusUnauthorized, "GatedRepo", gated, "")
		return nil, false
	}
	known := rev == r.Commit
	for _, b := range r.Branches {
		known = known || rev == b
	}
	if !known {
		hubErr(w, http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev, "")
		return nil, false
	}
	return r, true
}

// serveTree answers /api/datasets/ORG/NAME/tree/{rev}[/{dir}].
func (s *Server) serveTree(w http.ResponseWriter, req *http.Request, rest string) {
	parts := strings.SplitN(rest, "/", 5) // ORG, NAME, "tree", rev, dir
	if len(parts) < 4 || parts[2] != "tree" {
		http.NotFound(w, req)
		return
	}
	repoID := "datasets/" + parts[0] + "/" + parts[1]
	rev, err := pathUnescape(parts[3])
	dir := ""
	if len(parts) == 5 {
		dir, err = pathUnescape(parts[4])
	}
	if err != nil {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}
	r, ok := s.repoAt(w, req, repoID, rev, "Repository not found", "Access to dataset "+repoID+" is restricted.")
	if !ok {
		return
	}
	s.mu.Lock()
	pageSize := s.PageSize
	s.mu.Unlock()
	recursive := req.URL.Query().Get("recursive") == "true"
	prefix := ""
	if dir != "" {
		prefix = strings.TrimSuffix(dir, "/") + "/"
	}
	dirs := map[string]bool{}
	var entries []treeEntry
	for name, b := range r.Files {
		rel, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		if i := strings.Index(rel, "/"); i >= 0 && !recursive {
			dirs[prefix+rel[:i]] = true
			continue
		}
		if recursive {
			for p := path.Dir(name); p != "." && strings.HasPrefix(p+"/", prefix) && p+"/" != prefix; p = path.Dir(p) {
				dirs[p] = true
			}
		}
		e := treeEntry{Type: "file", OID: GitBlobID(b), Size: len(b), Path: name}
		if IsLFS(name) {
			sum := sha256.Sum256(b)
			e.LFS = &lfsEntry{OID: hex.EncodeToString(sum[:]), Size: len(b), PointerSize: 134}
		}
		entries = append(entries, e)
	}
	if len(entries) == 0 && len(dirs) == 0 && dir != "" {
		hubErr(w, http.StatusNotFound, "EntryNotFound", dir+" does not exist on \""+rev+"\"", r.Commit)
		return
	}
	for d := range dirs {
		entries = append(entries, treeEntry{Type: "directory", OID: GitBlobID([]byte(d)), Path: d})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Path < entries[j].Path })
	start := 0
	if c := req.URL.Query().Get("cursor"); c != "" {
		fmt.Sscan(c, &start)
	}
	start = min(max(start, 0), len(entries))
	end := len(entries)
	if pageSize > 0 && start+pageSize < end {
		end = start + pageSize
		q := req.URL.Query()
		q.Set("cursor", fmt.Sprint(end))
		next := *req.URL
		next.RawQuery = q.Encode()
		w.Header().Set("Link", "<"+s.URL+next.RequestURI()+">; rel=\"next\"")
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(entries[start:end])
}
