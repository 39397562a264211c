"""The HTTP load generator behind ``authward bench``, and the benchmarks' and tests' too.

One copy: `load` drives a URL with wrk when it is on the PATH, else with the small
Python generator here (raw HTTP/1.1 over keep-alive connections, which tires before the
server does: read its ratios as bounds). `exchange` is that generator's one request and
answer, for a harness that samples a load its own way. Only loopback is ever driven.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Load:
    """One load run against one URL."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx answers and socket errors
    tool: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux: nothing is pinned
        return []


def on_cpu(cpu: int | None) -> Callable[[], None] | None:
    """What a child process runs before it starts: stay on `cpu` (Linux; else nothing)."""
    if cpu is None or not hasattr(os, "sched_setaffinity"):
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def load(
    url: str,
    headers: dict[str, str],
    *,
    seconds: float,
    connections: int,
    cpu: int | None = None,
    body: bytes | None = None,
) -> Load:
    """Drive `url` over keep-alive connections for `seconds` (a POST of `body` if given):
    wrk when it is on the PATH and there is no body, else Python (in this process)."""
    if shutil.which("wrk") and body is None:
        return wrk(url, headers, seconds=seconds, connections=connections, cpu=cpu)
    return asyncio.run(python_load(url, headers, seconds, connections, body))


def wrk(
    url: str,
    headers: dict[str, str],
    *,
    seconds: float,
    connections: int,
    cpu: int | None = None,
    script: str | None = None,
    timeout: float = 10.0,
) -> Load:
    """Run wrk (one thread) and read its summary; `script` is an optional Lua file.

    A request unanswered after `timeout` seconds counts as an error (a socket timeout).
    """
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    command.append(f"--timeout={max(1, round(timeout))}s")
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", script]
    output = subprocess.run(  # noqa: S603
        [*command, url], stdout=subprocess.PIPE, text=True, check=True, preexec_fn=on_cpu(cpu)
    ).stdout
    return parse_wrk(output, max(1, round(seconds)))


_UNITS: Final = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)([a-z]+)", text)
    if found is None or found.group(2) not in _UNITS:
        raise RuntimeError(f"unexpected wrk duration {text!r}")
    return float(found.group(1)) * _UNITS[found.group(2)]


def parse_wrk(output: str, seconds: float) -> Load:
    """Read requests, duration, p50/p99 and errors from wrk's ``--latency`` summary."""
    done = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    if done is None:
        raise RuntimeError(f"unexpected wrk output: {output!r}")
    duration = _ms(done.group(2) + done.group(3)) / 1e3
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)", output, re.MULTILINE))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors is not None:
        errors += sum(int(n) for n in socket_errors.groups())
    return Load(
        requests=int(done.group(1)),
        seconds=duration or seconds,
        p50_ms=_ms(percentiles["50"]) if "50" in percentiles else float("nan"),
        p99_ms=_ms(percentiles["99"]) if "99" in percentiles else float("nan"),
        errors=errors,
        tool="wrk",
    )


async def python_load(
    url: str, headers: dict[str, str], seconds: float, connections: int, body: bytes | None = None
) -> Load:
    """Drive `url` from this process over `connections` keep-alive connections."""
    host, port, request = request_bytes(url, headers, body)
    latencies: list[float] = []
    started = time.perf_counter()
    until = started + seconds
    errors = await asyncio.gather(
        *(_connection(host, port, request, until, latencies) for _ in range(connections))
    )
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies) or [float("nan")]
    return Load(
        requests=len(latencies),
        seconds=elapsed,
        p50_ms=ordered[len(ordered) // 2] * 1e3,
        p99_ms=percentile_99(ordered) * 1e3,
        errors=sum(errors),
        tool="python",
    )


def request_bytes(
    url: str, headers: dict[str, str], body: bytes | None = None
) -> tuple[str, int, bytes]:
    """The host, port and raw HTTP/1.1 request (a GET, or a POST of `body`) for `url`."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    if body is not None:
        headers = {**headers, "Content-Length": str(len(body))}
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    method = "GET" if body is None else "POST"
    request = f"{method} /{path} HTTP/1.1\r\nHost: {host_port}\r\n{head}\r\n".encode()
    return host, int(port), request + (body or b"")


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> bool:
    """Send one request on a keep-alive connection and read its whole answer: True on 2xx."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    await reader.readexactly(int(length.group(1)) if length else 0)
    return head.startswith(b"HTTP/1.1 2")


def percentile_99(ordered: list[float]) -> float:
    """The 99th percentile of values sorted already (nearest rank, never past the end)."""
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def _connection(host: str, port: int, request: bytes, until: float, out: list[float]) -> int:
    reader, writer = await asyncio.open_connection(host, port)
    errors = 0
    try:
        while (began := time.perf_counter()) < until:
            ok = await exchange(reader, writer, request)
            out.append(time.perf_counter() - began)
            errors += not ok
    finally:
        writer.close()
    return errors


def median_load(loads: list[Load]) -> Load:
    """The run of median throughput, with the median latencies and every error of all."""
    middle = sorted(loads, key=lambda run: run.rps)[len(loads) // 2]
    return Load(
        requests=middle.requests,
        seconds=middle.seconds,
        p50_ms=statistics.median(run.p50_ms for run in loads),
        p99_ms=statistics.median(run.p99_ms for run in loads),
        errors=sum(run.errors for run in loads),
        tool=middle.tool,
    )
