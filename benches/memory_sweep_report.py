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

FIGURES = ("kdamond Minstructions/s", "instructions per region-sample",
           "regions per aggregation window")
# The walk of the iomem resources that follows hotplug (src/ffi/iomem.rs).
SPAN_WALK = re.compile(r"walk_iomem_res_desc|find_next_iomem_res|system_ram_span|__walk_iomem_res_desc")


def compare_rows(d):
    rows = {}
    with open(os.path.join(d, "compare.csv")) as f:
        r = csv.reader(f)
        next(r)
        for scenario, figure, ours, upstream, *_ in r:
            if scenario == "dense-flush":
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
                m = re.search(r"refreshes \(avg (\d+) ns, max (\d+) ns, up to (\d+) regions\)", line)
                if m and name.startswith("damon_stat"):
                    facts["refresh_avg_us"] = int(m.group(1)) / 1000
                    facts["refresh_regions"] = int(m.group(3))
    span = 0.0
    path = os.path.join(d, "profile.csv")
    if os.path.exists(path):
        with open(path) as f:
            for scenario, kernel, function, share in list(csv.reader(f))[1:]:
                if scenario == "dense-flush" and kernel == "damon_stat" and SPAN_WALK.search(function):
                    span += float(share)
    facts["span_walk_pct"] = 100 * span
    return facts


def main():
    out, names = sys.argv[1], sys.argv[2:]
    table = []
    for name in names:
        d = os.path.join(out, name)
        rows, facts = compare_rows(d), guest_facts(d)
        row = {"guest": name, **facts}
        for fig in FIGURES:
            ours, upstream = rows.get(fig, ("", ""))
            row[f"{fig} (damon_stat)"] = ours
            row[f"{fig} (upstream)"] = upstream
        table.append(row)
    cols = ["guest", "ram_gib", "ranges"] + [f"{f} ({k})" for f in FIGURES for k in ("damon_stat", "upstream")] + [
        "refresh_avg_us", "refresh_regions", "span_walk_pct"]
    with open(os.path.join(out, "sweep.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(table)
    short = {"kdamond Minstructions/s": "Minsn/s", "instructions per region-sample": "insn/rs",
             "regions per aggregation window": "regions"}
    head = ["guest", "RAM GiB", "ranges"] + [f"{short[f]} {k[:6]}" for f in FIGURES for k in ("damon_stat", "upstream")] + [
        "refresh us", "span walk %"]
    print("  ".join(f"{h:>16}" for h in head))
    for r in table:
        cells = [r["guest"], f"{r.get('ram_gib', 0):.1f}", str(r.get("ranges", "-"))]
        cells += [r.get(f"{f} ({k})", "") or "-" for f in FIGURES for k in ("damon_stat", "upstream")]
        cells += [f"{r.get('refresh_avg_us', float('nan')):.1f}", f"{r.get('span_walk_pct', 0):.2f}"]
        print("  ".join(f"{c:>16}" for c in cells))
    sized = [r for r in table if re.fullmatch(r"\d+G", r["guest"])]
    data = os.path.join(out, "sweep.dat")
    with open(data, "w") as f:
        for r in sized:
            vals = [r.get(f"kdamond Minstructions/s ({k})") or "nan" for k in ("damon_stat", "upstream")]
            f.write(f"{r['guest'][:-1]} {vals[0]} {vals[1]}\n")
    svg = os.path.join(out, "sweep.svg")
    script = "\n".join([
        "set terminal svg size 640,400 dynamic font 'sans,11'",
        f"set output '{svg}'",
        "set termoption noenhanced",
        "set title 'kdamond instructions per second, dense-flush workload, by guest memory'",
        "set xlabel 'guest memory (GiB)'", "set ylabel 'million instructions per second'",
        "set logscale x 2", "set yrange [0:*]", "set grid", "set key top left",
        f"plot '{data}' using 1:2 with linespoints lw 2 title 'damon_stat 6.12', "
        f"'' using 1:3 with linespoints lw 2 dt 2 title 'upstream 7.3'",
    ])
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print(f"CSV: {os.path.join(out, 'sweep.csv')}\nPicture: {svg}")


if __name__ == "__main__":
    main()
