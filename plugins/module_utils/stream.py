# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The desired-state model of a DBConvert Streams stream configuration, and of its runs.

Pure logic, no HTTP: the options a user declares for one configuration (STREAM_CONFIG_OPTIONS), their
validation (StreamConfigSpec), one table of fields (FIELDS) that says where each declared option lives
in the configuration object of the API, the comparison with what the server holds, the full body to
send, the plan for a declared set (plan_stream_changes), the view a diff and a result show (with
connection names, not only ids), and the statuses of runs. One configuration is a set of one:
dbcs_stream_config and dbcs_stream_configs plan through plan_stream_changes.
"""

from __future__ import annotations

import copy
import re

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import (
    CONTROL_CHARACTER, MissingReference, SpecError, assumed_warning, find_one, index_by_id, index_by_name, jinja_literal)

MODES = ("load", "cdc")
# The vendor's web client before April 2026 sent "convert" for a load: the same thing.
MODE_ALIASES = {"convert": "load"}
SCHEMA_POLICIES = ("fail_if_exists", "validate_existing", "create_missing_only", "drop_and_recreate")
WRITE_MODES = ("fail_if_not_empty", "append", "truncate_and_load", "upsert")
ACTIVE = ("READY", "RUNNING", "PAUSED")
TERMINAL = ("FINISHED", "STOPPED", "FAILED", "TIME_LIMIT_REACHED", "EVENT_LIMIT_REACHED")
RUN_STATES = ("running", "paused", "stopped", "finished")
CONFIG_ID_PATTERN = re.compile(r"^config_[0-9A-Za-z]{27}$")

SOURCE_OPTIONS = dict(
    connection=dict(type="str", required=True),
    database=dict(type="str"),
    schema=dict(type="str"),
    tables=dict(type="list", elements="str"),
)
TARGET_OPTIONS = dict(
    connection=dict(type="str", required=True),
    database=dict(type="str"),
    schema=dict(type="str"),
    schema_policy=dict(type="str", choices=list(SCHEMA_POLICIES)),
    write_mode=dict(type="str", choices=list(WRITE_MODES)),
)
LIMIT_OPTIONS = dict(rows=dict(type="int"), seconds=dict(type="int"))

# The options of one stream configuration: the top level of dbcs_stream_config, one item of dbcs_stream_configs.
STREAM_CONFIG_OPTIONS = dict(
    name=dict(type="str", required=True),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    mode=dict(type="str", choices=list(MODES)),
    description=dict(type="str"),
    source=dict(type="dict", options=SOURCE_OPTIONS),
    target=dict(type="dict", options=TARGET_OPTIONS),
    limits=dict(type="dict", options=LIMIT_OPTIONS),
    bundle_size=dict(type="int"),
    reporting_interval=dict(type="int"),
)


class Field(object):
    """One declared option of a configuration and where the API's configuration object holds it."""

    def __init__(self, option, wire, kind="value", create_default=None):
        self.option = option            # path in the declared options, e.g. ("target", "write_mode")
        self.wire = wire                # path in the configuration object (an int is a list index)
        self.kind = kind                # "value", "connection" (a name or id resolved to an id), "tables" (a set)
        self.create_default = create_default  # sent on create when not declared

    @property
    def name(self):
        return ".".join(self.option)


FIELDS = (
    Field(("mode",), ("mode",), create_default="load"),
    Field(("description",), ("description",)),
    Field(("source", "connection"), ("source", "connections", 0, "connectionId"), kind="connection"),
    Field(("source", "database"), ("source", "connections", 0, "database")),
    Field(("source", "schema"), ("source", "connections", 0, "schema")),
    Field(("source", "tables"), ("source", "connections", 0, "tables"), kind="tables"),
    Field(("target", "connection"), ("target", "id"), kind="connection"),
    Field(("target", "database"), ("target", "spec", "db", "database")),
    Field(("target", "schema"), ("target", "spec", "db", "schema")),
    Field(("target", "schema_policy"), ("target", "spec", "db", "schemaPolicy"), create_default="create_missing_only"),
    Field(("target", "write_mode"), ("target", "spec", "db", "writeMode"), create_default="append"),
    Field(("limits", "rows"), ("limits", "numberOfEvents"), create_default=0),
    Field(("limits", "seconds"), ("limits", "elapsedTime"), create_default=0),
    Field(("bundle_size",), ("source", "options", "dataBundleSize")),
    Field(("reporting_interval",), ("reportingInterval",)),
)
# What creating a configuration needs, besides its name.
REQUIRED_TO_CREATE = ("source.connection", "source.database", "target.connection", "target.database")


def _get(obj, path):
    for key in path:
        if isinstance(key, int):
            obj = obj[key] if isinstance(obj, list) and len(obj) > key else None
        else:
            obj = obj.get(key) if isinstance(obj, dict) else None
        if obj is None:
            return None
    return obj


def _set(obj, path, value):
    for index, key in enumerate(path[:-1]):
        following = path[index + 1]
        empty = [] if isinstance(following, int) else {}
        if isinstance(key, int):
            while len(obj) <= key:
                obj.append(copy.copy(empty))
            if not isinstance(obj[key], type(empty)):
                obj[key] = empty
            obj = obj[key]
        else:
            if not isinstance(obj.get(key), type(empty)):
                obj[key] = empty
            obj = obj[key]
    obj[path[-1]] = value


def _blank(value):
    return value in (None, "", [])


def check_config_id(value, option="id"):
    if not CONFIG_ID_PATTERN.match(value or ""):
        raise SpecError("%s must be a stream configuration id such as config_2sZyDMeIbdaXnN9OL7vYzzAiZU5 (config_ followed "
                        "by 27 letters and digits), got %r; to select a configuration by its name, use name" % (option, value))


class StreamConfigSpec(object):
    """One declared stream configuration, validated; `fields` maps a field's name to the declared value."""

    def __init__(self, params, where=""):
        self.where = where
        self.name = params["name"]
        self.state = params.get("state") or "present"
        self.fields = {}
        if not self.name or not self.name.strip():
            raise self.error("name", "must not be empty")
        if self.state == "absent":
            return
        if CONTROL_CHARACTER.search(self.name):
            raise self.error("name", "must not contain control characters such as line breaks or tabs, got %r; a YAML "
                                     "block scalar (| or >) adds a line break at the end: write the name as a plain or "
                                     "quoted string" % self.name)
        for field in FIELDS:
            value = _get(params, field.option)
            if value is not None:
                self.fields[field.name] = value
        self._check()

    def error(self, option, text):
        return SpecError("%s%s %s" % (self.where, option, text))

    def _check(self):
        for key in ("source.connection", "target.connection", "source.database", "target.database"):
            if key in self.fields and not str(self.fields[key]).strip():
                raise self.error(key, "must not be empty")
        tables = self.fields.get("source.tables")
        if tables is not None:
            if not tables:
                raise self.error("source.tables", "must name at least one table; leave it out to copy every table of the "
                                                  "source database")
            blank = [table for table in tables if not table or not table.strip()]
            if blank:
                raise self.error("source.tables", "must not contain an empty name")
            twice = sorted(set(table for table in tables if tables.count(table) > 1))
            if twice:
                raise self.error("source.tables", "names %s more than once" % ", ".join("'%s'" % t for t in twice))
        for key, low in (("limits.rows", 0), ("limits.seconds", 0), ("bundle_size", 1), ("reporting_interval", 1)):
            value = self.fields.get(key)
            if value is None:
                continue
            if isinstance(value, bool) or value < low:
                raise self.error(key, "must be a whole number of at least %d%s, got %s" % (
                    low, " (0 means no limit)" if key.startswith("limits.") else "", value))

    def check_targets(self, source_conn, target_conn):
        """Rules that need the resolved connections: a schema only on a PostgreSQL target (or source)."""
        for side, conn in (("target", target_conn), ("source", source_conn)):
            if conn is not None and self.fields.get("%s.schema" % side) and str(conn.get("type")).lower() == "mysql":
                raise self.error("%s.schema" % side, "is only valid for a PostgreSQL connection; '%s' is mysql (in MySQL "
                                                     "a schema is a database: set %s.database)" % (conn.get("name"), side))


def normalise_config(obj):
    """A configuration the server sent, with its mode in the collection's words ("convert" is a load)."""
    result = copy.deepcopy(obj)
    mode = result.get("mode")
    if isinstance(mode, str):
        result["mode"] = MODE_ALIASES.get(mode.lower(), mode.lower())
    return result


def declared_value(config, field):
    """The value of one field in a configuration object, in the declared form (tables: a sorted list of names)."""
    value = _get(config, field.wire)
    if field.kind == "tables" and value is not None:
        value = sorted(item.get("name") if isinstance(item, dict) else item for item in value)
    if field.kind == "value" and field.option == ("mode",) and isinstance(value, str):
        value = MODE_ALIASES.get(value.lower(), value.lower())
    return value


def _wire_value(field, value):
    if field.kind == "tables":
        return [{"name": name} for name in value]
    return value


class ConnectionIndex(object):
    """The server's connections, to resolve the names (or ids) a configuration declares to ids and back."""

    def __init__(self, connections):
        self.connections = connections
        self.by_name = index_by_name(connections)
        self.by_id = index_by_id(connections)

    def resolve(self, ref, option, check_mode=False):
        """The connection `ref` names. In check mode, one that does not exist yet may be one an earlier task (or
        the connections role) would create: then a stand-in that carries its name, and a warning to give."""
        try:
            return find_one(self.by_name, self.by_id, ref, option), None
        except MissingReference:
            if not check_mode:
                raise
            planned = {"id": "(planned) %s" % ref, "name": ref}
            self.by_id[planned["id"]] = planned
            return planned, assumed_warning(option, ref)

    def name_of(self, conn_id):
        conn = self.by_id.get(conn_id)
        return conn.get("name") if conn else None


def config_view(config, connections, with_ids=True):
    """A configuration as the modules show it: the declared options, connections by name (and id)."""
    view = {"name": config.get("name")}
    if with_ids and config.get("id"):
        view["id"] = config["id"]
    for field in FIELDS:
        value = declared_value(config, field)
        if _blank(value):
            continue
        if field.kind == "connection":
            holder = view.setdefault(field.option[0], {})
            holder["connection"] = connections.name_of(value) or value
            if with_ids:
                holder["connection_id"] = value
            continue
        holder = view
        for key in field.option[:-1]:
            holder = holder.setdefault(key, {})
        holder[field.option[-1]] = value
    return view


class StreamChange(object):
    """What one declared (or purged) configuration needs: create, update, delete or nothing."""

    def __init__(self, action, name, spec=None, current=None, body=None, changed_fields=()):
        self.action = action
        self.name = name
        self.spec = spec
        self.current = current        # the server's configuration (normalised), None when absent
        self.body = body              # the full configuration to send on create and update
        self.changed_fields = list(changed_fields)
        self.config_id = current.get("id") if current else None
        self.failed = False
        self.warnings = []              # what the plan had to assume (check mode)

    @property
    def changed(self):
        return self.action != "none"

    def end_state(self, connections):
        if self.action == "delete" or (self.failed and self.current is None):
            return {}
        state = self.current if (self.failed or self.body is None) else dict(self.body, id=self.config_id)
        if state is None:
            return {}
        return config_view(state, connections)

    def diff(self, connections):
        header = "stream configuration '%s'" % self.name
        before = config_view(self.current, connections, with_ids=False) if self.current else {}
        after = {}
        if self.action in ("create", "update"):
            after = config_view(self.body, connections, with_ids=False)
        elif self.action == "none" and self.current is not None:
            after = before
        return {"before": before, "after": after, "before_header": header, "after_header": header}


def compare_config(spec, current, resolved):
    """The declared fields that differ from the server's configuration. `resolved` maps a connection field's
    name to the id it names."""
    changed = []
    for field in FIELDS:
        if field.name not in spec.fields:
            continue
        wanted = resolved.get(field.name, spec.fields[field.name])
        have = declared_value(current, field)
        if field.kind == "tables":
            wanted = sorted(wanted)
        if _blank(wanted) and _blank(have):
            continue
        if wanted != have:
            changed.append(field.name)
    return changed


def build_config_body(spec, base, resolved):
    """The full configuration to send: the server's (or, to create, the defaults) with the declared fields set."""
    body = copy.deepcopy(base) if base else {}
    for key in ("id", "created", "updated"):
        body.pop(key, None)
    creating = not base
    for field in FIELDS:
        if field.name in spec.fields:
            value = resolved.get(field.name, spec.fields[field.name])
        elif creating and field.create_default is not None:
            value = field.create_default
        else:
            continue
        if field.kind == "tables" and not creating and value is not None:
            value = sorted(value)
        _set(body, field.wire, _wire_value(field, value))
    body["name"] = spec.name
    return body


def plan_stream_changes(specs, server_configs, connections, purge=False, check_mode=False):
    """Plan the changes that make the server hold the declared configurations.

    `server_configs` are the server's configurations, `connections` a ConnectionIndex of its connections.
    Connection names are resolved to ids here: a missing connection fails before any write (in check mode it is
    taken to be one an earlier task would create, with a warning on the change).
    """
    by_name = {}
    for config in server_configs:
        by_name.setdefault(config.get("name"), []).append(config)
    changes = []
    for spec in specs:
        matches = by_name.get(spec.name, [])
        if len(matches) > 1:
            raise spec.error("name", "%d stream configurations on the server are named '%s' (ids %s); delete the extra "
                                     "ones first" % (len(matches), spec.name, ", ".join(sorted(m["id"] for m in matches))))
        current = normalise_config(matches[0]) if matches else None
        if spec.state == "absent":
            changes.append(StreamChange("delete" if current else "none", spec.name, spec, current))
            continue
        resolved, conns, warnings = {}, {}, []
        for side in ("source", "target"):
            key = "%s.connection" % side
            if key in spec.fields:
                conn, warning = connections.resolve(spec.fields[key], "%s%s" % (spec.where, key), check_mode=check_mode)
                resolved[key], conns[side] = conn["id"], conn
                warnings += [warning] if warning else []
            elif current is not None:
                conns[side] = connections.by_id.get(declared_value(current, _field(key)))
        spec.check_targets(conns.get("source"), conns.get("target"))
        if current is None:
            missing = [key for key in REQUIRED_TO_CREATE if key not in spec.fields]
            if missing:
                raise SpecError("%sstream configuration '%s' does not exist yet: to create it, set %s" % (
                    spec.where, spec.name, ", ".join(missing)))
            body = build_config_body(spec, None, resolved)
            change = StreamChange("create", spec.name, spec, None, body, sorted(spec.fields))
        else:
            changed = compare_config(spec, current, resolved)
            body = build_config_body(spec, current, resolved) if changed else None
            change = StreamChange("update" if changed else "none", spec.name, spec, current, body, changed)
        change.warnings = warnings
        changes.append(change)
    if purge:
        declared = set(spec.name for spec in specs)
        for config in server_configs:
            if config.get("name") not in declared:
                changes.append(StreamChange("delete", config.get("name"), None, normalise_config(config)))
    return changes


def _field(name):
    for field in FIELDS:
        if field.name == name:
            return field
    raise KeyError(name)


def config_connection_ids(config):
    """The ids of the connections a configuration uses (every source, and the target)."""
    ids = [source.get("connectionId") for source in (_get(config, ("source", "connections")) or [])
           if isinstance(source, dict)]
    ids.append(_get(config, ("target", "id")))
    return [conn_id for conn_id in ids if conn_id]


# -- runs ------------------------------------------------------------------------------------------------

def runs_of(runs, config_id):
    """The runs of one configuration, newest first."""
    mine = [run for run in runs if run.get("configId") == config_id]
    return sorted(mine, key=lambda run: (run.get("created") or 0, run.get("id") or ""), reverse=True)


def active_run(runs):
    """The active run (READY, RUNNING or PAUSED) among a configuration's runs, newest first; None when there is none."""
    for run in runs:
        if str(run.get("status") or "").upper() in ACTIVE:
            return run
    return None


def run_view(run, stats=None, history=None):
    """A run as the modules return it: id, status, rows per table, rows in all, duration, the server's error."""
    view = {"id": run.get("id"), "status": str(run.get("status") or "").upper() or None}
    tables = (stats or {}).get("tables")
    if isinstance(tables, list):
        view["rows"] = dict((table.get("name"), table.get("rows")) for table in tables if isinstance(table, dict))
    if history:
        view["rows_total"] = history.get("rowsInserted")
        if history.get("durationMs") is not None:
            view["duration_s"] = round(history["durationMs"] / 1000.0, 3)
        if history.get("errorMessage"):
            view["error"] = history["errorMessage"]
    if "rows_total" not in view and "rows" in view:
        view["rows_total"] = sum(count or 0 for count in view["rows"].values())
    for key in ("created", "finished"):
        if run.get(key) is not None:
            view[key] = run[key]
    if "duration_s" not in view and run.get("created") and run.get("finished"):
        view["duration_s"] = run["finished"] - run["created"]
    return view


# What a run state needs: the action plan_run returns, and the statuses waiting for it ends at.
GOALS = {
    "running": ("RUNNING",) + TERMINAL,
    "paused": ("PAUSED",) + TERMINAL,
    "stopped": TERMINAL,
    "finished": TERMINAL,
}


def changed_since(config, run):
    """True when the configuration changed after the run started, as far as the server lets a client tell: a
    server that stamps configurations with `updated` says so; one that does not gives nothing to tell by."""
    updated, started = config.get("updated"), run.get("created")
    return isinstance(updated, (int, float)) and isinstance(started, (int, float)) and updated > started


def plan_run(state, runs, config, force=False, accept=("FINISHED",)):
    """What makes a configuration's runs match `state`: (action, run).

    `runs` are the configuration's runs, newest first. The action is one of none, start, resume, pause, stop,
    restart (stop the active run at once, then start) and wait (a run is active and will get there by itself);
    `run` is the run it acts on or reports (None when there is none yet).

    running: a run is active (a paused one is resumed). paused, stopped: act on the active run, if any.
    finished: an active run is waited for (a paused one resumed); else nothing when the newest run ended in an
    accepted status and the configuration has not changed since; else a new run. force: a new run regardless
    (for running and finished), a stop at once (for stopped).
    """
    active = active_run(runs)
    status = str(active.get("status") or "").upper() if active else None
    newest = runs[0] if runs else None
    if state in ("running", "finished") and active and force:
        return "restart", active
    if state == "running":
        if status == "PAUSED":
            return "resume", active
        return ("none", active) if active else ("start", None)
    if state == "paused":
        return ("pause", active) if status in ("READY", "RUNNING") else ("none", active or newest)
    if state == "stopped":
        return ("stop", active) if active else ("none", newest)
    if state == "finished":
        if status == "PAUSED":
            return "resume", active
        if active:
            return "wait", active
        ended = str(newest.get("status") or "").upper() if newest else None
        if newest and not force and ended in accept and not changed_since(config, newest):
            return "none", newest
        return "start", None
    raise ValueError("unknown run state %r" % state)


def find_config(configs, ref, option="config"):
    """The single configuration `ref` (a name or an id) names; SpecError when none or several."""
    by_id = [config for config in configs if config.get("id") == ref]
    if by_id:
        return normalise_config(by_id[0])
    named = [config for config in configs if config.get("name") == ref]
    if len(named) > 1:
        raise SpecError("%s: %d stream configurations are named '%s' (ids %s); name one by its id" % (
            option, len(named), ref, ", ".join(sorted(config["id"] for config in named))))
    if not named:
        raise MissingReference("%s: no stream configuration is named '%s' and none has that id" % (option, ref))
    return normalise_config(named[0])


def with_history(runs, history):
    """The runs (newest first) with what their history entries add: rows written, duration, the error of a failed run."""
    by_stream = dict((entry.get("streamId"), entry) for entry in history)
    return [run_view(run, history=by_stream.get(run.get("id"))) for run in runs]


def declared_config(config, connections):
    """The options of dbcs_stream_config that make a server hold this configuration as it is: what export writes.
    Connections by name; every string Ansible would template written so that templating gives it back."""
    return _literal(config_view(config, connections, with_ids=False))


def _literal(value):
    if isinstance(value, dict):
        return dict((key, _literal(inner)) for key, inner in value.items())
    if isinstance(value, list):
        return [_literal(inner) for inner in value]
    return jinja_literal(value)
