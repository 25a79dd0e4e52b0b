package gating

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"gatedpo/internal/tomlval"
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

// Validate checks every parameter's range and returns a *tomlval.KeyError naming
// the first bad key.
func (s Spec) Validate() error {
	if !contains(Kinds, s.Kind) {
		return tomlval.Errorf("kind", "expected one of %s, got %q", strings.Join(Kinds, ", "), s.Kind)
	}
	if !(s.Tau >= 0) || math.IsInf(s.Tau, 0) {
		return tomlval.Errorf("tau", "expected a finite number >= 0 (0 = off), got %v", s.Tau)
	}
	if !contains(Levels, s.Level) {
		return tomlval.Errorf("level", "expected one of %s, got %q", strings.Join(Levels, ", "), s.Level)
	}
	if !(s.Temperature > 0) || math.IsInf(s.Temperature, 0) {
		return tomlval.Errorf("temperature", "expected a finite number > 0, got %v", s.Temperature)
	}
	if !(s.Alpha > 0 && s.Alpha <= 1) {
		return tomlval.Errorf("alpha", "expected a number in (0, 1], got %v", s.Alpha)
	}
	return nil
}

// ParseSpec reads a decoded [gate] table (as BurntSushi/toml or
// encoding/json decode it into map[string]any): missing keys take their
// defaults, unknown keys and values of the wrong type or out of range are
// *tomlval.KeyError. Integers are accepted where a number is expected (tau = 0).
func ParseSpec(table map[string]any) (Spec, error) {
	s := DefaultSpec()
	for _, k := range sortedKeys(table) {
		v := table[k]
		var err error
		switch k {
		case "kind":
			s.Kind, err = tomlval.String(k, v)
		case "tau":
			s.Tau, err = tomlval.Number(k, v, tomlval.Any)
		case "level":
			s.Level, err = tomlval.String(k, v)
		case "relative":
			s.Relative, err = tomlval.Bool(k, v)
		case "temperature":
			s.Temperature, err = tomlval.Number(k, v, tomlval.Any)
		case "alpha":
			s.Alpha, err = tomlval.Number(k, v, tomlval.Any)
		default:
			err = tomlval.Errorf(k, "unknown gate key; expected one of %s", strings.Join(Keys, ", "))
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
