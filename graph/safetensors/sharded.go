package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexFile is the name Hugging Face gives the index of a sharded
// checkpoint.
const IndexFile = "model.safetensors.index.json"

// ShardIndex is a model.safetensors.index.json: the shard file that holds
// each tensor, plus free-form metadata (HF writes "total_size").
type ShardIndex struct {
	Metadata  map[string]any    `json:"metadata"`
	WeightMap map[string]string `json:"weight_map"`
}

// ReadShardIndex parses an index file. Shard names must be plain file
// names (no directories), so an index cannot point outside its folder.
func ReadShardIndex(path string) (ShardIndex, error) {
	var ix ShardIndex
	raw, err := readRegular(path)
	if err != nil {
		return ix, err
	}
	if err := json.Unmarshal(raw, &ix); err != nil {
		return ix, fmt.Errorf("safetensors %s: not a shard index: %v", path, err)
	}
	if len(ix.WeightMap) == 0 {
		return ix, fmt.Errorf("safetensors %s: weight_map is missing or empty", path)
	}
	for name, f := range ix.WeightMap {
		if f == "" || f != filepath.Base(f) || f == "." || f == ".." || strings.ContainsAny(f, `/\`) {
			return ix, fmt.Errorf("safetensors %s: weight_map[%q] = %q is not a file name in the index's folder", path, name, f)
		}
	}
	return ix, nil
}

// Shards returns the distinct shard file names of the index, sorted.
func (ix ShardIndex) Shards() []string {
	seen := map[string]bool{}
	var out []string
	for _, f := range ix.WeightMap {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

// ReadSharded reads every shard named by the index at indexPath (shards
// live beside it) and returns all their tensors in one map, with the
// __metadata__ of each shard keyed by shard file name. Every tensor must be
// in exactly the shard the index names, and every indexed tensor must
// exist.
func ReadSharded(indexPath string) (map[string]Tensor, map[string]map[string]string, error) {
	ix, err := ReadShardIndex(indexPath)
	if err != nil {
		return nil, nil, err
	}
	dir := filepath.Dir(indexPath)
	all := map[string]Tensor{}
	metas := map[string]map[string]string{}
	for _, f := range ix.Shards() {
		ts, meta, err := Read(filepath.Join(dir, f))
		if err != nil {
			return nil, nil, err
		}
		metas[f] = meta
		for name, t := range ts {
			want, ok := ix.WeightMap[name]
			switch {
			case !ok:
				return nil, nil, fmt.Errorf("safetensors %s: tensor %q is in shard %s but not in the index", indexPath, name, f)
			case want != f:
				return nil, nil, fmt.Errorf("safetensors %s: tensor %q is in shard %s, the index says %s", indexPath, name, f, want)
			}
			if _, dup := all[name]; dup {
				return nil, nil, fmt.Errorf("safetensors %s: tensor %q is in more than one shard", indexPath, name)
			}
			all[name] = t
		}
	}
	var missing []string
	for name := range ix.WeightMap {
		if _, ok := all[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, nil, fmt.Errorf("safetensors %s: the index lists tensors absent from their shards: %v", indexPath, missing)
	}
	return all, metas, nil
}

// ReadDtypes returns each tensor's dtype from the header of the file at
// path, without reading the data.
func ReadDtypes(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	var lenBuf [8]byte
	if _, err := io.ReadFull(f, lenBuf[:]); err != nil {
		return nil, fmt.Errorf("safetensors %s: file too short for the 8-byte header length", path)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if n > maxHeaderBytes || n > uint64(st.Size()-8) {
		return nil, fmt.Errorf("safetensors %s: header length %d exceeds the file (%d bytes)", path, n, st.Size())
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(f, hb); err != nil {
		return nil, fmt.Errorf("safetensors %s: %v", path, err)
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(hb, &header); err != nil {
		return nil, fmt.Errorf("safetensors %s: header is not a JSON object: %v", path, err)
	}
	out := map[string]string{}
	for k, v := range header {
		if k == MetadataKey {
			continue
		}
		var e struct {
			DType string `json:"dtype"`
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, fmt.Errorf("safetensors %s: tensor %q: bad header entry: %v", path, k, err)
		}
		out[k] = e.DType
	}
	return out, nil
}
