package hub

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// DefaultEndpoint is the public hub, used when HF_ENDPOINT is not set.
const DefaultEndpoint = "https://huggingface.co"

// DefaultRevision is the branch a reference without @REVISION names.
const DefaultRevision = "main"

// Ref names a model repository on the hub at a revision (a branch, a tag
// or a commit hash).
type Ref struct {
	Repo     string // ORG/NAME, or NAME for the hub's few top-level models
	Revision string // "" = DefaultRevision
}

// Rev is the revision, DefaultRevision when none was given.
func (r Ref) Rev() string {
	if r.Revision == "" {
		return DefaultRevision
	}
	return r.Revision
}

// String is REPO or REPO@REVISION, as ParseRef reads it.
func (r Ref) String() string {
	if r.Revision == "" {
		return r.Repo
	}
	return r.Repo + "@" + r.Revision
}

var (
	repoPart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	commitRe = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// ParseRef reads "ORG/NAME", "NAME" or either with "@REVISION". The name
// parts follow the hub's rules (letters, digits, '.', '_', '-'; no "--" or
// "..", not starting or ending with '.' or '-', at most 96 characters).
func ParseRef(s string) (Ref, error) {
	repo, rev, hasRev := strings.Cut(s, "@")
	if hasRev && rev == "" {
		return Ref{}, fmt.Errorf("%q: empty revision after @", s)
	}
	if hasRev && (strings.Contains(rev, "..") || strings.HasPrefix(rev, "/") || strings.ContainsAny(rev, "\\ \t\n")) {
		return Ref{}, fmt.Errorf("%q: bad revision %q", s, rev)
	}
	parts := strings.Split(repo, "/")
	if len(parts) > 2 || repo == "" {
		return Ref{}, fmt.Errorf("%q: expected ORG/NAME or ORG/NAME@REVISION", s)
	}
	for _, p := range parts {
		if len(p) > 96 || !repoPart.MatchString(p) || strings.Contains(p, "--") || strings.Contains(p, "..") ||
			strings.HasSuffix(p, ".") || strings.HasSuffix(p, "-") {
			return Ref{}, fmt.Errorf("%q: %q is not a valid hub name (letters, digits, '.', '_', '-'; no \"--\" or \"..\")", s, p)
		}
	}
	return Ref{Repo: repo, Revision: rev}, nil
}

// IsCommit reports whether rev is a full commit hash (40 lower-case hex
// digits), which names an immutable snapshot.
func IsCommit(rev string) bool { return commitRe.MatchString(rev) }

// CacheDir is the Hugging Face hub cache directory: HF_HUB_CACHE, else
// HUGGINGFACE_HUB_CACHE, else HF_HOME/hub, else
// XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
func CacheDir() string {
	if d := os.Getenv("HF_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("HUGGINGFACE_HUB_CACHE"); d != "" {
		return expandHome(d)
	}
	return filepath.Join(hfHome(), "hub")
}

// hfHome is HF_HOME, else XDG_CACHE_HOME/huggingface, else
// ~/.cache/huggingface.
func hfHome() string {
	if d := os.Getenv("HF_HOME"); d != "" {
		return expandHome(d)
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(expandHome(d), "huggingface")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = "."
	}
	return filepath.Join(home, ".cache", "huggingface")
}

func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}

// Endpoint is HF_ENDPOINT without a trailing slash, else DefaultEndpoint.
func Endpoint() string {
	if e := strings.TrimRight(os.Getenv("HF_ENDPOINT"), "/"); e != "" {
		return e
	}
	return DefaultEndpoint
}

// Token is HF_TOKEN (or the older HUGGING_FACE_HUB_TOKEN), else the
// contents of the token file huggingface-cli login writes (HF_TOKEN_PATH,
// else HF_HOME/token), else "".
func Token() string {
	for _, k := range []string{"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"} {
		if t := strings.TrimSpace(os.Getenv(k)); t != "" {
			return t
		}
	}
	path := os.Getenv("HF_TOKEN_PATH")
	if path == "" {
		path = filepath.Join(hfHome(), "token")
	}
	if b, err := os.ReadFile(expandHome(path)); err == nil {
		return strings.TrimSpace(string(b))
	}
	return ""
}

// Offline reports whether HF_HUB_OFFLINE is set to 1, true, yes or on.
func Offline() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("HF_HUB_OFFLINE"))) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

// RepoFolder is the cache folder name of a model repository:
// models--ORG--NAME.
func RepoFolder(repo string) string {
	return "models--" + strings.ReplaceAll(repo, "/", "--")
}
