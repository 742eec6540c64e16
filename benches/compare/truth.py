# SPDX-License-Identifier: GPL-2.0
"""The TCG plugin's truth (benches/tcg-plugin/src/truth.rs) for `make compare`'s report.

With `truth_mib`, the plugin records when every 4 KiB guest-physical page was last
accessed, and writes on the guest's request:
- `truth n=N ms=MS window_ms=W pages=P hot_pages=H touches=T pct=... huge=F:C,...`:
  the true idle-time percentiles of the span DAMON_STAT monitors, in the form of
  `memory_idle_ms_percentiles`, the pages accessed within the aggregation interval W,
  the touches so far (a page once per sampling interval) and, per 2 MiB frame, how
  many of its 512 pages were accessed within W;
- `stamp ms=MS` and `page pfn=P ms=MS last_ms=L since_ms=S`: the known-answer test.
The guest prints one `CMP-TRUTH scenario=S t=T` line per truth it asked for, right after
the reading it goes with, and `CMP-TRUTH-TEST truth-test ... expect=...` for the test.
"""

import math
import re


class TruthError(Exception):
    pass


def fields(line):
    return dict(re.findall(r"(\w+)=(\S+)", line))


def parse_plugin(path):
    """Returns (reports, stamps, pages) of one plugin output file."""
    reports, stamps, pages = [], [], []
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("truth "):
                d = fields(line)
                huge = [] if d["huge"] == "-" else [tuple(int(x) for x in e.split(":")) for e in d["huge"].split(",")]
                reports.append({
                    "ms": int(d["ms"]),
                    "window_ms": int(d["window_ms"]),
                    "pages": int(d["pages"]),
                    "hot_pages": int(d["hot_pages"]),
                    "touches": int(d["touches"]),
                    "pct": [int(v) for v in d["pct"].split(",")],
                    "huge": huge,
                })
            elif line.startswith("stamp "):
                stamps.append(int(fields(line)["ms"]))
            elif line.startswith("page "):
                d = fields(line)
                if "last_ms" not in d:
                    raise TruthError(f"{path}: page {d.get('pfn')} is beyond the plugin's memory")
                pages.append((int(d["pfn"]), int(d["last_ms"])))
    return reports, stamps, pages


def known_answer(log_path, plugin_path):
    """Checks the known-answer test of one boot (see truth_test() in workload.c): every
    queried page's last access lies between the stamps its set says, exactly. Returns a
    message; raises TruthError when the plugin got it wrong."""
    expect = None
    with open(log_path, errors="replace") as f:
        for line in f:
            if line.startswith("CMP-TRUTH-TEST "):
                expect = fields(line)
    if expect is None:
        raise TruthError(f"{log_path}: the guest did not run the truth's known-answer test")
    _, stamps, pages = parse_plugin(plugin_path)
    sets = expect["expect"]
    if len(stamps) != 3 or len(pages) != len(sets):
        raise TruthError(f"{plugin_path}: {len(stamps)} stamps and {len(pages)} pages, "
                         f"the test made 3 and {len(sets)}")
    s0, s1, s2 = stamps
    bounds = {"a": (s0, s1), "b": (s1, s2), "c": (0, s0 - 1)}
    wrong = [(i, pfn, last, sets[i]) for i, (pfn, last) in enumerate(pages)
             if not bounds[sets[i]][0] <= last <= bounds[sets[i]][1]]
    if wrong:
        i, pfn, last, s = wrong[0]
        raise TruthError(f"{plugin_path}: {len(wrong)} of {len(pages)} pages wrong, the first "
                         f"page {i} (frame {pfn}, set {s}) last accessed at {last} ms, "
                         f"stamps at {s0}, {s1}, {s2} ms")
    huge_pfn = int(expect["huge_pfn"])
    touched = sum(1 for pfn, last in pages if huge_pfn <= pfn < huge_pfn + 512 and last >= s1)
    return (f"truth known answer: {len(pages)} pages each last accessed between the right "
            f"stamps, {touched} of the huge page's 512 accessed after the second")


def attach(log_path, plugin_path, runs):
    """Pairs the n-th truth report with the n-th CMP-TRUTH line of the log and stores
    each scenario's list in runs[scenario]["truth"], one per reading."""
    reports, _, _ = parse_plugin(plugin_path)
    names = []
    with open(log_path, errors="replace") as f:
        for line in f:
            if line.startswith("CMP-TRUTH scenario="):
                names.append(fields(line)["scenario"])
    if len(names) != len(reports):
        raise TruthError(f"{plugin_path}: {len(reports)} truth reports, but the guest asked "
                         f"for {len(names)} ({log_path})")
    for name, r in zip(names, reports):
        if name in runs:
            runs[name].setdefault("truth", []).append(r)


def slog(ms):
    """Signed log10 of a percentile in ms: idle times positive, accessed negative."""
    return math.copysign(math.log10(1 + abs(ms)), ms)


def capped(pct, ms):
    """The truth's percentiles with idle times capped at ms (the time DAMON has
    watched)."""
    return [min(v, int(ms)) if v > 0 else v for v in pct]


def percentile_errors(reported, true):
    """Mean and worst |slog(reported) - slog(true)| over p1..p100 (p0, like the hot share,
    is left out: it is the first region's value whatever its size), and the worst one's
    percentile."""
    diffs = [abs(slog(a) - slog(b)) for a, b in zip(reported[1:], true[1:])]
    worst = max(range(len(diffs)), key=lambda i: diffs[i])
    return sum(diffs) / len(diffs), diffs[worst], worst + 1


def bandwidths(reports):
    """True bytes per second between consecutive reports: 4 KiB per touch."""
    out = [math.nan]
    for a, b in zip(reports, reports[1:]):
        dt = (b["ms"] - a["ms"]) / 1000
        out.append((b["touches"] - a["touches"]) * 4096 / dt if dt > 0 else math.nan)
    return out


def huge_inflation(report):
    """Bytes DAMON counts hot when every 2 MiB frame with an accessed page is one huge page,
    over the bytes truly accessed: 512 at most (one byte of a huge page), 1 for 4 KiB
    pages or fully used huge pages."""
    frames = len(report["huge"])
    pages = sum(c for _, c in report["huge"])
    return frames * 512 / pages if pages else math.nan
