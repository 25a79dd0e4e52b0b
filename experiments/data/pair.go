package data

// Pair is one preference example (x, y⁺, y⁻) as text.
//
// Prompt, Chosen and Rejected are never empty in a loaded Dataset (pairs
// with a zero-length one are skipped, see SkipReasons). Probes holds the
// probe responses of the record (field name → text), only the non-empty
// ones; "chosen" and "rejected" are not repeated there (use Field). Extra
// holds every other top-level field of the record, decoded from JSON as is.
//
// Messages is set for conversational records only: their turns, from
// which Prompt, Chosen and Rejected were rendered (HH layout) and from
// which ApplyChatTemplate renders them with a model's chat template.
type Pair struct {
	Prompt, Chosen, Rejected string
	Probes                   map[string]string
	Extra                    map[string]any
	Messages                 *Conversation
}

// Field returns the response text of a probe field of the pair: "chosen"
// and "rejected" read the pair's own responses, every other name reads
// Probes. ok is false when the record has no such (non-empty) field.
func (p Pair) Field(name string) (text string, ok bool) {
	switch name {
	case FieldChosen:
		return p.Chosen, true
	case FieldRejected:
		return p.Rejected, true
	}
	text, ok = p.Probes[name]
	return text, ok
}

// Dataset is a loaded (or generated) preference dataset.
type Dataset struct {
	// Name is a short label ("hh-probe/train", "synthetic").
	Name string
	// Format is the format the file was read as: "prompt", "probe", "hh",
	// "conversational" or "synthetic".
	Format string
	// Path is the file read ("" for synthetic).
	Path string
	// Hash is the hex SHA-256 of the file's bytes as stored (for synthetic,
	// of the generated pairs), for caching and provenance.
	Hash string
	// Train and Eval are the two splits, each in file order.
	Train, Eval []Pair
	// Skipped counts the records left out, by reason (see SkipReasons;
	// bad-record reasons only with OnBadRecord = "skip").
	Skipped map[string]int
	// ProbeFields lists the probe fields present in at least one pair, in
	// the canonical order of AllProbeFields; it always starts with "chosen"
	// and "rejected".
	ProbeFields []string
}

// Pairs returns the number of usable pairs (train + eval).
func (d *Dataset) Pairs() int { return len(d.Train) + len(d.Eval) }

// SkippedTotal returns the number of records skipped for any reason.
func (d *Dataset) SkippedTotal() int {
	n := 0
	for _, c := range d.Skipped {
		n += c
	}
	return n
}

// Probe field names (docs/method.md §5; ../shared/data/README.md).
const (
	FieldChosen             = "chosen"
	FieldRejected           = "rejected"
	FieldChosenInitial      = "chosen_initial"
	FieldChosenSemantic     = "chosen_gptsemantic"
	FieldChosenFormat       = "chosen_gptformat"
	FieldRejectedSemantic   = "reject_gptsemantic"
	FieldRejectedFormat     = "reject_gptformat"
	FieldIrrelevantTrain    = "irr_train"
	FieldIrrelevantTest     = "irr_test"
	FieldIrrelevantHuman    = "irr_hum"
	FieldRandomPermute      = "random_permute"
	FieldRandomNonHuman     = "random_nonhum"
	fieldChosenSelfRephrase = "chosen_selfr" // commentary, not probed (docs/method.md §5); kept in Extra
)

// AllProbeFields is every probe field the framework knows, in canonical
// order (chosen, rejected, then the categories of docs/method.md §5).
var AllProbeFields = []string{
	FieldChosen, FieldRejected,
	FieldChosenInitial, FieldChosenSemantic, FieldChosenFormat,
	FieldRejectedSemantic, FieldRejectedFormat,
	FieldIrrelevantTrain, FieldIrrelevantTest, FieldIrrelevantHuman,
	FieldRandomPermute, FieldRandomNonHuman,
}

// ProbeCategory maps every probe field to its category (docs/method.md §5),
// used for colours and grouping in figures.
var ProbeCategory = map[string]string{
	FieldChosen:           "chosen",
	FieldChosenInitial:    "chosen-like",
	FieldChosenSemantic:   "chosen-like",
	FieldChosenFormat:     "chosen-format",
	FieldRejected:         "rejected",
	FieldRejectedSemantic: "rejected-like",
	FieldRejectedFormat:   "rejected-format",
	FieldIrrelevantTrain:  "irrelevant",
	FieldIrrelevantTest:   "irrelevant",
	FieldIrrelevantHuman:  "irrelevant",
	FieldRandomPermute:    "random",
	FieldRandomNonHuman:   "random",
}

// isExtraProbeField reports whether name is a probe field other than
// chosen/rejected.
func isExtraProbeField(name string) bool {
	if name == FieldChosen || name == FieldRejected {
		return false
	}
	_, ok := ProbeCategory[name]
	return ok
}

// Skip reasons, the keys of Dataset.Skipped. The first four are the skip
// rule of ../shared/data/README.md, checked in this order (a record is
// counted once, under the first reason that applies); the others appear
// only with OnBadRecord = "skip".
const (
	SkipEmptyPrompt    = "empty_prompt"
	SkipEmptyChosen    = "empty_chosen"
	SkipEmptyRejected  = "empty_rejected"
	SkipChosenRejected = "chosen_equals_rejected"
	SkipMalformedJSON  = "malformed_json"
	SkipInvalidUTF8    = "invalid_utf8"
	SkipWrongType      = "wrong_type"
	SkipMissingField   = "missing_field"
)

// SkipReasons lists every key Dataset.Skipped may hold, in report order.
var SkipReasons = []string{
	SkipEmptyPrompt, SkipEmptyChosen, SkipEmptyRejected, SkipChosenRejected,
	SkipMalformedJSON, SkipInvalidUTF8, SkipWrongType, SkipMissingField,
}

// skipReason applies the skip rule: "" keeps the pair.
func skipReason(prompt, chosen, rejected string) string {
	switch {
	case prompt == "":
		return SkipEmptyPrompt
	case chosen == "":
		return SkipEmptyChosen
	case rejected == "":
		return SkipEmptyRejected
	case chosen == rejected:
		return SkipChosenRejected
	}
	return ""
}

// probeFieldsOf lists the probe fields present in any of the pairs, in
// canonical order, always starting with chosen and rejected.
func probeFieldsOf(sets ...[]Pair) []string {
	present := map[string]bool{}
	for _, s := range sets {
		for _, p := range s {
			for k := range p.Probes {
				present[k] = true
			}
		}
	}
	out := []string{FieldChosen, FieldRejected}
	for _, f := range AllProbeFields[2:] {
		if present[f] {
			out = append(out, f)
		}
	}
	return out
}
