# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A scripted HTTP server on 127.0.0.1 for the client's unit tests: real sockets, scripted answers."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_client import DbcsClient

CONN_ID = "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5"


class ScriptedServer(object):
    """Answers each (method, path) from a queue of (status, body, content_type); records every request."""

    def __init__(self):
        self.script = {}
        self.requests = []
        self.headers = []  # the headers of each request, in the order of self.requests
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?")[0]
                owner.requests.append((self.command, path, self.headers.get("X-API-Key"), body))
                owner.headers.append(dict(self.headers))
                queue = owner.script.get((self.command, path)) or [(200, {}, "application/json")]
                status, payload, kind = queue.pop(0) if len(queue) > 1 else queue[0]
                data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/api/v1" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def on(self, method, path, *answers):
        self.script[(method, "/api/v1" + path)] = [
            (a[0], a[1], a[2] if len(a) > 2 else "application/json") for a in answers]

    def calls(self, method=None):
        return [(m, p) for m, p, _k, _b in self.requests if method is None or m == method]

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def client_for(server, **kwargs):
    kwargs.setdefault("backoff", 0.001)
    return DbcsClient(server.url, "the-key", **kwargs)
