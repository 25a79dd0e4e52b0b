package experiments

import (
	"fmt"

	"gatedpo/experiments/config"
	"gatedpo/experiments/data"
)

// loadChatTemplates reads the chat template of every HF arch of the grid
// (nil when the directory has none), and checks that a model tokenizer
// that is to append EOS has one. Errors name grid.arch (or
// data.append_eos).
func (g *Grid) loadChatTemplates() error {
	g.chatTemplates = map[string]*data.ChatTemplate{}
	for i, a := range g.Arch {
		h, ok := g.hfArchs[a]
		if !ok {
			continue
		}
		key := "grid.arch"
		if len(g.Arch) > 1 {
			key = fmt.Sprintf("grid.arch[%d]", i)
		}
		if g.AppendEOSOf(a) && h.Tok != nil && data.Specials(h.Tok).EOS < 0 {
			if g.Data.AppendEOSSet {
				key = "data.append_eos"
			}
			return g.Errorf(key, "%s: append_eos is on (the default for tokenizer = \"model\") but the model's tokenizer has no known EOS token; add eos_token to its tokenizer_config.json or set data.append_eos = false", a)
		}
		if g.Data.ChatTemplate != config.ChatTemplateModel {
			continue
		}
		t, err := data.LoadChatTemplate(h.Path)
		if err != nil {
			return g.Errorf(key, "%v", err)
		}
		g.chatTemplates[a] = t
	}
	return nil
}

// chatTemplateFor returns the chat template that renders dataset ds for
// arch, or nil: only with chat_template = "model", an HF arch whose model
// has a template, and a dataset with conversational records (the eval
// file's included).
func (g *Grid) chatTemplateFor(ds, arch string) *data.ChatTemplate {
	t := g.chatTemplates[arch]
	if t == nil {
		return nil
	}
	for _, name := range []string{ds, g.Data.EvalDataset(ds)} {
		if set := g.datasets[name]; set != nil && set.Format == data.FormatConversational {
			return t
		}
	}
	return nil
}

// chatTemplateHash adds the hash of the chat template that renders a
// cell's records to its data table (chat_template_sha256), so cells
// rendered with a model's template are cached and identified apart from
// cells rendered in the HH layout.
func (g *Grid) chatTemplateHash(m map[string]any, ds, arch string) {
	if t := g.chatTemplateFor(ds, arch); t != nil {
		m["chat_template_sha256"] = t.Hash
	}
}

// renderChat renders the conversational pairs of a cell's training and
// held-out sets with the chat template of its arch (unchanged without
// one).
func (g *Grid) renderChat(ds, arch string, train, heldout []data.Pair) ([]data.Pair, []data.Pair, error) {
	t := g.chatTemplateFor(ds, arch)
	if t == nil {
		return train, heldout, nil
	}
	tr, err := data.ApplyChatTemplate(train, t)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset %s, training pairs, chat template of %s (%s): %v", ds, arch, t.File, err)
	}
	he, err := data.ApplyChatTemplate(heldout, t)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset %s, held-out pairs, chat template of %s (%s): %v", ds, arch, t.File, err)
	}
	return tr, he, nil
}
