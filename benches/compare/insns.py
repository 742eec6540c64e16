# SPDX-License-Identifier: GPL-2.0
"""kdamond's cost in guest instructions, from the TCG plugin's output
(benches/tcg-plugin/) and the guest's serial log (benches/compare/guest.sh).

The plugin writes one `mark` line per marker the guest executed, with every vCPU's
instruction count, and after each profile marker the profiled vCPU's translation blocks
since the last one. The guest prints one `CMP-MARK scenario=S what=W` line per marker, in
the same order: the n-th of each belong together.

kdamond runs alone on vCPU 1 in the cost window (cost-begin to cost-end); vCPU 1's own
activity with monitoring off (idle-begin to idle-end, same scenario) is subtracted at its
rate. The damon_aggregated tracepoint, on during the cost window, gives the regions of
every aggregation window (CMP-WINDOW lines); each window is AGGR_SAMPLES samples of
every region.
"""

import bisect
import re

PROFILED_VCPU = 1
AGGR_SAMPLES = 20
SPIN_INSNS = 4  # instructions per pass of `workload spin`'s loop
# Functions whose instructions are the tracepoint's (and ftrace's ring buffer), not
# DAMON's: the tracepoint is on during the cost window only to count regions.
TRACING = re.compile(r"trace|ring_buffer|^rb_|^perf_|^__traceiter|^tracing_")
# Spinning on a lock that the other vCPU holds. Under TCG a vCPU is a host thread that the
# host may preempt while it holds a lock, so the spin's length follows the host's load,
# not the guest's work: left out of kdamond's figures and shown apart.
SPINNING = re.compile(r"^(native_|__pv_)?queued_(spin|read|write)_lock_slowpath$|^osq_lock$")


class PluginError(Exception):
    pass


def fields(line):
    return dict(re.findall(r"(\w+)=(\S+)", line))


def parse_plugin(path):
    """Returns ([mark, ...] in sequence order, {seq: [(vaddr, insns, execs)]})."""
    marks, profiles = [], {}
    with open(path) as f:
        for line in f:
            if line.startswith("mark "):
                d = fields(line)
                marks.append({
                    "seq": int(d["seq"]),
                    "tag": int(d["tag"]),
                    "ns": int(d["ns"]),
                    "insns": [int(v) for v in d["insns"].split(",")],
                })
            elif line.startswith("block "):
                d = fields(line)
                profiles.setdefault(int(d["seq"]), []).append(
                    (int(d["vaddr"], 16), int(d["insns"]), int(d["execs"])))
    for i, m in enumerate(marks):
        if m["seq"] != i:
            raise PluginError(f"{path}: marker {i} is numbered {m['seq']}")
    return marks, profiles


def parse_guest(path):
    """The guest's side: CMP-MARK names in order, CMP-WINDOW and CMP-COST lines per
    scenario, the module's symbols (CMP-KSYM) and the spin test's figures."""
    names, windows, costs, ksyms, spin = [], {}, {}, [], None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("CMP-MARK "):
                d = fields(line)
                names.append((d["scenario"], d["what"]))
            elif line.startswith("CMP-WINDOW "):
                d = fields(line)
                windows.setdefault(d["scenario"], []).append(
                    (float(d["len_ms"]), int(d["regions"])))
            elif line.startswith("CMP-COST "):
                d = fields(line)
                costs[d["scenario"]] = (int(d["ticks"]), float(d["elapsed"]))
            elif line.startswith("CMP-KSYM "):
                parts = line.split()
                if len(parts) >= 4:
                    ksyms.append((int(parts[1], 16), parts[3]))
            elif line.startswith("spin passes="):
                d = fields(line)
                spin = (int(d["passes"]), int(d["loop_insns"]), int(d["loop_vaddr"], 16))
    return names, windows, costs, ksyms, spin


class Symbols:
    """Maps a guest address to a function name: System.map's text symbols and the
    module's from the guest's /proc/kallsyms."""

    def __init__(self, system_map, ksyms=()):
        entries = []
        if system_map:
            with open(system_map) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3 and parts[1] in "tTwW":
                        entries.append((int(parts[0], 16), parts[2]))
        entries += [(a, "damon_stat::" + readable_rust(n)) for a, n in ksyms]
        entries.sort()
        self.addrs = [a for a, _ in entries]
        self.names = [n for _, n in entries]

    def name(self, addr):
        return self.lookup(addr)[0]

    def lookup(self, addr):
        """(function name, whether addr is its first instruction)."""
        if addr < 0x8000_0000_0000_0000:
            return "(user space)", False
        i = bisect.bisect_right(self.addrs, addr) - 1
        return (self.names[i], self.addrs[i] == addr) if i >= 0 else ("(unknown)", False)


def readable_rust(mangled):
    """The last two identifiers of a Rust v0 symbol (`Monitor::stop`), or the name."""
    if not mangled.startswith("_R"):
        return mangled
    idents, i = [], 2
    while i < len(mangled):
        m = re.match(r"(\d+)_?", mangled[i:])
        if not m:
            i += 1
            continue
        n = int(m.group(1))
        start = i + m.end()
        ident = mangled[start:start + n]
        # One-letter matches are pieces of the encoding (hashes, back-references).
        if n > 1 and len(ident) == n and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident):
            idents.append(ident)
            i = start + n
        else:
            i += m.end()
    return "::".join(idents[-2:]) if idents else mangled


def spin_check(names, marks, profiles, spin):
    """The plugin's known answer (workload spin N, pinned to vCPU 1): the vCPU's count
    grows by 4 N plus at most 1 % (its timer interrupts), and the loop's block ran
    exactly N - 1 times. Returns a message; raises PluginError when wrong."""
    where = {w: i for i, (s, w) in enumerate(names) if s == "plugin"}
    if spin is None or "spin-begin" not in where or "spin-end" not in where:
        raise PluginError("the guest ran no spin test")
    passes, loop_insns, loop_vaddr = spin
    b, e = marks[where["spin-begin"]], marks[where["spin-end"]]
    counted = e["insns"][PROFILED_VCPU] - b["insns"][PROFILED_VCPU]
    expected = SPIN_INSNS * passes
    execs = sum(x for a, n, x in profiles.get(e["seq"], []) if a == loop_vaddr and n == loop_insns)
    ok = expected <= counted <= expected * 1.01 and execs == passes - 1 and loop_insns == SPIN_INSNS
    message = (f"plugin known answer: vCPU {PROFILED_VCPU} counted {counted} instructions "
               f"for {passes} passes of a {SPIN_INSNS}-instruction loop (at least {expected}, "
               f"at most 1 % more), the loop's block ran {execs} times (exactly {passes - 1})")
    if not ok:
        raise PluginError(message)
    return message


def cost(log_path, plugin_path, system_map):
    """{scenario: figures} of one guest run, and the spin test's message."""
    names, windows, costs, ksyms, spin = parse_guest(log_path)
    marks, profiles = parse_plugin(plugin_path)
    if len(names) != len(marks):
        raise PluginError(f"{plugin_path}: {len(marks)} markers executed, but the guest "
                          f"named {len(names)} ({log_path})")
    message = spin_check(names, marks, profiles, spin)
    symbols = Symbols(system_map, ksyms)
    at = {}
    for (scenario, what), m in zip(names, marks):
        at[(scenario, what)] = m
    out = {}
    for scenario in {s for s, _ in names if s != "plugin"}:
        try:
            ib, ie = at[(scenario, "idle-begin")], at[(scenario, "idle-end")]
            cb, ce = at[(scenario, "cost-begin")], at[(scenario, "cost-end")]
        except KeyError:
            continue
        v = PROFILED_VCPU
        idle_rate = (ie["insns"][v] - ib["insns"][v]) / (ie["ns"] - ib["ns"])
        window_ns = ce["ns"] - cb["ns"]
        insns = ce["insns"][v] - cb["insns"][v] - idle_rate * window_ns
        f = {
            "insns_per_s": insns / (window_ns / 1e9),
            "idle_insns_per_s": idle_rate * 1e9,
        }
        # Windows with a length (the first has none: its start is unseen).
        w = [(ms, n) for ms, n in windows.get(scenario, []) if ms > 0]
        if w:
            region_samples = sum(n * AGGR_SAMPLES for _, n in w)
            seconds = sum(ms for ms, _ in w) / 1000
            f["regions_per_window"] = region_samples / AGGR_SAMPLES / len(w)
            f["region_samples_per_s"] = region_samples / seconds
            f["insns_per_region_sample"] = f["insns_per_s"] / f["region_samples_per_s"]
        # The window's profile less vCPU 1's idle activity at the idle window's rate.
        scale = window_ns / (ie["ns"] - ib["ns"])
        # Calls: executions of the block at a function's first instruction.
        by_symbol, calls = {}, {}
        for seq, sign in ((ce["seq"], 1), (ie["seq"], -scale)):
            for addr, n, execs in profiles.get(seq, []):
                name, entry = symbols.lookup(addr)
                by_symbol[name] = by_symbol.get(name, 0) + sign * n * execs
                if entry:
                    calls[name] = calls.get(name, 0) + sign * execs
        by_symbol = {s: c for s, c in by_symbol.items() if c > 0}
        total = sum(by_symbol.values())
        if total:
            f["tracing_share"] = sum(c for s, c in by_symbol.items() if TRACING.search(s)) / total
            f["spinning_share"] = sum(c for s, c in by_symbol.items() if SPINNING.search(s)) / total
            f["profile"] = {s: c / total for s, c in by_symbol.items()}
            # Instructions per call, where the function was entered at all.
            f["per_call"] = {s: by_symbol[s] / c for s, c in calls.items() if c > 0 and s in by_symbol}
        # Both cores look the sampled page's folio up with damon_get_folio() (about twice
        # per region-sample: to clear its Accessed bit, then to read it), and 6.12's
        # draws each sampling address with one __get_random_u32_below() call: exact
        # counts of the work, beside the tracepoint's regions.
        seconds = window_ns / 1e9
        if calls.get("damon_get_folio", 0) > 0:
            f["folio_lookups_per_s"] = calls["damon_get_folio"] / seconds
        if calls.get("__get_random_u32_below", 0) > 0:
            f["random_draws_per_s"] = calls["__get_random_u32_below"] / seconds
        if scenario in costs:
            ticks, elapsed = costs[scenario]
            f["ticks_per_min"] = ticks * 60 / elapsed
        out[scenario] = f
    return out, message
