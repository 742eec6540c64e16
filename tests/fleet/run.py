# SPDX-License-Identifier: GPL-2.0
"""Fleet scenarios: a NUMA guest whose memory and CPUs come and go while damon_stat runs.

Boots the guest script tests/fleet/guest.sh through scripts/vm-run.sh on a machine shaped
like a fleet host: 2 NUMA nodes, 4 vCPUs, 6 GiB (so RAM lies below and above 4 GiB, in
several System RAM ranges), THP always, and slots for hot-added memory. QEMU's monitor
(QMP) listens on a unix socket; this runner follows the guest's serial output and acts
on its requests:

    fleet-request: ID dimm-add SIZE_MIB NODE   plug a pc-dimm of SIZE_MIB on NODE
    fleet-request: ID dimm-del                 unplug the DIMM plugged by an earlier ID

and answers each in the shared directory the guest mounts over virtio 9p (tag `fleet`),
as the file reply-ID: `ok ...` or `error ...`. The same directory carries the static
workload helper (tests/fleet/workload.c).

Usage: run.py KDIR MODULE  (run by scripts/check-fleet.sh with the pinned qemu.qmp)
"""

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from qemu.qmp import QMPClient

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

# The guest: two sockets of two CPUs, one NUMA node each, 3 GiB per node. On QEMU's pc
# machine 6 GiB puts 3 GiB below the PCI hole and 3 GiB above 4 GiB, so node 1 lies
# entirely above 4 GiB.
MEMORY = "6G,slots=4,maxmem=10G"
CPUS = "4,sockets=2,cores=2,threads=1"
CMDLINE = "transparent_hugepage=always"
NUMA_ARGS = [
    "-object", "memory-backend-ram,id=node0-ram,size=3G",
    "-object", "memory-backend-ram,id=node1-ram,size=3G",
    "-numa", "node,nodeid=0,cpus=0-1,memdev=node0-ram",
    "-numa", "node,nodeid=1,cpus=2-3,memdev=node1-ram",
]
TIMEOUT_S = int(os.environ.get("FLEET_TIMEOUT", "900"))

REQUEST = re.compile(r"fleet-request: (\d+) ([a-z-]+)((?: [0-9A-Za-z]+)*)")


def build_workload(share: Path) -> None:
    """Builds the workload helper, static: the guest has no C library."""
    cc = os.environ.get("CC", "clang")
    out = share / "fleet-workload"
    cmd = [cc, "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out),
           str(HERE / "workload.c")]
    if subprocess.run(cmd).returncode != 0:
        sys.exit(f"error: building the workload helper failed: {' '.join(cmd)}\n"
                 "A static C library is needed: run 'make setup' (libc6-dev)")


class Monitor:
    """The guest's QEMU, through QMP: the requests the guest script may make."""

    def __init__(self, socket_path: Path):
        self.socket_path = socket_path
        self.qmp: QMPClient | None = None

    async def client(self) -> QMPClient:
        if self.qmp is None:
            qmp = QMPClient("fleet")
            await qmp.connect(str(self.socket_path))
            self.qmp = qmp
        return self.qmp

    async def dimm_add(self, req_id: str, size_mib: str, node: str) -> str:
        """Plugs a pc-dimm; answers with its physical address and size (hex)."""
        qmp = await self.client()
        await qmp.execute("object-add", {
            "qom-type": "memory-backend-ram", "id": f"hot-ram-{req_id}",
            "size": int(size_mib) << 20})
        await qmp.execute("device_add", {
            "driver": "pc-dimm", "id": f"dimm-{req_id}",
            "memdev": f"hot-ram-{req_id}", "node": int(node)})
        for dev in await qmp.execute("query-memory-devices"):
            data = dev["data"]
            if data.get("id") == f"dimm-{req_id}":
                return f"ok 0x{data['addr']:x} 0x{data['size']:x}"
        return "error: the plugged DIMM is missing from query-memory-devices"

    async def dimm_del(self, dimm_req_id: str) -> str:
        """Unplugs a DIMM (an ACPI eject the guest must accept) and frees its memory."""
        qmp = await self.client()
        dimm = f"dimm-{dimm_req_id}"
        started = time.monotonic()
        with qmp.listener("DEVICE_DELETED") as listener:
            await qmp.execute("device_del", {"id": dimm})
            while True:
                event = await asyncio.wait_for(listener.get(), timeout=120)
                if event["data"].get("device") == dimm:
                    break
        await qmp.execute("object-del", {"id": f"hot-ram-{dimm_req_id}"})
        return f"ok removed after {time.monotonic() - started:.1f} s"

    async def handle(self, req_id: str, action: str, args: list[str]) -> str:
        try:
            if action == "dimm-add" and len(args) == 2:
                return await self.dimm_add(req_id, *args)
            if action == "dimm-del" and len(args) == 1:
                return await self.dimm_del(*args)
        except Exception as e:  # A failed request is the guest's to report, not a crash.
            return f"error: {type(e).__name__}: {e}"
        return f"error: unknown request '{action} {' '.join(args)}'"

    async def close(self) -> None:
        if self.qmp is not None:
            # QEMU has exited by now: the connection ends with EOF.
            with contextlib.suppress(EOFError):
                await self.qmp.disconnect()


async def run(kdir: str, module: str) -> int:
    with tempfile.TemporaryDirectory(prefix="damon_stat-fleet.") as tmp:
        work = Path(tmp)
        share = work / "share"
        share.mkdir()
        build_workload(share)
        socket_path = work / "qmp.sock"
        qemu_args = NUMA_ARGS + [
            "-qmp", f"unix:{socket_path},server=on,wait=off",
            "-virtfs", f"local,path={share},mount_tag=fleet,security_model=none",
        ]
        env = dict(os.environ, KDIR=kdir, MODULE=module, GUEST=str(HERE / "guest.sh"),
                   VM_MEM=MEMORY, VM_CPUS=CPUS, CMDLINE=CMDLINE,
                   VM_TIMEOUT=str(TIMEOUT_S), VM_QEMU_ARGS=" ".join(qemu_args))
        proc = await asyncio.create_subprocess_exec(
            str(REPO / "scripts" / "vm-run.sh"), env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        monitor = Monitor(socket_path)
        handled: set[str] = set()
        assert proc.stdout is not None
        async for raw in proc.stdout:
            line = raw.decode(errors="replace")
            sys.stdout.write(line)
            sys.stdout.flush()
            match = REQUEST.search(line)
            # The guest repeats a request until it sees the reply (a kernel message
            # may cut a line on the shared console): act on each ID once.
            if not match or match.group(1) in handled:
                continue
            req_id, action, args = match.group(1), match.group(2), match.group(3).split()
            handled.add(req_id)
            reply = await monitor.handle(req_id, action, args)
            print(f"fleet-host: request {req_id} ({action} {' '.join(args)}): {reply}",
                  flush=True)
            # Written whole, then renamed: the guest never reads half a reply.
            (share / f".reply-{req_id}").write_text(reply + "\n")
            (share / f".reply-{req_id}").rename(share / f"reply-{req_id}")
        status = await proc.wait()
        await monitor.close()
        return status


def main() -> int:
    if len(sys.argv) != 3:
        sys.exit("usage: run.py KDIR MODULE")
    started = time.monotonic()
    status = asyncio.run(run(sys.argv[1], sys.argv[2]))
    print(f"fleet: scenarios {'passed' if status == 0 else 'FAILED'} "
          f"(wall {time.monotonic() - started:.0f} s)", flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
