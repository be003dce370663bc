"""dbcs-server: command line, then uvicorn."""

import argparse
import logging
import os
import socket
import sys
from pathlib import Path

from dbcs_server import __version__
from dbcs_server.settings import API_VERSIONS, Settings, default_data_dir

V1_ONLY_OPTIONS = ("strict_configs", "list_summary", "sparse_create")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="dbcs-server",
        description="Local DBConvert Streams Connection API server. API keys come from --api-key and from "
        "the DBCS_API_KEYS environment variable (comma-separated); at least one is needed.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8020,
                        help="port to listen on; 0: a free port the system picks (default: %(default)s)")
    parser.add_argument("--port-file", type=Path, default=None, metavar="FILE",
                        help="once listening, write the port to FILE (how a caller of --port 0 learns it)")
    parser.add_argument("--api-version", default=os.environ.get("DBCS_API_VERSION", "2"), metavar="{1,2}",
                        help="the API dialect to serve: 2 (2.x servers, what users run today) or 1 (the documented"
                        " v1 API); also DBCS_API_VERSION (default: 2)")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help=f"where the database and secret.key live (default: {default_data_dir()})")
    parser.add_argument("--api-key", action="append", default=[], metavar="KEY",
                        help="an accepted API key (repeatable); prefer DBCS_API_KEYS, which ps does not show")
    parser.add_argument("--strict-configs", action="store_true",
                        help="v1 only: connection routes answer 409 until the key has called GET /user/configs")
    parser.add_argument("--hide-passwords", action="store_true",
                        help="never return secrets (passwords, ssl.client_key, s3 secretKey and sessionToken)")
    parser.add_argument("--list-summary", action="store_true",
                        help="v1 only: GET /connections returns only id, name, type, host, port per item")
    parser.add_argument("--sparse-create", action="store_true",
                        help="v1 only: create and clone answer only {id, created}, like the vendor's v1 server")
    parser.add_argument("--db-timeout", type=float, default=5.0, metavar="SECONDS",
                        help="timeout for connecting to databases and object stores (default: %(default)s)")
    parser.add_argument("--allow-db-host", action="append", default=[], metavar="HOST",
                        help="only connect to these database and s3 endpoint hosts (repeatable; default: any host)")
    parser.add_argument("--request-log", type=Path, default=None, metavar="FILE",
                        help="append one JSON line per request (time, method, path, status, duration_ms)")
    parser.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                        help="allow browser requests from this origin (repeatable)")
    parser.add_argument("--tls-cert", type=Path, default=None, metavar="FILE", help="serve HTTPS with this certificate")
    parser.add_argument("--tls-key", type=Path, default=None, metavar="FILE", help="private key for --tls-cert")
    parser.add_argument("--sse-heartbeat", type=float, default=15.0, metavar="SECONDS",
                        help="2.x: seconds between heartbeats on GET /logs/stream (default: %(default)s)")
    parser.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def settings_from(args: argparse.Namespace) -> Settings:
    env_keys = [k.strip() for k in os.environ.get("DBCS_API_KEYS", "").split(",")]
    keys = tuple(dict.fromkeys(k for k in [*args.api_key, *env_keys] if k))
    return Settings(
        api_keys=keys,
        api_version=int(args.api_version) if args.api_version in ("1", "2") else 0,
        data_dir=args.data_dir or default_data_dir(),
        strict_configs=args.strict_configs,
        hide_passwords=args.hide_passwords,
        list_summary=args.list_summary,
        sparse_create=args.sparse_create,
        db_timeout=args.db_timeout,
        request_log=args.request_log,
        cors_origins=tuple(args.cors_origin),
        allowed_db_hosts=tuple(args.allow_db_host),
        sse_heartbeat=args.sse_heartbeat,
    )


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here rather than by uvicorn so that the port it got is known.

    Made with proto IPPROTO_TCP (socket.create_server leaves it 0): asyncio sets TCP_NODELAY only on accepted
    sockets of that proto, and without it each answer's body, written after its headers, waited for the
    client's delayed ACK (Nagle): about 40 ms per request."""
    family, _type, _proto, _name, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def write_port_file(path: Path, port: int) -> None:
    """Written whole, then renamed: a reader finds no file or the complete port, never a partial one."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{port}\n")
    partial.replace(path)


def fail(message: str) -> int:
    print(f"dbcs-server: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = settings_from(args)
    if settings.api_version not in API_VERSIONS:
        return fail(f"--api-version (or DBCS_API_VERSION) must be 1 or 2, not '{args.api_version}'")
    if settings.api_version == 2:
        for name in V1_ONLY_OPTIONS:
            if getattr(settings, name):
                option = "--" + name.replace("_", "-")
                return fail(f"{option} imitates the v1 API; it has no meaning with --api-version 2"
                            " (leave it out, or serve v1 with --api-version 1)")
    if not settings.api_keys:
        return fail("no API key configured: pass --api-key KEY or set DBCS_API_KEYS=key1,key2")
    if not 0 < settings.sse_heartbeat <= 3600:
        return fail("--sse-heartbeat must be between 0 and 3600 seconds")
    if not 0 < settings.db_timeout <= 3600:
        return fail("--db-timeout must be between 0 and 3600 seconds")
    if bool(args.tls_cert) != bool(args.tls_key):
        return fail("--tls-cert and --tls-key go together")

    import uvicorn

    from dbcs_server.app import create_app
    from dbcs_server.install import InstallIdError
    from dbcs_server.secrets_box import SecretKeyError
    from dbcs_server.store import LayoutError

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s: %(name)s: %(message)s")
    try:
        app = create_app(settings)
    except (SecretKeyError, InstallIdError, LayoutError) as exc:
        return fail(str(exc))
    except OSError as exc:
        return fail(f"cannot use the data directory {settings.data_dir}: {exc.strerror or exc}")
    logging.getLogger("dbcs_server").info(
        "API %s, data in %s, %d API key(s)%s", "2.x" if settings.api_version == 2 else "v1", settings.data_dir,
        len(settings.api_keys), ", request log " + str(settings.request_log) if settings.request_log else "",
    )
    try:
        sock = listen(args.host, args.port)
    except OSError as exc:
        return fail(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}")
    port = sock.getsockname()[1]
    if args.port_file:
        write_port_file(args.port_file, port)
    logging.getLogger("dbcs_server").info(
        "listening on %s://%s:%d", "https" if args.tls_cert else "http", args.host, port)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame) -> None:
            app.state.events.close()  # open log streams end now, not after the graceful timeout
            super().handle_exit(sig, frame)

    server = Server(uvicorn.Config(
        app,
        log_level=args.log_level,
        access_log=False,  # it would print query strings; --request-log replaces it
        timeout_graceful_shutdown=5,  # a client that never finishes cannot hold up a stop
        ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
        ssl_keyfile=str(args.tls_key) if args.tls_key else None,
    ))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    return 0 if server.started else 1


if __name__ == "__main__":
    raise SystemExit(main())
