# SPDX-License-Identifier: GPL-2.0
"""bindings/link-mode.sh: how the build chooses between the kallsyms and linked modes."""

import os
import pathlib
import subprocess
import tempfile
import unittest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "bindings" / "link-mode.sh"
FUNCTIONS = [
    line.split("=", 1)[1]
    for line in (REPO / "bindings" / "allowlist").read_text().splitlines()
    if line.startswith("--allowlist-function=damon_")
    and not line.startswith("--allowlist-function=damon_stat_")
]


def symvers_line(name, owner="vmlinux"):
    return f"0x00000000\t{name}\t{owner}\tEXPORT_SYMBOL_GPL\t\n"


class LinkModeTest(unittest.TestCase):
    def run_script(self, exported, owner="vmlinux", forced=None):
        with tempfile.TemporaryDirectory() as kdir:
            lines = [symvers_line("printk", "vmlinux")]
            lines += [symvers_line(f, owner) for f in exported]
            pathlib.Path(kdir, "Module.symvers").write_text("".join(lines))
            env = dict(os.environ)
            env.pop("DAMON_STAT_LINK", None)
            if forced is not None:
                env["DAMON_STAT_LINK"] = forced
            return subprocess.run([str(SCRIPT), kdir], env=env, capture_output=True,
                                  text=True)

    def test_the_ten_functions_are_the_patchs(self):
        patch = (REPO / "patches" / "linux-6.12-export-damon.patch").read_text()
        exported = sorted(line[len("+EXPORT_SYMBOL_GPL("):-2]
                          for line in patch.splitlines()
                          if line.startswith("+EXPORT_SYMBOL_GPL("))
        self.assertEqual(len(FUNCTIONS), 10)
        self.assertEqual(sorted(FUNCTIONS), exported)

    def test_stock_kernel_is_kallsyms(self):
        result = self.run_script([])
        self.assertEqual((result.returncode, result.stdout), (0, "kallsyms\n"))

    def test_all_exported_is_linked(self):
        result = self.run_script(FUNCTIONS)
        self.assertEqual((result.returncode, result.stdout), (0, "linked\n"))

    def test_some_exported_is_an_error_naming_the_missing(self):
        result = self.run_script(FUNCTIONS[:-1])
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertIn(FUNCTIONS[-1], result.stderr)
        self.assertIn("linux-6.12-export-damon.patch", result.stderr)

    def test_exports_of_a_module_do_not_count(self):
        result = self.run_script(FUNCTIONS, owner="drivers/foo/foo")
        self.assertEqual(result.stdout, "kallsyms\n")

    def test_forced_modes(self):
        self.assertEqual(self.run_script(FUNCTIONS, forced="kallsyms").stdout, "kallsyms\n")
        self.assertEqual(self.run_script(FUNCTIONS, forced="auto").stdout, "linked\n")
        forced_linked = self.run_script([], forced="linked")
        self.assertEqual(forced_linked.returncode, 1)
        self.assertIn("damon_start", forced_linked.stderr)
        bad = self.run_script(FUNCTIONS, forced="yes")
        self.assertEqual(bad.returncode, 1)
        self.assertIn("DAMON_STAT_LINK=yes", bad.stderr)

    def test_missing_symvers_is_an_error(self):
        with tempfile.TemporaryDirectory() as kdir:
            result = subprocess.run([str(SCRIPT), kdir], capture_output=True, text=True)
        self.assertEqual(result.returncode, 1)
        self.assertIn("Module.symvers", result.stderr)


if __name__ == "__main__":
    unittest.main()
