package experiments

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"gatedpo/experiments/data"
	"gatedpo/results"
)

// preparedData is a dataset tokenized for the cells that share its [data]
// settings: training pairs, the two probe sets and the row length.
type preparedData struct {
	Name     string                        // dataset label
	Hash     string                        // dataset content hash (provenance)
	Tok      data.Tokenizer                // tokenizer
	Train    []data.EncodedPair            // training pairs
	Probe    map[string][]data.EncodedPair // results.SplitTrain / SplitHeldout → probe pairs
	Fields   []string                      // probe fields present, canonical order
	T        int                           // padded row length (prompt + response tokens)
	PadID    int                           // pad token
	Skipped  int                           // records the loader skipped
	NumPairs int                           // usable pairs in the file
}

// dataCache shares prepared datasets between the cells of a process.
type dataCache struct {
	mu    sync.Mutex
	items map[string]*dataEntry
}

type dataEntry struct {
	once sync.Once
	d    *preparedData
	err  error
}

func newDataCache() *dataCache {
	return &dataCache{items: map[string]*dataEntry{}}
}

// get prepares (once) the data of a cell.
func (c *dataCache) get(g *Grid, cfg results.CellConfig) (*preparedData, error) {
	key, _ := json.Marshal(cfg.Data)
	c.mu.Lock()
	e, ok := c.items[string(key)]
	if !ok {
		e = &dataEntry{}
		c.items[string(key)] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.d, e.err = prepareData(g, cfg.Dataset, cfg.Arch) })
	return e.d, e.err
}

// heldoutSeed fixes the held-out split: it is the same for every seed of
// the grid, so seeds vary only the model's initialisation and batch order.
const heldoutSeed = 0x5eed

// prepareData loads (or generates) dataset ds and splits it:
//
//   - held-out probe set: the pairs of eval_dataset when the grid names
//     one (the training file's own eval-split records, if any, are then
//     left out); else the file's eval split if it has one, else
//     probe_examples pairs drawn with a fixed PCG permutation; at most
//     probe_examples pairs, never trained on;
//   - training pairs: the rest (the first train_examples of them when > 0);
//   - train probe set: the first probe_examples training pairs.
//
// Conversational records are rendered with the arch's chat template when
// it applies (chatTemplateFor), and responses end with EOS when
// append_eos is on. The data cache keys prepared data by the cell's data
// table, which names the template's hash.
func prepareData(g *Grid, ds, arch string) (*preparedData, error) {
	d := g.Data
	set, err := g.dataset(ds)
	if err != nil {
		return nil, err
	}
	train, heldout := set.Train, set.Eval
	if ev := d.EvalDataset(ds); ev != "" {
		// a separate eval file: all its usable pairs are the held-out
		// set; records the training file marks as eval stay out of both
		evSet, err := g.dataset(ev)
		if err != nil {
			return nil, err
		}
		heldout = append(append([]data.Pair(nil), evSet.Train...), evSet.Eval...)
	} else if len(heldout) == 0 {
		n := min(d.ProbeExamples, len(train)/4)
		perm := rand.New(rand.NewPCG(heldoutSeed, 1)).Perm(len(train))
		hold := map[int]bool{}
		for _, i := range perm[:n] {
			hold[i] = true
		}
		var rest []data.Pair
		for i, p := range train {
			if hold[i] {
				heldout = append(heldout, p)
			} else {
				rest = append(rest, p)
			}
		}
		train = rest
	}
	if train, heldout, err = g.renderChat(ds, arch, train, heldout); err != nil {
		return nil, err
	}
	if len(heldout) > d.ProbeExamples {
		heldout = heldout[:d.ProbeExamples]
	}
	if d.TrainExamples > 0 && len(train) > d.TrainExamples {
		train = train[:d.TrainExamples]
	}
	if len(train) < g.Train.BatchPairs {
		return nil, fmt.Errorf("dataset %s: %d training pairs, fewer than batch_pairs = %d", ds, len(train), g.Train.BatchPairs)
	}
	var tok data.Tokenizer
	switch g.TokenizerOf(arch) {
	case "model": // loaded and checked against the model's vocabulary by the grid
		a, ok := g.hfArchs[arch]
		if !ok || a.Tok == nil {
			return nil, fmt.Errorf("arch %s: the model's tokenizer was not loaded", arch)
		}
		tok = a.Tok
	case "bpe":
		// cached outside the sweep directory (nothing is written there
		// before validation passes), keyed by corpus and vocabulary size
		if dir, cerr := os.UserCacheDir(); cerr == nil {
			tok, err = data.CachedBPE(filepath.Join(dir, "gatedpo", "tokenizers"), data.TokenizerTexts(train), d.VocabSize)
		} else {
			tok, err = data.TrainBPE(data.TokenizerTexts(train), d.VocabSize)
		}
		if err != nil {
			return nil, err
		}
	default:
		tok = data.NewByteTokenizer()
	}
	for _, sp := range []struct {
		name  string
		pairs []data.Pair
	}{{results.SplitTrain, train}, {results.SplitHeldout, heldout}} {
		if err := data.CheckFieldTokens(ds, sp.name, tok, sp.pairs, d.MaxFieldTokens); err != nil {
			return nil, err
		}
	}
	lim := data.Limits{MaxPromptTokens: d.MaxPromptTokens, MaxResponseTokens: d.MaxResponseTokens, AddEOS: g.AppendEOSOf(arch)}
	encTrain, _ := data.Encode(tok, train, lim)
	encHeld, _ := data.Encode(tok, heldout, lim)
	probeTrain := encTrain[:min(d.ProbeExamples, len(encTrain))]
	p := &preparedData{
		Name: set.Name, Hash: set.Hash, Tok: tok, Train: encTrain,
		Probe:  map[string][]data.EncodedPair{results.SplitTrain: probeTrain, results.SplitHeldout: encHeld},
		T:      d.MaxPromptTokens + d.MaxResponseTokens + seqExtraTokens,
		PadID:  tok.PadID(),
		Fields: probeFields(encTrain, encHeld), NumPairs: set.Pairs(), Skipped: set.SkippedTotal(),
	}
	return p, nil
}

// LoadDatasets reads (or generates) every dataset of the grid once and
// records its content hash, which becomes part of each cell's resolved
// config (data.dataset_hash): a changed file or generator gives new cell
// ids instead of silently reusing old records. Errors name the grid key.
func (g *Grid) LoadDatasets() error {
	g.datasets = map[string]*data.Dataset{}
	for i, ds := range g.Data.Datasets {
		var set *data.Dataset
		var err error
		set, err = g.loadDataset(ds)
		if err != nil {
			key := "data.dataset"
			if len(g.Data.Datasets) > 1 {
				key = fmt.Sprintf("data.dataset[%d]", i)
			}
			return g.Errorf(key, "%v", err)
		}
		g.datasets[ds] = set
	}
	for i, ev := range g.Data.EvalDatasets {
		if _, ok := g.datasets[ev]; ok {
			continue
		}
		set, err := g.loadDataset(ev)
		if err != nil {
			key := "data.eval_dataset"
			if len(g.Data.EvalDatasets) > 1 {
				key = fmt.Sprintf("data.eval_dataset[%d]", i)
			}
			return g.Errorf(key, "%v", err)
		}
		g.datasets[ev] = set
	}
	return g.loadChatTemplates()
}

// dataset returns a dataset loaded by LoadDatasets.
func (g *Grid) dataset(ds string) (*data.Dataset, error) {
	if set, ok := g.datasets[ds]; ok {
		return set, nil
	}
	return nil, fmt.Errorf("dataset %q was not loaded (call Grid.LoadDatasets)", ds)
}

// probeFields lists the fields present in any probe pair, in the order of
// results.ProbeFields (chosen and rejected always).
func probeFields(sets ...[]data.EncodedPair) []string {
	present := map[string]bool{"chosen": true, "rejected": true}
	for _, s := range sets {
		for _, e := range s {
			for k := range e.Probes {
				present[k] = true
			}
		}
	}
	var out []string
	for _, f := range results.ProbeFields {
		if present[f] {
			out = append(out, f)
		}
	}
	// fields the schema does not know go last, sorted
	var extra []string
	for f := range present {
		if _, known := results.FieldCategory[f]; !known {
			extra = append(extra, f)
		}
	}
	sort.Strings(extra)
	return append(out, extra...)
}

// saveTokenizers writes the tokenizer of every prepared dataset beside the
// results, as <out>/tokenizers/<name>-<hash>.json (Hugging Face
// tokenizer.json), so a sweep directory says exactly how its text became
// ids. Files are content-addressed by the tokenizer's hash: rewriting one
// (another shard, a rerun) writes the same bytes, atomically.
func saveTokenizers(out string, c *dataCache) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	dir := filepath.Join(out, TokenizersDir)
	for _, e := range c.items {
		if e.d == nil || e.d.Tok == nil {
			continue
		}
		tok := e.d.Tok
		hash := tok.Hash()
		if len(hash) > 12 {
			hash = hash[:12]
		}
		path := filepath.Join(dir, tok.Name()+"-"+hash+".json")
		if _, err := os.Stat(path); err == nil {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		b, err := tokenizerJSON(tok)
		if err != nil {
			return fmt.Errorf("saving tokenizer %s: %w", path, err)
		}
		// a unique temporary file + rename: shards writing the same
		// content concurrently never see each other's partial file
		if err := results.WriteBytesAtomic(path, b); err != nil {
			return err
		}
	}
	return nil
}

// tokenizerJSON returns the tokenizer.json bytes of tok (SaveJSON writes
// to a path; it goes through a private temporary directory).
func tokenizerJSON(tok data.Tokenizer) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "gatedpo-tokenizer-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	p := filepath.Join(tmp, "tokenizer.json")
	if err := tok.SaveJSON(p); err != nil {
		return nil, err
	}
	return os.ReadFile(p)
}

// TokenizersDir is the sweep subdirectory holding the tokenizer.json of
// every dataset the sweep tokenized.
const TokenizersDir = "tokenizers"

// loadDataset reads (or generates) one dataset or eval_dataset value: the
// synthetic generator, a hub dataset's files (resolved first by
// ResolveHubDatasets), or a local file.
func (g *Grid) loadDataset(name string) (*data.Dataset, error) {
	switch {
	case name == "synthetic":
		return syntheticDataset(g.Data)
	case g.hubDatasets[name].Key != "":
		files, ok := g.dataFiles[name]
		if !ok {
			return nil, fmt.Errorf("%s is not downloaded yet (call Grid.ResolveHubDatasets first)", name)
		}
		ds, err := data.LoadFiles(name, files, g.Data.LoadOptions())
		if err == nil {
			ds.Name = name
		}
		return ds, err
	}
	return data.Load(g.Data.Paths[name], g.Data.LoadOptions())
}
