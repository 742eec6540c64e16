# SPDX-License-Identifier: GPL-2.0
# The harness reports the guest script's exit status.
# vm-expect-status: 3
echo "exiting with status 3 on purpose"
exit 3
