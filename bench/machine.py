"""Where the CPU went during a bench measurement, and whether other jobs shared the machine.

Cores busy per component, from /proc and getrusage: this process with its finished children
(the client, wrk included), named processes (gunicorn workers, redis-server) and everything
else on the machine ("other": other users' jobs, kernel threads, a VM's steal time). That says
what limits a ratio when it falls short, and whether the figures come from a quiet machine.
"""

from __future__ import annotations

import os
import resource
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Sequence, Tuple, TypeVar

TICKS = os.sysconf("SC_CLK_TCK")
QUIET_OTHER = 0.1  # cores other processes may use, on average, on a quiet machine
QUIET_PEAK = 0.25  # ... and in any one measurement

T = TypeVar("T")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def reaped_children_seconds() -> float:
    """CPU seconds of this process's finished children (wrk; servers run on till the end)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def system_busy_seconds() -> float:
    """CPU seconds all processes on this machine have used (from /proc/stat)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return (sum(values[:8]) - idle) / TICKS


def children(pid: int) -> List[int]:
    """Direct children of ``pid`` (gunicorn's workers)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                ppid = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


def cores_busy(
    run: Callable[[], T], groups: Dict[str, Sequence[int]]
) -> Tuple[T, Dict[str, float]]:
    """Call ``run``; its result and the cores each component kept busy meanwhile: "client" (this
    process and the children it reaped), each named group of pids, and "other"."""

    def snapshot() -> Dict[str, float]:
        taken = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}
        taken["client"] = cpu_seconds(os.getpid()) + reaped_children_seconds()
        return taken

    before, system_before = snapshot(), system_busy_seconds()
    start = time.perf_counter()
    result = run()
    elapsed = time.perf_counter() - start
    after, system = snapshot(), (system_busy_seconds() - system_before) / elapsed
    cores = {name: (after[name] - before[name]) / elapsed for name in before}
    cores["other"] = max(0.0, system - sum(cores.values()))
    return result, cores


@dataclass
class Quietness:
    """Whether a bench ran on a quiet machine: judged by the cores other processes used during
    each measurement; the load averages before and after are shown beside it (the one before
    also counts a bench run just before, so it does not decide)."""

    load_before: float = field(default_factory=lambda: os.getloadavg()[0])
    other: List[float] = field(default_factory=list)

    def note(self, cores: Dict[str, float]) -> None:
        self.other.append(cores["other"])

    def report(self) -> str:
        """One line: quiet or not, and why."""
        load_after = os.getloadavg()[0]
        mean = statistics.mean(self.other) if self.other else 0.0
        peak = max(self.other, default=0.0)
        quiet = mean <= QUIET_OTHER and peak <= QUIET_PEAK
        verdict = "quiet" if quiet else "NOT quiet"
        return (
            f"machine {verdict}: other processes used {mean:.2f} cores on average, {peak:.2f} "
            f"at most (quiet: <= {QUIET_OTHER} and <= {QUIET_PEAK}); load average "
            f"{self.load_before:.2f} before, {load_after:.2f} after (the bench's own included)"
        )
