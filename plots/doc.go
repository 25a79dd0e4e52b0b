// Package plots draws the paper's figures (F1–F8 of docs/method.md §6) from the
// records of a sweep directory, writes the gated-vs-ungated comparison, and
// assembles report.html. Nothing here trains or computes a model: every
// figure is read from the files pinned in results/schema.go, so a figure
// that changes means the records changed.
//
// # Entry points
//
//	rep, err := plots.WriteAll(sweepDir)        // what cmd/sweep calls after its cells finish
//	rep, err := plots.Generate(sweepDir, opts)  // the same with options (cmd/figures)
//	fmt.Print(rep.Summary())                    // "wrote F2: …" / "skipped F5: no τ axis (one τ value: 0.01)"
//
// WriteAll writes <sweep>/figures/F*_*.{png,svg,pdf}, <sweep>/comparison.csv,
// <sweep>/comparison.md and <sweep>/report.html. It removes stale figure
// files of the ids it regenerates. The Report lists each figure written
// (id, files, pixel size, caption), each figure skipped with the reason, and
// the cells not used (only cells whose summary.json says "complete" are
// read). Errors in the input (missing directory, unknown figure id,
// malformed sweep-level file) are *InputError; commands exit 2 on them.
//
// # Figures
//
// File names start with the figure id. Figures that depend on a setting
// are drawn once per "context" — the cells that share everything except the
// gate and the seed — with the distinguishing settings appended to the file
// name when the sweep has several (F2_mass_dynamics_d128.png).
//
//	F1   F1_toy_squeeze              toy/toy_f1.json: six rows × {before, after} × {linear, log y}
//	F1b  F1b_toy_multistep           toy/toy_f1b.csv: log p(y+|x+), log p(y−|x−), top-1 mass of x− and x+ vs step per method
//	F2   F2_mass_dynamics            probe_fields.csv: mean ΔLP per category vs step; one panel per gate, ungated first
//	F3   F3_chosen_argmax_gap        probe_metrics.csv: LP_chosen, LP_argmax, gap vs step
//	F3   F3_chosen_argmax_gap_margin the same against the train-probe reward margin (nats of log-ratio, no β):
//	                                 each seed interpolated between the probes bracketing each level (docs/method.md §7)
//	F4   F4_peakiness                probe_metrics.csv: top-1 mass and entropy vs step
//	F5   F5_tau_sweep                final ΔLP_chosen, gap, suppression, reward accuracy vs τ (log x), plain DPO
//	                                 as a black line and band; second row: paired gated − ungated at each τ's
//	                                 common matched train margin (the comparison's "margin common")
//	F6   F6_model_size               final metrics per arch (ordered by model size), ungated vs each gate
//	F7   F7_objectives               final metrics per objective (ext-SFT→ for pipeline extended_sft)
//	F8   F8_trl_curves               train.csv (stage pref): rewards/chosen, rewards/rejected, margins, accuracies
//
// A figure is skipped, with the reason in the Report, when the records
// cannot support it: no toy records (F1, F1b), no per-field probes (F2),
// no gate kind with two or more τ > 0 values in one context (F5), no two
// archs (F6) or objectives/pipelines (F7) with otherwise equal settings.
//
// # Conventions
//
//   - Probe metrics are read on the held-out probe split (the train split
//     when a cell has no held-out probe); the matched-margin x axis and
//     rows use the train-probe reward_margin (r+ − r−, without β).
//   - Curves over seeds show the mean and a shaded 95 % Student-t interval
//     (df = n − 1) at each step; points show 95 % error bars. One seed: no
//     band. Seeds are matched by step.
//   - Colours: categories chosen blue, chosen-like light blue, chosen-format
//     teal, rejected orange, rejected-like light orange, rejected-format
//     brown, irrelevant red, random cyan, argmax black. Methods: ungated
//     solid black, each gate configuration dashed in its own colour, the
//     same colour in every figure of a sweep.
//   - Legends sit in a strip below the panels, never over data.
//   - F8 smooths each seed's per-step curve with a centred moving average
//     of max(1, steps/40) steps (odd), stated in the caption.
//   - Sized for a paper: about 500 pt wide (a two-column text width), two
//     or three panels per row, 8–9.5 pt text, so they can be placed at
//     100 %. PNG at 150 dpi by default; SVG and PDF are vector.
//   - Fraction axes (suppression, accuracies) are fixed to 0..1; log axes
//     where values span decades (F1's log-y panels, F5's τ axis).
//
// # Comparison (package results, Compare)
//
// comparison.csv has one row per gated configuration × matching point ×
// metric (ComparisonCSVColumns); comparison.md and report.html show one
// table per pipeline and matching point: "final" (last probe), "margin
// common" (the largest train margin every paired run reaches, per row),
// and each fixed level (10, 20, 40 nats of log-ratio by default; a level
// nobody reaches is a single line), by the matched-margin rule of
// docs/method.md §7 (results.Cell.AtMargin: linear interpolation between
// the two probes that bracket the level). Cells: mean paired difference
// gated − ungated [95 % CI], "*" when the CI excludes 0, "n<2: no CI" with
// one paired seed, "not reached" when no pair reached the level. Each row
// gives n and the seeds that failed, had no partner or did not reach the
// level; failed cells and duplicate runs are listed.
//
// # report.html
//
// One self-contained page: the grid (grid.toml, grid.resolved.json), the
// cells not used, summary.csv, the comparison tables (per pipeline: at the
// final probe and at each matched margin; bold cells exclude 0), and every
// figure as an embedded PNG (data: URI; linked by relative path instead when
// the PNGs exceed MaxEmbedBytes) with a caption saying what to look for and
// relative links to its PNG/SVG/PDF files. No scripts, no network.
//
// Two sections read per-example and per-token records
// (distributions.go, tokenview.go):
//
//   - Per-example distributions: for each context (MaxDistContexts at
//     most), inline-SVG histograms of the per-pair ΔLP_chosen and
//     ΔLP_rejected on the held-out probe set (last probe − step 0, seeds
//     pooled, share of pairs per bin), one outline per gate, with a table
//     of n, mean, 10/50/90 % quantiles and the share below 0
//     (probe_examples.csv.gz).
//   - Token view: every gated configuration next to the ungated cell of the
//     same context and seed (first common seed; MaxTokenViewPairs pairs at
//     most), the chosen and rejected responses of the first
//     results.ProbeTokenExamples held-out pairs token by token, coloured by
//     ΔLP (last probe − step 0; white at 0, red down, blue up, full colour
//     at the pair's scale, TokenColor). A token's title (hover) gives its
//     log-probs and probabilities at both steps and, on rejected tokens,
//     the gate value g recorded for it (probe_tokens.csv.gz).
//
// Wide tables scroll inside their box and long words wrap, so nothing
// widens the page.
//
// Package results/resultstest writes a synthetic sweep directory for the tests;
// its numbers are not results.
package plots
