package gating

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Gate kinds (docs/method.md §3). KindNone never changes a gradient.
const (
	KindNone    = "none"
	KindHard    = "hard"
	KindRamp    = "ramp"
	KindSigmoid = "sigmoid"
	KindPower   = "power"
)

// Gate levels (docs/method.md §3).
const (
	// LevelToken computes one gate per rejected response token, from p_t.
	LevelToken = "token"
	// LevelSequence computes one gate per rejected response, from the
	// geometric-mean probability exp(Σ_t x_t / |y⁻|), and applies it to
	// every token of that response.
	LevelSequence = "sequence"
)

// Kinds lists the gate kinds in the order the documentation gives them.
var Kinds = []string{KindNone, KindHard, KindRamp, KindSigmoid, KindPower}

// Levels lists the gate levels.
var Levels = []string{LevelToken, LevelSequence}

// Keys lists every key of a [gate] table, in the order cases.toml writes them.
var Keys = []string{"kind", "tau", "level", "relative", "temperature", "alpha"}

// Spec describes one gate. Its field names and types are those of
// results.GateSpec, so `results.GateSpec(spec)` converts it. Every field
// always holds a value (see DefaultSpec); Tau = 0 or Kind = "none" means
// the gate is off.
type Spec struct {
	Kind        string  `json:"kind"`        // none | hard | ramp | sigmoid | power (default none)
	Tau         float64 `json:"tau"`         // threshold τ ≥ 0 on the probability; 0 = off (default 0)
	Level       string  `json:"level"`       // token | sequence (default token)
	Relative    bool    `json:"relative"`    // read p / max_v π(v|·) instead of p (default false)
	Temperature float64 `json:"temperature"` // sigmoid temperature T > 0 (default 1.0)
	Alpha       float64 `json:"alpha"`       // power exponent α in (0, 1] (default 0.5)
}

// DefaultSpec returns the gate that is off, with every other parameter at
// its default: kind none, τ 0, token level, absolute probability, T 1, α 0.5.
func DefaultSpec() Spec {
	return Spec{Kind: KindNone, Tau: 0, Level: LevelToken, Relative: false, Temperature: 1.0, Alpha: 0.5}
}

// Off reports whether the gate is switched off (g ≡ 1): kind none or τ = 0.
// An off gate inserts nothing into a graph, so results are bit-identical to
// the ungated objective.
func (s Spec) Off() bool { return s.Kind == KindNone || s.Tau == 0 }

// String describes the gate in one short line, e.g. "ramp tau=0.05",
// "sigmoid tau=0.5 T=0.5 sequence relative", or "none".
func (s Spec) String() string {
	if s.Off() {
		if s.Kind == KindNone {
			return KindNone
		}
		return s.Kind + " tau=0 (off)"
	}
	var b strings.Builder
	b.WriteString(s.Kind)
	b.WriteString(" tau=" + strconv.FormatFloat(s.Tau, 'g', -1, 64))
	if s.Kind == KindSigmoid {
		b.WriteString(" T=" + strconv.FormatFloat(s.Temperature, 'g', -1, 64))
	}
	if s.Kind == KindPower {
		b.WriteString(" alpha=" + strconv.FormatFloat(s.Alpha, 'g', -1, 64))
	}
	if s.Level == LevelSequence {
		b.WriteString(" sequence")
	}
	if s.Relative {
		b.WriteString(" relative")
	}
	return b.String()
}

// KeyError is a configuration error about one key of a [gate] table. Key
// is the offending key ("" when the table as a whole is wrong); callers that
// know where the table came from prefix "file:line: " using ErrKey.
type KeyError struct {
	Key string // offending key, e.g. "tau"
	Msg string // what was expected
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

// Validate checks every parameter's range and returns a *KeyError naming
// the first bad key.
func (s Spec) Validate() error {
	if !contains(Kinds, s.Kind) {
		return &KeyError{"kind", fmt.Sprintf("expected one of %s, got %q", strings.Join(Kinds, ", "), s.Kind)}
	}
	if !(s.Tau >= 0) || math.IsInf(s.Tau, 0) {
		return &KeyError{"tau", fmt.Sprintf("expected a finite number >= 0 (0 = off), got %v", s.Tau)}
	}
	if !contains(Levels, s.Level) {
		return &KeyError{"level", fmt.Sprintf("expected one of %s, got %q", strings.Join(Levels, ", "), s.Level)}
	}
	if !(s.Temperature > 0) || math.IsInf(s.Temperature, 0) {
		return &KeyError{"temperature", fmt.Sprintf("expected a finite number > 0, got %v", s.Temperature)}
	}
	if !(s.Alpha > 0 && s.Alpha <= 1) {
		return &KeyError{"alpha", fmt.Sprintf("expected a number in (0, 1], got %v", s.Alpha)}
	}
	return nil
}

// ParseSpec reads a decoded [gate] table (as BurntSushi/toml or
// encoding/json decode it into map[string]any): missing keys take their
// defaults, unknown keys and values of the wrong type or out of range are
// *KeyError. Integers are accepted where a number is expected (tau = 0).
func ParseSpec(table map[string]any) (Spec, error) {
	s := DefaultSpec()
	for _, k := range sortedKeys(table) {
		v := table[k]
		var err error
		switch k {
		case "kind":
			s.Kind, err = asString(k, v)
		case "tau":
			s.Tau, err = asFloat(k, v)
		case "level":
			s.Level, err = asString(k, v)
		case "relative":
			s.Relative, err = asBool(k, v)
		case "temperature":
			s.Temperature, err = asFloat(k, v)
		case "alpha":
			s.Alpha, err = asFloat(k, v)
		default:
			err = &KeyError{k, "unknown gate key; expected one of " + strings.Join(Keys, ", ")}
		}
		if err != nil {
			return Spec{}, err
		}
	}
	if err := s.Validate(); err != nil {
		return Spec{}, err
	}
	return s, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func asString(key string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", &KeyError{key, fmt.Sprintf("expected a string, got %v (%T)", v, v)}
	}
	return s, nil
}

func asBool(key string, v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, &KeyError{key, fmt.Sprintf("expected true or false, got %v (%T)", v, v)}
	}
	return b, nil
}

func asFloat(key string, v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case float32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	}
	return 0, &KeyError{key, fmt.Sprintf("expected a number, got %v (%T)", v, v)}
}
