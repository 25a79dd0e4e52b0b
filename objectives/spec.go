package objectives

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"gatedpo/internal/tomlval"
)

// Objective names (docs/method.md §2).
const (
	DPO    = "dpo"
	IPO    = "ipo"
	CalDPO = "cal_dpo"
	RPO    = "rpo"
	SimPO  = "simpo"
	SFT    = "sft"

	// Objectives built to keep the chosen likelihood from falling.
	DPOP    = "dpop"     // DPO-Positive (Pal et al. 2024, Smaug)
	APOZero = "apo_zero" // Anchored Preference Optimization, eq. 7 (D'Oosterlinck et al. 2024)
	APODown = "apo_down" // Anchored Preference Optimization, eq. 8
	NCAPair = "nca_pair" // Noise Contrastive Alignment, pairwise (Chen et al. 2024)
)

// RPO NLL normalisations (Spec.SFTNorm).
const (
	SFTNormMean  = "mean"  // NLL_i = −pc_i/|y⁺_i|, then the mean over pairs (default)
	SFTNormSum   = "sum"   // NLL_i = −pc_i, then the mean over pairs
	SFTNormToken = "token" // NLL = Σ_i(−pc_i) / Σ_i|y⁺_i|, the batch token mean
)

// Names lists the objectives in the order docs/method.md §2 gives them:
// the DPO family, then the objectives built against likelihood
// displacement, then sft.
var Names = []string{DPO, IPO, CalDPO, RPO, SimPO, DPOP, APOZero, APODown, NCAPair, SFT}

// SFTNorms lists the valid Spec.SFTNorm values.
var SFTNorms = []string{SFTNormMean, SFTNormSum, SFTNormToken}

// paramKeys lists, per objective, the TOML keys of its parameters (besides
// "name"), in the order cases.toml writes them.
var paramKeys = map[string][]string{
	DPO:     {"beta", "label_smoothing"},
	IPO:     {"beta", "length_normalize"},
	CalDPO:  {"beta", "cal_weight"},
	RPO:     {"beta", "alpha", "sft_norm"},
	SimPO:   {"beta", "gamma"},
	DPOP:    {"beta", "lambda"},
	APOZero: {"beta"},
	APODown: {"beta"},
	NCAPair: {"beta"},
	SFT:     {},
}

// Spec describes one objective with every parameter it uses. Its field
// names and types are those of results.ObjectiveSpec, so
// `results.ObjectiveSpec(spec)` converts it. Parameters an objective does
// not use are zero (and omitted from JSON).
//
// Defaults (Default): dpo β 0.1, ε 0; ipo β 0.1, length_normalize false;
// cal_dpo β 0.1, cal_weight 1.0 (the Cal-DPO authors' Pythia code; 0.5 is
// their Zephyr code); rpo β 0.1, α 1.0, sft_norm "mean"; simpo β 2.0,
// γ 0.5; dpop β 0.1, λ 5.0; apo_zero, apo_down, nca_pair β 0.1; sft has
// no parameter.
type Spec struct {
	Name            string  `json:"name"`                       // one of Names
	Beta            float64 `json:"beta,omitempty"`             // β > 0 (all but sft)
	LabelSmoothing  float64 `json:"label_smoothing,omitempty"`  // dpo: ε in [0, 0.5) (cDPO)
	LengthNormalize bool    `json:"length_normalize,omitempty"` // ipo: divide every LP by its |y|
	CalWeight       float64 `json:"cal_weight,omitempty"`       // cal_dpo: weight w ≥ 0 of the calibration bracket
	Alpha           float64 `json:"alpha,omitempty"`            // rpo: NLL weight α ≥ 0
	SFTNorm         string  `json:"sft_norm,omitempty"`         // rpo: mean | sum | token
	Gamma           float64 `json:"gamma,omitempty"`            // simpo: target margin γ ≥ 0
	Lambda          float64 `json:"lambda,omitempty"`           // dpop: weight λ > 0 of the penalty max(0, −r⁺)
}

// Default returns objective name with every parameter at its default.
func Default(name string) (Spec, error) {
	switch name {
	case DPO:
		return Spec{Name: DPO, Beta: 0.1, LabelSmoothing: 0}, nil
	case IPO:
		return Spec{Name: IPO, Beta: 0.1, LengthNormalize: false}, nil
	case CalDPO:
		return Spec{Name: CalDPO, Beta: 0.1, CalWeight: 1.0}, nil
	case RPO:
		return Spec{Name: RPO, Beta: 0.1, Alpha: 1.0, SFTNorm: SFTNormMean}, nil
	case SimPO:
		return Spec{Name: SimPO, Beta: 2.0, Gamma: 0.5}, nil
	case DPOP:
		return Spec{Name: DPOP, Beta: 0.1, Lambda: 5.0}, nil
	case APOZero, APODown, NCAPair:
		return Spec{Name: name, Beta: 0.1}, nil
	case SFT:
		return Spec{Name: SFT}, nil
	}
	return Spec{}, tomlval.Errorf("name", "unknown objective %q; expected one of %s", name, strings.Join(Names, ", "))
}

// UsesReference reports whether the loss reads the reference log-probs
// (simpo and sft do not; their rewards/* metrics still use them if given).
func (s Spec) UsesReference() bool { return s.Name != SimPO && s.Name != SFT }

// ReadsRejected reports whether the loss reads the policy's rejected
// log-probs (sft does not, so a gate cannot change it).
func (s Spec) ReadsRejected() bool { return s.Name != SFT }

// Reduction says how an objective's batch loss is built from its pairs,
// which decides how the batch's gradient splits over micro-batches
// (gradient accumulation: the gradient of the batch loss is the sum of
// the micro-batches' loss gradients, each scaled by its share).
type Reduction int

const (
	// PairMean: loss = mean_i ℓ_i over the B pairs; a micro-batch of m
	// pairs has the share m/B.
	PairMean Reduction = iota
	// ChosenTokenMean: loss = Σ_i(−pc_i)/Σ_i n⁺_i (sft); a micro-batch has
	// the share Σ_micro n⁺ / Σ_batch n⁺ of the chosen response tokens.
	ChosenTokenMean
	// Mixed: a pair mean plus a batch token mean (rpo with sft_norm
	// "token"); no single share per micro-batch gives the batch gradient.
	Mixed
)

// Reduction returns how the objective's loss reduces its pairs.
func (s Spec) Reduction() Reduction {
	switch {
	case s.Name == SFT:
		return ChosenTokenMean
	case s.Name == RPO && s.SFTNorm == SFTNormToken:
		return Mixed
	}
	return PairMean
}

// HasBeta reports whether the objective has a β (all but sft), and so
// whether rewards/* metrics are defined.
func (s Spec) HasBeta() bool { return s.Name != SFT }

// String describes the objective with its parameters in TOML order, e.g.
// "dpo beta=0.1 label_smoothing=0".
func (s Spec) String() string {
	var b strings.Builder
	b.WriteString(s.Name)
	for _, k := range paramKeys[s.Name] {
		b.WriteString(" " + k + "=")
		switch k {
		case "beta":
			b.WriteString(fmtF(s.Beta))
		case "label_smoothing":
			b.WriteString(fmtF(s.LabelSmoothing))
		case "length_normalize":
			b.WriteString(strconv.FormatBool(s.LengthNormalize))
		case "cal_weight":
			b.WriteString(fmtF(s.CalWeight))
		case "alpha":
			b.WriteString(fmtF(s.Alpha))
		case "sft_norm":
			b.WriteString(s.SFTNorm)
		case "gamma":
			b.WriteString(fmtF(s.Gamma))
		case "lambda":
			b.WriteString(fmtF(s.Lambda))
		}
	}
	return b.String()
}

// Validate checks the name, that parameters the objective does not use are
// zero, and every parameter's range; errors are *tomlval.KeyError.
func (s Spec) Validate() error {
	keys, ok := paramKeys[s.Name]
	if !ok {
		return tomlval.Errorf("name", "unknown objective %q; expected one of %s", s.Name, strings.Join(Names, ", "))
	}
	used := map[string]bool{}
	for _, k := range keys {
		used[k] = true
	}
	set := map[string]bool{
		"beta": s.Beta != 0, "label_smoothing": s.LabelSmoothing != 0, "length_normalize": s.LengthNormalize,
		"cal_weight": s.CalWeight != 0, "alpha": s.Alpha != 0, "sft_norm": s.SFTNorm != "", "gamma": s.Gamma != 0,
		"lambda": s.Lambda != 0,
	}
	for _, k := range []string{"beta", "label_smoothing", "length_normalize", "cal_weight", "alpha", "sft_norm", "gamma", "lambda"} {
		if set[k] && !used[k] {
			return tomlval.Errorf(k, "objective %s has no parameter %s; its parameters are: %s", s.Name, k, listOrNone(keys))
		}
	}
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	if used["beta"] && !(s.Beta > 0 && finite(s.Beta)) {
		return tomlval.Errorf("beta", "expected a finite number > 0, got %v", s.Beta)
	}
	if !(s.LabelSmoothing >= 0 && s.LabelSmoothing < 0.5) {
		return tomlval.Errorf("label_smoothing", "expected a number in [0, 0.5), got %v", s.LabelSmoothing)
	}
	if !(s.CalWeight >= 0 && finite(s.CalWeight)) {
		return tomlval.Errorf("cal_weight", "expected a finite number >= 0, got %v", s.CalWeight)
	}
	if !(s.Alpha >= 0 && finite(s.Alpha)) {
		return tomlval.Errorf("alpha", "expected a finite number >= 0, got %v", s.Alpha)
	}
	if used["sft_norm"] && !contains(SFTNorms, s.SFTNorm) {
		return tomlval.Errorf("sft_norm", "expected one of %s, got %q", strings.Join(SFTNorms, ", "), s.SFTNorm)
	}
	if !(s.Gamma >= 0 && finite(s.Gamma)) {
		return tomlval.Errorf("gamma", "expected a finite number >= 0, got %v", s.Gamma)
	}
	// λ = 0 would be plain dpo; requiring λ > 0 also keeps the JSON (which
	// omits zero fields) unambiguous against the default 5.0.
	if used["lambda"] && !(s.Lambda > 0 && finite(s.Lambda)) {
		return tomlval.Errorf("lambda", "expected a finite number > 0 (lambda = 0 is dpo), got %v", s.Lambda)
	}
	return nil
}

// ParseSpec reads a decoded [objective] table (map[string]any as
// BurntSushi/toml or encoding/json produce it). "name" is required; the
// objective's other parameters default as in Default; a key the objective
// does not have, a value of the wrong type or out of range is a *tomlval.KeyError.
// Integers are accepted where a number is expected.
func ParseSpec(table map[string]any) (Spec, error) {
	nameV, ok := table["name"]
	if !ok {
		return Spec{}, tomlval.Errorf("name", "missing; expected one of %s", strings.Join(Names, ", "))
	}
	name, err := tomlval.String("name", nameV)
	if err != nil {
		return Spec{}, err
	}
	s, err := Default(name)
	if err != nil {
		return Spec{}, err
	}
	allowed := map[string]bool{}
	for _, k := range paramKeys[name] {
		allowed[k] = true
	}
	keys := make([]string, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "name" {
			continue
		}
		if !allowed[k] {
			return Spec{}, tomlval.Errorf(k, "unknown key for objective %s; expected %s", name, listOrNone(append([]string{"name"}, paramKeys[name]...)))
		}
		v := table[k]
		var err error
		switch k {
		case "beta":
			s.Beta, err = tomlval.Number(k, v, tomlval.Any)
		case "label_smoothing":
			s.LabelSmoothing, err = tomlval.Number(k, v, tomlval.Any)
		case "length_normalize":
			s.LengthNormalize, err = tomlval.Bool(k, v)
		case "cal_weight":
			s.CalWeight, err = tomlval.Number(k, v, tomlval.Any)
		case "alpha":
			s.Alpha, err = tomlval.Number(k, v, tomlval.Any)
		case "sft_norm":
			s.SFTNorm, err = tomlval.String(k, v)
		case "gamma":
			s.Gamma, err = tomlval.Number(k, v, tomlval.Any)
		case "lambda":
			s.Lambda, err = tomlval.Number(k, v, tomlval.Any)
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

func listOrNone(keys []string) string {
	if len(keys) == 0 {
		return "(none)"
	}
	return strings.Join(keys, ", ")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func fmtF(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
