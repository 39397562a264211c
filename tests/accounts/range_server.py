"""A local Pwned Passwords range server: `http.server` on 127.0.0.1, in a thread.

It answers ``GET /range/<prefix>`` with the lines it is given for that prefix, records
every request's path and headers, and can be made to hang (until released) to test the
client's timeout. Nothing here reaches the internet.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def sha1_hex(password: str) -> str:
    return hashlib.sha1(password.encode(), usedforsecurity=False).hexdigest().upper()


@dataclass
class RangeServer:
    """What the server answers, and what it was asked."""

    ranges: dict[str, list[str]] = field(default_factory=dict)  # prefix -> "SUFFIX:COUNT"
    status: int = 200
    body: bytes | None = None  # answered as it is, instead of a range
    hang: threading.Event | None = None  # set: answer; unset: hold the request
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def add(self, password: str, count: int) -> None:
        """Put `password`'s suffix in its range with `count` (0: a padding line)."""
        digest = sha1_hex(password)
        self.ranges.setdefault(digest[:5], []).append(f"{digest[5:]}:{count}")


def _handler(server: RangeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
            if server.hang is not None:
                server.hang.wait(timeout=60)
            prefix = self.path.rsplit("/", 1)[-1]
            if server.body is not None:
                payload = server.body
            else:
                payload = "\r\n".join(server.ranges.get(prefix, [])).encode()
            self.send_response(server.status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the test reads `requests`

    return Handler


@contextmanager
def range_server() -> Iterator[RangeServer]:
    """A running range server at ``server.url`` (``http://127.0.0.1:<port>/range/``)."""
    state = RangeServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/range/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state
    finally:
        if state.hang is not None:
            state.hang.set()  # let a held request finish before shutting down
        httpd.shutdown()
        httpd.server_close()
        thread.join()
