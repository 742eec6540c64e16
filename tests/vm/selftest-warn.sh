# SPDX-License-Identifier: GPL-2.0
# The harness fails a run whose kernel log shows a WARNING, even when the script
# exits 0. LKDTM provokes a real WARN_ON.
# vm-expect-status: 1
echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT
exit 0
