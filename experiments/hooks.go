package experiments

import "log/slog"

// writeToy writes toy/toy_f1.json and toy/toy_f1b.csv.
// HOOK: plugged in when models/toy lands (H3).
func writeToy(out string, g *Grid) error { return nil }

// writeFigures regenerates the sweep's figures and report from its records.
// HOOK: calls the plots package's entry point once it lands (H5).
func writeFigures(out string, log *slog.Logger) error { return nil }
