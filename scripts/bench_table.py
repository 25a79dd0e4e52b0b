"""bench_table.py - the summary table of scripts/bench.sh, from its JSON lines.

    /usr/bin/python3 scripts/bench_table.py RUNS.jsonl OUT.md STAMP CPU NCPU GOVERSION TORCHVERSION OPENBLASVERSION \
        LOAD_BEFORE LOAD_AFTER ROUNDS STEPS

Replaces the part of OUT.md between the bench:table markers (bench:MARK with MARK set in the
environment, e.g. MARK=pythia for the Pythia-160M row) and prints the table. Only the configs
of that part are tabulated (pythia160m with MARK=pythia, the others without).
"""
import json, statistics, sys, os
runs, out, stamp, cpu, ncpu, gov, torchv, obv, lb, la, rounds, steps = sys.argv[1:]
mark = os.environ.get("MARK", "table")
rows = [json.loads(l) for l in open(runs)]
rows = [r for r in rows if (r["cfg"] == "pythia160m") == (mark == "pythia")]
progs = ["peer", "go-pure", "go-openblas", "go-pure-pack", "go-openblas-pack", "go-openblas-precomp"]
names = {"peer": "PyTorch peer (OpenBLAS, tuned defaults)" if mark != "pythia" else "PyTorch peer bench_hf.py (1 thread)", "go-pure": "Go, pure Go build (gonum + blasgemm + blasvec)",
         "go-openblas": "Go, OpenBLAS 1 thread",
         "go-pure-pack": "Go, pure Go build, packed pairs (`-pack`)", "go-openblas-pack": "Go, OpenBLAS, packed pairs (`-pack`)",
         "go-openblas-precomp": "Go, OpenBLAS, precomputed ref log-probs"}
cfgdesc = {"d128": "V512 D128 H4 L2 T128, 8 pairs", "d256": "V512 D256 H4 L4 T128, 8 pairs",
           "pythia160m": "Pythia-160M shape (random weights), T256, 4 pairs, float32"}
med = statistics.median
lines = []
lines.append(f"Measured {stamp} by `scripts/bench.sh` ({rounds} alternating rounds × {steps} timed steps per program): "
             f"{cpu}, {ncpu} cores; Go {gov}, torch {torchv}, OpenBLAS {obv}. "
             f"Load average before/after: {lb} / {la}.")
lines.append("")
lines.append("| config | program | median step (s) | min (s) | ratio to PyTorch | CPU s / step | CPU ratio | tokens/s | peak RSS (MiB) | RSS ratio | other procs (cores) |")
lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
for cfg in sorted({r["cfg"] for r in rows}):
    by = {p: [r for r in rows if r["cfg"] == cfg and r["prog"] == p] for p in progs}
    peer = {r["round"]: r["median_step_s"] for r in by["peer"]}
    for p in progs:
        rs = by[p]
        if not rs:
            continue
        m = med([r["median_step_s"] for r in rs])
        mn = min(r["min_step_s"] for r in rs)
        ratios = [r["median_step_s"] / peer[r["round"]] for r in rs if r["round"] in peer]
        ratio = "1" if p == "peer" else (f"**{med(ratios):.2f}** ({min(ratios):.2f}–{max(ratios):.2f})" if ratios else "–")
        other = statistics.mean(r["other_procs_cpu_cores_avg"] for r in rs)
        cpu = lambda r: r["cpu_s_per_step"] if "cpu_s" in r else r["own_cpu_cores_avg"] * r["mean_step_s"]
        c = med([cpu(r) for r in rs])
        peer_cpu = med([cpu(r) for r in by["peer"]]) if by["peer"] else float("nan")
        cratio = "1" if p == "peer" else f"{c / peer_cpu:.2f}"
        rss = max(r["peak_rss_mib"] for r in rs)
        peer_rss = max(r["peak_rss_mib"] for r in by["peer"]) if by["peer"] else float("nan")
        rratio = "1" if p == "peer" else f"{rss / peer_rss:.2f}"
        lines.append(f"| {cfgdesc.get(cfg, cfg)} | {names[p]} | {m:.3f} | {mn:.3f} | {ratio} | {c:.3f} | {cratio} | "
                     f"{med([r['tokens_per_s'] for r in rs]):.0f} | {rss:.0f} | {rratio} | {other:.2f} |")
lines.append("")
lines.append(f"Ratio = median over rounds of (Go median / PyTorch median of the same round); range in brackets. "
             f"CPU s / step = the program's own CPU time per step (user + system), median over rounds; CPU ratio = "
             f"Go / PyTorch of those, the comparison least affected by other processes"
             + (" (the peer's CPU per step is its whole run's CPU over warm-up + timed steps, set-up included: an upper bound)" if mark == "pythia" else "")
             + f". Peak RSS = VmHWM, the largest over rounds; RSS ratio = Go / PyTorch. Raw JSON lines: `{runs}`.")
table = "\n".join(lines)
begin, end = f"<!-- bench:{mark}:begin -->", f"<!-- bench:{mark}:end -->"
text = open(out).read() if os.path.exists(out) else f"# Benchmarks\n\n{begin}\n{end}\n"
if begin not in text:
    text += f"\n{begin}\n{end}\n"
pre, rest = text.split(begin, 1)
_, post = rest.split(end, 1)
open(out, "w").write(pre + begin + "\n" + table + "\n" + end + post)
print(table)
