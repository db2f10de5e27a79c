"""What the perf scripts that measure in a child process share: holding it to one core
and one Arrow thread, reading its peak memory, and running it for one JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["high_water_kib", "one_core", "run_child"]


def high_water_kib() -> int:
    """This process's peak resident memory. Not ru_maxrss: across exec it keeps the
    parent's peak from before the fork (which had just built the data)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc/self/status")


def one_core() -> None:
    """Hold this process to one CPU and Arrow to one thread (one core, as on a device)."""
    import pyarrow as pa

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)


def run_child(script: str, *args: str) -> dict:
    """Run ``script --child ARGS`` and return the JSON its last line prints."""
    done = subprocess.run([sys.executable, script, "--child", *args],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])
