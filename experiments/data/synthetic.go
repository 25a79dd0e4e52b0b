package data

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
)

// SyntheticConfig sizes and shapes the built-in synthetic dataset (see
// doc.go, "The synthetic dataset"). Zero fields take the documented
// defaults, so SyntheticConfig{Seed: s} is the standard set.
type SyntheticConfig struct {
	// Seed fixes the language (each topic's word ranking) and the samples.
	Seed uint64
	// TrainPairs is the number of training pairs (default 400, as the
	// hh-probe split of SCIENCE.md §6b).
	TrainPairs int
	// EvalPairs is the number of held-out pairs (default 100; negative
	// means none).
	EvalPairs int
	// Topics is the number of places prompts ask about (default 8, at most
	// 11: one more place is kept unseen for irr_test).
	Topics int
	// HeadSize is how many top-ranked words of a slot the chosen responses
	// use (default 4).
	HeadSize int
	// HeadDecay is the ratio of successive head-word probabilities: rank k
	// has weight HeadDecay^k (default 0.6, i.e. 0.46, 0.28, 0.17, 0.10 for
	// a head of 4), so the chosen word is the argmax less than half the
	// time.
	HeadDecay float64
	// TailStart is the first rank the rejected responses draw from; ranks
	// TailStart..15 are the "valleys" (default 8; must be ≥ HeadSize).
	TailStart int
	// RejectedHeadSlots is how many of the 4 content slots of a rejected
	// response take a head word instead of a valley word (default 0: every
	// content word of y⁻ is a valley).
	RejectedHeadSlots int
}

// withDefaults fills zero fields and validates.
func (c SyntheticConfig) withDefaults() (SyntheticConfig, error) {
	if c.TrainPairs == 0 {
		c.TrainPairs = 400
	}
	if c.EvalPairs == 0 {
		c.EvalPairs = 100
	}
	if c.EvalPairs < 0 {
		c.EvalPairs = 0
	}
	if c.Topics == 0 {
		c.Topics = 8
	}
	if c.HeadSize == 0 {
		c.HeadSize = 4
	}
	if c.HeadDecay == 0 {
		c.HeadDecay = 0.6
	}
	if c.TailStart == 0 {
		c.TailStart = 8
	}
	switch {
	case c.TrainPairs < 1:
		return c, fmt.Errorf("synthetic: train_pairs = %d, expected ≥ 1", c.TrainPairs)
	case c.Topics < 2 || c.Topics > len(synPlaces)-1:
		return c, fmt.Errorf("synthetic: topics = %d, expected 2..%d", c.Topics, len(synPlaces)-1)
	case c.HeadSize < 2 || c.HeadSize > synWords:
		return c, fmt.Errorf("synthetic: head_size = %d, expected 2..%d", c.HeadSize, synWords)
	case c.TailStart < c.HeadSize || c.TailStart > synWords-1:
		return c, fmt.Errorf("synthetic: tail_start = %d, expected head_size (%d)..%d", c.TailStart, c.HeadSize, synWords-1)
	case !(c.HeadDecay > 0 && c.HeadDecay <= 1):
		return c, fmt.Errorf("synthetic: head_decay = %v, expected (0, 1]", c.HeadDecay)
	case c.RejectedHeadSlots < 0 || c.RejectedHeadSlots > 3:
		return c, fmt.Errorf("synthetic: rejected_head_slots = %d, expected 0..3 (at least one valley word)", c.RejectedHeadSlots)
	}
	return c, nil
}

// The language: four slot classes of 16 words each (adjective, noun, verb,
// adverb), short enough that every response fits in 32 bytes.
const synWords = 16

var synSlots = [4][synWords]string{
	{"red", "big", "old", "wet", "shy", "calm", "bold", "dark", "warm", "cold", "soft", "loud", "pale", "kind", "wild", "slow"},
	{"fox", "owl", "cat", "frog", "bee", "crow", "wolf", "hare", "mole", "toad", "seal", "deer", "lark", "newt", "crab", "swan"},
	{"runs", "hops", "digs", "sings", "naps", "eats", "hides", "swims", "rests", "waits", "hums", "roams", "dives", "leaps", "sits", "plays"},
	{"fast", "late", "here", "now", "well", "often", "alone", "early", "again", "away", "low", "high", "far", "near", "soon", "daily"},
}

// synPlaces are the topics; the last one is never asked about (irr_test).
var synPlaces = []string{"forest", "river", "farm", "hills", "city", "lake", "marsh", "coast", "cave", "field", "garden", "desert"}

// synAsks are the prompt phrasings; ask k selects response template k.
var synAsks = []string{"tell me of", "what lives in", "describe"}

// synTemplates render (adjective, noun, verb, adverb); the leading space
// follows the prompt's "A:" as HH responses follow "Assistant:".
var synTemplates = []func(a, n, v, d string) string{
	func(a, n, v, d string) string { return " the " + a + " " + n + " " + v + " " + d + "." },
	func(a, n, v, d string) string { return " " + n + ": " + a + ", " + v + " " + d + "." },
	func(a, n, v, d string) string { return " a " + a + " " + n + "! it " + v + " " + d + "." },
}

// synHuman is fluent text outside the language (irr_hum).
var synHuman = []string{
	" The bus was late again today.", " I left my keys at the office.", " Rain is due after lunch.",
	" She paints every Sunday.", " Our team won the match.", " Please close the door softly.",
	" The soup needs more salt.", " He reads before bed.", " My phone battery is low.",
	" We moved here in June.", " The train stops at noon.", " Tea tastes better hot.",
	" The meeting ran long.", " Call me when you land.", " This book has a sad end.",
	" The shop opens at nine.",
}

// synLang is one seeded instance of the language: each topic's ranking of
// each slot class.
type synLang struct {
	cfg  SyntheticConfig
	rank [][4][synWords]int // [topic][slot] → word indices, most likely first
	head []float64          // cumulative head weights
	rng  *rand.Rand
}

func newSynLang(cfg SyntheticConfig) *synLang {
	l := &synLang{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x73796e7468657469))} // "synthetic"
	l.rank = make([][4][synWords]int, len(synPlaces))
	for t := range synPlaces {
		for s := 0; s < 4; s++ {
			for i, j := range l.rng.Perm(synWords) {
				l.rank[t][s][i] = j
			}
		}
	}
	w, sum := 1.0, 0.0
	for k := 0; k < cfg.HeadSize; k++ {
		sum += w
		l.head = append(l.head, sum)
		w *= cfg.HeadDecay
	}
	for k := range l.head {
		l.head[k] /= sum
	}
	return l
}

// content is the four content words of a response.
type content [4]string

func (l *synLang) headWord(topic, slot int) string {
	u := l.rng.Float64()
	k := 0
	for k < len(l.head)-1 && u >= l.head[k] {
		k++
	}
	return synSlots[slot][l.rank[topic][slot][k]]
}

func (l *synLang) tailWord(topic, slot int) string {
	k := l.cfg.TailStart + l.rng.IntN(synWords-l.cfg.TailStart)
	return synSlots[slot][l.rank[topic][slot][k]]
}

func (l *synLang) chosen(topic int) content {
	var c content
	for s := range c {
		c[s] = l.headWord(topic, s)
	}
	return c
}

func (l *synLang) rejected(topic int) content {
	var c content
	headSlots := map[int]bool{}
	for _, s := range l.rng.Perm(4)[:l.cfg.RejectedHeadSlots] {
		headSlots[s] = true
	}
	for s := range c {
		if headSlots[s] {
			c[s] = l.headWord(topic, s)
		} else {
			c[s] = l.tailWord(topic, s)
		}
	}
	return c
}

func render(tmpl int, c content) string { return synTemplates[tmpl](c[0], c[1], c[2], c[3]) }

// otherTopic draws a topic ≠ topic among the first n.
func (l *synLang) otherTopic(topic, n int) int {
	o := l.rng.IntN(n - 1)
	if o >= topic {
		o++
	}
	return o
}

// shuffleWords permutes the space-separated words of s (keeping the
// leading space), trying a few times to differ from s.
func (l *synLang) shuffleWords(s string) string {
	words := strings.Fields(s)
	out := s
	for try := 0; try < 8 && out == s; try++ {
		l.rng.Shuffle(len(words), func(i, j int) { words[i], words[j] = words[j], words[i] })
		out = " " + strings.Join(words, " ")
	}
	return out
}

// Synthetic generates the built-in dataset: no files, deterministic in
// cfg, with every probe field of hh-probe (SCIENCE.md §5). Invalid knobs
// are a programming error and panic with the reason; check user-supplied
// configs with Validate (or call SyntheticChecked).
func Synthetic(cfg SyntheticConfig) *Dataset {
	ds, err := SyntheticChecked(cfg)
	if err != nil {
		panic("data.Synthetic: " + err.Error())
	}
	return ds
}

// Validate reports the first invalid knob of c (zero fields are valid:
// they take the defaults).
func (c SyntheticConfig) Validate() error {
	_, err := c.withDefaults()
	return err
}

// SyntheticChecked is Synthetic that returns an error for invalid knobs
// instead of panicking.
func SyntheticChecked(cfg SyntheticConfig) (*Dataset, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	l := newSynLang(cfg)
	type meta struct {
		topic, tmpl int
		chosen      content
		rejected    content
	}
	gen := func(n int) ([]Pair, []meta) {
		pairs := make([]Pair, n)
		metas := make([]meta, n)
		for i := range pairs {
			m := meta{topic: l.rng.IntN(cfg.Topics), tmpl: l.rng.IntN(len(synAsks))}
			m.chosen, m.rejected = l.chosen(m.topic), l.rejected(m.topic)
			metas[i] = m
			pairs[i] = Pair{
				Prompt:   "Q: " + synAsks[m.tmpl] + " the " + synPlaces[m.topic] + "?\nA:",
				Chosen:   render(m.tmpl, m.chosen),
				Rejected: render(m.tmpl, m.rejected),
				Extra:    map[string]any{"topic": synPlaces[m.topic], "template": m.tmpl},
			}
		}
		return pairs, metas
	}
	train, trainMeta := gen(cfg.TrainPairs)
	eval, evalMeta := gen(cfg.EvalPairs)
	unseen := len(synPlaces) - 1
	addProbes := func(pairs []Pair, metas []meta) {
		for i := range pairs {
			m := metas[i]
			p := &pairs[i]
			initial := l.chosen(m.topic)
			for try := 0; try < 16 && initial == m.chosen; try++ {
				initial = l.chosen(m.topic)
			}
			para := (m.tmpl + 1 + l.rng.IntN(len(synTemplates)-1)) % len(synTemplates)
			other := l.otherTopic(m.topic, cfg.Topics)
			// irr_train: the chosen response of a training pair on another topic.
			j := l.rng.IntN(len(train))
			for try := 0; try < 64 && trainMeta[j].topic == m.topic; try++ {
				j = l.rng.IntN(len(train))
			}
			irrTrain := train[j].Chosen
			p.Probes = map[string]string{
				FieldChosenInitial:    render(m.tmpl, initial),
				FieldChosenSemantic:   render(para, m.chosen),
				FieldRejectedSemantic: render(para, m.rejected),
				FieldChosenFormat:     render(m.tmpl, l.chosen(other)),
				FieldRejectedFormat:   render(m.tmpl, l.rejected(other)),
				FieldIrrelevantTrain:  irrTrain,
				FieldIrrelevantTest:   render(l.rng.IntN(len(synTemplates)), l.chosen(unseen)),
				FieldIrrelevantHuman:  synHuman[l.rng.IntN(len(synHuman))],
				FieldRandomPermute:    l.shuffleWords(p.Chosen),
				FieldRandomNonHuman:   l.shuffleWords(irrTrain),
			}
		}
	}
	addProbes(train, trainMeta)
	addProbes(eval, evalMeta)
	ds := &Dataset{Name: "synthetic", Format: FormatSynthetic, Train: train, Eval: eval,
		Skipped: map[string]int{}, ProbeFields: append([]string{}, AllProbeFields...)}
	h := sha256.New()
	fmt.Fprintf(h, "synthetic v1 %+v\n", cfg)
	WriteJSONL(h, train)
	WriteJSONL(h, eval)
	ds.Hash = hex.EncodeToString(h.Sum(nil))
	return ds, nil
}

// WriteJSONL writes pairs in the probe format Load reads back: one object
// a line with prompt, chosen, rejected, the probe fields and the extra
// fields (keys sorted, so the output is deterministic).
func WriteJSONL(w io.Writer, pairs []Pair) error {
	for _, p := range pairs {
		obj := map[string]any{}
		for k, v := range p.Extra {
			obj[k] = v
		}
		for k, v := range p.Probes {
			obj[k] = v
		}
		obj["prompt"], obj["chosen"], obj["rejected"] = p.Prompt, p.Chosen, p.Rejected
		b, err := json.Marshal(obj)
		if err != nil {
			return fmt.Errorf("write JSONL: %v", err)
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return fmt.Errorf("write JSONL: %v", err)
		}
	}
	return nil
}
