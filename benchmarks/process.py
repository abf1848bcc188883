"""Time a command in a fresh process: wall seconds and the process's peak resident memory.

Peak RSS is the child's own high-water mark (`VmHWM` in /proc/PID/status, sampled until it exits), so each run
is measured on its own (imports, file reading and writing included, as a user running the command pays them).
Not `ru_maxrss` from `os.wait4`: Linux carries the parent's high-water mark into a child across exec, so a
runner that has itself grown would be reported as the child's peak.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    wall_s: float
    cpu_s: float  # user + system CPU time of the process (over both cores)
    peak_rss_mb: float
    stdout: str


def run_fresh(cmd: Sequence[str], env: dict[str, str] | None = None) -> Run:
    """Run `cmd` from the repository root in a new process; raise with its output when it fails."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(cmd), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert proc.stdout is not None
    peak_kb = [0]
    done = threading.Event()
    sampler = threading.Thread(target=_sample_hwm, args=(proc.pid, peak_kb, done), daemon=True)
    sampler.start()
    out = proc.stdout.read()  # drained before waiting so a chatty child never blocks on a full pipe
    done.set()
    sampler.join()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    proc.stdout.close()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with exit code {proc.returncode}:\n{out[-3000:]}")
    cpu = usage.ru_utime + usage.ru_stime
    return Run(wall_s=wall, cpu_s=cpu, peak_rss_mb=peak_kb[0] / 1024, stdout=out)


def _sample_hwm(pid: int, peak_kb: list[int], done: threading.Event, every_s: float = 0.02) -> None:
    """Keep the largest `VmHWM` of the process (a high-water mark: only the last `every_s` can be missed)."""
    status = Path(f"/proc/{pid}/status")
    while True:
        try:
            lines = status.read_text().splitlines()
        except OSError:
            return
        hwm = [int(line.split()[1]) for line in lines if line.startswith("VmHWM:")]
        if not hwm:  # exited: its memory is gone
            return
        peak_kb[0] = max(peak_kb[0], hwm[0])
        if done.wait(every_s):
            return


def repeated(
    cmd: Sequence[str],
    runs: int,
    budget_s: float,
    env: dict[str, str] | None = None,
    done: Sequence[Run] = (),
) -> list[Run]:
    """Fresh runs until there are `runs`, counting `done` (runs made before): the first always happens, each
    later one only if it should end, at the median time so far, within `budget_s` of this call."""
    out = list(done)
    started = time.perf_counter()
    while len(out) < runs:
        if out and time.perf_counter() - started + statistics.median(r.wall_s for r in out) > budget_s:
            break
        out.append(run_fresh(cmd, env))
    return out


def summary(done: list[Run], work: int | None = None) -> dict:
    """Median wall and CPU time (and `work` per second at the median wall time), each run's wall time, and the
    peak RSS: the highest over the runs and the median."""
    wall = statistics.median(r.wall_s for r in done)
    out: dict = {
        "runs": len(done),
        "median_wall_s": round(wall, 2),
        "wall_s": [round(r.wall_s, 2) for r in done],
        "median_cpu_s": round(statistics.median(r.cpu_s for r in done), 2),
        "peak_rss_mb": round(max(r.peak_rss_mb for r in done)),
        "median_peak_rss_mb": round(statistics.median(r.peak_rss_mb for r in done)),
    }
    if work is not None:
        out["per_s"] = round(work / wall)
    return out
