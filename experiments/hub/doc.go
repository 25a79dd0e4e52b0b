// Package hub fetches Hugging Face model repositories into the standard
// Hugging Face cache, the one Python's huggingface_hub uses, so a model a
// user already downloaded with Python is used as is and a model fetched
// here is visible to Python.
//
// # Cache
//
// The cache directory is HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else
// HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else
// ~/.cache/huggingface/hub. A repository ORG/NAME lives in
// models--ORG--NAME/ with
//
//	blobs/<etag>                 file contents, named by the server's ETag
//	                             (the sha256 for LFS files, the git blob id
//	                             for others)
//	snapshots/<commit>/<file>    symbolic links to ../../blobs/<etag> (copies
//	                             where links cannot be made, e.g. Windows
//	                             without developer mode)
//	refs/<revision>              the commit a branch or tag resolved to
//	.no_exist/<commit>/<file>    empty markers for optional files the
//	                             repository does not have
//
// and downloads take a lock in .locks/models--ORG--NAME/<etag>.lock, as
// huggingface_hub does, so concurrent processes do not fetch a blob twice.
//
// # Which files
//
// Snapshot fetches config.json, tokenizer.json and tokenizer_config.json
// (both optional), and the weights: model.safetensors, or, when the
// repository has none, model.safetensors.index.json and the shards it
// names. PyTorch .bin weights are not supported.
//
// # Protocol
//
// Files come from $HF_ENDPOINT (default https://huggingface.co) at
// /{repo}/resolve/{revision}/{file}. For each file a HEAD request gives the
// commit (X-Repo-Commit), the blob name (X-Linked-Etag for LFS files, else
// ETag) and the size (X-Linked-Size, else Content-Length); the HEAD follows
// only redirects to the same host (renamed repositories), and reads an LFS
// file's headers from the 302 the hub answers with. After the first file,
// the others are requested at the commit, so a branch that moves during a
// download cannot mix two commits. A GET then fetches a missing blob,
// following redirects (the 302 to the LFS storage): Authorization: Bearer
// $HF_TOKEN (else the token file huggingface-cli login writes, HF_TOKEN_PATH
// or HF_HOME/token) is sent to the endpoint's host only, never to a
// redirect target on another host. The body goes to blobs/<etag>.incomplete
// and is renamed into place once its size (and, for LFS files, whose ETag
// is their sha256, its sha256) is checked; an interrupted download resumes
// from the .incomplete file with a Range request. A mismatch removes the
// partial file and is an error.
//
// A revision that is a full commit hash whose snapshot already holds every
// file needs no request at all; a branch or tag costs one HEAD per file not
// yet known at the resolved commit (one in all when the snapshot is
// complete). With HF_HUB_OFFLINE=1 nothing is requested: branches resolve
// through refs/ and every file must be in the snapshot. When the endpoint
// cannot be reached and the cache has a complete snapshot of the branch,
// that snapshot is used with a warning, as huggingface_hub does.
//
// # Datasets
//
// DatasetFiles fetches files of a dataset repository, named
// hf://datasets/ORG/NAME[@REVISION]/PATH (ParseDatasetURL), into
// datasets--ORG--NAME with the same layout, requests and checks, from
// /datasets/{repo}/resolve/{revision}/{path}. A PATH with glob characters
// is expanded with the listing API, /api/datasets/{repo}/tree/{revision}/
// {dir}?recursive=true (pages followed through Link rel="next"); offline,
// over the cached snapshot. hubtest serves dataset repositories (ids
// "datasets/ORG/NAME") and that listing.
//
// Errors are *Error values with one-line messages that say what to do: an
// unknown repository, revision or file (404), a gated or private
// repository without a token (401) or without access (403), an unreachable
// endpoint, an incomplete cache offline.
package hub
