"""Peak resident memory of the running process, for the benchmark scripts.

Read from /proc (VmHWM), not `ru_maxrss`: Linux keeps `ru_maxrss` across execve, so a
benchmark child started by a parent that trained a model would report the parent's peak.
"""

from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
