package config

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"gatedpo/gating"
	"gatedpo/internal/tomlval"
	"gatedpo/objectives"
)

var update = flag.Bool("update", false, "rewrite keys_doc.go from schema.go")

// TestKeysDoc: the key list of the package documentation (keys_doc.go) is
// the one schema.go generates, so `go doc ./experiments/config` shows
// every key with its default and its doc comment. Regenerate with
// `go generate ./experiments/config`.
func TestKeysDoc(t *testing.T) {
	want := keysDoc(t)
	if *update {
		if err := os.WriteFile("keys_doc.go", []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile("keys_doc.go")
	if err != nil || string(got) != want {
		t.Fatalf("keys_doc.go is not what schema.go generates: run go generate ./experiments/config (%v)", err)
	}
}

// TestSchemaDefaults: the defaults of the data limits are the loader's,
// derived defaults are filled in, and every key of the schema has a doc
// comment.
func TestSchemaDefaults(t *testing.T) {
	g, err := ParseGrid("empty.toml", t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if g.Train.SFTLR != g.Train.LR || len(g.Objectives) != 1 || len(g.Gates) != 1 {
		t.Errorf("an empty grid's derived defaults: %+v", g.Schema)
	}
	d := Defaults().Data
	if d.MaxLineBytes != 8<<20 || d.MaxDataBytes != 1<<30 || d.MaxFieldTokens != 1<<16 {
		t.Errorf("data limits %d %d %d", d.MaxLineBytes, d.MaxDataBytes, d.MaxFieldTokens)
	}
	docs := fieldDocs(t)
	for _, typ := range []reflect.Type{reflect.TypeOf(Schema{}), reflect.TypeOf(DataConfig{}), reflect.TypeOf(TrainConfig{}),
		reflect.TypeOf(ToyConfig{}), reflect.TypeOf(Axes{})} {
		for _, f := range schemaFields(typ) {
			if docs[typ.Name()+"."+typ.Field(f.index).Name] == "" {
				t.Errorf("%s.%s (%s) has no doc comment", typ.Name(), typ.Field(f.index).Name, f.key)
			}
		}
	}
}

// fieldDocs maps "Type.Field" of schema.go to the field's doc comment.
func fieldDocs(t *testing.T) map[string]string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "schema.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		for _, fl := range st.Fields.List {
			name := ""
			if len(fl.Names) > 0 {
				name = fl.Names[0].Name
			} else if id, ok := fl.Type.(*ast.Ident); ok {
				name = id.Name // embedded
			}
			docs[ts.Name.Name+"."+name] = strings.Join(strings.Fields(fl.Doc.Text()), " ")
		}
		return false
	})
	return docs
}

// keysDoc renders keys_doc.go: the package comment's key list.
func keysDoc(t *testing.T) string {
	docs := fieldDocs(t)
	var lines []string
	const col = 30
	entry := func(left, doc string) {
		spaces := func(n int) string { return strings.Repeat(" ", n) }
		words := strings.Fields(doc)
		if len(words) == 0 {
			lines = append(lines, left)
			return
		}
		cur := left + spaces(max(col-len([]rune(left)), 1)) + "#"
		if len([]rune(left)) >= col {
			lines = append(lines, left)
			cur = spaces(col) + "#"
		}
		for _, w := range words {
			if len([]rune(cur))+1+len([]rune(w)) > 100 && !strings.HasSuffix(cur, "#") {
				lines = append(lines, cur)
				cur = spaces(col) + "#"
			}
			cur += " " + w
		}
		lines = append(lines, cur)
	}
	table := func(prefix string, typ reflect.Type, header string) {
		lines = append(lines, "")
		if header != "" {
			lines = append(lines, header)
		}
		var subTables []func()
		for _, f := range schemaFields(typ) {
			sf := typ.Field(f.index)
			doc := docs[typ.Name()+"."+sf.Name]
			switch {
			case typ == reflect.TypeOf(Schema{}) && sf.Type.Kind() == reflect.Struct:
				// a table of its own, listed below
			case sf.Type.Kind() == reflect.Struct:
				// a sub-table: after the table's own keys, as in TOML
				header := "[" + prefix + f.key + "]"
				subTables = append(subTables, func() { entry(header, capitalize(strings.TrimPrefix(doc, header+": "))) })
			case sf.Type.Kind() == reflect.Slice && sf.Type.Elem().Kind() != reflect.String && sf.Type.Elem().Kind() != reflect.Int:
				header := "[[" + prefix + f.key + "]]"
				entry(header, capitalize(strings.TrimPrefix(doc, header+": ")))
				switch f.key {
				case "objective":
					for _, name := range objectives.Names {
						if name == objectives.SFT {
							continue
						}
						s, _ := objectives.Default(name)
						lines = append(lines, strings.Repeat(" ", col)+"#   "+s.String())
					}
				case "gate":
					d := gating.DefaultSpec()
					v := reflect.ValueOf(d)
					for _, k := range gating.Keys {
						for i := 0; i < v.NumField(); i++ {
							if v.Type().Field(i).Tag.Get("json") == k {
								lines = append(lines, strings.Repeat(" ", col)+"#   "+k+" = "+tomlValue(v.Field(i).Interface()))
							}
						}
					}
				}
			default:
				entry(f.key+" = "+defaultText(sf, f), doc+boundsText(sf, f))
			}
		}
		for _, st := range subTables {
			st()
		}
	}
	table("", reflect.TypeOf(Schema{}), "")
	table("data.", reflect.TypeOf(DataConfig{}), "[data]")
	table("train.", reflect.TypeOf(TrainConfig{}), "[train]")
	table("toy.", reflect.TypeOf(ToyConfig{}), "[toy]")
	table("grid.", reflect.TypeOf(Axes{}), "[grid]")
	top := lines
	var b strings.Builder
	b.WriteString("// Code generated by TestKeysDoc from schema.go (go generate ./experiments/config); DO NOT EDIT.\n\n")
	b.WriteString("// # Grid keys\n//\n")
	b.WriteString("// Every key of a grid file with its default, what it means (the Schema\n")
	b.WriteString("// fields' doc comments) and, for numbers, its bounds ([min..max]). A key\n")
	b.WriteString("// left out takes its default; a value beyond its bound is bad input\n")
	b.WriteString("// (\"grid.toml:7: data.max_prompt_tokens: expected ≤ 8192, got 1000000000\").\n")
	b.WriteString("// The objective and gate tables take the parameters listed under them,\n")
	b.WriteString("// each at the default shown (objectives.Default, gating.DefaultSpec).\n//\n")
	for i, l := range top {
		if l == "" {
			if i == 0 {
				continue
			}
			b.WriteString("//\n")
			continue
		}
		b.WriteString("//\t" + l + "\n")
	}
	b.WriteString("package config\n")
	return b.String()
}

// defaultText is a key's default as the documentation shows it.
func defaultText(sf reflect.StructField, f schemaField) string {
	switch {
	case f.derived != "":
		return f.derived
	case !f.hasDef && sf.Type.Kind() == reflect.Slice:
		return "(unset)"
	case !f.hasDef:
		return tomlValue(reflect.Zero(sf.Type).Interface())
	}
	switch sf.Type.Kind() {
	case reflect.String:
		return strconv.Quote(f.def)
	case reflect.Slice:
		items := strings.Split(f.def, ",")
		for i, it := range items {
			if sf.Type.Elem().Kind() == reflect.String {
				items[i] = strconv.Quote(it)
			}
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return f.def
}

// tomlValue writes a Go value as TOML.
func tomlValue(v any) string {
	switch x := v.(type) {
	case string:
		return strconv.Quote(x)
	case float64:
		s := strconv.FormatFloat(x, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	}
	return fmt.Sprint(v)
}

// capitalize upper-cases the first letter of s.
func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// boundsText states the bounds of a number key, from its tags.
func boundsText(sf reflect.StructField, f schemaField) string {
	k := sf.Type.Kind()
	if k == reflect.Slice {
		k = sf.Type.Elem().Kind()
	}
	switch k {
	case reflect.Int, reflect.Int64:
		return fmt.Sprintf(" [%d..%d]", f.min, f.max)
	case reflect.Float64:
		if f.rng == tomlval.Positive {
			return " (> 0)"
		}
		return " (≥ 0)"
	}
	return ""
}
