#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""benches/memory-sweep.sh's table and plot: one make compare output directory per guest
size (named like 16G), plus the one with holes in the memory map.

Usage: memory_sweep_report.py OUTDIR NAME...
"""

import csv
import os
import re
import subprocess
import sys

FIGURES = ("kdamond Minstructions/s", "instructions per folio lookup",
           "regions per aggregation window")
SCENARIOS = ("dense-flush", "core-5ms")
# The walk of the iomem resources that follows hotplug (src/ffi/iomem.rs).
SPAN_WALK = re.compile(r"walk_iomem_res_desc|find_next_iomem_res|system_ram_span|__walk_iomem_res_desc")


def compare_rows(d, scenario):
    rows = {}
    with open(os.path.join(d, "compare.csv")) as f:
        r = csv.reader(f)
        next(r)
        for s, figure, ours, upstream, *_ in r:
            if s == scenario:
                rows[figure] = (ours, upstream)
    return rows


def guest_facts(d):
    """System RAM bytes and ranges, and damon_stat's refresh cost from its stop line."""
    facts = {}
    for name in sorted(os.listdir(os.path.join(d, "logs"))):
        if not name.endswith(".log"):
            continue
        with open(os.path.join(d, "logs", name), errors="replace") as f:
            for line in f:
                m = re.search(r"CMP-KERNEL .*system_ram=(\d+) .*ram_ranges=(\d+)", line)
                if m:
                    facts["ram_gib"] = int(m.group(1)) / 2**30
                    facts["ranges"] = int(m.group(2))
    span = module = 0.0
    path = os.path.join(d, "profile.csv")
    if os.path.exists(path):
        with open(path) as f:
            for scenario, kernel, function, share, *_ in list(csv.reader(f))[1:]:
                if scenario == "dense-flush" and kernel == "damon_stat":
                    if SPAN_WALK.search(function):
                        span += float(share)
                    if function.startswith("damon_stat::"):
                        module += float(share)
    facts["span_walk_pct"] = 100 * span
    facts["module_pct"] = 100 * module
    return facts


def main():
    out, names = sys.argv[1], sys.argv[2:]
    table = []
    for name in names:
        d = os.path.join(out, name)
        facts = guest_facts(d)
        for scenario in SCENARIOS:
            rows = compare_rows(d, scenario)
            if not rows:
                continue
            row = {"guest": name, "scenario": scenario, **facts}
            for fig in FIGURES:
                ours, upstream = rows.get(fig, ("", ""))
                row[f"{fig} (damon_stat)"] = ours
                row[f"{fig} (upstream)"] = upstream
            table.append(row)
    cols = ["guest", "scenario", "ram_gib", "ranges"] + [
        f"{f} ({k})" for f in FIGURES for k in ("damon_stat", "upstream")] + ["module_pct", "span_walk_pct"]
    with open(os.path.join(out, "sweep.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(table)
    short = {"kdamond Minstructions/s": "Minsn/s", "instructions per folio lookup": "insn/lookup",
             "regions per aggregation window": "regions"}
    head = ["guest", "scenario", "RAM GiB", "ranges"] + [
        f"{short[f]} {k[:6]}" for f in FIGURES for k in ("damon_stat", "upstream")] + ["module %", "span walk %"]
    print("  ".join(f"{h:>14}" for h in head))
    for r in table:
        cells = [r["guest"], r["scenario"], f"{r.get('ram_gib', 0):.1f}", str(r.get("ranges", "-"))]
        cells += [r.get(f"{f} ({k})", "") or "-" for f in FIGURES for k in ("damon_stat", "upstream")]
        cells += [f"{r.get('module_pct', 0):.2f}", f"{r.get('span_walk_pct', 0):.3f}"]
        print("  ".join(f"{c:>14}" for c in cells))
    data = os.path.join(out, "sweep.dat")
    with open(data, "w") as f:
        for scenario in SCENARIOS:
            f.write(f"# {scenario}\n")
            for r in table:
                if r["scenario"] == scenario and re.fullmatch(r"\d+G", r["guest"]):
                    vals = [r.get(f"kdamond Minstructions/s ({k})") or "nan" for k in ("damon_stat", "upstream")]
                    f.write(f"{r['guest'][:-1]} {vals[0]} {vals[1]}\n")
            f.write("\n\n")
    svg = os.path.join(out, "sweep.svg")
    script = "\n".join([
        "set terminal svg size 900,380 dynamic font 'sans,11'",
        f"set output '{svg}'",
        "set termoption noenhanced",
        "set multiplot layout 1,2 title 'kdamond instructions per second by guest memory (64 MiB hot)'",
        "set xlabel 'guest memory (GiB)'", "set ylabel 'million instructions per second'",
        "set logscale x 2", "set yrange [0:*]", "set grid", "set key top right",
        "set title 'DAMON_STAT (tuned intervals)'",
        f"plot '{data}' index 0 using 1:2 with linespoints lw 2 title 'damon_stat 6.12', "
        f"'' index 0 using 1:3 with linespoints lw 2 dt 2 title 'upstream 7.3'",
        "set title 'bare core, 5 ms sampling'",
        f"plot '{data}' index 1 using 1:2 with linespoints lw 2 title '6.12', "
        f"'' index 1 using 1:3 with linespoints lw 2 dt 2 title '7.3'",
        "unset multiplot",
    ])
    if all(any(r["scenario"] == sc for r in table) for sc in SCENARIOS):
        subprocess.run(["gnuplot"], input=script, text=True, check=True)
    else:
        svg = "(not drawn: a scenario has no figures)"
    print(f"CSV: {os.path.join(out, 'sweep.csv')}\nPicture: {svg}")


if __name__ == "__main__":
    main()
