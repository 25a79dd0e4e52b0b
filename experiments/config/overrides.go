package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"gatedpo/internal/tomlval"
)

// An Override is one command-line `-set key=value`: a dotted TOML key and
// a TOML value that replace (or add) that key of the grid file before it is
// validated. Arrays of tables are indexed from 0 (grid.gate[1].tau). A value
// that is not valid TOML is taken as a string, so `-set data.dataset=x.jsonl`
// needs no quotes.
type Override struct {
	Arg   string // as given: key=value
	Key   string // dotted key
	Value any    // decoded TOML value
}

// ParseOverride parses one `key=value` argument. Errors are *ConfigError
// naming the argument.
func ParseOverride(arg string) (Override, error) {
	key, val, ok := strings.Cut(arg, "=")
	key = strings.TrimSpace(key)
	bad := func(msg string) (Override, error) {
		return Override{}, &ConfigError{File: "-set " + arg, Msg: msg}
	}
	if !ok || key == "" {
		return bad("expected key=value with a dotted TOML key, e.g. train.lr=3e-4")
	}
	if _, err := splitOverrideKey(key); err != nil {
		return bad(err.Error())
	}
	var doc map[string]any
	var v any
	if _, err := toml.Decode("v = "+val, &doc); err == nil {
		v = doc["v"]
	} else {
		v = val // not a TOML value: a bare string
	}
	return Override{Arg: arg, Key: key, Value: v}, nil
}

// overrideSeg is one segment of an override key: a table key, optionally
// indexing an array of tables.
type overrideSeg struct {
	name  string
	index int // -1: not indexed
}

// splitOverrideKey splits grid.gate[1].tau into its segments.
func splitOverrideKey(key string) ([]overrideSeg, error) {
	var segs []overrideSeg
	for _, part := range strings.Split(key, ".") {
		seg := overrideSeg{name: part, index: -1}
		if i := strings.IndexByte(part, '['); i >= 0 {
			if !strings.HasSuffix(part, "]") {
				return nil, fmt.Errorf("key %q: expected NAME[INDEX] in segment %q", key, part)
			}
			n, err := strconv.Atoi(part[i+1 : len(part)-1])
			if err != nil || n < 0 {
				return nil, fmt.Errorf("key %q: expected a non-negative index in segment %q", key, part)
			}
			seg = overrideSeg{name: part[:i], index: n}
		}
		if !isBareKey(seg.name) {
			return nil, fmt.Errorf("key %q: segment %q is not a bare TOML key (letters, digits, _ and -)", key, seg.name)
		}
		segs = append(segs, seg)
	}
	return segs, nil
}

// apply sets the override's key in the decoded document raw, creating
// tables on the way. It fails when the path crosses a value that is not a
// table, or indexes past the end of an array of tables.
func (o Override) apply(raw map[string]any) error {
	segs, err := splitOverrideKey(o.Key)
	if err != nil {
		return &ConfigError{File: "-set " + o.Arg, Msg: err.Error()}
	}
	cur := raw
	for i, s := range segs {
		last := i == len(segs)-1
		path := joinOverridePath(segs[:i+1])
		if s.index < 0 {
			if last {
				cur[s.name] = o.Value
				return nil
			}
			next, ok := cur[s.name]
			if !ok {
				t := map[string]any{}
				cur[s.name] = t
				cur = t
				continue
			}
			t, ok := next.(map[string]any)
			if !ok {
				return &ConfigError{File: "-set " + o.Arg, Key: path, Msg: fmt.Sprintf("is %s in the grid, not a table", tomlval.Describe(next))}
			}
			cur = t
			continue
		}
		arr, ok := cur[s.name].([]map[string]any)
		if !ok || s.index >= len(arr) {
			return &ConfigError{File: "-set " + o.Arg, Key: path, Msg: fmt.Sprintf("no such element: the grid has %d [[%s]] tables", len(arr), joinOverridePath(segs[:i])+"."+s.name)}
		}
		if last {
			t, ok := o.Value.(map[string]any)
			if !ok {
				return &ConfigError{File: "-set " + o.Arg, Key: path, Msg: "expected an inline table {…} to replace an array element"}
			}
			arr[s.index] = t
			return nil
		}
		cur = arr[s.index]
	}
	return nil
}

func joinOverridePath(segs []overrideSeg) string {
	var b strings.Builder
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.name)
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
		}
	}
	return strings.TrimPrefix(b.String(), ".")
}
