# SPDX-License-Identifier: GPL-2.0
"""benches/compare/insns.py: kdamond's cost from the TCG plugin's counts and the guest's
log, and the plugin's known answer that every make compare boot checks."""

import importlib.util
import pathlib
import sys
import tempfile
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benches" / "compare"))
SPEC = importlib.util.spec_from_file_location("insns", REPO / "benches" / "compare" / "insns.py")
insns = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(insns)

PASSES = 1000
LOOP = 0x401CC0
KERNEL_FN = 0xFFFFFFFF81001000  # damon_pa_check_accesses in the System.map below
TRACE_FN = 0xFFFFFFFF81002000  # trace_event_raw_event_damon_aggregated


def plugin_output(spin_counted=4 * PASSES + 10, loop_execs=PASSES - 1, extra_mark=False):
    """Marks 0-1: the spin test; 2-3: idle window (vCPU 1 runs 1 M instructions/s);
    4-5: cost window of 2 s, 21 M instructions on vCPU 1."""
    s = 1_000_000_000
    marks = [
        (0, 2, 0, [5, 100]),
        (1, 2, s // 100, [6, 100 + spin_counted]),
        (2, 2, 10 * s, [50, 1_000_000]),
        (3, 2, 15 * s, [60, 6_000_000]),
        (4, 2, 20 * s, [70, 10_000_000]),
        (5, 2, 22 * s, [80, 31_000_000]),
    ]
    if extra_mark:
        marks.append((6, 1, 23 * s, [90, 32_000_000]))
    lines = ["# damon_stat TCG plugin: vcpus=2 profile_vcpu=1"]
    for seq, tag, ns, counts in marks:
        lines.append(f"mark seq={seq} tag={tag} vcpu=1 ns={ns} insns={','.join(map(str, counts))}")
        if seq == 1:
            lines.append(f"block seq=1 vcpu=1 vaddr={LOOP:#x} insns=4 execs={loop_execs}")
        if seq == 3:  # idle: 5 M instructions in the kernel function (5 s)
            lines.append(f"block seq=3 vcpu=1 vaddr={KERNEL_FN:#x} insns=5 execs=1000000")
        if seq == 5:  # cost: 2 M idle-like + 18 M DAMON + 1 M tracing
            lines.append(f"block seq=5 vcpu=1 vaddr={KERNEL_FN:#x} insns=10 execs=2000000")
            lines.append(f"block seq=5 vcpu=1 vaddr={TRACE_FN:#x} insns=10 execs=100000")
    return "\n".join(lines) + "\n"


GUEST_LOG = f"""\
spin passes={PASSES} loop_insns=4 loop_vaddr={LOOP:#x}
CMP-MARK scenario=plugin what=spin-begin
CMP-MARK scenario=plugin what=spin-end
CMP-MARK scenario=core-5ms what=idle-begin
CMP-MARK scenario=core-5ms what=idle-end
CMP-MARK scenario=core-5ms what=cost-begin
CMP-WINDOW scenario=core-5ms ts=1.0 len_ms=0 regions=50 access_bp=1 events=1 bytes=1
CMP-WINDOW scenario=core-5ms ts=1.1 len_ms=100.0 regions=100 access_bp=1 events=1 bytes=1
CMP-WINDOW scenario=core-5ms ts=1.2 len_ms=100.0 regions=100 access_bp=1 events=1 bytes=1
CMP-MARK scenario=core-5ms what=cost-end
CMP-COST scenario=core-5ms ticks=30 elapsed=2.00
"""

SYSTEM_MAP = """\
ffffffff81000000 T _stext
ffffffff81001000 t damon_pa_check_accesses
ffffffff81002000 t trace_event_raw_event_damon_aggregated
ffffffff81003000 T _etext
"""


class CostTest(unittest.TestCase):
    def run_cost(self, plugin=None, log=GUEST_LOG):
        with tempfile.TemporaryDirectory() as d:
            d = pathlib.Path(d)
            (d / "k.log").write_text(log)
            (d / "k.insns").write_text(plugin if plugin is not None else plugin_output())
            (d / "System.map").write_text(SYSTEM_MAP)
            return insns.cost(str(d / "k.log"), str(d / "k.insns"), str(d / "System.map"))

    def test_window_less_idle_rate(self):
        cost, message = self.run_cost()
        f = cost["core-5ms"]
        # 21 M in 2 s, less 1 M/s of idle activity: 19 M, 9.5 M/s.
        self.assertAlmostEqual(f["insns_per_s"], 9.5e6)
        self.assertAlmostEqual(f["idle_insns_per_s"], 1e6)
        # Two complete windows of 100 regions x 20 samples in 0.2 s.
        self.assertAlmostEqual(f["region_samples_per_s"], 20000)
        self.assertAlmostEqual(f["regions_per_window"], 100)
        self.assertAlmostEqual(f["insns_per_region_sample"], 475)
        # Profile less idle (5 M/s x 2 s x 0.2... = 2 M): 18 M DAMON, 1 M tracing.
        self.assertAlmostEqual(f["tracing_share"], 1 / 19)
        self.assertAlmostEqual(f["profile"]["damon_pa_check_accesses"], 18 / 19)
        self.assertAlmostEqual(f["ticks_per_min"], 900)
        self.assertIn("exactly 999", message)

    def test_known_answer_fails_on_a_miscount(self):
        for plugin in (plugin_output(spin_counted=4 * PASSES - 1),  # lost instructions
                       plugin_output(spin_counted=5 * PASSES),  # counted twice or more
                       plugin_output(loop_execs=PASSES)):  # the block counted once too often
            with self.assertRaises(insns.PluginError):
                self.run_cost(plugin)

    def test_markers_must_pair(self):
        with self.assertRaisesRegex(insns.PluginError, "7 markers executed, but the guest named 6"):
            self.run_cost(plugin_output(extra_mark=True))

    def test_no_spin_test_fails(self):
        log = "\n".join(line for line in GUEST_LOG.splitlines() if not line.startswith("spin "))
        with self.assertRaisesRegex(insns.PluginError, "no spin test"):
            self.run_cost(log=log)

    def test_rust_symbols_read(self):
        self.assertEqual(
            insns.readable_rust("_RNvMs_NtCs9lV2zyS1Wod_10damon_stat7controlNtB4_7Monitor4stop"),
            "Monitor::stop")
        self.assertEqual(insns.readable_rust("damon_pa_young"), "damon_pa_young")


if __name__ == "__main__":
    unittest.main()
