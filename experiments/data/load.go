package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode/utf8"
)

// Format names: the record layouts of a preference file (the "format"
// vocabulary of LoadOptions.Format, the grid's data.format and inspect
// data's -format; see doc.go). The file type (JSON Lines, gzip, Parquet) is
// not a format: it is recognised from the file's bytes.
const (
	FormatAuto           = ""
	FormatPrompt         = "prompt"
	FormatProbe          = "probe"
	FormatHH             = "hh"
	FormatConversational = "conversational"
	FormatSynthetic      = "synthetic"
)

// FormatNames lists the format names a user may write, canonical names
// first, then the aliases (see CanonicalFormat).
var FormatNames = []string{"auto", FormatPrompt, FormatProbe, FormatHH, FormatConversational, "jsonl", "ultrafeedback"}

// formatAliases maps every accepted spelling to its canonical name. "auto"
// and "" detect the layout from the first record; "jsonl" and
// "ultrafeedback" are older grid spellings kept as aliases of auto
// (UltraFeedback files come with string responses, e.g. trl-lib's, or with
// message lists, e.g. HuggingFaceH4's, and detection handles both).
var formatAliases = map[string]string{
	"": FormatAuto, "auto": FormatAuto,
	FormatPrompt: FormatPrompt, FormatProbe: FormatProbe, FormatHH: FormatHH,
	FormatConversational: FormatConversational,
	"jsonl":              FormatAuto, "ultrafeedback": FormatAuto,
}

// CanonicalFormat returns the canonical format name of a user-written one
// ("" for auto-detection), or an error listing the accepted names.
func CanonicalFormat(name string) (string, error) {
	if c, ok := formatAliases[name]; ok {
		return c, nil
	}
	return "", fmt.Errorf("format = %q: expected one of %s", name, strings.Join(quoteAll(FormatNames), ", "))
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// LoadOptions controls Load. The zero value auto-detects the format, fails
// on the first bad record and puts every pair in Train.
type LoadOptions struct {
	// Format is a name of FormatNames: "" or "auto" (detect from the
	// first record), "prompt", "probe", "hh", "conversational", or an
	// alias (see CanonicalFormat and doc.go).
	Format string
	// OnBadRecord is "error" (default, also "") or "skip": what to do with a
	// malformed line, a wrong type, invalid UTF-8 or a missing field.
	OnBadRecord string
	// EvalFraction in [0, 1) is the share of usable pairs held out as Eval
	// when the file has no "split" field (0 = none; 0.2 gives the 400/100
	// split of hh-probe, docs/method.md §9).
	EvalFraction float64
	// Seed picks the held-out pairs (PCG, deterministic).
	Seed uint64
	// MaxLineBytes bounds one line (0 = DefaultMaxLineBytes).
	MaxLineBytes int
	// MaxDataBytes bounds the data after decompression (0 =
	// DefaultMaxDataBytes).
	MaxDataBytes int64
}

// RecordError is a bad record: Path:Line (or Path, row Line of a Parquet
// file) and what was expected.
type RecordError struct {
	Path   string
	Line   int
	Unit   string // "" for a line of a JSONL file, "row" for a Parquet row
	Reason string // one of the bad-record skip reasons
	Msg    string
}

// Error formats the error as "path:line: msg" ("path: row N: msg").
func (e *RecordError) Error() string {
	if e.Unit != "" {
		return fmt.Sprintf("%s: %s %d: %s", e.Path, e.Unit, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.Path, e.Line, e.Msg)
}

// Load reads a preference dataset from a JSON Lines file (gzip-compressed
// files are detected by their magic bytes and read transparently).
//
// Errors are one line: "path: what" for a missing file, a directory or a
// file with no records, "path:line: what was expected" for a bad record.
func Load(path string, opt LoadOptions) (*Dataset, error) {
	switch opt.OnBadRecord {
	case "", "error", "skip":
	default:
		return nil, fmt.Errorf("on_bad_record = %q: expected \"error\" or \"skip\"", opt.OnBadRecord)
	}
	format, err := CanonicalFormat(opt.Format)
	if err != nil {
		return nil, err
	}
	opt.Format = format
	if !(opt.EvalFraction >= 0 && opt.EvalFraction < 1) {
		return nil, fmt.Errorf("eval_fraction = %v: expected a number in [0, 1)", opt.EvalFraction)
	}
	f, size, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	maxBytes := opt.maxDataBytes()
	h := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, h), 1<<16)
	var body io.Reader = br
	if magic, _ := br.Peek(len(parquetMagic)); bytes.Equal(magic, parquetMagic) {
		return loadParquet(path, f, size, opt)
	}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: not a readable gzip file: %v", path, err)
		}
		defer zr.Close()
		body = &gzipBody{zr: zr, path: path}
	} else if size > maxBytes {
		return nil, &LimitError{Path: path, Msg: fmt.Sprintf("the file is %d bytes, more than max_data_bytes = %d; raise [data] max_data_bytes in the grid (inspect data: -max-data-bytes) to read it", size, maxBytes)}
	}
	// the decompressed stream is bounded as it is read: a gzip bomb stops
	// at the limit, with memory for one line
	body = &boundedReader{r: body, left: maxBytes, path: path}
	ds, err := parseJSONLReader(path, body, opt)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(io.Discard, br); err != nil { // the hash covers the whole file
		return nil, fmt.Errorf("%s: cannot read: %v", path, unwrapPathErr(err))
	}
	ds.Path = path
	ds.Name = datasetName(path)
	ds.Hash = hex.EncodeToString(h.Sum(nil))
	return ds, nil
}

// Open returns the synthetic dataset built from syn when name is
// "synthetic", and Load(name, opt) otherwise (opt.Format must then not be
// "synthetic").
func Open(name string, opt LoadOptions, syn SyntheticConfig) (*Dataset, error) {
	if name == FormatSynthetic {
		if c, err := CanonicalFormat(opt.Format); (err != nil || c != FormatAuto) && opt.Format != FormatSynthetic {
			return nil, fmt.Errorf("format = %q does not apply to the synthetic dataset", opt.Format)
		}
		return SyntheticChecked(syn)
	}
	if opt.Format == FormatSynthetic {
		return nil, fmt.Errorf("format = \"synthetic\" is the built-in dataset: set the dataset to \"synthetic\", not %q", name)
	}
	return Load(name, opt)
}

// openRegular opens a dataset for reading with one-line errors for the
// usual mistakes. Only a regular file is accepted: a FIFO, a device such
// as /dev/zero or a directory is refused before anything is read (the open
// itself does not block on a FIFO: O_NONBLOCK, and the type is checked on
// the opened file).
func openRegular(path string) (*os.File, int64, error) {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, 0, fmt.Errorf("%s: no such file (expected a JSONL preference file)", path)
	case err != nil:
		return nil, 0, fmt.Errorf("%s: cannot read: %v", path, unwrapPathErr(err))
	case st.IsDir():
		return nil, 0, fmt.Errorf("%s: is a directory, expected a JSONL preference file", path)
	case !st.Mode().IsRegular():
		return nil, 0, fmt.Errorf("%s: not a regular file (%s), expected a JSONL preference file", path, fileKind(st.Mode()))
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: cannot read: %v", path, unwrapPathErr(err))
	}
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: cannot read: %v", path, unwrapPathErr(err))
		}
		return nil, 0, fmt.Errorf("%s: not a regular file (%s), expected a JSONL preference file", path, fileKind(st.Mode()))
	}
	return f, st.Size(), nil
}

func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// datasetName is a short label: "dir/base" without .jsonl/.gz/.parquet.
func datasetName(path string) string {
	base := filepath.Base(path)
	for _, ext := range []string{".gz", ".jsonl", ".json", ".parquet"} {
		base = strings.TrimSuffix(base, ext)
	}
	if dir := filepath.Base(filepath.Dir(path)); dir != "." && dir != "/" {
		return dir + "/" + base
	}
	return base
}

// record is one parsed line waiting for the split.
type record struct {
	pair  Pair
	split string // "", "train" or "eval"
}

// parseJSONL parses the decompressed body. Exposed to the fuzz test.
func parseJSONL(path string, body []byte, opt LoadOptions) (*Dataset, error) {
	return parseJSONLReader(path, bytes.NewReader(body), opt)
}

// parseJSONLReader parses a decompressed JSON Lines stream, one line in
// memory at a time (at most opt's max_line_bytes).
func parseJSONLReader(path string, body io.Reader, opt LoadOptions) (*Dataset, error) {
	maxLine := opt.maxLineBytes()
	p := newRecordParser(path, opt)
	nonBlank := 0
	lineNo := 0
	rd := bufio.NewReaderSize(body, 1<<16)
	for {
		line, readErr := readLine(rd, maxLine)
		if readErr != nil && readErr != io.EOF {
			if readErr == errLineTooLong {
				return nil, &LimitError{Path: path, Line: lineNo + 1, Msg: fmt.Sprintf("line longer than max_line_bytes = %d; raise [data] max_line_bytes in the grid (inspect data: -max-line-bytes) to read it", maxLine)}
			}
			return nil, readErr
		}
		if len(line) == 0 && readErr != nil {
			break
		}
		lineNo++
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		nonBlank++
		obj, err := parseLine(path, lineNo, line)
		if err == nil {
			err = p.add(lineNo, obj)
		} else {
			err = p.bad(err)
		}
		if err != nil {
			return nil, err
		}
	}
	if nonBlank == 0 {
		return nil, fmt.Errorf("%s: empty file, expected JSON Lines with one preference pair per line", path)
	}
	return p.finish()
}

// recordParser collects the records of one file (JSONL lines or Parquet
// rows, each already a JSON object), applies the skip rule and splits.
type recordParser struct {
	path   string
	opt    LoadOptions
	unit   string // RecordError.Unit of the file's records
	format string // detected or given
	ds     *Dataset
	recs   []record
	split  bool // some record has a split field
}

func newRecordParser(path string, opt LoadOptions) *recordParser {
	return &recordParser{path: path, opt: opt, format: opt.Format, ds: &Dataset{Skipped: map[string]int{}}}
}

// bad counts a bad record when OnBadRecord is "skip" (nil), else returns it.
func (p *recordParser) bad(err error) error {
	var re *RecordError
	if p.opt.OnBadRecord == "skip" && errors.As(err, &re) {
		p.ds.Skipped[re.Reason]++
		return nil
	}
	return err
}

// add parses record n (a line or row number) from its JSON object.
func (p *recordParser) add(n int, obj map[string]json.RawMessage) error {
	rec, f, err := parseObject(p.path, n, obj, p.format, p.opt.Format != FormatPrompt)
	if err != nil {
		if re, ok := err.(*RecordError); ok && p.unit != "" {
			re.Unit = p.unit
		}
		return p.bad(err)
	}
	if p.format == FormatAuto {
		p.format = f
	}
	if reason := skipReason(rec.pair.Prompt, rec.pair.Chosen, rec.pair.Rejected); reason != "" {
		p.ds.Skipped[reason]++
		return nil
	}
	if rec.split != "" {
		p.split = true
	}
	p.recs = append(p.recs, rec)
	return nil
}

// finish splits the usable records into Train and Eval.
func (p *recordParser) finish() (*Dataset, error) {
	ds, recs, opt := p.ds, p.recs, p.opt
	if len(recs) == 0 && ds.SkippedTotal() == 0 {
		return nil, fmt.Errorf("%s: no usable records", p.path)
	}
	// Explicit "prompt" keeps probe-named fields in Extra; auto calls a
	// prompt file with probe fields "probe".
	ds.Format = p.format
	if p.split {
		for _, r := range recs {
			if r.split == "eval" {
				ds.Eval = append(ds.Eval, r.pair)
			} else {
				ds.Train = append(ds.Train, r.pair)
			}
		}
	} else {
		isEval := evalMask(len(recs), opt.EvalFraction, opt.Seed)
		for i, r := range recs {
			if isEval[i] {
				ds.Eval = append(ds.Eval, r.pair)
			} else {
				ds.Train = append(ds.Train, r.pair)
			}
		}
	}
	ds.ProbeFields = probeFieldsOf(ds.Train, ds.Eval)
	if (ds.Format == FormatPrompt && opt.Format == FormatAuto) && len(ds.ProbeFields) > 2 {
		ds.Format = FormatProbe
	}
	return ds, nil
}

// evalMask marks round(frac·n) of n items as held out, chosen by a PCG
// permutation seeded with seed; the same (n, frac, seed) always gives the
// same mask.
func evalMask(n int, frac float64, seed uint64) []bool {
	mask := make([]bool, n)
	nEval := int(math.Round(frac * float64(n)))
	if nEval == 0 {
		return mask
	}
	rng := rand.New(rand.NewPCG(seed, 0x6576616c73706c74)) // "evalsplt"
	for _, i := range rng.Perm(n)[:nEval] {
		mask[i] = true
	}
	return mask
}

// badRecord builds a RecordError.
func badRecord(path string, line int, reason, format string, args ...any) error {
	return &RecordError{Path: path, Line: line, Reason: reason, Msg: fmt.Sprintf(format, args...)}
}

// jsonString decodes a JSON string (null is not a string).
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if jsonKind(raw) != "a string" || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// jsonKind names the JSON type of a raw value for error messages.
func jsonKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// parseRecord parses one non-blank line. format "" detects it and returns
// the detected format; wantProbes puts probe fields in Pair.Probes (else
// they stay in Extra).
func parseRecord(path string, lineNo int, line []byte, format string, wantProbes bool) (record, string, error) {
	obj, err := parseLine(path, lineNo, line)
	if err != nil {
		return record{}, "", err
	}
	return parseObject(path, lineNo, obj, format, wantProbes)
}

// parseLine decodes one non-blank JSONL line into its JSON object.
func parseLine(path string, lineNo int, line []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(line) {
		off := 0
		for off < len(line) {
			r, size := utf8.DecodeRune(line[off:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			off += size
		}
		return nil, badRecord(path, lineNo, SkipInvalidUTF8, "invalid UTF-8 at byte %d of the line, expected UTF-8 text", off+1)
	}
	trimmed := bytes.TrimSpace(line)
	if trimmed[0] != '{' {
		if !json.Valid(trimmed) {
			return nil, badRecord(path, lineNo, SkipMalformedJSON, "malformed JSON, expected one JSON object per line")
		}
		return nil, badRecord(path, lineNo, SkipWrongType, "got %s, expected a JSON object per line", jsonKind(trimmed))
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &obj); err != nil {
		return nil, badRecord(path, lineNo, SkipMalformedJSON, "malformed JSON (%s), expected one JSON object per line", jsonErrText(err))
	}
	return obj, nil
}

// parseObject parses one record from its JSON object (a JSONL line or a
// Parquet row); lineNo is the line or row number for errors.
func parseObject(path string, lineNo int, obj map[string]json.RawMessage, format string, wantProbes bool) (record, string, error) {
	var rec record
	if format == FormatAuto {
		f, err := detectFormat(path, lineNo, obj)
		if err != nil {
			return rec, "", err
		}
		format = f
	}
	used := map[string]bool{}
	str := func(key string) (string, error) {
		raw, ok := obj[key]
		used[key] = true
		if !ok {
			return "", badRecord(path, lineNo, SkipMissingField, "missing field %q, expected a string (format %q)", key, format)
		}
		s, ok := jsonString(raw)
		if !ok {
			return "", badRecord(path, lineNo, SkipWrongType, "field %q: got %s, expected a string", key, jsonKind(raw))
		}
		return s, nil
	}
	var err error
	p := &rec.pair
	switch format {
	case FormatPrompt, FormatProbe:
		if p.Prompt, err = str("prompt"); err != nil {
			return rec, "", err
		}
		if p.Chosen, err = str("chosen"); err != nil {
			return rec, "", err
		}
		if p.Rejected, err = str("rejected"); err != nil {
			return rec, "", err
		}
		if !wantProbes {
			break // explicit "prompt": probe-named fields stay in Extra
		}
		for _, key := range AllProbeFields[2:] {
			if _, ok := obj[key]; !ok {
				continue
			}
			s, err := str(key)
			if err != nil {
				return rec, "", err
			}
			if s == "" {
				continue // an empty probe field is absent for this record
			}
			if p.Probes == nil {
				p.Probes = map[string]string{}
			}
			p.Probes[key] = s
		}
	case FormatHH:
		chosen, err := str("chosen")
		if err != nil {
			return rec, "", err
		}
		rejected, err := str("rejected")
		if err != nil {
			return rec, "", err
		}
		p.Prompt, p.Chosen, p.Rejected = SplitHH(chosen, rejected)
	case FormatConversational:
		if err := parseConversation(path, lineNo, obj, used, p); err != nil {
			return rec, "", err
		}
	}
	if raw, ok := obj["split"]; ok {
		used["split"] = true
		s, ok := jsonString(raw)
		if !ok {
			return rec, "", badRecord(path, lineNo, SkipWrongType, "field \"split\": got %s, expected a string", jsonKind(raw))
		}
		switch strings.ToLower(s) {
		case "train":
			rec.split = "train"
		case "eval", "test", "validation", "valid", "dev":
			rec.split = "eval"
		default:
			return rec, "", badRecord(path, lineNo, SkipWrongType, "field \"split\" = %q, expected \"train\", \"eval\", \"test\" or \"validation\"", s)
		}
	}
	for key, raw := range obj {
		if used[key] {
			continue
		}
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return rec, "", badRecord(path, lineNo, SkipMalformedJSON, "field %q: %s", key, jsonErrText(err))
		}
		if p.Extra == nil {
			p.Extra = map[string]any{}
		}
		p.Extra[key] = v
	}
	return rec, format, nil
}

// jsonErrText shortens encoding/json's messages to one line.
func jsonErrText(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "json: ")
	return strings.ReplaceAll(s, "\n", " ")
}

// detectFormat picks the format from the first record's fields.
func detectFormat(path string, lineNo int, obj map[string]json.RawMessage) (string, error) {
	chosen, hasChosen := obj["chosen"]
	_, hasPrompt := obj["prompt"]
	if !hasChosen {
		return "", badRecord(path, lineNo, SkipMissingField, "missing field \"chosen\", expected \"chosen\" and \"rejected\" (strings or lists of {role, content}) to detect the format")
	}
	switch jsonKind(chosen) {
	case "a list":
		return FormatConversational, nil
	case "a string":
		if hasPrompt {
			return FormatPrompt, nil
		}
		return FormatHH, nil
	}
	return "", badRecord(path, lineNo, SkipWrongType, "field \"chosen\": got %s, expected a string or a list of {role, content}", jsonKind(chosen))
}

// hhAssistant is the turn marker the HH prompt ends with.
const hhAssistant = "\n\nAssistant:"

// SplitHH splits an Anthropic HH record, whose chosen and rejected are full
// dialogues, into (prompt, chosen response, rejected response): the prompt
// is the longest common prefix of the two dialogues cut after its last
// "\n\nAssistant:"; the responses are what follows it in each dialogue.
// Without that marker in the common prefix the prompt is "" (and the pair
// is skipped as empty_prompt).
func SplitHH(chosen, rejected string) (prompt, chosenResp, rejectedResp string) {
	n := 0
	for n < len(chosen) && n < len(rejected) && chosen[n] == rejected[n] {
		n++
	}
	k := strings.LastIndex(chosen[:n], hhAssistant)
	if k < 0 {
		return "", chosen, rejected
	}
	cut := k + len(hhAssistant)
	return chosen[:cut], chosen[cut:], rejected[cut:]
}
