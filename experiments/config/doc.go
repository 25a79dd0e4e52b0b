// Package config reads the configuration files of gatedpo: grid files
// (TOML; `go run ./cmd/sweep -grid FILE`) and cases files (objective ×
// gate combinations, `inspect lossgrad -cases`).
//
// It owns
//   - the grid schema (schema.go): every key of a grid file with its type,
//     default, bounds and doc comment, the single source of the parser
//     (ParseGrid, LoadGrid), the defaults (Defaults), a cell's resolved
//     config tables (Grid.CellTables) and the key list below;
//   - the built-in grids (BuiltinGrids: default, test, paper, …; grids/);
//   - command-line overrides (-set key=value: Override) and the limits of
//     a grid file (MaxGridFileBytes, …);
//   - the TOML position scanner (TOMLPositions) and ConfigError, the one
//     bad-input error: "file:line: key: what was expected" (the commands
//     exit with status 2 on it; IsConfigError);
//   - cases files (Case, LoadCases).
//
// The objective and gate tables keep the vocabularies of
// gatedpo/objectives and gatedpo/gating (objectives.ParseSpec,
// gating.ParseSpec); every table is read with the one value coercer and
// key error of gatedpo/internal/tomlval, and this package places the error
// at its file, line and dotted key.
//
// A parsed Grid is the text made typed and checked: paths exist and are
// regular files, values are in bounds, axis values are not repeated. It
// loads nothing: the runner (gatedpo/experiments: NewGrid, LoadDatasets,
// ResolveHub) loads Hugging Face models, datasets and hub files.
package config
