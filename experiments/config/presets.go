package config

import "sort"

// ArchPreset is a named model size. Transformers follow
// ../shared/spec/transformer.md; MLPs are fixed-window neural LMs
// (docs/method.md §4). The context length and vocabulary come from [data].
type ArchPreset struct {
	Kind    string // "transformer" or "mlp"
	DModel  int    // transformer width / MLP embedding size
	Heads   int    // attention heads (transformer)
	Layers  int    // blocks (transformer)
	Window  int    // tokens of context (mlp)
	Hidden  int    // hidden units (mlp)
	Comment string // one line for documentation
}

// ArchPresets are the model sizes a grid's `arch` axis may name.
//
//	transformer-xs  d_model 64,  2 heads, 2 layers  (docs/method.md §9)
//	transformer-s   d_model 128, 4 heads, 2 layers  (§6b "d128")
//	transformer-m   d_model 256, 4 heads, 4 layers
//	transformer-l   d_model 384, 6 heads, 6 layers
//	mlp-xs          8-token window, 32-dim embeddings, 128 hidden
//	mlp-s           8-token window, 64-dim embeddings, 256 hidden
var ArchPresets = map[string]ArchPreset{
	"transformer-xs": {Kind: "transformer", DModel: 64, Heads: 2, Layers: 2, Comment: "d_model 64, 2 heads, 2 layers"},
	"transformer-s":  {Kind: "transformer", DModel: 128, Heads: 4, Layers: 2, Comment: "d_model 128, 4 heads, 2 layers"},
	"transformer-m":  {Kind: "transformer", DModel: 256, Heads: 4, Layers: 4, Comment: "d_model 256, 4 heads, 4 layers"},
	"transformer-l":  {Kind: "transformer", DModel: 384, Heads: 6, Layers: 6, Comment: "d_model 384, 6 heads, 6 layers"},
	"mlp-xs":         {Kind: "mlp", DModel: 32, Window: 8, Hidden: 128, Comment: "8-token window, 32-dim embeddings, 128 hidden"},
	"mlp-s":          {Kind: "mlp", DModel: 64, Window: 8, Hidden: 256, Comment: "8-token window, 64-dim embeddings, 256 hidden"},
}

// ArchNames returns the preset names, sorted.
func ArchNames() []string {
	names := make([]string, 0, len(ArchPresets))
	for n := range ArchPresets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
