package data

import (
	"encoding/json"
	"strings"
)

// Message is one turn of a conversational record.
type Message struct {
	Role, Content string
}

// Conversation keeps the turns of a conversational record, split the way
// the pair's text is: Prompt is everything before the responses (a string
// prompt is one "user" message), Chosen and Rejected are the response
// turns (the first is the assistant's). ApplyChatTemplate renders a pair
// from it again with a model's chat template.
type Conversation struct {
	Prompt, Chosen, Rejected []Message
}

// roleLabel renders a role the way Anthropic HH writes turns.
func roleLabel(role string) string {
	switch strings.ToLower(role) {
	case "user", "human":
		return "Human"
	case "assistant", "bot", "gpt":
		return "Assistant"
	case "system":
		return "System"
	}
	if role == "" {
		return "Unknown"
	}
	return strings.ToUpper(role[:1]) + role[1:]
}

// renderTurns writes turns as "\n\nHuman: …\n\nAssistant: …".
func renderTurns(msgs []Message) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("\n\n")
		b.WriteString(roleLabel(m.Role))
		b.WriteString(": ")
		b.WriteString(m.Content)
	}
	return b.String()
}

// renderResponse writes an assistant response: " content" for its first
// message (the prompt ends with "\n\nAssistant:"), then any later turns.
func renderResponse(msgs []Message) string {
	if len(msgs) == 0 {
		return ""
	}
	return " " + msgs[0].Content + renderTurns(msgs[1:])
}

func isAssistant(role string) bool { return roleLabel(role) == "Assistant" }

// parseMessages decodes a list of {role, content} objects.
func parseMessages(path string, lineNo int, key string, raw json.RawMessage) ([]Message, error) {
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil || jsonKind(raw) != "a list" {
		return nil, badRecord(path, lineNo, SkipWrongType, "field %q: got %s, expected a list of {role, content}", key, jsonKind(raw))
	}
	msgs := make([]Message, len(items))
	for i, it := range items {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(it, &obj); err != nil || jsonKind(it) != "an object" {
			return nil, badRecord(path, lineNo, SkipWrongType, "field %s[%d]: got %s, expected an object {role, content}", key, i, jsonKind(it))
		}
		for _, f := range []string{"role", "content"} {
			v, ok := obj[f]
			if !ok {
				return nil, badRecord(path, lineNo, SkipMissingField, "field %s[%d]: missing %q, expected {role, content}", key, i, f)
			}
			s, ok := jsonString(v)
			if !ok {
				return nil, badRecord(path, lineNo, SkipWrongType, "field %s[%d].%s: got %s, expected a string", key, i, f, jsonKind(v))
			}
			if f == "role" {
				msgs[i].Role = s
			} else {
				msgs[i].Content = s
			}
		}
	}
	return msgs, nil
}

// parseConversation fills p from a conversational record: chosen and
// rejected are lists of {role, content}. With a "prompt" (a list of
// messages or a string) they are the responses; without one they are full
// conversations and the prompt is their common turns up to the last
// assistant turn they share a position for (the rule SplitHH applies to
// text).
func parseConversation(path string, lineNo int, obj map[string]json.RawMessage, used map[string]bool, p *Pair) error {
	var turns [2][]Message
	for i, key := range []string{"chosen", "rejected"} {
		raw, ok := obj[key]
		used[key] = true
		if !ok {
			return badRecord(path, lineNo, SkipMissingField, "missing field %q, expected a list of {role, content} (format \"conversational\")", key)
		}
		msgs, err := parseMessages(path, lineNo, key, raw)
		if err != nil {
			return err
		}
		turns[i] = msgs
	}
	// With a prompt, chosen and rejected are the responses, unless both
	// start with a turn that is not the assistant's: then they are whole
	// conversations (HuggingFaceH4/ultrafeedback_binarized repeats the
	// prompt string as their first user turn) and the prompt field stays
	// in Extra.
	whole := len(turns[0]) > 0 && len(turns[1]) > 0 && !isAssistant(turns[0][0].Role) && !isAssistant(turns[1][0].Role)
	if raw, ok := obj["prompt"]; ok && !whole {
		used["prompt"] = true
		conv := &Conversation{Chosen: turns[0], Rejected: turns[1]}
		if s, ok := jsonString(raw); ok {
			p.Prompt = s
			conv.Prompt = []Message{{Role: "user", Content: s}}
		} else {
			msgs, err := parseMessages(path, lineNo, "prompt", raw)
			if err != nil {
				return err
			}
			if len(msgs) > 0 {
				p.Prompt = renderTurns(msgs) + hhAssistant
			}
			conv.Prompt = msgs
		}
		p.Chosen, p.Rejected = renderResponse(turns[0]), renderResponse(turns[1])
		p.Messages = conv
		return nil
	}
	// Implicit prompt: the common turns, cut before the last assistant turn
	// that both share a position for.
	c, r := turns[0], turns[1]
	n := 0
	for n < len(c) && n < len(r) && c[n] == r[n] {
		n++
	}
	j := -1
	for k := min(n, len(c)-1, len(r)-1); k >= 0; k-- {
		if isAssistant(c[k].Role) && isAssistant(r[k].Role) {
			j = k
			break
		}
	}
	if j < 0 {
		return nil // prompt "" → skipped as empty_prompt
	}
	p.Prompt = renderTurns(c[:j]) + hhAssistant
	p.Chosen, p.Rejected = renderResponse(c[j:]), renderResponse(r[j:])
	p.Messages = &Conversation{Prompt: c[:j], Chosen: c[j:], Rejected: r[j:]}
	return nil
}
