# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The table of connection kinds and their fields, and the two wire forms of a connection.

One declaration per kind says which fields it has; one declaration per field says where the field
lives in each dialect of the API (v1: flat, `host`; 2.x: nested, `spec.database.host`) and whether it
is a secret. Everything else reads this table: the client turns what a server sends into the flat
form the modules compare (from_wire) and the flat form back into what the server takes (to_wire);
the connection model finds the secrets to mask in it. A kind the table does not have (a 2.x server
also holds `files`, `s3`, `snowflake` connections) is read, shown without its secrets and can be
deleted, but is never written.
"""

from __future__ import annotations

import re


class Field(object):
    """One field of a connection: its module option, where each dialect places it, whether it is a secret."""

    def __init__(self, name, v1=None, v2=None, option=None, secret=False, hint=None, implied_by=None, doc=None):
        self.name = name          # the option name (flat form)
        self.v1 = v1              # key in the v1 (flat) wire form; None: v1 has no such field
        self.v2 = v2              # key path in the 2.x (nested) wire form; None: 2.x has no such field
        self.option = dict(option or dict(type="str"), **(dict(no_log=True) if secret else {}))
        self.secret = secret
        self.hint = hint          # what to do instead, where a dialect has no such field
        # For a secret: when a connection holds one although the server does not show it - "always" (a password),
        # or when the named field has a value (an S3 secret key goes with an access key).
        self.implied_by = implied_by
        # Its documentation (the description of the option), for the fields that doc_fragments/connection.py does not
        # describe in prose: the doc fragment builds their entries from the table.
        self.doc = doc


class Kind(object):
    """A kind of connection: its fields, its default port, what creating one needs, the dialects that have it."""

    def __init__(self, name, fields, default_port=None, required=(), required_v1=(), dialects=("1", "2")):
        self.name = name
        self.fields = fields
        self.default_port = default_port
        self.required = tuple(required)          # needed to create one, in both dialects
        self.required_v1 = tuple(required_v1)    # needed only by v1 servers
        self.dialects = tuple(dialects)          # the API dialects whose servers hold this kind

    @property
    def field_names(self):
        return tuple(field.name for field in self.fields)

    def field(self, name):
        for field in self.fields:
            if field.name == name:
                return field
        return None


SSL_MODES = ("disabled", "require", "verify-ca", "verify-full")
# TLS settings of a database connection: PEM text or a file per certificate or key; client_key is the secret.
SSL_OPTION = dict(type="dict", options=dict(
    mode=dict(type="str", default="require", choices=list(SSL_MODES)),
    ca=dict(type="str"),
    ca_path=dict(type="path"),
    client_cert=dict(type="str"),
    client_cert_path=dict(type="path"),
    client_key=dict(type="str", no_log=True),
    client_key_path=dict(type="path", no_log=False),
), mutually_exclusive=[("ca", "ca_path"), ("client_cert", "client_cert_path"), ("client_key", "client_key_path")])


def _database_fields(with_schema):
    fields = [
        Field("host", "host", ("spec", "database", "host")),
        Field("port", "port", ("spec", "database", "port"), option=dict(type="int")),
        Field("username", "username", ("spec", "database", "username")),
        Field("password", "password", ("spec", "database", "password"), secret=True, implied_by="always"),
        Field("database", "database", ("spec", "database", "database")),
    ]
    if with_schema:
        # 2.x chooses the schema per stream: a connection has none there.
        fields.append(Field("schema", "schema", None,
                            hint="2.x chooses the schema per stream: remove schema from the connection, and create the "
                                 "schema with dbconvert.streams.dbcs_schema"))
    # TLS settings stay at the top level in both dialects; ssl.client_key is a secret (SSL_SECRET).
    fields.append(Field("ssl", "ssl", ("ssl",), option=SSL_OPTION))
    return fields


# One entry per kind: adding a kind is one entry here, its options' documentation in
# doc_fragments/connection.py and the role's argument spec (docs/extending.md).
KINDS = dict((kind.name, kind) for kind in (
    Kind("mysql", _database_fields(with_schema=False), default_port=3306,
         required=("host", "username", "password")),
    Kind("postgresql", _database_fields(with_schema=True), default_port=5432,
         required=("host", "username", "password"), required_v1=("database",)),
    Kind("files", [
        Field("base_path", None, ("spec", "files", "basePath"),
              doc="Directory on the DBConvert Streams server that the connection reads and writes (C(basePath)); the test "
                  "of the connection checks that it exists and that the server can write to it."),
    ], required=("base_path",), dialects=("2",)),
    Kind("s3", [
        Field("region", None, ("spec", "s3", "region"), doc="Region of the object store, for example C(us-east-1)."),
        Field("endpoint", None, ("spec", "s3", "endpoint"),
              doc="URL of an S3-compatible service, for example C(http://minio.internal:9000); leave it out for Amazon S3."),
        Field("bucket", None, ("spec", "s3", "scope", "bucket"),
              doc="Bucket the connection works in (its scope); the test of the connection lists it."),
        Field("prefix", None, ("spec", "s3", "scope", "prefix"), doc="Key prefix inside the bucket that the connection works under."),
        # An access key id is not a secret (it names the key, as a user name does).
        Field("access_key", None, ("spec", "s3", "credentials", "accessKey"), option=dict(type="str", no_log=False),
              doc="Access key id; leave the access and secret keys out to use the server's own credentials."),
        Field("secret_key", None, ("spec", "s3", "credentials", "secretKey"), secret=True, implied_by="access_key",
              doc="Secret access key that goes with the access key."),
        Field("session_token", None, ("spec", "s3", "credentials", "sessionToken"), secret=True,
              doc="Session token of temporary credentials."),
    ], required=("region",), dialects=("2",)),
))
# Kinds that 2.x servers hold and this collection reads but does not manage yet.
OTHER_KINDS = ("snowflake",)
ALL_KINDS = tuple(KINDS) + OTHER_KINDS


def fields_by_name():
    """Every field of every kind, once, in the table's order (the options of a connection)."""
    found = {}
    for kind in KINDS.values():
        for field in kind.fields:
            found.setdefault(field.name, field)
    return found


# The secret inside the ssl field of the database kinds.
SSL_SECRET = "client_key"
# Keys whose values are secrets in a connection of a kind the table does not describe.
SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|private_?key|client_?key|api_?key|passphrase)")
# Top-level keys of a connection object that are not fields of a kind.
IDENTITY = ("id", "name", "type", "created")


def kind_of(obj):
    """The Kind of a connection object (either form), or None for a kind the table does not describe."""
    return KINDS.get(str(obj.get("type") or "").lower())


def is_managed(obj):
    """True when the collection can compare and write connections of this object's kind."""
    return obj.get("type") is None or kind_of(obj) is not None


def is_nested(obj):
    """True when a connection object is in the 2.x form (its fields under `spec`)."""
    return isinstance(obj, dict) and isinstance(obj.get("spec"), dict)


def _get(obj, path):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _set(obj, path, value):
    for key in path[:-1]:
        obj = obj.setdefault(key, {})
    obj[path[-1]] = value


def from_wire(obj):
    """The flat form of a connection object the server sent, in either dialect.

    Fields of a known kind come out under their option names; keys the table does not know (such as
    `cloud_provider`) are kept as they are. A connection of a kind the table does not describe keeps
    its `spec` as sent (strip_secrets removes the secrets in it before anything is shown).
    """
    if not isinstance(obj, dict):
        return obj
    kind = kind_of(obj)
    nested = is_nested(obj)
    if kind is None:
        return dict(obj)
    placed = set(field.v2[0] if nested else field.v1 for field in kind.fields if (field.v2 if nested else field.v1))
    result = dict((key, value) for key, value in obj.items() if key not in placed)
    for field in kind.fields:
        value = _get(obj, field.v2) if nested and field.v2 else (obj.get(field.v1) if not nested and field.v1 else None)
        if value is not None:
            result[field.name] = value
    if result.get("type") is not None:
        result["type"] = str(result["type"]).lower()
    return result


def to_wire(body, nested):
    """The object to send for a flat connection body: flat for v1 servers, `spec.<kind>` for 2.x ones.

    A field the dialect does not have is refused by the caller before any request (see unsupported_fields);
    reaching it here is a bug, and it is never dropped silently.
    """
    kind = kind_of(body)
    if kind is None:
        return dict(body)  # no kind to place fields by: sent as it is (plan_changes never writes such a connection)
    wire = dict((key, body[key]) for key in IDENTITY if key in body and key != "created")
    for field in kind.fields:
        if field.name not in body:
            continue
        path = field.v2 if nested else ((field.v1,) if field.v1 else None)
        if path is None:
            raise ValueError("field %s has no place in the %s form" % (field.name, "2.x" if nested else "v1"))
        _set(wire, path, body[field.name])
    return wire


def unsupported_fields(fields, kind_name, nested):
    """The declared field names that the server's dialect cannot hold for this kind (for any kind that has
    the field, when the kind is not known yet)."""
    kinds = [KINDS[kind_name]] if kind_name in KINDS else list(KINDS.values())
    found = []
    for name in fields:
        places = [(field.v2 if nested else field.v1) for field in (kind.field(name) for kind in kinds) if field is not None]
        if places and all(place is None for place in places):
            found.append(name)
    return found


def secret_paths(obj):
    """The paths of the secrets in a flat connection: ("password",), ("ssl", "client_key"), and in a
    connection of a kind the table does not describe, every key that looks like a secret."""
    kind = kind_of(obj)
    if kind is not None:
        paths = [(field.name,) for field in kind.fields if field.secret]
        if kind.field("ssl") is not None:
            paths.append(("ssl", SSL_SECRET))
        return paths
    paths = []

    def walk(value, path):
        if isinstance(value, dict):
            for key, inner in value.items():
                if SECRET_KEY.search(str(key)):
                    paths.append(path + (key,))
                else:
                    walk(inner, path + (key,))

    walk(dict((k, v) for k, v in obj.items() if k not in IDENTITY), ())
    return paths


def without_paths(obj, paths):
    """A copy of a nested dict without the given key paths (the dicts on the way are copied, not changed)."""
    result = dict(obj)
    for path in paths:
        parent = result
        for key in path[:-1]:
            if not isinstance(parent.get(key), dict):
                parent = None
                break
            parent[key] = dict(parent[key])
            parent = parent[key]
        if parent is not None:
            parent.pop(path[-1], None)
    return result
