# SPDX-License-Identifier: GPL-2.0
"""benches/compare/truth.py: the known-answer test of the plugin's truth and the error
figures that make compare reports against it."""

import importlib.util
import math
import pathlib
import tempfile
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("truth", REPO / "benches" / "compare" / "truth.py")
truth = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(truth)


def plugin_output(page_times):
    lines = ["# damon_stat TCG plugin: vcpus=2 profile_vcpu=1 truth_mib=2048",
             "stamp ms=1000", "stamp ms=1300", "stamp ms=1600"]
    lines += [f"page pfn={pfn} ms=1900 last_ms={last} since_ms={last}" for pfn, last in page_times]
    return "\n".join(lines) + "\n"


class KnownAnswerTest(unittest.TestCase):
    def check(self, page_times, expect):
        with tempfile.TemporaryDirectory() as d:
            log, out = pathlib.Path(d, "damon_stat-1.log"), pathlib.Path(d, "damon_stat-1.insns")
            log.write_text(f"CMP-TRUTH-TEST truth-test stamps=3 pages={len(expect)} huge_pfn=512 expect={expect}\n")
            out.write_text(plugin_output(page_times))
            return truth.known_answer(str(log), str(out))

    def test_every_page_between_its_stamps(self):
        message = self.check([(1, 1100), (2, 1400), (512, 200), (513, 1500)], "abcb")
        self.assertIn("4 pages", message)
        self.assertIn("1 of the huge page's 512", message)

    def test_a_page_seen_too_late_fails(self):
        with self.assertRaisesRegex(truth.TruthError, "1 of 4 pages wrong"):
            self.check([(1, 1400), (2, 1400), (512, 200), (513, 1500)], "abcb")

    def test_a_missed_access_fails(self):
        # Set b's page was written after the second stamp, but the plugin saw nothing.
        with self.assertRaisesRegex(truth.TruthError, "set b"):
            self.check([(1, 1100), (2, 0), (512, 200), (513, 1500)], "abcb")

    def test_missing_queries_fail(self):
        with self.assertRaisesRegex(truth.TruthError, "the test made 3 and 5"):
            self.check([(1, 1100)], "abcbc")


class FiguresTest(unittest.TestCase):
    def test_percentile_errors_in_log_time(self):
        mean, worst, at = truth.percentile_errors([0] + [99] * 100, [0] + [9] * 99 + [-9])
        self.assertAlmostEqual(worst, 3)  # log10(100) + log10(10)
        self.assertEqual(at, 100)
        self.assertAlmostEqual(mean, (99 * 1 + 3) / 100)

    def test_capped_at_the_time_watched(self):
        self.assertEqual(truth.capped([-5, 10, 5000], 1000), [-5, 10, 1000])

    def test_bandwidth_counts_a_page_per_touch(self):
        reports = [{"ms": 1000, "touches": 10}, {"ms": 3000, "touches": 1010}]
        bw = truth.bandwidths(reports)
        self.assertTrue(math.isnan(bw[0]))
        self.assertEqual(bw[1], 1000 * 4096 / 2)

    def test_huge_inflation(self):
        # One page in each of two 2 MiB frames: 512 times; a full frame: 1.
        self.assertEqual(truth.huge_inflation({"huge": [(1, 1), (5, 1)]}), 512)
        self.assertEqual(truth.huge_inflation({"huge": [(1, 512)]}), 1)
        self.assertTrue(math.isnan(truth.huge_inflation({"huge": []})))


if __name__ == "__main__":
    unittest.main()
