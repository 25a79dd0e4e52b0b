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
	// Seed fixes the language (every transition ranking) and the samples.
	Seed uint64
	// TrainPairs is the number of training pairs (default 400, as the
	// hh-probe split).
	TrainPairs int
	// EvalPairs is the number of held-out pairs (default 100; negative
	// means none).
	EvalPairs int
	// Topics is the number of places prompts ask about (default 8, at most
	// 11: one more place is kept unseen for irr_test).
	Topics int
	// WordLen is the number of letters of every word (default 4).
	WordLen int
	// MinWords is the number of words answering the first phrasing of the
	// question; the other two phrasings ask for one and two more (default
	// 4, so responses have 4, 5 or 6 words: at most 31 bytes with
	// WordLen 4).
	MinWords int
	// HeadSize is how many top-ranked letters a chosen response draws
	// each letter from (default 6).
	HeadSize int
	// HeadDecay is the ratio of successive head probabilities: rank k has
	// weight HeadDecay^k (default 0.75, i.e. 0.30, 0.23, 0.17, 0.13, 0.10,
	// 0.07 for a head of 6), so a chosen letter is the most likely one
	// less than a third of the time and a fitted model stays uncertain
	// (top-1 mass ≈ 0.4 after SFT, like a tiny model on real HH text).
	HeadDecay float64
	// TailStart is the first rank rejected letters are drawn from; ranks
	// TailStart..15 are the "valleys" (default 8; must be ≥ HeadSize).
	TailStart int
	// RejectedValleyProb is the probability that a rejected letter is a
	// valley (rank ≥ TailStart); otherwise it is drawn from the head like a
	// chosen letter. Default 0.1 (about two valleys in a response); 1 makes
	// every letter of y⁻ a valley.
	RejectedValleyProb float64
}

// withDefaults fills zero fields and validates.
func (c SyntheticConfig) withDefaults() (SyntheticConfig, error) {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.TrainPairs, 400)
	def(&c.EvalPairs, 100)
	def(&c.Topics, 8)
	def(&c.WordLen, 4)
	def(&c.MinWords, 4)
	def(&c.HeadSize, 6)
	def(&c.TailStart, 8)
	if c.EvalPairs < 0 {
		c.EvalPairs = 0
	}
	if c.HeadDecay == 0 {
		c.HeadDecay = 0.75
	}
	if c.RejectedValleyProb == 0 {
		c.RejectedValleyProb = 0.1
	}
	switch {
	case c.TrainPairs < 1:
		return c, fmt.Errorf("synthetic: train_pairs = %d, expected ≥ 1", c.TrainPairs)
	case c.Topics < 2 || c.Topics > len(synPlaces)-1:
		return c, fmt.Errorf("synthetic: topics = %d, expected 2..%d", c.Topics, len(synPlaces)-1)
	case c.WordLen < 1 || c.MinWords < 1:
		return c, fmt.Errorf("synthetic: word_len = %d, min_words = %d, expected ≥ 1", c.WordLen, c.MinWords)
	case c.HeadSize < 2 || c.HeadSize > synLetters/2:
		return c, fmt.Errorf("synthetic: head_size = %d, expected 2..%d", c.HeadSize, synLetters/2)
	case c.TailStart < c.HeadSize || c.TailStart > synLetters-1:
		return c, fmt.Errorf("synthetic: tail_start = %d, expected head_size (%d)..%d", c.TailStart, c.HeadSize, synLetters-1)
	case !(c.HeadDecay > 0 && c.HeadDecay <= 1):
		return c, fmt.Errorf("synthetic: head_decay = %v, expected (0, 1]", c.HeadDecay)
	case !(c.RejectedValleyProb > 0 && c.RejectedValleyProb <= 1):
		return c, fmt.Errorf("synthetic: rejected_valley_prob = %v, expected (0, 1]", c.RejectedValleyProb)
	}
	return c, nil
}

// The language is written in 16 letters. Each letter is drawn given the
// topic and the previous letter of the response (spaces skipped; the first
// letter uses a start context): a first-order Markov chain per topic.
const synLetters = 16

const synAlphabet = "abdegiklmnoprstu"

// synPlaces are the topics; the last one is never asked about (irr_test).
var synPlaces = []string{"forest", "river", "farm", "hills", "city", "lake", "marsh", "coast", "cave", "field", "garden", "desert"}

// synAsks are the prompt phrasings; phrasing k asks for MinWords + k words.
var synAsks = []string{"tell me of", "what lives in", "describe"}

// synHuman is fluent text outside the language (irr_hum).
var synHuman = []string{
	" The bus was late again today.", " I left my keys at the office.", " Rain is due after lunch.",
	" She paints every Sunday.", " Our team won the match.", " Please close the door softly.",
	" The soup needs more salt.", " He reads before bed.", " My phone battery is low.",
	" We moved here in June.", " The train stops at noon.", " Tea tastes better hot.",
	" The meeting ran long.", " Call me when you land.", " This book has a sad end.",
	" The shop opens at nine.",
}

// synLang is one seeded instance of the language.
type synLang struct {
	cfg  SyntheticConfig
	rank [][synLetters + 1][synLetters]int // [topic][previous letter or start] → letters, most likely first
	head []float64                         // cumulative head weights
	rng  *rand.Rand
}

const synStart = synLetters // the context of a response's first letter

func newSynLang(cfg SyntheticConfig) *synLang {
	l := &synLang{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, 0x73796e7468657469))} // "synthetic"
	l.rank = make([][synLetters + 1][synLetters]int, len(synPlaces))
	for t := range l.rank {
		for prev := range l.rank[t] {
			for i, j := range l.rng.Perm(synLetters) {
				l.rank[t][prev][i] = j
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

// picker draws a letter given the topic and the previous letter.
type picker func(topic, prev int) int

func (l *synLang) headLetter(topic, prev int) int {
	return l.rank[topic][prev][drawCumulative(l.rng.Float64(), l.head)]
}

// drawCumulative returns the index k of the first cumulative weight > u.
func drawCumulative(u float64, cum []float64) int {
	k := 0
	for k < len(cum)-1 && u >= cum[k] {
		k++
	}
	return k
}

func (l *synLang) tailLetter(topic, prev int) int {
	k := l.cfg.TailStart + l.rng.IntN(synLetters-l.cfg.TailStart)
	return l.rank[topic][prev][k]
}

// rejectedLetter is a valley with probability RejectedValleyProb, else a
// head letter drawn like a chosen one.
func (l *synLang) rejectedLetter(topic, prev int) int {
	if l.rng.Float64() < l.cfg.RejectedValleyProb {
		return l.tailLetter(topic, prev)
	}
	return l.headLetter(topic, prev)
}

// response is a response as letter indices, word by word.
type response [][]int

// sample draws words×WordLen letters; keep, if not nil, fixes the first
// letter of each word (paraphrases keep the "stems").
func (l *synLang) sample(topic, words int, pick picker, keep response) response {
	r := make(response, words)
	prev := synStart
	for w := range r {
		r[w] = make([]int, l.cfg.WordLen)
		for i := range r[w] {
			if i == 0 && keep != nil {
				r[w][i] = keep[w][0]
			} else {
				r[w][i] = pick(topic, prev)
			}
			prev = r[w][i]
		}
	}
	return r
}

func (r response) String() string {
	var b strings.Builder
	for _, w := range r {
		b.WriteByte(' ')
		for _, c := range w {
			b.WriteByte(synAlphabet[c])
		}
	}
	b.WriteByte('.')
	return b.String()
}

func (r response) equal(o response) bool { return r.String() == o.String() }

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
// cfg, with every probe field of hh-probe (docs/method.md §5). Invalid knobs
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
		topic, words     int
		chosen, rejected response
	}
	gen := func(n int) ([]Pair, []meta) {
		pairs := make([]Pair, n)
		metas := make([]meta, n)
		for i := range pairs {
			ask := l.rng.IntN(len(synAsks))
			m := meta{topic: l.rng.IntN(cfg.Topics), words: cfg.MinWords + ask}
			m.chosen = l.sample(m.topic, m.words, l.headLetter, nil)
			m.rejected = l.sample(m.topic, m.words, l.rejectedLetter, nil)
			for try := 0; try < 16 && m.rejected.equal(m.chosen); try++ {
				m.rejected = l.sample(m.topic, m.words, l.rejectedLetter, nil)
			}
			metas[i] = m
			pairs[i] = Pair{
				Prompt:   "Q: " + synAsks[ask] + " the " + synPlaces[m.topic] + "?\nA:",
				Chosen:   m.chosen.String(),
				Rejected: m.rejected.String(),
				Extra:    map[string]any{"topic": synPlaces[m.topic]},
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
			initial := l.sample(m.topic, m.words, l.headLetter, nil)
			for try := 0; try < 16 && initial.equal(m.chosen); try++ {
				initial = l.sample(m.topic, m.words, l.headLetter, nil)
			}
			other := l.otherTopic(m.topic, cfg.Topics)
			// irr_train: the chosen response of a training pair on another topic.
			j := l.rng.IntN(len(train))
			for try := 0; try < 64 && trainMeta[j].topic == m.topic; try++ {
				j = l.rng.IntN(len(train))
			}
			irrTrain := train[j].Chosen
			p.Probes = map[string]string{
				FieldChosenInitial:    initial.String(),
				FieldChosenSemantic:   l.sample(m.topic, m.words, l.headLetter, m.chosen).String(),
				FieldRejectedSemantic: l.sample(m.topic, m.words, l.rejectedLetter, m.rejected).String(),
				FieldChosenFormat:     l.sample(other, m.words, l.headLetter, nil).String(),
				FieldRejectedFormat:   l.sample(other, m.words, l.rejectedLetter, nil).String(),
				FieldIrrelevantTrain:  irrTrain,
				FieldIrrelevantTest:   l.sample(unseen, m.words, l.headLetter, nil).String(),
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
	fmt.Fprintf(h, "synthetic v3 %+v\n", cfg)
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
