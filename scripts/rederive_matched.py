#!/usr/bin/env python3
"""Re-derive comparison.csv's matched-margin rows from the cells' records.

Usage: python3 scripts/rederive_matched.py runs/default

Independently of the Go code, reads every complete cell's config.json and
probe_metrics.csv, applies the matched-margin rule of docs/method.md §7
(first consecutive train probes with m_k < L <= m_k+1, every metric and
the step interpolated at f = (L - m_k)/(m_k+1 - m_k); a run already at
m >= L on its first probe is read there), pairs gated and ungated cells by
seed within one context, and compares the mean differences, n and the
interpolated steps with comparison.csv. Exits 1 on any mismatch.
Standard library only. Duplicates and failed cells are not handled: run it
on a directory of one sweep.
"""
import csv, json, math, os, sys

def load_cells(d):
    cells = []
    for cid in sorted(os.listdir(os.path.join(d, "cells"))):
        cdir = os.path.join(d, "cells", cid)
        try:
            summ = json.load(open(os.path.join(cdir, "summary.json")))
        except OSError:
            continue
        if summ.get("status") != "complete":
            continue
        cfg = json.load(open(os.path.join(cdir, "config.json")))
        probes = {}
        with open(os.path.join(cdir, "probe_metrics.csv")) as f:
            for r in csv.DictReader(f):
                probes.setdefault(r["split"], {})[int(r["step"])] = {
                    k: (float(v) if v != "" else math.nan) for k, v in r.items() if k not in ("split", "step")}
        cells.append((cid, cfg, probes))
    return cells

def context_key(cfg):
    c = dict(cfg)
    for k in ("gate", "seed", "sweep"):
        c.pop(k, None)
    return json.dumps(c, sort_keys=True)

def ungated(g):
    return g.get("kind", "") in ("", "none") or g.get("tau", 0) == 0

def at_margin(probes, level):
    split = "train" if "train" in probes else "heldout"
    pts = sorted((s, v["reward_margin"]) for s, v in probes[split].items() if not math.isnan(v["reward_margin"]))
    if not pts:
        return None
    if pts[0][1] >= level:
        return pts[0][0], pts[0][0], 0.0
    for (s0, m0), (s1, m1) in zip(pts, pts[1:]):
        if m0 < level <= m1:
            return s0, s1, (level - m0) / (m1 - m0)
    return None

def value(probes, metric, pt):
    s0, s1, f = pt
    main = "heldout" if "heldout" in probes else "train"
    a, b = probes[main][s0][metric], probes[main][s1][metric]
    return a if f == 0 else a + f * (b - a)

def max_margin(probes):
    split = "train" if "train" in probes else "heldout"
    return max(v["reward_margin"] for v in probes[split].values())

def main():
    d = sys.argv[1]
    cells = load_cells(d)
    groups = {}
    for cid, cfg, probes in cells:
        groups.setdefault(context_key(cfg), []).append((cfg, probes))
    rows = list(csv.DictReader(open(os.path.join(d, "comparison.csv"))))
    bad = checked = 0
    for r in rows:
        if r["at"] == "final":
            continue
        level = float(r["margin_level"])
        for ctx, members in groups.items():
            base = {c["seed"]: p for c, p in members if ungated(c["gate"])}
            gated = {c["seed"]: p for c, p in members
                     if not ungated(c["gate"]) and c["gate"]["kind"] == r["gate_kind"]
                     and repr(float(c["gate"]["tau"])) == repr(float(r["tau"]))
                     and c["gate"].get("level", "token") == r["level"]
                     and str(c["gate"].get("relative", False)).lower() == r["relative"]}
            if not gated:
                continue
            pairs = sorted(s for s in gated if s in base)
            if r["at"] == "margin common":
                level2 = min(min(max_margin(gated[s]), max_margin(base[s])) for s in pairs)
                if abs(level2 - level) > 1e-9 * max(1, level):
                    print("level", r["gate"], level, "re-derived", level2); bad += 1
            diffs, gs, us = [], [], []
            for s in pairs:
                pg, pu = at_margin(gated[s], level), at_margin(base[s], level)
                if pg is None or pu is None:
                    continue
                diffs.append(value(gated[s], r["metric"], pg) - value(base[s], r["metric"], pu))
                gs.append(pg[0] + pg[2] * (pg[1] - pg[0]))
                us.append(pu[0] + pu[2] * (pu[1] - pu[0]))
            n = int(r["n"])
            checked += 1
            if n != len(diffs):
                print("n", r["gate"], r["at"], r["metric"], n, "re-derived", len(diffs)); bad += 1
                continue
            if n == 0:
                continue
            mean = sum(diffs) / n
            for name, got, want in (("diff_mean", float(r["diff_mean"]), mean),
                                    ("step_gated", float(r["step_gated"]), sum(gs) / n),
                                    ("step_ungated", float(r["step_ungated"]), sum(us) / n)):
                if abs(got - want) > 1e-9 * max(1, abs(want)):
                    print(name, r["gate"], r["at"], r["metric"], got, "re-derived", want); bad += 1
    print(f"checked {checked} matched-margin rows, {bad} mismatches")
    sys.exit(1 if bad else 0)

main()
