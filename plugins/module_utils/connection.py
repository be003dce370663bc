# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The desired-state model of a DBConvert Streams connection.

Pure logic, no HTTP: the options a user declares for one connection (CONNECTION_OPTIONS), their
validation and normalisation (ConnectionSpec), the comparison with what the server holds, the full
PUT body, the plan for a whole declared set (plan_changes), and the redaction of secrets from every
structure a module returns (redact, diff_view). One connection is a set of one: dbcs_connection and
dbcs_connections both plan through plan_changes.
"""

from __future__ import annotations

import base64
import hashlib
import re

from ansible_collections.dbconvert.streams.plugins.module_utils.kinds import (
    KINDS, fields_by_name, kind_of, is_managed, secret_paths, unsupported_fields, without_paths)

TYPES = tuple(KINDS)
SSL_FILES = ("ca", "client_cert", "client_key")
# The fields of a connection object that a client sends; everything else the server returns is ignored.
API_FIELDS = ("name", "type") + tuple(sorted(set(name for kind in KINDS.values() for name in kind.field_names)))
# Fields without which a list entry cannot be compared (the documented v1 list is only a summary); every full
# object has them in both dialects (a 2.x connection may have no database).
DETAIL_FIELDS = ("type", "host", "port", "username")
MASK = "********"
MASK_CHANGED = "******** (changed)"
# What a diff shows for a password the server does not return: there is one, the module cannot read it.
HIDDEN = "(not returned by the server)"
ID_PATTERN = re.compile(r"^conn_[0-9A-Za-z]{27}$")
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")

VERIFY_CHOICES = {"never": "never", "false": "never", "no": "never", "off": "never",
                  "on_change": "on_change", "true": "on_change", "yes": "on_change", "on": "on_change",
                  "always": "always"}

# The options of one connection: the top level of dbcs_connection, one item of dbcs_connections. The fields come
# from the table of kinds; the rest says what to do with them.
CONNECTION_OPTIONS = dict(
    [("name", dict(type="str", required=True)),
     ("state", dict(type="str", default="present", choices=["present", "absent"])),
     ("type", dict(type="str", choices=list(TYPES)))]
    + [(name, field.option) for name, field in fields_by_name().items()]
    + [("update_password", dict(type="str", default="always", choices=["always", "on_create"], no_log=False)),
       ("clone_from", dict(type="str"))])


class SpecError(ValueError):
    """Declared input that cannot work: the message names the option and says how to fix it."""


class MissingReference(SpecError):
    """A name or id that no connection on the server has. In check mode it may be one an earlier task would create."""


def assumed_warning(option, ref):
    """What a check-mode run says when it plans with a connection that does not exist yet."""
    return ("%s: no connection '%s' exists yet; check mode takes it to be one that an earlier task would create, and plans "
            "as if it existed. Without check mode this fails unless it exists by then" % (option, ref))


def normalise_verify(value, option="verify"):
    """verify accepts booleans (true = test after a change) and the words never, on_change, always."""
    key = str(value).strip().lower() if value is not None else "false"
    if key not in VERIFY_CHOICES:
        raise SpecError("%s must be true, false, 'on_change' or 'always', got %r" % (option, value))
    return VERIFY_CHOICES[key]


class ConnectionSpec(object):
    """One declared connection, validated and normalised; `fields` holds only what the user declared."""

    def __init__(self, params, where=""):
        self.where = where  # how messages name this item, e.g. "connections[3] " (empty for one connection)
        self.name = params["name"]
        self.state = params.get("state") or "present"
        self.update_password = params.get("update_password") or "always"
        self.clone_from = params.get("clone_from")
        self.fields = {}
        if not self.name or not self.name.strip():
            raise self.error("name", "must not be empty")
        if self.state == "absent":
            return  # a connection is deleted by whatever name it has
        if CONTROL_CHARACTER.search(self.name):
            # Almost always a YAML slip (a block scalar, | or >, ends with a line break), and it would create
            # a second connection that looks exactly like the first in every list.
            raise self.error("name", "must not contain control characters such as line breaks or tabs, got %r; a YAML "
                                     "block scalar (| or >) adds a line break at the end: write the name as a plain or "
                                     "quoted string" % self.name)
        for key in ["type"] + [name for name in fields_by_name() if name != "ssl"]:
            if params.get(key) is not None:
                self.fields[key] = params[key]
        port = self.fields.get("port")
        if isinstance(port, bool):
            # Ansible's int type lets a YAML boolean through as 1 or 0; the API refuses it.
            raise self.error("port", "must be a whole number between 1 and 65535, got %s" % port)
        if port is not None and not 1 <= port <= 65535:
            raise self.error("port", "must be between 1 and 65535, got %s" % port)
        foreign = foreign_fields(self.fields)
        if foreign:
            raise self.error(foreign[0], "is only valid for type %s; remove it from this %s connection" % (
                " or ".join(kinds_with(foreign[0])), self.fields["type"]))
        kind = kind_of(self.fields)
        for key in (kind.required if kind else ("host", "username")):
            # A field a kind needs must not be blank (a secret may be empty).
            if isinstance(self.fields.get(key), str) and not self.fields[key].strip() and not kind_field_secret(kind, key):
                raise self.error(key, "must not be empty")
        if params.get("ssl") is not None:
            self.fields["ssl"] = self._read_ssl(params["ssl"])
        if self.clone_from is not None and not self.clone_from.strip():
            raise self.error("clone_from", "must name an existing connection (by name or id)")

    def error(self, option, text):
        return SpecError("%s%s %s" % (self.where, option, text))

    def _read_ssl(self, ssl):
        result = {"mode": ssl.get("mode") or "require"}
        for key in SSL_FILES:
            content = ssl.get(key)
            path = ssl.get(key + "_path")
            if path:
                try:
                    with open(path, "rb") as handle:
                        content = handle.read()
                except (IOError, OSError) as exc:
                    raise self.error("ssl.%s_path" % key, "cannot be read: %s (%s)" % (path, exc.strerror or exc))
            if content:
                raw = content.encode("utf-8") if isinstance(content, str) else content
                if b"-----BEGIN" not in raw:
                    # The API's own form, base64 of the PEM text (as dbcs_connection_info returns it), is taken too.
                    raw = _pem_from_base64(raw)
                if raw is None:
                    where = "ssl.%s_path" % key if path else "ssl.%s" % key
                    raise self.error(where, "must be PEM (a '-----BEGIN ...' block), or base64 of PEM text as the API "
                                            "carries it")
                result[key] = base64.b64encode(raw).decode("ascii")
        return result

    def check_against(self, merged, creating, nested=False):
        """Validate the state the server will hold after the write; raises SpecError before any write.

        `nested` says the server speaks the 2.x form, where some fields are optional (database) or absent.
        """
        if creating:
            kind = kind_of(merged)
            missing = [] if kind is not None else ["type"]
            required = (kind.required + (() if nested else kind.required_v1)) if kind else ("host", "username", "password")
            for key in required:
                secret = kind.field(key).secret if kind else key == "password"
                # A secret may be empty; the other fields must have a value.
                if (key not in merged) if secret else not merged.get(key):
                    missing.append(key)
            if missing:
                raise SpecError("%sconnection '%s' does not exist yet: to create it, set %s" % (
                    self.where, self.name, ", ".join(missing)))
        foreign = foreign_fields(merged)
        if foreign:
            raise self.error(foreign[0], "is only valid for type %s; connection '%s' is %s" % (
                " or ".join(kinds_with(foreign[0])), self.name, merged["type"]))
        self.check_dialect(merged.get("type"), nested)

    def check_dialect(self, kind_name, nested):
        """Refuse declared fields that the server's dialect cannot hold (2.x connections have no schema), and kinds
        its servers do not have (files and s3 connections exist on 2.x servers only)."""
        kind = KINDS.get(kind_name)
        if kind is not None and ("2" if nested else "1") not in kind.dialects:
            raise self.error("type", "%s needs a server of the %s API (DBConvert Streams %s); this server speaks %s" % (
                kind_name, " or ".join("2.x" if d == "2" else "v1" for d in kind.dialects),
                "2.0 or later" if kind.dialects == ("2",) else "any version", "2.x" if nested else "v1"))
        for key in unsupported_fields(self.fields, kind_name, nested):
            hints = [kind.field(key).hint for kind in KINDS.values() if kind.field(key) is not None and kind.field(key).hint]
            hint = hints[0] if hints else "remove it"
            raise self.error(key, "cannot be set on this server: it speaks the %s API, where a connection has no %s; %s" % (
                "2.x" if nested else "v1", key, hint))


def kind_field_secret(kind, key):
    field = kind.field(key) if kind is not None else None
    return field.secret if field is not None else key == "password"


def kinds_with(key):
    """The kinds that have a field, in the table's order."""
    return [name for name, kind in KINDS.items() if kind.field(key) is not None]


def foreign_fields(fields):
    """The set fields that the connection's kind does not have (schema on a MySQL connection)."""
    kind = kind_of(fields)
    if kind is None:
        return []
    return [key for key in fields if key not in ("name", "type") and fields[key] not in (None, "") and kind.field(key) is None]


def normalise_server(obj):
    """The API fields of a connection as the server returned it, in comparable form."""
    result = {}
    for key in API_FIELDS:
        if key in obj and obj[key] is not None:
            result[key] = obj[key]
    if "type" in result:
        result["type"] = str(result["type"]).lower()
    if "port" in result:
        try:
            result["port"] = int(result["port"])
        except (TypeError, ValueError):
            pass
    if "ssl" in result:
        result["ssl"] = normalise_ssl(result["ssl"])
        if result["ssl"] is None:
            del result["ssl"]
    if result.get("schema") == "":
        del result["schema"]
    return result


def normalise_ssl(ssl):
    """SSL settings without empty values; none at all and mode 'disabled' alone mean the same."""
    if not isinstance(ssl, dict):
        return None
    result = dict((k, v) for k, v in ssl.items() if k in ("mode",) + SSL_FILES and v not in (None, ""))
    if not result or result == {"mode": "disabled"}:
        return None
    return result


def has_details(obj):
    """True when a list entry carries every field a comparison needs (a full object, not a summary).

    A connection of a kind the collection does not manage is never compared, so its entry is enough.
    """
    return not is_managed(obj) or all(key in obj for key in DETAIL_FIELDS)


class Change(object):
    """What one declared (or purged) connection needs: create, clone, update, delete or nothing."""

    def __init__(self, action, name, spec=None, current=None, body=None, changed_fields=(), changed_secrets=()):
        self.action = action            # "create", "clone", "update", "delete" or "none"
        self.name = name
        self.spec = spec
        self.current = current          # the server's object (normalised, with id), None when absent
        self.body = body                # the full object to send for create, clone and update
        self.changed_fields = list(changed_fields)
        self.changed_secrets = set(changed_secrets)  # "password", "ssl.client_key"
        self.source = None              # for clone: the source connection (normalised, with id once known)
        self.conn_id = current.get("id") if current else None
        self.failed = False             # set when carrying the change out failed
        self.undone = False             # set when the change was made, failed its test and was undone
        self.warning = None             # what the plan had to assume (check mode)

    @property
    def changed(self):
        return self.action != "none"

    @property
    def password_changed(self):
        return "password" in self.changed_secrets

    def previous_body(self):
        """The full object that restores the connection as it was before an update. A secret the server did not
        return is the one the update sent: the only one there is."""
        body = dict((k, v) for k, v in self.current.items() if k in API_FIELDS)
        for path in secret_paths(self.body):
            sent = _at(self.body, path)
            if sent is not None and _at(body, path) is None:
                if len(path) == 1:
                    body[path[0]] = sent
                elif isinstance(body.get(path[0]), dict):
                    body[path[0]] = dict(body[path[0]], **{path[1]: sent})
        return body

    def end_state(self):
        """The connection as it is after the change, secrets removed ({} when it does not exist)."""
        if self.undone or (self.failed and self.action != "delete"):
            # Not made, or made and undone: the server holds what it held (a failed create: nothing, unless the
            # create itself went through and only what followed failed).
            if self.current is None and not self.conn_id:
                return {}
            return strip_secrets(dict(self.current or self.body, id=self.conn_id))
        if self.action == "delete" or (self.action == "none" and self.current is None):
            return {}
        state = dict(self.body if self.body is not None else self.current)
        state["id"] = self.conn_id  # None for a create in check mode
        return strip_secrets(state)

    def diff(self):
        """before/after of the fields that matter, secrets masked; a create has an empty before."""
        after = {}
        if self.undone:
            after = diff_view(self.current) if self.current else {}
        elif self.action in ("create", "clone"):
            after = diff_view(self.body)
        elif self.action == "update":
            after = diff_view(self.body, self.changed_secrets)
        elif self.current is not None and self.action != "delete":
            after = diff_view(self.current)
        header = "connection '%s'" % self.name
        before = diff_view(self.current) if self.current else {}
        if before and is_managed(self.current) and "password" not in self.current:
            before["password"] = HIDDEN
            if after and "password" not in after:
                after["password"] = HIDDEN
        return {"before": before, "after": after, "before_header": header, "after_header": header}


def compare(spec, current):
    """The declared fields that differ from the server's connection, and the secrets that are sent changed.

    Only fields the user declared are compared: type case-insensitively (normalise_server lowers it),
    port as int, ssl as a whole. A secret the server returns is compared; one it hides counts as
    changed when update_password is always (the module cannot know, so it sends it), and neither is
    compared with on_create.
    """
    changed = []
    secrets = set()
    for key, wanted in spec.fields.items():
        if is_secret_field(current, key):
            if spec.update_password == "always" and current.get(key) != wanted:
                changed.append(key)
                secrets.add(key)
        elif key == "ssl":
            have = normalise_ssl(current.get("ssl")) or {"mode": "disabled"}
            want = normalise_ssl(wanted) or {"mode": "disabled"}
            if spec.update_password == "on_create":
                have.pop("client_key", None)
                want.pop("client_key", None)
            if have != want:
                changed.append(key)
                if want.get("client_key") != have.get("client_key"):
                    secrets.add("ssl.client_key")
        elif key in ("database", "schema"):
            if (current.get(key) or "") != (wanted or ""):
                changed.append(key)
        elif current.get(key) != wanted:
            changed.append(key)
    return changed, secrets


def build_body(spec, base):
    """The full object to PUT or POST: `base` (the server's fields, or a clone source) + declared fields.

    PUT replaces the whole object, so every field must be sent, even unchanged ones. A secret the
    declared spec does not send (or may not change) is carried over from the server; when the server
    does not return it, the declared value is the only one there is.
    """
    body = dict((k, v) for k, v in base.items() if k in API_FIELDS)
    for key, wanted in spec.fields.items():
        if spec.update_password == "on_create" and key in base and is_secret_field(base, key):
            continue
        if key == "ssl" and spec.update_password == "on_create":
            carried = (base.get("ssl") or {}).get("client_key")
            wanted = dict(wanted)
            if carried:
                wanted["client_key"] = carried
            body[key] = wanted
            continue
        body[key] = wanted
    body["name"] = spec.name
    kind = kind_of(body)
    if "port" not in body and kind is not None and kind.default_port:
        body["port"] = kind.default_port
    if "database" not in body and body.get("type") == "mysql":
        body["database"] = ""  # v1 requires the field; the vendor's web client sends it empty for MySQL
    return body


def missing_secrets(body):
    """The secrets a whole-connection write of this kind must carry but `body` lacks: a password always, an S3
    secret key with an access key."""
    kind = kind_of(body)
    return [field.name for field in (kind.fields if kind is not None else ()) if field.secret and field.implied_by and
            field.name not in body and (field.implied_by == "always" or body.get(field.implied_by) not in (None, ""))]


def is_secret_field(conn, key):
    """True when `key` is a secret scalar field of the connection's kind (password, secret_key)."""
    return kind_field_secret(kind_of(conn), key)


def index_by_name(connections):
    """Server connections grouped by exact, case-sensitive name."""
    by_name = {}
    for conn in connections:
        by_name.setdefault(conn.get("name"), []).append(conn)
    return by_name


def index_by_id(connections):
    """Server connections by id."""
    return dict((conn["id"], conn) for conn in connections if conn.get("id"))


def find_one(by_name, by_id, ref, option):
    """The single server connection that `ref` (a name or an id) names; SpecError when none or several."""
    if ref in by_id:
        return by_id[ref]
    matches = by_name.get(ref, [])
    if len(matches) > 1:
        raise SpecError("%s: %d connections are named '%s' (ids %s); name one by its id" % (
            option, len(matches), ref, ", ".join(sorted(m["id"] for m in matches))))
    if not matches:
        raise MissingReference("%s: no connection is named '%s' and none has that id" % (option, ref))
    return matches[0]


def plan_changes(specs, server, purge=False, nested=False, check_mode=False):
    """Plan the changes that make the server hold the declared specs.

    `server` is the list of the server's connections (flat form), each with every field the comparison
    needs (see has_details); `nested` says the server speaks the 2.x form; `check_mode` plans a clone of a
    source that does not exist yet (one an earlier task would create) instead of failing. Returns Change objects:
    declared connections in input order, then purges. Raises SpecError (before any write) for input
    that cannot work against this server. A connection of a kind the collection does not manage can be
    deleted (by state absent or purge) but is never updated or cloned.
    """
    by_name = index_by_name(server)
    by_id = index_by_id(server)
    planned = {}  # name -> body of connections this plan creates (clone sources may be among them)
    changes = []
    for spec in _sources_first(specs):
        matches = by_name.get(spec.name, [])
        if len(matches) > 1:
            raise SpecError("%sname: %d connections on the server are named '%s' (ids %s); delete the extra ones first" % (
                spec.where, len(matches), spec.name, ", ".join(sorted(m["id"] for m in matches))))
        current = _comparable(matches[0]) if matches else None
        if spec.state == "absent":
            changes.append(Change("delete" if current else "none", spec.name, spec, current))
            continue
        if current is not None and not is_managed(current):
            raise spec.error("name", "'%s' is a %s connection on the server, which this collection does not manage: "
                                     "change it in DBConvert Streams, or delete it first (state: absent)" % (
                                         spec.name, current.get("type")))
        if current is not None:
            changed, secrets = compare(spec, current)
            body = build_body(spec, current) if changed else None
            spec.check_dialect(current.get("type"), nested)
            if body is not None:
                spec.check_against(body, creating=False, nested=nested)
                for field in missing_secrets(body):
                    raise spec.error(field, "is needed to update connection '%s': the server does not return %ss and "
                                            "every update must send one" % (spec.name, field.replace("_", " ")))
                ssl = body.get("ssl") or {}
                if ssl.get("client_cert") and not ssl.get("client_key") and "password" not in current:
                    # The update replaces the whole connection: without its key the client certificate is useless.
                    raise spec.error("ssl", "is needed to update connection '%s': it has a client certificate, the server "
                                            "does not return its key, and every update must send it; declare ssl with "
                                            "client_key (or client_key_path)" % spec.name)
            changes.append(Change("update" if changed else "none", spec.name, spec, current, body, changed, secrets))
            continue
        source = None
        if spec.clone_from is not None:
            if spec.clone_from in planned:
                source = dict(planned[spec.clone_from])
            else:
                try:
                    source = _comparable(find_one(by_name, by_id, spec.clone_from, "%sclone_from" % spec.where))
                except MissingReference:
                    if not check_mode:
                        raise
                    change = Change("clone", spec.name, spec, None, build_body(spec, {}), sorted(spec.fields))
                    change.warning = assumed_warning("%sclone_from" % spec.where, spec.clone_from)
                    changes.append(change)
                    continue
                if not is_managed(source):
                    raise spec.error("clone_from", "'%s' is a %s connection, which this collection does not manage, "
                                                   "so it cannot be cloned" % (spec.clone_from, source.get("type")))
            if "password" not in source and "password" not in spec.fields:
                raise spec.error("password", "is needed to clone '%s': the server does not return its password, "
                                             "and the copy must be saved with one" % spec.clone_from)
        body = build_body(spec, source or {})
        spec.check_against(body, creating=True, nested=nested)
        change = Change("clone" if source else "create", spec.name, spec, None, body, sorted(body),
                        [key for key in ("password",) if key in body])
        change.source = source
        planned[spec.name] = body
        changes.append(change)
    position = dict((id(spec), index) for index, spec in enumerate(specs))
    changes.sort(key=lambda change: position[id(change.spec)])
    if purge:
        declared = set(spec.name for spec in specs)
        for conn in server:
            if conn.get("name") not in declared:
                changes.append(Change("delete", conn.get("name"), None, _comparable(conn)))
    return changes


def _sources_first(specs):
    """The specs in input order, except that a clone comes after the declared connection it copies."""
    index = dict((spec.name, i) for i, spec in enumerate(specs))
    order, placed = [], set()
    for start in range(len(specs)):
        chain, i = [], start
        while i is not None and i not in placed and i not in chain:
            chain.append(i)
            i = index.get(specs[i].clone_from)
        for i in reversed(chain):
            placed.add(i)
            order.append(specs[i])
    return order


def _comparable(conn):
    result = normalise_server(conn)
    result["id"] = conn.get("id")
    return result


def strip_secrets(obj):
    """A copy of a connection (or a list of them) without its secrets (password, ssl client key, and any
    secret of a kind the collection does not manage)."""
    if isinstance(obj, list):
        return [strip_secrets(item) for item in obj]
    if not isinstance(obj, dict):
        return obj
    return without_paths(obj, secret_paths(obj))


def redact(value, secrets=()):
    """Mask every occurrence of the given secret strings in any nested structure of strings.

    Where secrets overlap, the whole stretch any of them covers is masked. The cost grows with the length of
    the strings, not with the number of secrets (a converge of 1000 connections knows 1000 passwords)."""
    secrets = set(s for s in secrets if s)
    if not secrets:
        return value
    return _Masker(secrets).apply(value)


class _Masker(object):
    """Finds secrets in strings through an index of their first characters instead of one scan per secret."""

    def __init__(self, secrets):
        self.width = min(len(s) for s in secrets)
        self.starting = {}
        for secret in secrets:
            self.starting.setdefault(secret[:self.width], []).append(secret)

    def apply(self, value):
        if isinstance(value, dict):
            return dict((k, self.apply(v)) for k, v in value.items())
        if isinstance(value, (list, tuple)):
            return [self.apply(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def text(self, value):
        width, pieces, emitted, run = self.width, [], 0, None
        for start in range(len(value) - width + 1):
            for secret in self.starting.get(value[start:start + width], ()):
                if not value.startswith(secret, start):
                    continue
                end = start + len(secret)
                if run and start <= run[1]:
                    run[1] = max(run[1], end)
                    continue
                if run:
                    pieces.extend((value[emitted:run[0]], MASK))
                    emitted = run[1]
                run = [start, end]
        if run is None:
            return value
        pieces.extend((value[emitted:run[0]], MASK, value[run[1]:]))
        return "".join(pieces)


def secret_values(obj):
    """The secret strings a connection object carries (password, ssl client key and its decoded PEM, and
    every secret of a kind the collection does not manage)."""
    values = []
    if not isinstance(obj, dict):
        return values
    found = [_at(obj, path) for path in secret_paths(obj)]
    for value in _strings(found):
        values.append(value)
        if value.startswith("LS0t"):  # base64 of "-----BEGIN": a PEM key as the API carries it
            try:
                values.append(base64.b64decode(value).decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                pass
    return values


def _at(obj, path):
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _strings(value):
    """Every non-empty string in a nested structure."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _strings(item)]
    return []


def _pem_from_base64(raw):
    """The PEM text that `raw` is base64 of, or None when it is not."""
    try:
        decoded = base64.b64decode(b"".join(raw.split()), validate=True)
    except (ValueError, TypeError):
        return None
    return decoded if b"-----BEGIN" in decoded else None


def describe_certificates(encoded):
    """A certificate (or a bundle) by subject and SHA-256 fingerprint, for a diff: 'CN=ca.example (SHA256 1F:..)'.

    The API carries certificates as base64 of the PEM text; shown whole, one is a few thousand characters that
    nobody can compare by eye. The subject needs the cryptography library; without it the fingerprint says enough.
    """
    try:
        pem = base64.b64decode(encoded).decode("ascii")
    except (ValueError, TypeError, UnicodeDecodeError):
        return encoded
    blocks = re.findall(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", pem, re.DOTALL)
    described = []
    for label, body in blocks:
        try:
            der = base64.b64decode("".join(body.split()))
        except (ValueError, TypeError):
            return encoded
        fingerprint = ":".join("%02X" % byte for byte in bytearray(hashlib.sha256(der).digest()))
        subject = _subject(der) if label == "CERTIFICATE" else None
        described.append("%s (SHA256 %s)" % (subject or label.lower(), fingerprint))
    return "; ".join(described) or encoded


def _subject(der):
    try:
        from cryptography import x509  # pylint: disable=import-outside-toplevel
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except Exception:  # pylint: disable=broad-except
        return None  # no cryptography library, or not a certificate it can read: the fingerprint still identifies it


def diff_view(conn, changed_secrets=()):
    """The fields of a connection that a diff shows, secrets as a mask (marked when they are sent changed),
    certificates by subject and fingerprint."""
    view = dict((k, conn[k]) for k in API_FIELDS if k in conn)
    if isinstance(view.get("ssl"), dict):
        view["ssl"] = dict((k, describe_certificates(v) if k in ("ca", "client_cert") and v else v)
                           for k, v in view["ssl"].items())
    for path in secret_paths(conn):
        value = _at(conn, path)
        if value is None or (value == "" and len(path) > 1):
            continue  # an empty password is still a password; an empty ssl client key is none
        mask = MASK_CHANGED if ".".join(path) in changed_secrets else MASK
        if len(path) == 1:
            view[path[0]] = mask
        elif isinstance(view.get(path[0]), dict):
            view[path[0]] = dict(view[path[0]], **{path[1]: mask})
    return view


# -- reading: dbcs_connection_info -------------------------------------------------------------------

# The ping result of a connection that was not tested because the run is in check mode (a test is a POST).
PING_SKIPPED_IN_CHECK_MODE = {"ok": None, "error": None, "skipped": "check mode"}


def ping_result(ok, error):
    """The shape a connection test is reported in: {"ok": bool, "error": the server's text or None}."""
    return {"ok": bool(ok), "error": None if ok else (error or "the test failed")}


def check_connection_id(value, option="id"):
    """An id must look like the server's ids (conn_ + 27 letters and digits); SpecError otherwise."""
    if not ID_PATTERN.match(value or ""):
        raise SpecError("%s must be a connection id such as conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5 (conn_ followed by 27 "
                        "letters and digits), got %r; to select a connection by its name, use name" % (option, value))


def is_type(conn, wanted):
    """True when a connection (or list entry) has type `wanted`, compared case-insensitively; always true
    for `wanted` None, and for an entry that does not say its type (its details will)."""
    return wanted is None or conn.get("type") is None or str(conn["type"]).lower() == wanted


def select_connections(server, name=None, conn_id=None, conn_type=None):
    """The server's connections that a name, an id and a type select, in the server's order.

    Every connection with that exact name is selected (duplicates included: they are worth seeing);
    an unknown name selects nothing. An unknown id raises SpecError: an id is never a guess.
    """
    if conn_id is not None and not any(conn.get("id") == conn_id for conn in server):
        raise SpecError("id: no connection has the id %s (with this API key)" % conn_id)
    return [conn for conn in server
            if (name is None or conn.get("name") == name) and (conn_id is None or conn.get("id") == conn_id)
            and (conn_type is None or str(conn.get("type") or "").lower() == conn_type)]


def info_view(conn):
    """A connection as dbcs_connection_info returns it: every field the server gave, the type in lower
    case (as dbcs_connection takes it), no secret, and `declared` (see declared_view)."""
    view = strip_secrets(conn)
    if view.get("type") is not None:
        view["type"] = str(view["type"]).lower()
    view["declared"] = declared_view(conn)
    return view


JINJA_MARKERS = ("{{", "{%", "{#")


def jinja_string(value):
    """A Jinja expression whose value is the string `value`, built so that every version of Ansible reads it the same.

    No backslash escapes (ansible-core 2.19 and later do not read them in string constants): a double quote is the
    constant '"', a backslash is ("%c" | format(92)). No constant holds '{{', '{%' or '{#' (Ansible templates such a
    constant again): a marker is split across two constants. The pieces are joined with ~.
    """
    parts, chunk = [], ""
    for char in value:
        if char in "\"\\":
            if chunk:
                parts.append('"%s"' % chunk)
                chunk = ""
            parts.append("'\"'" if char == '"' else '("%c" | format(92))')
            continue
        if chunk.endswith("{") and char in "{%#":
            parts.append('"%s"' % chunk)
            chunk = ""
        chunk += char
    if chunk or not parts:
        parts.append('"%s"' % chunk)
    return " ~ ".join(parts)


def jinja_literal(value):
    """A string that Ansible, templating it, turns back into `value` exactly.

    Variables files are templated when they are used: a name such as 'a{{b' would be rendered (or fail) on apply.
    Such a string is written as a Jinja expression of its own value; any other value is left as it is.
    """
    if isinstance(value, str) and any(marker in value for marker in JINJA_MARKERS):
        return "{{ %s }}" % jinja_string(value)
    return value


def vault_placeholder(name, path):
    """What export writes for a secret: a vault variable per secret option, keyed by connection name
    (vault_dbcs_passwords["shop"], vault_dbcs_ssl_client_keys["shop"])."""
    return "{{ vault_dbcs_%ss[%s] }}" % ("_".join(path), jinja_string(name))


def holds_secret(conn, kind, path):
    """Whether a connection holds the secret at `path`: the server shows it, or (when the server hides secrets) the
    kind says it goes with another field - a password always, an ssl client key with its certificate, an S3 secret
    key with its access key."""
    value = conn
    for part in path:
        value = value.get(part) if isinstance(value, dict) else None
    if value not in (None, ""):
        return True
    if path == ("ssl", "client_key"):
        return bool((conn.get("ssl") or {}).get("client_cert"))
    field = kind.field(path[0]) if len(path) == 1 else None
    if field is None or field.implied_by is None:
        return False
    return field.implied_by == "always" or conn.get(field.implied_by) not in (None, "")


def declared_view(conn):
    """The options of dbcs_connection that make a server hold this connection as it is: what export writes.

    Only fields with a value; certificates as PEM text (as the options take them); each secret the connection
    holds as a vault placeholder (vault_placeholder). None for a connection of a kind the collection does not
    manage: it cannot be declared.
    """
    kind = kind_of(conn)
    if kind is None:
        return None
    current = normalise_server(strip_secrets(conn))
    declared = dict(name=jinja_literal(conn.get("name")), type=kind.name)
    for key in kind.field_names:
        value = current.get(key)
        if key == "ssl" and value:
            value = dict((k, base64.b64decode(v).decode("utf-8") if k in SSL_FILES else v) for k, v in value.items())
        if value not in (None, ""):
            declared[key] = jinja_literal(value)
    for path in secret_paths(conn):
        holder = declared
        for part in path[:-1]:
            holder = holder.get(part) if isinstance(holder.get(part), dict) else None
            if holder is None:
                break
        if holder is not None and holds_secret(conn, kind, path):
            holder[path[-1]] = vault_placeholder(conn.get("name"), path)
    return declared


# -- PostgreSQL schemas: dbcs_schema -------------------------------------------------------------------

PG_NAME_MAX_BYTES = 63  # PostgreSQL's NAMEDATALEN - 1; longer names would be truncated, so they are refused
MYSQL_NAME_MAX_CHARACTERS = 64


def _check_identifier(name, option, what):
    """What every database and schema name must be: not empty, no NUL."""
    if name is None or not name.strip():
        raise SpecError("%s must not be empty: give the name of the %s to create" % (option, what))
    if "\x00" in name:
        raise SpecError("%s must not contain a NUL character" % option)


def _check_pg_length(name, option):
    size = len(name.encode("utf-8"))
    if size > PG_NAME_MAX_BYTES:
        raise SpecError("%s must be at most %d bytes in UTF-8 (PostgreSQL truncates longer names), got %d bytes: %r" % (
            option, PG_NAME_MAX_BYTES, size, name))


def check_schema_name(name, option="name"):
    """Refuse, before any request, a schema name PostgreSQL would reject, truncate or hide from the list."""
    _check_identifier(name, option, "PostgreSQL schema")
    _check_pg_length(name, option)
    if name.startswith("pg_") or name == "information_schema":
        raise SpecError("%s %r is reserved for PostgreSQL's system schemas (names starting with pg_, and "
                        "information_schema); choose another name" % (option, name))


def check_database_name(name, option="name", conn_type=None):
    """Refuse, before any write, a database name the connection's database server would reject or truncate
    (the type's own rules once the connection's type is known)."""
    _check_identifier(name, option, "database")
    if conn_type == "postgresql":
        _check_pg_length(name, option)
    elif conn_type == "mysql":
        if len(name) > MYSQL_NAME_MAX_CHARACTERS:
            raise SpecError("%s must be at most %d characters for MySQL, got %d: %r" % (
                option, MYSQL_NAME_MAX_CHARACTERS, len(name), name))
        if name != name.rstrip(" "):
            raise SpecError("%s must not end with a space: MySQL refuses such names, got %r" % (option, name))
        if any(ord(char) > 0xFFFF for char in name):
            raise SpecError("%s must not contain characters outside the Basic Multilingual Plane (such as emoji): MySQL "
                            "refuses them in names, got %r" % (option, name))


def schemas_in(databases, database):
    """The schema names the /databases answer lists for `database`, sorted; None when it lists no such database."""
    for entry in databases or []:
        if isinstance(entry, dict) and entry.get("name") == database:
            return sorted(entry.get("schemas") or [])
    return None


def database_names(databases):
    return [entry.get("name") for entry in databases or [] if isinstance(entry, dict)]
