#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""`make compare`'s report: reads the guests' serial logs, prints the table, writes the
CSV and the picture of the idle-time percentiles.

Usage: report.py [--max-extra-error PP] [--max-truth-error PP] OUTDIR LOG...   (each LOG named
<kernel>-<repeat>.log, kernel being damon_stat or upstream; the TCG plugin's counts of
that boot, when it ran, beside it as <kernel>-<repeat>.insns, and the kernel's
System.map in OUTDIR as <kernel>.System.map). Every figure is the median over the
repeats; the instruction figures also get their spread, (max - min) / median. Writes
compare.csv and, with the plugin, profile.csv (where kdamond's instructions go, per
function). With --max-extra-error, exits 1 when a scenario's hot share is more than
PP percentage points farther from the ground truth than upstream's (the differential
check without the plugin's truth); with --max-truth-error, when damon_stat's hot share
is more than PP points off the truth that the plugin recorded in its own boot (the
differential check of make check).
"""

import csv
import math
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import insns  # noqa: E402  (beside this file)
import truth as plugin_truth  # noqa: E402

KERNELS = ("damon_stat", "upstream")
LABEL = {"damon_stat": "damon_stat 6.12", "upstream": "upstream 7.3"}
PROGRAM_SCENARIOS = ("stress-ng-thp", "stress-ng-4k", "sqlite-thp", "sqlite-4k", "xz-thp", "xz-4k")
STAT_SCENARIOS = ("dense", "dense-flush", "sparse-thp", "sparse-4k", "idle", "phase") + PROGRAM_SCENARIOS
CORE_SCENARIOS = ("core-50ms", "core-5ms")
# Both kernels keep DAMON_STAT's attributes: 20 samples per aggregation window.
AGGR_SAMPLES = 20
USER_HZ = 100


def fields(line):
    return dict(re.findall(r"(\w+)=(\S+)", line))


def parse_log(path):
    """Returns {scenario: {"readings": [...], "end": {...}}} of one guest run."""
    runs = {}
    done = False
    anon_huge_kb = None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("CMP-WORKLOAD "):
                m = re.search(r"(?:anon_huge_kb=|AnonHugePages: )(\d+)", line)
                anon_huge_kb = int(m.group(1)) if m else None
            elif line.startswith("CMP scenario="):
                d = fields(line)
                runs.setdefault(d["scenario"], {"readings": []})["readings"].append(
                    {
                        "t": float(d["t"]),
                        "fresh": d["fresh"] == "1",
                        "aggr_us": int(d["aggr_us"]),
                        "bw": int(d["bw"]),
                        "pct": [int(v) for v in d["pct"].split(",")],
                    }
                )
            elif line.startswith("CMP-END "):
                d = fields(line)
                if anon_huge_kb is not None:
                    d.setdefault("anon_huge_kb", str(anon_huge_kb))
                runs.setdefault(d["scenario"], {"readings": []})["end"] = d
            elif line == "CMP-DONE":
                done = True
    if not done:
        sys.exit(f"report: {path} has no CMP-DONE: the guest did not finish (see the log)")
    return runs


def has_truth(plugin_out):
    with open(plugin_out, errors="replace") as f:
        header = f.readline()
    m = re.search(r"truth_mib=(\d+)", header)
    return bool(m and int(m.group(1)))


def hot_share(pct):
    """Share of memory reported accessed, in whole %: p_k (k >= 1) is negative exactly
    when at least k % of memory was accessed, so this is the share rounded down (p0 is
    left out: it is the first region's value whatever its size)."""
    return sum(1 for v in pct[1:] if v < 0)


def reading_at(readings, t):
    fresh = [r for r in readings if r["fresh"]]
    if not fresh or fresh[-1]["t"] < t - 2:
        return None
    return min(fresh, key=lambda r: abs(r["t"] - t))


def figures(run, scenario):
    """The figures of one scenario of one guest run, as {name: value}."""
    end = run["end"]
    out = {}
    elapsed = float(end["elapsed"])
    out["kdamond CPU ticks/min"] = int(end["ticks"]) * 60 / elapsed
    if scenario in CORE_SCENARIOS:
        return out
    readings = run["readings"]
    truth = int(end["truth_hot"])
    span = int(end["span"])
    last = readings[-1]
    if "anon_huge_kb" in end:
        # What THP really gave the workload: the reading depends on it.
        out["huge pages mapped MiB"] = int(end["anon_huge_kb"]) / 1024
    # -1: a program's, whose only truth is the plugin's.
    out["_truth hot share %"] = 100 * truth / span if truth >= 0 else math.nan
    first = float(end["first_result"])
    out["first result s"] = first if first >= 0 else math.nan
    for t in (10, 30, 60):
        r = reading_at(readings, t)
        out[f"aggr_interval ms at {t} s"] = r["aggr_us"] / 1000 if r else math.nan
    # Shares and bandwidth over the second half of the run, once the intervals settled.
    half = [r for r in readings if r["fresh"] and r["t"] >= readings[-1]["t"] / 2]
    out["hot share % (negative percentiles)"] = (
        statistics.median(hot_share(r["pct"]) for r in half) if half else math.nan
    )
    if half:
        bws = [r["bw"] for r in half]
        out["bandwidth MB/s (median)"] = statistics.median(bws) / 1e6
        mean = statistics.mean(bws)
        out["bandwidth spread % (stdev/mean)"] = (
            100 * statistics.pstdev(bws) / mean if mean else math.nan
        )
        if truth > 0:
            # The DAMON model: every hot byte seen in every sample of the window.
            ratios = [
                r["bw"] / (truth * AGGR_SAMPLES / (r["aggr_us"] / 1e6)) for r in half
            ]
            out["bandwidth / model (median)"] = statistics.median(ratios)
    moved = float(end["moved_at"])
    if moved >= 0:
        # The move shows once the most accessed memory has been accessed for no longer
        # than the time since the move (plus one aggregation window).
        seen = math.nan
        for r in readings:
            if not r["fresh"] or r["t"] < moved:
                continue
            p0 = r["pct"][0]
            if p0 < 0 and -p0 <= (r["t"] - moved) * 1000 + r["aggr_us"] / 1000:
                seen = r["t"] - moved
                break
        out["phase change seen after s"] = seen
    out["_pct"] = last["pct"]
    out.update(truth_figures(run, readings))
    return out


def truth_figures(run, readings):
    """The plugin's truth against the readings it was written after, over the second
    half of the run like the readings' own figures."""
    reports = run.get("truth")
    if not reports or len(reports) != len(readings):
        return {}
    bws = plugin_truth.bandwidths(reports)
    half = [(r, t, bw) for r, t, bw in zip(readings, reports, bws)
            if r["fresh"] and r["t"] >= readings[-1]["t"] / 2]
    if not half:
        return {}
    out = {}
    true_share = [100 * t["hot_pages"] / t["pages"] for _, t, _ in half]
    out["plugin: hot share % (same boot)"] = statistics.median(true_share)
    out["hot share error vs plugin (points)"] = statistics.median(
        abs(hot_share(r["pct"]) - share) for (r, _, _), share in zip(half, true_share))
    # DAMON cannot know of an access before it started: the truth's idle times are
    # capped at the time since DAMON_STAT was enabled.
    errors = [plugin_truth.percentile_errors(r["pct"], plugin_truth.capped(t["pct"], r["t"] * 1000))
              for r, t, _ in half]
    out["percentile error vs plugin (mean |log10 ms|)"] = statistics.median(e[0] for e in errors)
    out["worst percentile error (log10 ms)"] = statistics.median(e[1] for e in errors)
    out["_worst percentile"] = errors[-1][2]
    true_bw = [bw for _, _, bw in half if not math.isnan(bw)]
    if true_bw:
        out["plugin bandwidth MB/s"] = statistics.median(true_bw) / 1e6
        ratios = [r["bw"] / bw for r, _, bw in half if not math.isnan(bw) and bw > 0]
        if ratios:
            out["bandwidth / plugin (median)"] = statistics.median(ratios)
    inflation = [plugin_truth.huge_inflation(t) for _, t, _ in half]
    inflation = [v for v in inflation if not math.isnan(v)]
    if inflation:
        out["2 MiB frames x 512 / pages accessed (THP inflation)"] = statistics.median(inflation)
    out["_truth_pct"] = plugin_truth.capped(half[-1][1]["pct"], half[-1][0]["t"] * 1000)
    return out


# The instruction figures (insns.cost) as table rows: (row name, key, scale).
INSN_ROWS = (
    ("kdamond Minstructions/s", "insns_per_s_own", 1e-6),
    ("instructions per region-sample", "insns_per_region_sample_own", 1),
    ("regions per aggregation window", "regions_per_window", 1),
    ("region-samples per second", "region_samples_per_s", 1),
    ("folio lookups per second (damon_get_folio)", "folio_lookups_per_s", 1),
    ("instructions per folio lookup", "insns_per_folio_lookup_own", 1),
    ("random draws per second (6.12: one per region-sample)", "random_draws_per_s", 1),
    ("tracepoint share % (counts regions)", "tracing_share", 100),
    ("lock spinning share % (TCG)", "spinning_share", 100),
    ("vCPU idle Minstructions/s (subtracted)", "idle_insns_per_s", 1e-6),
    ("kdamond ticks/min (same window)", "ticks_per_min", 1),
)
# Rows whose spread between repeats is shown too.
SPREAD_ROWS = ("kdamond Minstructions/s", "instructions per region-sample",
               "instructions per folio lookup")


def insn_figures(f):
    """Table rows of one scenario's insns.cost() figures. The tracepoint that counts
    regions is on during the window, and under TCG a vCPU spins as long as the host keeps
    a lock holder's thread off its CPU: both shares are left out of kdamond's figures."""
    f = dict(f)
    own = 1 - f.get("tracing_share", 0) - f.get("spinning_share", 0)
    f["insns_per_s_own"] = f["insns_per_s"] * own
    if "insns_per_region_sample" in f:
        f["insns_per_region_sample_own"] = f["insns_per_region_sample"] * own
    if f.get("folio_lookups_per_s"):
        f["insns_per_folio_lookup_own"] = f["insns_per_s"] * own / f["folio_lookups_per_s"]
    out = {name: f[key] * scale for name, key, scale in INSN_ROWS if key in f}
    out["_profile"] = f.get("profile", {})
    out["_per_call"] = f.get("per_call", {})
    return out


def spread(values):
    values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    if len(values) < 2:
        return math.nan
    mid = statistics.median(values)
    return 100 * (max(values) - min(values)) / mid if mid else math.nan


def median(values):
    values = [v for v in values if not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else math.nan


def fmt(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def main():
    args = sys.argv[1:]
    max_extra = max_truth_error = None
    while args[:1] in (["--max-extra-error"], ["--max-truth-error"]):
        if args[0] == "--max-extra-error":
            max_extra = float(args[1])
        else:
            max_truth_error = float(args[1])
        args = args[2:]
    outdir, logs = args[0], args[1:]
    per = {}  # (kernel, scenario) -> [figures of each repeat]
    known_answers = []
    for path in logs:
        m = re.match(r"(damon_stat|upstream)-(\d+)\.log$", os.path.basename(path))
        if not m:
            sys.exit(f"report: {path}: expected a name like damon_stat-1.log")
        cost = {}
        plugin_out = path[: -len(".log")] + ".insns"
        if os.path.exists(plugin_out):
            system_map = os.path.join(outdir, f"{m.group(1)}.System.map")
            try:
                cost, message = insns.cost(path, plugin_out, system_map if os.path.exists(system_map) else None)
            except insns.PluginError as e:
                sys.exit(f"report: {e}")
            known_answers.append(f"{m.group(1)} boot {m.group(2)}: {message}")
        runs = parse_log(path)
        if os.path.exists(plugin_out) and has_truth(plugin_out):
            try:
                known_answers.append(f"{m.group(1)} boot {m.group(2)}: "
                                     + plugin_truth.known_answer(path, plugin_out))
                plugin_truth.attach(path, plugin_out, runs)
            except plugin_truth.TruthError as e:
                sys.exit(f"report: {e}")
        for scenario, run in runs.items():
            f = figures(run, scenario)
            if scenario in cost:
                f.update(insn_figures(cost[scenario]))
            per.setdefault((m.group(1), scenario), []).append(f)

    scenarios = [s for s in STAT_SCENARIOS + CORE_SCENARIOS if any((k, s) in per for k in KERNELS)]
    rows = []
    pcts = {}
    for s in scenarios:
        names = []
        for k in KERNELS:
            for f in per.get((k, s), []):
                names += [n for n in f if not n.startswith("_") and n not in names]
        for name in names:
            vals = {k: median([f.get(name, math.nan) for f in per.get((k, s), [])]) for k in KERNELS}
            truth = math.nan
            if name.startswith("hot share %"):
                truth = median([f["_truth hot share %"] for f in per.get(("damon_stat", s), [])])

            ratio = (
                vals["damon_stat"] / vals["upstream"]
                if vals["upstream"] and not math.isnan(vals["upstream"])
                else math.nan
            )
            rows.append((s, name, vals["damon_stat"], vals["upstream"], truth, ratio))
            if name in SPREAD_ROWS:
                sp = {k: spread([f.get(name, math.nan) for f in per.get((k, s), [])]) for k in KERNELS}
                rows.append((s, f"  spread % between repeats", sp["damon_stat"], sp["upstream"], math.nan, math.nan))
        for k in KERNELS:
            runs = per.get((k, s), [])
            if runs and "_pct" in runs[-1]:
                pcts[(k, s)] = runs[-1]["_pct"]
            if runs and "_truth_pct" in runs[-1]:
                pcts[(f"{k} truth", s)] = runs[-1]["_truth_pct"]

    # The CPU ratio of each scenario against the bare cores' ratio at 5 ms sampling.
    cpu = {row[0]: row[5] for row in rows if row[1].startswith("kdamond CPU")}
    core = cpu.get("core-5ms")
    if core and not math.isnan(core):
        for s in STAT_SCENARIOS:
            if s in cpu and not math.isnan(cpu[s]):
                rows.append((s, "CPU ratio / bare-core ratio (5 ms)", math.nan, math.nan, math.nan, cpu[s] / core))

    repeats = max(len(v) for v in per.values())
    header = ("scenario", "figure", LABEL["damon_stat"], LABEL["upstream"], "truth", "ours/upstream")
    widths = [11, 36, 16, 13, 8, 13]
    print(f"Medians of {repeats} repeat(s) per kernel.")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        cells = [row[0], row[1]] + [fmt(v) for v in row[2:]]
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths)))

    csv_path = os.path.join(outdir, "compare.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow([row[0], row[1]] + ["" if math.isnan(v) else f"{v:.6g}" for v in row[2:]])
    print(f"CSV: {csv_path}")
    for line in known_answers:
        print(line)
    write_profile(outdir, scenarios, per)
    plot(outdir, pcts)
    if max_extra is not None or max_truth_error is not None:
        verdicts = hot_share_verdicts(rows, max_extra, max_truth_error)
        for ok, message in verdicts:
            print(f"{'ok' if ok else 'FAIL'}: {message}")
        if not verdicts or not all(ok for ok, _ in verdicts):
            sys.exit(1)


def write_profile(outdir, scenarios, per, top=8):
    """Where kdamond's instructions go: per scenario, the functions with the largest
    median share on either kernel (printed), and every function's (profile.csv)."""
    shares = {}  # (scenario, kernel) -> {symbol: median share}
    per_call = {}  # (scenario, kernel) -> {symbol: median instructions per call}
    for s in scenarios:
        for k in KERNELS:
            runs = [f["_profile"] for f in per.get((k, s), []) if f.get("_profile")]
            if runs:
                symbols = {n for r in runs for n in r}
                shares[(s, k)] = {n: statistics.median(r.get(n, 0) for r in runs) for n in symbols}
            calls = [f["_per_call"] for f in per.get((k, s), []) if f.get("_per_call")]
            if calls:
                symbols = {n for r in calls for n in r}
                per_call[(s, k)] = {n: statistics.median(r[n] for r in calls if n in r) for n in symbols}
    if not shares:
        return
    path = os.path.join(outdir, "profile.csv")
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(("scenario", "kernel", "function", "share of kdamond's instructions",
                    "instructions per call"))
        for (s, k), by in sorted(shares.items()):
            for n, v in sorted(by.items(), key=lambda x: -x[1]):
                pc = per_call.get((s, k), {}).get(n)
                w.writerow((s, k, n, f"{v:.5f}", "" if pc is None else f"{pc:.1f}"))
    print("Where kdamond's instructions go (median share of the cost window, top functions):")
    for s in scenarios:
        ours, theirs = shares.get((s, "damon_stat"), {}), shares.get((s, "upstream"), {})
        if not ours and not theirs:
            continue
        names = sorted(set(ours) | set(theirs), key=lambda n: -max(ours.get(n, 0), theirs.get(n, 0)))[:top]
        print(f"  {s}")
        for n in names:
            print(f"    {n[:52]:52}  {100 * ours.get(n, 0):5.1f} %  {100 * theirs.get(n, 0):5.1f} %")
    print(f"Profile: {path}")


def hot_share_verdicts(rows, max_extra, max_truth_error=None):
    """The differential check. With the plugin's truth (max_truth_error set): in each
    scenario, damon_stat's share of memory reported accessed may be at most
    max_truth_error points off the truth of its own boot (median over the readings of
    the second half), upstream's error printed beside it; a module that reads nothing,
    or everything, as accessed is many points off. Without it: damon_stat's share may
    be at most max_extra points farther from the workload's design truth than
    upstream's. Returns [(ok, message)], one per scenario."""
    if max_truth_error is not None:
        verdicts = []
        for s, name, ours, upstream, _, _ in rows:
            if name != "hot share error vs plugin (points)":
                continue
            ok = not math.isnan(ours) and ours <= max_truth_error
            verdicts.append((ok, (
                f"{s}: damon_stat's hot share is {fmt(ours)} point(s) off the plugin's truth "
                f"(at most {max_truth_error:g}); upstream's {fmt(upstream)}")))
        return verdicts
    verdicts = []
    for s, name, ours, upstream, truth, _ in rows:
        if not name.startswith("hot share %"):
            continue
        if any(math.isnan(v) for v in (ours, upstream, truth)):
            verdicts.append((False, f"{s}: hot share missing (ours {fmt(ours)}, upstream "
                             f"{fmt(upstream)}, truth {fmt(truth)})"))
            continue
        our_error, upstream_error = abs(ours - truth), abs(upstream - truth)
        ok = our_error <= upstream_error + max_extra
        verdicts.append((ok, (
            f"{s}: hot share {fmt(ours)} % (off the truth {fmt(truth)} % by {fmt(our_error)}), "
            f"upstream's {fmt(upstream)} % (off by {fmt(upstream_error)}): ours at most "
            f"{max_extra:g} point(s) farther from the truth than upstream's")))
    return verdicts


def plot(outdir, pcts):
    """Draws the last reading's idle-time percentiles of both kernels, and the truth of
    the damon_stat boot where the plugin kept one, one panel per scenario, with gnuplot."""
    shown = [s for s in STAT_SCENARIOS if any((k, s) in pcts for k in KERNELS)]
    if not shown:
        return
    curves = [(k, f"with steps lw 2{'' if k == 'damon_stat' else ' dt 2'} title '{LABEL[k]}'") for k in KERNELS]
    curves.append(("damon_stat truth", "with steps lw 1 lc rgb 'black' title 'truth (plugin, damon_stat boot)'"))
    # One block per curve, each named: a missing curve shifts no other.
    data = os.path.join(outdir, "percentiles.dat")
    with open(data, "w") as f:
        for s in shown:
            for k, _ in curves:
                if pcts.get((k, s)):
                    f.write(f"# {s} {k}\n")
                    for i, v in enumerate(pcts[(k, s)]):
                        f.write(f"{i} {v / 1000:.3f}\n")
                    f.write("\n\n")
    svg = os.path.join(outdir, "idle-percentiles.svg")
    cols = 3
    rows = (len(shown) + cols - 1) // cols
    script = [
        f"set terminal svg size {cols * 420},{rows * 320} dynamic font 'sans,11'",
        f"set output '{svg}'",
        "set termoption noenhanced",
        f"set multiplot layout {rows},{cols} title 'Memory idle time percentiles at the end of each scenario (negative: accessed for that long)'",
        "set xlabel 'percentile of memory'",
        "set ylabel 'idle time (s)'",
        "set xrange [0:100]",
        "set grid",
        "set key top left",
    ]
    index = 0
    for s in shown:
        script.append(f"set title '{s}'")
        clauses = []
        for k, style in curves:
            if pcts.get((k, s)):
                clauses.append(f"'{data}' index {index} {style}")
                index += 1
        script.append("plot " + ", ".join(clauses))
    script.append("unset multiplot")
    subprocess.run(["gnuplot"], input="\n".join(script), text=True, check=True)
    print(f"Picture: {svg}")


if __name__ == "__main__":
    main()
