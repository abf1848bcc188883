"""Where a benchmark's figures live: `benchmarks/results/<name>.json`, each stamped with the machine, the
library versions and the time it was measured on, so every table states what it was measured on."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from importlib import metadata
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
LIBRARIES = (
    "numpy", "pandas", "pyarrow", "lightgbm", "scikit-learn", "mlflow", "fastapi", "uvicorn", "sqlalchemy",
    "dask",
)  # fmt: skip


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions() -> dict[str, str]:
    """Installed versions of the libraries the figures depend on (those not installed are left out)."""
    found = {"python": platform.python_version()}
    for lib in LIBRARIES:
        try:
            found[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            continue
    return found


def machine() -> dict:
    """The machine as it is now: cores, memory, CPU, OS, library versions and the 1-minute load average."""
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "versions": versions(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def save(name: str, results: dict, wall_s: float, directory: Path = RESULTS) -> Path:
    """Write one benchmark's results with the machine they were measured on and its own wall time."""
    envelope = {"benchmark": name, "measured_at": now(), "wall_s": round(wall_s, 1), "machine": machine()}
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    path.write_text(json.dumps({**envelope, "results": results}, indent=2) + "\n")
    return path


def load(name: str, directory: Path = RESULTS) -> dict | None:
    """A benchmark's stored results with their stamp, or None when it was never measured here."""
    path = directory / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def describe(m: dict) -> str:
    """One line naming a machine: `2 cores (AMD EPYC), 24 GiB, Linux…; Python 3.11.7, numpy 2.4.6, …`."""
    libs = ", ".join(f"{lib} {v}" for lib, v in m["versions"].items())
    return f"{m['cores']} cores ({m['cpu']}), {m['memory_gib']:g} GiB, {m['platform']}; {libs}"
