// Package tomlval reads the values of decoded TOML tables (the
// map[string]any that BurntSushi/toml or encoding/json produce) with errors
// that name the key: the one value coercer and the one key error of the
// grid (gatedpo/experiments/config), objective (gatedpo/objectives) and gate
// (gatedpo/gating) tables. It is a leaf: it knows no vocabulary, so gating
// and objectives can share it without knowing each other or the grid.
//
// A *KeyError names a key relative to its table ("beta"); the grid parser
// prefixes the table's dotted key and its file:line.
package tomlval

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// KeyError is a configuration error about one key of a table. Key is the
// offending key ("" when the table as a whole is wrong); callers that know
// where the table came from prefix "file:line: " and the table's key.
type KeyError struct {
	Key string // offending key, e.g. "tau" (or a dotted key, e.g. "train.lr")
	Msg string // what was expected
}

// Errorf returns a *KeyError for key.
func Errorf(key, format string, args ...any) *KeyError {
	return &KeyError{Key: key, Msg: fmt.Sprintf(format, args...)}
}

// Error formats the error as "key: what was expected".
func (e *KeyError) Error() string {
	if e.Key == "" {
		return e.Msg
	}
	return e.Key + ": " + e.Msg
}

// ErrKey returns the offending key.
func (e *KeyError) ErrKey() string { return e.Key }

// Describe writes a decoded value for an error message: a string quoted,
// "a list", "a table", else the value (numbers, booleans, dates).
func Describe(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case []any, []map[string]any:
		return "a list"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%v", v)
}

// String reads a string; with choices, it must be one of them.
func String(key string, v any, choices ...string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", Errorf(key, "expected a string, got %s", Describe(v))
	}
	if len(choices) > 0 {
		found := false
		for _, c := range choices {
			found = found || c == s
		}
		if !found {
			return "", Errorf(key, "expected one of %s, got %q", strings.Join(choices, ", "), s)
		}
	}
	return s, nil
}

// Bool reads true or false.
func Bool(key string, v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, Errorf(key, "expected true or false, got %s", Describe(v))
	}
	return b, nil
}

// Int reads an integer in [min, max] (a TOML integer; a float is refused).
func Int(key string, v any, min, max int64) (int64, error) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case int:
		n = int64(x)
	default:
		return 0, Errorf(key, "expected an integer >= %d, got %s", min, Describe(v))
	}
	if n < min {
		return 0, Errorf(key, "expected an integer >= %d, got %d", min, n)
	}
	if n > max {
		return 0, Errorf(key, "expected ≤ %d, got %d", max, n)
	}
	return n, nil
}

// Range is the set of numbers Number accepts.
type Range int

// Ranges of Number.
const (
	// Any accepts every float (NaN and ±Inf included): the caller checks
	// the range with its own message ("expected a number" otherwise).
	Any Range = iota
	// NonNegative accepts finite numbers >= 0.
	NonNegative
	// Positive accepts finite numbers > 0.
	Positive
)

// want is the expectation Number's errors state.
func (r Range) want() string {
	switch r {
	case NonNegative:
		return "expected a finite number >= 0"
	case Positive:
		return "expected a finite number > 0"
	}
	return "expected a number"
}

// Number reads a number in r: a float, or an integer taken as a float.
func Number(key string, v any, r Range) (float64, error) {
	var x float64
	switch n := v.(type) {
	case float64:
		x = n
	case float32:
		x = float64(n)
	case int64:
		x = float64(n)
	case int:
		x = float64(n)
	default:
		return 0, Errorf(key, "%s, got %s", r.want(), Describe(v))
	}
	if r != Any && (math.IsNaN(x) || math.IsInf(x, 0) || x < 0 || (r == Positive && x == 0)) {
		return 0, Errorf(key, "%s, got %v", r.want(), x)
	}
	return x, nil
}
