"""Benchmark the service over HTTP on 127.0.0.1, side by side with `mlflow models serve` of the same model.

Fits a bundle on the simulator's network, registers it in a throw-away MLflow store (as the pipeline does: the
bundle logged as a pyfunc), then serves that one registered version twice, each with one uvicorn worker:

- the service, `python -m serving` (`ETA_MODEL_URI=models:/NAME/1`, access log off), `POST /v1/quotes` with
  one shipping option;
- `mlflow models serve -m models:/NAME/1 --env-manager local`, `POST /invocations` with the same shipment as
  one contract record.

Two real load generators, from Debian's packages (installed with apt-get when missing and run as root):

- saturation: `wrk` (closed loop, CONNECTIONS connections), cycling through distinct requests;
- fixed rates: `h2load --rps` (open schedule per connection), each request's latency read from its log file,
  and the rate actually achieved checked against the one asked for.

The two servers take turns within each round, so both see the same neighbours on the machine; every figure is
the median of the rounds. Requests go to 127.0.0.1 only; each load lasts a fixed number of seconds and the
servers are stopped at the end.

    python -m benchmarks.serving_http [--shipments 100000] [--rounds 3] [--seconds 5] [--bundle DIR]

Prints a table and writes benchmarks/results/serving_http.json (also run by `make bench`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from benchmarks import record
from benchmarks.serving_inprocess import bundle_and_shipments, quote_body
from training.registry import OUTCOME_COLUMNS, jsonable, log_bundle

ROOT = Path(__file__).resolve().parents[1]
NAME = "serving_http"
MODEL_NAME = "eta-benchmark"
CONNECTIONS = 16  # wrk's connections at saturation
RATE_CONNECTIONS = 4  # h2load's connections at a fixed rate (each sends rate / 4 per second)
TOOLS = {"wrk": "wrk", "h2load": "nghttp2-client"}  # command -> Debian package
STEADY, LOW = 200, 20  # fixed rates: the target's, and one that `mlflow models serve` can carry too
TARGETS = {"throughput_rps": 500.0, "p99_ms_at_200_rps": 20.0, "throughput_ratio": 5.0}
LIBRARIES = ("uvloop", "httptools", "pydantic")  # beside those every result names (benchmarks.record)
SETUP_S = 40  # registering the model and starting both servers, roughly, on a quiet machine


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    bodies: list[str]
    headers: dict[str, str]


# ---- tools --------------------------------------------------------------------------------------------
def ensure_tools() -> dict[str, str]:
    """wrk and h2load on the PATH, installed from Debian's packages when missing; their versions."""
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        if shutil.which("apt-get") is None or os.geteuid() != 0:
            raise SystemExit(f"needs the Debian packages {' '.join(missing)} (apt-get install as root)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True, env=env)
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    h2 = subprocess.run(["h2load", "--version"], capture_output=True, text=True).stdout.strip()
    return {"wrk": " ".join(wrk.split()[:2]), "h2load": h2}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- the model and the two servers --------------------------------------------------------------------
def register(tmp: Path, shipments: int, seed: int, saved: Path | None) -> tuple[str, pd.DataFrame]:
    """Fit a bundle (or load a saved one), log it as a pyfunc and register it in a store under `tmp`; its URI
    and shipments to ask about (the test window, or freshly simulated ones for a saved bundle)."""
    bundle, test = bundle_and_shipments(shipments, seed, saved)
    before = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    try:
        experiment = mlflow.create_experiment("serving-benchmark", (tmp / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment):
            uri = log_bundle(bundle, test, register=MODEL_NAME)
    finally:
        mlflow.set_tracking_uri(before)  # the process's own store again (make bench runs on after this)
    return uri, test


def wait_until(url: str, ready: str, process: subprocess.Popen, log: Path, timeout_s: float = 180) -> None:
    """Poll `url` until its body contains `ready` (the process must stay alive meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = "\n".join(log.read_text().splitlines()[-20:])
            raise RuntimeError(
                f"{process.args[0]} exited with {process.returncode} before {url} answered:\n{tail}"
            )
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(url, timeout=2) as answer,
        ):
            if ready in answer.read().decode():
                return
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not answer {ready!r} within {timeout_s:.0f} s")


@contextlib.contextmanager
def serving(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A server process (in its own process group) stopped, with everything it started, on the way out."""
    with log.open("w") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield process
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=20)
            with contextlib.suppress(ProcessLookupError):  # whatever of the group is still there
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def service_env(tmp: Path, uri: str, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "ETA_MODEL_URI": uri,
        "ETA_DATABASE_URL": f"sqlite:///{tmp / 'eta.db'}",
        "ETA_HOST": "127.0.0.1",
        "ETA_PORT": str(port),
        "ETA_MODEL_POLL_SECONDS": "0",
        "ETA_ACCESS_LOG": "false",
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
    }


def api_key(env: dict[str, str]) -> str:
    command = [sys.executable, "-m", "serving", "create-key", "--name", "benchmark", "--scope", "quote"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


def contract_record(row: pd.DataFrame) -> dict:
    """One shipment as `mlflow models serve` takes it: a contract record as in the model's input example."""
    frame = jsonable(row.drop(columns=list(OUTCOME_COLUMNS), errors="ignore"))
    return json.loads(frame.to_json(orient="records"))[0]


# ---- load generators ----------------------------------------------------------------------------------
WRK_SCRIPT = """
wrk.method = "POST"
{headers}
local bodies = {{
{bodies}
}}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT {{\\"requests\\": %d, \\"duration_us\\": %d, \\"non_2xx\\": %d, \\"socket_errors\\": %d, "
    .. "\\"p50_us\\": %d, \\"p99_us\\": %d, \\"max_us\\": %d}}\\n",
    summary.requests, summary.duration, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def _lua_string(text: str) -> str:
    return f"[==[{text}]==]"


def saturate(server: Server, seconds: float, work: Path) -> dict:
    """wrk at saturation: requests/s, p50/p99 (ms) and errors."""
    script = work / f"{server.name}.lua"
    headers = "\n".join(
        f"wrk.headers[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in server.headers.items()
    )
    bodies = ",\n".join(_lua_string(b) for b in server.bodies)
    script.write_text(WRK_SCRIPT.format(headers=headers, bodies=bodies))
    command = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds:.0f}s", "--timeout", "10s", "-s", str(script)]
    out = subprocess.run([*command, server.url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"^RESULT (\{.*\})$", out, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    r = json.loads(match.group(1))
    return {
        "requests": r["requests"],
        "throughput_rps": round(r["requests"] / (r["duration_us"] / 1e6), 1),
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "max_ms": r["max_us"] / 1000,
        "errors": r["non_2xx"] + r["socket_errors"],
    }


def at_rate(server: Server, rate: int, seconds: float, body: str, work: Path) -> dict:
    """h2load at a fixed rate (RATE_CONNECTIONS connections, each `rate / RATE_CONNECTIONS` per second):
    the rate achieved, p50/p99 (ms) and errors, from the log of every request."""
    data, log = work / f"{server.name}.json", work / f"{server.name}-{rate}.log"
    data.write_text(body)
    log.unlink(missing_ok=True)
    per_connection = max(rate // RATE_CONNECTIONS, 1)
    headers = [arg for k, v in server.headers.items() for arg in ("-H", f"{k}: {v}")]
    command = ["h2load", "--h1", f"-c{RATE_CONNECTIONS}", f"--rps={per_connection}", f"-D{seconds:.0f}"]
    command += ["--warm-up-time=1", "-d", str(data), *headers, f"--log-file={log}", server.url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = np.loadtxt(log, dtype=np.int64, ndmin=2)  # start (µs since the epoch), status, duration (µs)
    started, status, spent = rows[:, 0], rows[:, 1], rows[:, 2] / 1000
    span_s = (started.max() - started.min()) / 1e6
    failed = re.search(r"(\d+) failed, \d+ errored, \d+ timeout", out)  # failed: HTTP errors included
    if failed is None:
        raise RuntimeError(f"h2load printed no request counts:\n{out}")
    return {
        "rate_asked": per_connection * RATE_CONNECTIONS,
        "rate_achieved": round(float((len(rows) - 1) / span_s), 1) if span_s > 0 else 0.0,
        "requests": len(rows),
        "p50_ms": round(float(np.percentile(spent, 50)), 3),
        "p99_ms": round(float(np.percentile(spent, 99)), 3),
        "max_ms": round(float(spent.max()), 3),
        "errors": max(int(failed.group(1)), int((status != 200).sum())),
    }


# ---- the run ------------------------------------------------------------------------------------------
def median_of(runs: list[dict]) -> dict:
    """Each figure's median over the rounds."""
    keys = [k for k, v in runs[0].items() if isinstance(v, int | float)]
    return {k: round(float(np.median([r[k] for r in runs])), 3) for k in keys}


def loads(server: Server) -> list[str]:
    """Saturation for both servers; the steady target rate only where it can be carried (the service)."""
    return ["saturation", f"{LOW} rps", *([f"{STEADY} rps"] if server.name == "service" else [])]


def run_load(server: Server, load: str, seconds: float, round_: int, work: Path) -> dict:
    if load == "saturation":
        return saturate(server, seconds, work)
    body = server.bodies[round_ % len(server.bodies)]
    return at_rate(server, int(load.split()[0]), seconds, body, work)


def measure_loads(servers: list[Server], rounds: int, seconds: float, work: Path) -> dict:
    """Every load on both servers in turn, `rounds` times; per load the medians and each round's figures."""
    runs: dict[str, dict[str, list[dict]]] = {s.name: {load: [] for load in loads(s)} for s in servers}
    for server in servers:  # warm-up: first requests fill the caches
        saturate(server, 2, work)
    for i in range(rounds):
        for server in servers:
            for load in loads(server):
                runs[server.name][load].append(run_load(server, load, seconds, i, work))
    return {
        name: {load: {"median": median_of(r), "rounds": r} for load, r in by_load.items()}
        for name, by_load in runs.items()
    }


def compare(results: dict) -> dict:
    ours, theirs = results["service"], results["mlflow models serve"]
    return {
        "throughput_ratio": round(
            ours["saturation"]["median"]["throughput_rps"] / theirs["saturation"]["median"]["throughput_rps"],
            1,
        ),
        **{
            f"p99_ratio_{load.replace(' ', '_')}": round(
                theirs[load]["median"]["p99_ms"] / ours[load]["median"]["p99_ms"], 1
            )
            for load in ("saturation", f"{LOW} rps")
        },
    }


def targets_met(results: dict, ratios: dict) -> dict:
    ours, theirs = results["service"], results["mlflow models serve"]
    sat, steady = ours["saturation"]["median"], ours[f"{STEADY} rps"]["median"]
    return {
        "throughput": sat["throughput_rps"] >= TARGETS["throughput_rps"],
        "p99_at_200_rps": steady["p99_ms"] <= TARGETS["p99_ms_at_200_rps"]
        and steady["rate_achieved"] >= 0.95 * STEADY,
        "vs_mlflow": ratios["throughput_ratio"] >= TARGETS["throughput_ratio"]
        and sat["p99_ms"] < theirs["saturation"]["median"]["p99_ms"],
    }


def serve_and_measure(tmp: Path, uri: str, test: pd.DataFrame, rounds: int, seconds: float, n: int) -> dict:
    """Both servers up from the registered model; the loads; both stopped."""
    rows = test.sample(min(n, len(test)), random_state=0)
    ours_port, theirs_port = free_port(), free_port()
    env = service_env(tmp, uri, ours_port)
    key = api_key(env)
    bin_dir = Path(sys.executable).parent  # mlflow starts `uvicorn` from the PATH, as in an active venv
    mlflow_cli, path = str(bin_dir / "mlflow"), f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    theirs_cmd = [mlflow_cli, "models", "serve", "-m", uri, "--env-manager", "local"]
    theirs_cmd += ["-h", "127.0.0.1", "-p", str(theirs_port), "-w", "1"]
    with (
        serving([sys.executable, "-m", "serving"], env, tmp / "service.log") as ours,
        serving(theirs_cmd, {**env, "PATH": path}, tmp / "mlflow.log") as theirs,
    ):
        wait_until(f"http://127.0.0.1:{ours_port}/readyz", '"loaded":true', ours, tmp / "service.log")
        wait_until(f"http://127.0.0.1:{theirs_port}/ping", "", theirs, tmp / "mlflow.log")
        records = [contract_record(rows.iloc[[i]]) for i in range(len(rows))]
        servers = [
            Server(
                "service",
                f"http://127.0.0.1:{ours_port}/v1/quotes",
                [json.dumps(quote_body(r)) for _, r in rows.iterrows()],
                {"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
            ),
            Server(
                "mlflow models serve",
                f"http://127.0.0.1:{theirs_port}/invocations",
                [json.dumps({"dataframe_records": [r]}) for r in records],
                {"Content-Type": "application/json"},
            ),
        ]
        return measure_loads(servers, rounds, seconds, tmp)


def measure(
    budget_s: float,
    shipments: int = 100_000,
    seed: int = 1,
    rounds: int = 3,
    seconds: float = 5,
    n_requests: int = 200,
    saved: Path | None = None,
) -> dict:
    """Loads of `seconds` each (shortened to stay within `budget_s` when one is given), `rounds` times."""
    started = time.perf_counter()
    tools = ensure_tools()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="eta-bench-http-") as name:
        tmp = Path(name)
        uri, test = register(tmp, shipments, seed, saved)
        setup_s = time.perf_counter() - started
        if budget_s > 0:  # 5 loads a round, a warm-up, and the servers' start
            left = budget_s - (time.perf_counter() - started) - SETUP_S / 2
            seconds = max(min(seconds, left / (5 * rounds + 2)), 2)
        results = serve_and_measure(tmp, uri, test, rounds, seconds, n_requests)
    ratios = compare(results)
    met = targets_met(results, ratios)
    report = {
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "versions": {lib: metadata.version(lib) for lib in LIBRARIES} | tools,
        "setup": {
            "model": f"{MODEL_NAME}/1, a bundle fitted on {shipments:,} simulated shipments"
            if saved is None
            else f"{MODEL_NAME}/1, the saved bundle {saved}",
            "register_s": round(setup_s, 1),
            "workers": 1,
            "rounds": rounds,
            "seconds_per_load": round(seconds, 1),
            "saturation": f"wrk -t1 -c{CONNECTIONS}, {n_requests} distinct one-option requests cycled",
            "fixed_rate": f"h2load --h1 -c{RATE_CONNECTIONS} --rps=rate/{RATE_CONNECTIONS}, "
            "one request body per round",
        },
        "targets": {**TARGETS, "met": met},
        "ratios": ratios,
        "results": results,
    }
    print(render(report))
    return report


def render(report: dict) -> str:
    setup, t, ratios = report["setup"], report["targets"], report["ratios"]
    met = t["met"]

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines = [
        f"One uvicorn worker each, both serving {setup['model']} from the same MLflow registry; one-option "
        f"requests on 127.0.0.1. Saturation: {setup['saturation']}; fixed rates: {setup['fixed_rate']} "
        f"(the rate achieved is shown). Medians of {setup['rounds']} rounds of "
        f"{setup['seconds_per_load']:g} s per load, the two servers taking turns.",
        "",
        "| server | load | requests/s | p50 ms | p99 ms | errors |",
        "|---|---|---|---|---|---|",
    ]
    for name, by_load in report["results"].items():
        for load, r in by_load.items():
            m = r["median"]
            rps = m.get("throughput_rps", m.get("rate_achieved"))
            cells = f"{rps:,.0f} | {m['p50_ms']:,.2f} | {m['p99_ms']:,.2f} | {m['errors']:,.0f}"
            lines.append(f"| {name} | {load} | {cells} |")
    lines += [
        "",
        f"Service / `mlflow models serve`: {ratios['throughput_ratio']:g}x the throughput at saturation; "
        f"p99 {ratios['p99_ratio_saturation']:g}x lower at saturation and "
        f"{ratios[f'p99_ratio_{LOW}_rps']:g}x lower at {LOW} requests/s.",
        "",
        f"Targets: >= {t['throughput_rps']:.0f} quotes/s at saturation ({verdict(met['throughput'])}); "
        f"p99 <= {t['p99_ms_at_200_rps']:.0f} ms at a steady {STEADY} requests/s "
        f"({verdict(met['p99_at_200_rps'])}); >= {t['throughput_ratio']:.0f}x the throughput of "
        f"`mlflow models serve` at a lower p99 ({verdict(met['vs_mlflow'])}).",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shipments", type=int, default=100_000, help="simulated shipments to train on")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3, help="rounds of every load on both servers (medians)")
    p.add_argument("--seconds", type=float, default=5, help="length of each load")
    p.add_argument("--requests", type=int, default=200, help="distinct requests cycled through")
    p.add_argument("--bundle", type=Path, help="serve this saved bundle instead of fitting one")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    report = measure(0.0, args.shipments, args.seed, args.rounds, args.seconds, args.requests, args.bundle)
    print(f"wrote {record.save(NAME, report, time.perf_counter() - started)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
