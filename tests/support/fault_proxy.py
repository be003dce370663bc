"""A fault-injecting HTTP proxy on 127.0.0.1, between the modules and a real dbcs-server.

The network faults a client of the Connection API meets in production (a gateway's 502/503/504, a
connection reset before or after the server did the work, an answer slower than the client's
timeout) cannot be produced on demand by a healthy local server, so this proxy makes them, by plan:

    plan = FaultPlan(seed=7, rate=0.3)                    # 30 % of API requests get a fault
    plan.force("POST", r"^/api/v1/connections$", "502", times=None)  # or script them exactly (also by the
                                                          # name in a create's body, or by tag)
    plan.outage(after=10, method="POST", seconds=10)      # or: everything fails for a while
    with FaultProxy(server.url, plan, delay=timeout + 1) as proxy:
        ... api_url=proxy.api_url ...
    proxy.faults        # Counter of the faults injected, by kind
    proxy.records       # one Record per request: method, path, name (of a create), fault, upstream status,
                        # the names of the headers it carried and its X-Confirm-Delete

Fault kinds:
  502, 503        answered by the proxy (an nginx-like HTML page); the server never sees the request
  504             forwarded, the server does the work, the proxy answers 504 (a gateway that gave up)
  reset_before    the connection is reset (RST) before anything is forwarded
  reset_after     forwarded, the server does the work, then the client's connection is reset
  delay           forwarded, the server does the work, the answer is held `delay` seconds (past the
                  client's timeout) and the connection is then closed without an answer

Random faults are decided per request from a hash of (seed, method, path, name of a create, how many
times that request was seen): the same plan gives the same faults to the same sequence of requests,
whatever the threads' timing. Requests may carry a tag as a path prefix (/t/<tag>/api/v1/...), which
the proxy strips and records, so that one proxy can tell which scenario sent what.

The proxy is transparent: every request header (X-API-Key, 2.x's X-Install-ID and X-Confirm-Delete, any
other) is forwarded as it came, and every answer header back, except the hop-by-hop ones, which belong
to each connection.
"""

import hashlib
import http.client
import json
import re
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULT_KINDS = ("502", "503", "504", "reset_before", "reset_after", "delay")
# Kinds after which the server has done the work although the client got no answer or an error.
FORWARDED_KINDS = frozenset(("504", "reset_after", "delay"))
WRITE_METHODS = frozenset(("POST", "PUT", "DELETE"))
HOP_BY_HOP = frozenset(("connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
                        "upgrade", "host", "content-length"))
TAG = re.compile(r"^/t/([^/]+)(/.*)$")
GATEWAY_PAGE = ("<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}"
                "</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n")
REASONS = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}


@dataclass
class Record:
    """One request the proxy received."""

    tag: str
    method: str
    path: str
    name: str | None            # the connection name in the body of a POST/PUT, when there is one
    fault: str | None
    status: int | None          # the upstream's status when the request was forwarded, else None
    headers: frozenset[str] = frozenset()  # the names of the request's headers, in lower case (never their values)
    confirm_delete: str | None = None      # its X-Confirm-Delete header

    @property
    def forwarded(self) -> bool:
        return self.status is not None

    @property
    def write(self) -> bool:
        return self.method in WRITE_METHODS


class FaultPlan:
    """Which request gets which fault: forced rules first (in order), then an outage window, then a
    seeded random share of the requests whose path matches `paths`."""

    def __init__(self, seed: int = 0, rate: float = 0.0, kinds: tuple[str, ...] = FAULT_KINDS,
                 paths: str = r"^/api/v1/"):
        unknown = set(kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {FAULT_KINDS}")
        self.seed = seed
        self.rate = rate
        self.kinds = tuple(kinds)
        self.paths = re.compile(paths)
        self._rules: list[dict] = []
        self._outage: dict | None = None
        self._seen: Counter = Counter()
        self._lock = threading.Lock()

    def force(self, method: str, path: str, kind: str, times: int | None = 1, name: str | None = None,
              tag: str | None = None) -> "FaultPlan":
        """Give the next `times` requests (None: every one) that match this fault: method ("*" for any),
        path regex, and when given the connection name of a create or update, and the tag."""
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self._rules.append(dict(method=method, path=re.compile(path), kind=kind, times=times, name=name, tag=tag))
        return self

    def outage(self, after: int, method: str, seconds: float, kind: str = "503") -> "FaultPlan":
        """From the `after`-th request with this method on, every request gets `kind` for `seconds`
        (an outage longer than the client's retries last, when seconds exceeds their sum)."""
        with self._lock:
            self._outage = dict(after=after, method=method, seconds=seconds, kind=kind, seen=0, until=None)
        return self

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()
            self._outage = None

    def fault_for(self, method: str, path: str, name: str | None, tag: str = "") -> str | None:
        with self._lock:
            for rule in self._rules:
                if (rule["method"] in ("*", method) and rule["path"].search(path) and rule["times"] != 0
                        and rule["name"] in (None, name) and rule["tag"] in (None, tag)):
                    if rule["times"] is not None:
                        rule["times"] -= 1
                    return rule["kind"]
            outage = self._outage
            if outage is not None:
                if outage["until"] is None and method == outage["method"]:
                    outage["seen"] += 1
                    if outage["seen"] >= outage["after"]:
                        outage["until"] = time.monotonic() + outage["seconds"]
                if outage["until"] is not None and time.monotonic() < outage["until"]:
                    return outage["kind"]
            if not self.rate or not self.paths.search(path):
                return None
            key = (method, path, name)
            self._seen[key] += 1
            occurrence = self._seen[key]
        digest = hashlib.sha256(f"{self.seed}|{method}|{path}|{name}|{occurrence}".encode()).digest()
        draw = int.from_bytes(digest[:8], "big") / 2 ** 64
        if draw >= self.rate:
            return None
        return self.kinds[int.from_bytes(digest[8:12], "big") % len(self.kinds)]


def _name_in(body: bytes) -> str | None:
    try:
        value = json.loads(body) if body else None
    except ValueError:
        return None
    return value.get("name") if isinstance(value, dict) and isinstance(value.get("name"), str) else None


class _Reset(Exception):
    """The handler reset the client's connection: stop handling it."""


class FaultProxy:
    """A threaded HTTP/1.1 proxy to one plain-HTTP upstream, injecting the faults its plan decides."""

    def __init__(self, upstream_url: str, plan: FaultPlan | None = None, delay: float = 5.0):
        parts = urlsplit(upstream_url)
        if parts.scheme != "http" or parts.hostname != "127.0.0.1":
            raise ValueError("the fault proxy forwards to plain http on 127.0.0.1 only")
        self.upstream = (parts.hostname, parts.port or 80)
        self.plan = plan or FaultPlan()
        self.delay = delay
        self.records: list[Record] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def api_url(self) -> str:
        return self.url + "/api/v1"

    def tagged_api_url(self, tag: str) -> str:
        return f"{self.url}/t/{tag}/api/v1"

    # -- figures -------------------------------------------------------------------------------------

    @property
    def faults(self) -> Counter:
        with self._lock:
            return Counter(r.fault for r in self.records if r.fault)

    def snapshot(self) -> list[Record]:
        with self._lock:
            return list(self.records)

    # -- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> "FaultProxy":
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread:
            self._thread.join(5)

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- the handler ---------------------------------------------------------------------------------

    def _forward(self, method: str, path: str, headers, body: bytes) -> tuple[int, str, list, bytes]:
        upstream = http.client.HTTPConnection(*self.upstream, timeout=120)
        try:
            sent = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
            sent["Content-Length"] = str(len(body))
            upstream.request(method, path, body=body, headers=sent)
            answer = upstream.getresponse()
            data = answer.read()
            kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP]
            return answer.status, answer.reason, kept, data
        finally:
            upstream.close()

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # the test's figures come from proxy.records
                pass

            def _reset(self):
                # SO_LINGER 0: close() sends RST, as a crashed peer or a middlebox would.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
                raise _Reset()

            def _send(self, status, reason, headers, data):
                self.send_response(status, reason)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                tag, path = "", self.path
                match = TAG.match(self.path)
                if match:
                    tag, path = match.group(1), match.group(2)
                name = _name_in(body) if self.command in ("POST", "PUT") else None
                fault = proxy.plan.fault_for(self.command, path.split("?", 1)[0], name, tag)
                record = Record(tag, self.command, path.split("?", 1)[0], name, fault, None,
                                frozenset(key.lower() for key in self.headers.keys()), self.headers.get("X-Confirm-Delete"))
                with proxy._lock:
                    proxy.records.append(record)
                if fault == "reset_before":
                    self._reset()
                if fault in ("502", "503"):
                    status = int(fault)
                    page = GATEWAY_PAGE.format(status=status, reason=REASONS[status]).encode()
                    self._send(status, REASONS[status], [("Content-Type", "text/html")], page)
                    return
                status, reason, headers, data = proxy._forward(self.command, path, self.headers, body)
                record.status = status
                if fault == "reset_after":
                    self._reset()
                if fault == "delay":
                    proxy._stopping.wait(proxy.delay)
                    self.close_connection = True
                    return
                if fault == "504":
                    page = GATEWAY_PAGE.format(status=504, reason=REASONS[504]).encode()
                    self._send(504, REASONS[504], [("Content-Type", "text/html")], page)
                    return
                self._send(status, reason, headers, data)

            def handle_one_request(self):
                try:
                    super().handle_one_request()
                except _Reset:
                    self.close_connection = True
                except (ConnectionError, TimeoutError, socket.timeout, BrokenPipeError):
                    self.close_connection = True

            def finish(self):
                try:
                    super().finish()
                except (OSError, ValueError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        return Handler
