"""The kinds of connection this server keeps: one entry each, and everything else follows from it.

An entry names the kind (the connection's `type`), its member of 2.x's `spec`, the paths of its
secrets (sealed at rest, left out of answers under --hide-passwords, scrubbed from messages),
the fields ?search= looks at besides the name, whether v1 speaks it, its driver (what ping,
databases, tables, create schema/database and stream runs do), and which member of a stream
configuration's target.spec a target of this kind takes. The request and answer bodies of each kind are
the models of the same spec key in models.py.
"""

from dataclasses import dataclass

from dbcs_server.drivers import Driver, FilesDriver, Limits, MySQLDriver, PostgresDriver, S3Driver

# Secrets every connection may hold, whatever its kind.
CONNECTION_SECRETS = ("ssl.client_key",)


@dataclass(frozen=True)
class Kind:
    name: str
    spec_key: str
    driver: type[Driver] = Driver
    secrets: tuple[str, ...] = ()  # dotted paths in the record's document, besides CONNECTION_SECRETS
    search: tuple[str, ...] = ()  # spec fields that ?search= matches, besides the name
    v1: bool = False  # the v1 dialect (flat fields) can carry it
    target_spec: str | None = None  # its member of a stream target's spec (db, files, s3); None: no target

    @property
    def secret_paths(self) -> tuple[str, ...]:
        return CONNECTION_SECRETS + self.secrets


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("mysql", "database", MySQLDriver, secrets=("spec.password",), search=("host",), v1=True,
             target_spec="db"),
        Kind("postgresql", "database", PostgresDriver, secrets=("spec.password",), search=("host",), v1=True,
             target_spec="db"),
        Kind("files", "files", FilesDriver, target_spec="files"),
        Kind("s3", "s3", S3Driver, secrets=("spec.credentials.secretKey", "spec.credentials.sessionToken"),
             target_spec="s3"),
        Kind("snowflake", "snowflake", secrets=("spec.password",)),
    )
}
V1_KINDS = tuple(name for name, kind in KINDS.items() if kind.v1)
SPEC_KEYS = tuple(dict.fromkeys(kind.spec_key for kind in KINDS.values()))


def kinds_with_spec(spec_key: str) -> tuple[str, ...]:
    return tuple(name for name, kind in KINDS.items() if kind.spec_key == spec_key)


def drivers(limits: Limits) -> dict[str, Driver]:
    """One driver per kind, for one server process."""
    return {name: kind.driver(name, kind.secret_paths, limits) for name, kind in KINDS.items()}


# The last part of every secret path: a refused value of such a field is never echoed in an error.
SECRET_FIELD_NAMES = frozenset(
    path.rsplit(".", 1)[-1] for kind in KINDS.values() for path in kind.secret_paths
)
