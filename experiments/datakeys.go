package experiments

import (
	"fmt"

	"gatedpo/experiments/data"
)

// Values of data.chat_template and data.tokenizer used by the data keys.
const (
	// ChatTemplateModel renders conversational records with the chat
	// template of the cell's Hugging Face model (tokenizer_config.json's
	// chat_template or chat_template.jinja) when it has one, and in the HH
	// layout otherwise (preset archs, models without a template).
	ChatTemplateModel = "model"
	// ChatTemplateHH always uses the HH layout ("\n\nHuman: …").
	ChatTemplateHH = "hh"
	// TokenizerModel is data.tokenizer = "model": the cell's HF model's
	// own tokenizer (append_eos then defaults on).
	TokenizerModel = "model"
)

// AppendEOSOf says whether the responses of arch's cells end with the
// tokenizer's EOS: append_eos as written, else on for a model's own
// tokenizer (tokenizer = "model", as TRL) and off for byte and bpe, whose
// earlier results had no EOS.
func (g *Grid) AppendEOSOf(arch string) bool {
	if g.Data.AppendEOSSet {
		return g.Data.AppendEOS
	}
	return g.TokenizerOf(arch) == TokenizerModel
}

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
			return g.pos.Errorf(key, "%s: append_eos is on (the default for tokenizer = \"model\") but the model's tokenizer has no known EOS token; add eos_token to its tokenizer_config.json or set data.append_eos = false", a)
		}
		if g.Data.ChatTemplate != ChatTemplateModel {
			continue
		}
		t, err := data.LoadChatTemplate(h.Path)
		if err != nil {
			return g.pos.Errorf(key, "%v", err)
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

// dataKeysTable adds the data keys of chat templates and EOS to a cell's
// data table, each only when it is not at the value every earlier grid
// had, so existing cell ids stay as they were: append_eos when on,
// chat_template when "hh", chat_template_sha256 when a model's template
// renders the cell's records.
func (g *Grid) dataKeysTable(m map[string]any, ds, arch string) {
	d := g.Data
	if g.AppendEOSOf(arch) {
		m["append_eos"] = true
	}
	if d.ChatTemplate != ChatTemplateModel {
		m["chat_template"] = d.ChatTemplate
	}
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
