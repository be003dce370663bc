"""The stored connection, neutral to the API dialects: both wire formats convert to and from it.

A record is a connection's identity (id, name, type, created) and its document: `spec` (the
fields of its kind, as 2.x nests them under spec.<kind>), `ssl` (connection-level TLS) and
`schema` (v1's default schema of a PostgreSQL connection; 2.x has no such field). Secrets are
named by their dotted path in the document ("spec.password", "ssl.client_key", ...): the store
seals them apart from the rest, and answers leave them out when passwords are hidden.
"""

import copy
from dataclasses import dataclass
from typing import Any


@dataclass
class Record:
    name: str
    type: str
    spec: dict[str, Any]
    ssl: dict[str, Any] | None = None
    schema: str | None = None
    id: str = ""
    created: int = 0

    def document(self) -> dict[str, Any]:
        """Everything but the identity: what the store keeps as JSON (secrets split off first)."""
        document: dict[str, Any] = {"spec": self.spec}
        if self.ssl:
            document["ssl"] = self.ssl
        if self.schema is not None:
            document["schema"] = self.schema
        return document

    @classmethod
    def from_document(cls, document: dict[str, Any], **identity: Any) -> "Record":
        return cls(spec=document.get("spec", {}), ssl=document.get("ssl"), schema=document.get("schema"), **identity)

    def secret_values(self, paths: tuple[str, ...]) -> list[str]:
        """The secrets this record holds in clear (for scrubbing driver messages)."""
        found = pop_paths(self.document(), paths)[1]
        return [value for value in found.values() if isinstance(value, str) and value]


def pop_paths(document: dict[str, Any], paths: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a document into (the rest, {path: value}) for the dotted paths present in it."""
    rest = copy.deepcopy(document)
    taken: dict[str, Any] = {}
    for path in paths:
        *parents, leaf = path.split(".")
        node: Any = rest
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf in node:
            taken[path] = node.pop(leaf)
    return rest, taken


def put_paths(document: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """The document with each {path: value} set (parents made as needed)."""
    merged = copy.deepcopy(document)
    for path, value in values.items():
        *parents, leaf = path.split(".")
        node = merged
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return merged
