"""Declared connection sets for the reliability suite, their secrets, and the server's end state.

A declared connection is a dict of dbcs_connection options (what a playbook passes); the real
throwaway databases give host, port and user, every password is fresh, and some connections carry
an ssl block with a freshly generated client key, so that the secret scan has keys to look for too.
"""

import base64
import json
import secrets
from collections import Counter
from typing import Any, Iterable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from server_helpers import flat, items  # pylint: disable=import-error


def pem_key() -> str:
    """A fresh EC private key in PEM: an ssl client_key nobody has seen."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def declare(databases, prefix: str, count: int, ssl_every: int = 10) -> list[dict[str, Any]]:
    """`count` connections named PREFIX-000..., PostgreSQL and MariaDB alternately; every
    `ssl_every`-th carries ssl with a client key (0: none)."""
    result = []
    for i in range(count):
        if i % 2 == 0:
            conn = dict(type="postgresql", host=databases.pg_host, port=databases.pg_port,
                        username=databases.pg_user, database=databases.pg_database)
        else:
            conn = dict(type="mysql", host=databases.my_host, port=databases.my_port, username=databases.my_user)
        conn.update(name="%s-%03d" % (prefix, i), password="pw-" + secrets.token_urlsafe(12))
        if ssl_every and i % ssl_every == ssl_every - 1:
            conn["ssl"] = dict(mode="require", client_key=pem_key())
        result.append(conn)
    return result


def secret_forms(value: str) -> set[str]:
    """The forms a secret can leak in: as is, JSON-escaped, base64 (how ssl files travel) and, for a
    multi-line PEM, each line of its body (a log may print it with escaped line breaks)."""
    forms = {value, json.dumps(value)[1:-1], base64.b64encode(value.encode()).decode()}
    if "\n" in value:
        forms.update(line for line in value.splitlines() if len(line) >= 16 and not line.startswith("-----"))
    return {form for form in forms if len(form) >= 6}


def secrets_of(connections: Iterable[dict[str, Any]], *keys: str) -> set[str]:
    """Every secret of the declared connections (passwords, ssl client keys) and the given API keys."""
    found = set()
    for value in keys:
        found |= secret_forms(value)
    for conn in connections:
        if conn.get("password"):
            found |= secret_forms(conn["password"])
        key = (conn.get("ssl") or {}).get("client_key")
        if key:
            found |= secret_forms(key)
    return found


def server_connections(api, **kwargs) -> list[dict[str, Any]]:
    """Every connection the key holds, in full (the list may be a summary) and in the flat form whatever the
    server's dialect (v1 array, 2.x {"items": [...]} of objects under spec); kwargs go to each request."""
    listed = api.get("/connections", **kwargs)
    assert listed.status_code == 200, listed.text
    full = []
    for entry in items(listed.json()):
        answer = api.get("/connections/%s" % entry["id"], **kwargs)
        assert answer.status_code == 200, answer.text
        full.append(flat(answer.json()))
    return full


def duplicates(connections: list[dict[str, Any]]) -> dict[str, int]:
    """Names held more than once."""
    return {name: n for name, n in Counter(c["name"] for c in connections).items() if n > 1}


def mismatches(declared: list[dict[str, Any]], held: list[dict[str, Any]], compare_passwords: bool = True) -> list[str]:
    """How the server's connections differ from the declared set (empty: exactly the declared set).

    Every declared present connection must be held once with the declared fields, and nothing else.
    """
    problems = []
    wanted = {c["name"]: c for c in declared if c.get("state", "present") == "present"}
    by_name: dict[str, list] = {}
    for conn in held:
        by_name.setdefault(conn["name"], []).append(conn)
    for name in sorted(set(by_name) - set(wanted)):
        problems.append("not declared but held: %r" % name)
    for name, spec in wanted.items():
        found = by_name.get(name, [])
        if len(found) != 1:
            problems.append("%r held %d times" % (name, len(found)))
            continue
        conn = found[0]
        for key in ("type", "host", "port", "username", "database", "schema"):
            if key in spec and (conn.get(key) or "") != (spec[key] or ""):
                problems.append("%r: %s is %r, declared %r" % (name, key, conn.get(key), spec[key]))
        if compare_passwords and "password" in conn and conn["password"] != spec["password"]:
            problems.append("%r: the password differs" % name)
        if "ssl" in spec:
            ssl = conn.get("ssl") or {}
            if ssl.get("mode") != spec["ssl"]["mode"]:
                problems.append("%r: ssl.mode is %r" % (name, ssl.get("mode")))
            if compare_passwords and "client_key" in ssl and \
                    base64.b64decode(ssl["client_key"]).decode() != spec["ssl"]["client_key"]:
                problems.append("%r: ssl.client_key differs" % name)
    return problems


def api_body(conn: dict[str, Any]) -> dict[str, Any]:
    """A declared connection as the v1 API takes it (for setting a server up without the modules; a 2.x server
    takes server.wire(api_body(conn)))."""
    body = {k: v for k, v in conn.items() if k not in ("state", "update_password", "ssl")}
    body.setdefault("database", "")
    if conn.get("ssl"):
        body["ssl"] = {k: base64.b64encode(v.encode()).decode() if k in ("ca", "client_cert", "client_key") else v
                       for k, v in conn["ssl"].items()}
    return body


def set_up(server, api, connections: Iterable[dict[str, Any]]) -> list[str]:
    """Create declared connections through the API, without the modules, in the server's dialect; their ids."""
    return [api.create(server.wire(api_body(conn)))["id"] for conn in connections]
