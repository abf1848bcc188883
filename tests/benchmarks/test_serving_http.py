"""The HTTP benchmark's load generators (wrk, h2load) against a live server on 127.0.0.1: what they report is
what the server answered."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from benchmarks.serving_http import Server, at_rate, ensure_tools, saturate

BODY = json.dumps({"options": [{"carrier": "c", "service": "s"}]})


async def echo(request: Request) -> JSONResponse:
    body = await request.json()
    authorized = request.headers.get("authorization") == "Bearer k"
    return JSONResponse(body, status_code=200 if authorized and body["options"] else 401)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    ensure_tools()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    app = Starlette(routes=[Route("/quotes", echo, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/quotes"
    server.should_exit = True
    thread.join(10)
    sock.close()


def server(url: str, key: str = "k") -> Server:
    return Server("echo", url, [BODY, BODY.replace('"c"', '"d"')], {"Authorization": f"Bearer {key}"})


def test_wrk_counts_the_requests_answered_and_their_latency(url: str, tmp_path: Path) -> None:
    figures = saturate(server(url), 1, tmp_path)
    assert figures["requests"] > 10 and figures["errors"] == 0
    assert figures["throughput_rps"] > 10 and 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]


def test_wrk_counts_answers_other_than_2xx_as_errors(url: str, tmp_path: Path) -> None:
    figures = saturate(server(url, key="wrong"), 1, tmp_path)
    assert figures["requests"] > 10 and figures["errors"] == figures["requests"]


def test_h2load_holds_the_rate_asked_and_reads_each_latency_from_its_log(url: str, tmp_path: Path) -> None:
    figures = at_rate(server(url), 40, 3, BODY, tmp_path)
    assert figures["rate_asked"] == 40 and 36 <= figures["rate_achieved"] <= 44
    assert 100 <= figures["requests"] <= 140 and figures["errors"] == 0
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]


def test_h2load_counts_answers_other_than_200_as_errors(url: str, tmp_path: Path) -> None:
    figures = at_rate(server(url, key="wrong"), 20, 2, BODY, tmp_path)
    assert figures["errors"] == figures["requests"] > 0
