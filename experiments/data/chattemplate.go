package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ardanlabs/jinja"
)

// ChatTemplate is a model's chat template: the Jinja source of
// tokenizer_config.json's "chat_template" (or of chat_template.jinja
// beside it) with the model's BOS and EOS token strings. It renders
// messages as transformers' apply_chat_template does: variables messages
// (a list of {role, content}), add_generation_prompt, bos_token,
// eos_token, and raise_exception; trim_blocks and lstrip_blocks on. The
// engine is github.com/ardanlabs/jinja (pure Go); the tests compare it
// with Python Jinja2 on testdata/chat.
type ChatTemplate struct {
	Source   string // the Jinja source
	BOS, EOS string // bos_token and eos_token ("" when the config has none)
	Hash     string // hex SHA-256 of Source, BOS and EOS
	File     string // where it was read ("" when built by ParseChatTemplate)
	tmpl     *jinja.Template
}

// ParseChatTemplate compiles a chat template.
func ParseChatTemplate(source, bos, eos string) (*ChatTemplate, error) {
	t, err := jinja.Compile(source)
	if err != nil {
		return nil, fmt.Errorf("chat template: %s", oneLine(err.Error()))
	}
	h := sha256.New()
	for _, s := range []string{source, bos, eos} {
		fmt.Fprintf(h, "%d:%s", len(s), s)
	}
	return &ChatTemplate{Source: source, BOS: bos, EOS: eos, Hash: hex.EncodeToString(h.Sum(nil)), tmpl: t}, nil
}

// LoadChatTemplate reads the chat template of a Hugging Face model or
// tokenizer directory: chat_template.jinja if present, else
// tokenizer_config.json's "chat_template" (a string, or a list of
// {name, template} whose "default" entry is used). It returns nil and no
// error when the directory has neither (the caller then uses the HH
// layout). bos_token and eos_token come from tokenizer_config.json (a
// string or an added-token object with "content").
func LoadChatTemplate(dir string) (*ChatTemplate, error) {
	cfgPath := filepath.Join(dir, "tokenizer_config.json")
	var cfg struct {
		ChatTemplate json.RawMessage `json:"chat_template"`
		BOS          json.RawMessage `json:"bos_token"`
		EOS          json.RawMessage `json:"eos_token"`
	}
	raw, err := os.ReadFile(cfgPath)
	switch {
	case errors.Is(err, os.ErrNotExist):
		raw = nil
	case err != nil:
		return nil, fmt.Errorf("%s: cannot read: %v", cfgPath, unwrapPathErr(err))
	default:
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return nil, fmt.Errorf("%s: not a JSON object with a chat_template string: %s", cfgPath, jsonErrText(err))
		}
	}
	bos, err := tokenString(cfgPath, "bos_token", cfg.BOS)
	if err != nil {
		return nil, err
	}
	eos, err := tokenString(cfgPath, "eos_token", cfg.EOS)
	if err != nil {
		return nil, err
	}
	src, file := "", cfgPath
	if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
		src, file = string(b), filepath.Join(dir, "chat_template.jinja")
	} else if len(cfg.ChatTemplate) > 0 && string(cfg.ChatTemplate) != "null" {
		if src, err = templateSource(cfgPath, cfg.ChatTemplate); err != nil {
			return nil, err
		}
	}
	if src == "" {
		return nil, nil
	}
	t, err := ParseChatTemplate(src, bos, eos)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", file, err)
	}
	t.File = file
	return t, nil
}

// templateSource reads chat_template: a string, or a list of named
// templates (the "default" one).
func templateSource(path string, raw json.RawMessage) (string, error) {
	if s, ok := jsonString(raw); ok {
		return s, nil
	}
	var named []struct{ Name, Template string }
	if err := json.Unmarshal(raw, &named); err == nil {
		for _, n := range named {
			if n.Name == "default" {
				return n.Template, nil
			}
		}
		return "", fmt.Errorf("%s: chat_template lists no template named \"default\"", path)
	}
	return "", fmt.Errorf("%s: chat_template: got %s, expected a string or a list of {name, template}", path, jsonKind(raw))
}

// tokenString reads a special token: a string, an object with "content",
// or null/absent ("").
func tokenString(path, key string, raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	if s, ok := jsonString(raw); ok {
		return s, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err == nil && obj.Content != nil {
		return *obj.Content, nil
	}
	return "", fmt.Errorf("%s: %s: got %s, expected a string or {\"content\": string}", path, key, jsonKind(raw))
}

// Render renders messages with the template.
func (t *ChatTemplate) Render(msgs []Message, addGenerationPrompt bool) (string, error) {
	list := make([]any, len(msgs))
	for i, m := range msgs {
		list[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	out, err := t.tmpl.Render(map[string]any{
		"messages":              list,
		"add_generation_prompt": addGenerationPrompt,
		"bos_token":             t.BOS,
		"eos_token":             t.EOS,
	})
	if err != nil {
		return "", fmt.Errorf("chat template: %s", oneLine(err.Error()))
	}
	return out, nil
}

// ApplyChatTemplate returns pairs with every conversational pair
// (Pair.Messages set) rendered again with t, as TRL does: the prompt is
// the prompt turns rendered with add_generation_prompt; each response is
// what the rendering of prompt + response turns (without it) adds after
// the longest prefix the three renderings share (a template may render
// the generation prompt differently from the start of an assistant turn).
// Other pairs are returned as they are. A template error (e.g. its
// raise_exception) is an error naming the pair's index.
func ApplyChatTemplate(pairs []Pair, t *ChatTemplate) ([]Pair, error) {
	out := make([]Pair, len(pairs))
	for i, p := range pairs {
		out[i] = p
		if p.Messages == nil || t == nil {
			continue
		}
		c := p.Messages
		prompt, err := t.Render(c.Prompt, true)
		if err != nil {
			return nil, fmt.Errorf("pair %d: %v", i, err)
		}
		chosen, err := t.Render(concat(c.Prompt, c.Chosen), false)
		if err != nil {
			return nil, fmt.Errorf("pair %d: %v", i, err)
		}
		rejected, err := t.Render(concat(c.Prompt, c.Rejected), false)
		if err != nil {
			return nil, fmt.Errorf("pair %d: %v", i, err)
		}
		n := min(commonPrefix(prompt, chosen), commonPrefix(prompt, rejected))
		out[i].Prompt, out[i].Chosen, out[i].Rejected = prompt[:n], chosen[n:], rejected[n:]
	}
	return out, nil
}

func concat(a, b []Message) []Message {
	return append(append(make([]Message, 0, len(a)+len(b)), a...), b...)
}

// commonPrefix returns the length of the longest common prefix of a and
// b, backed off to a UTF-8 boundary.
func commonPrefix(a, b string) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	for n > 0 && n < len(a) && !isRuneStart(a[n]) {
		n--
	}
	return n
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
