# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The base of every module of the collection.

DbcsModule owns the common API options (with their environment fallbacks), their validation before
any request, the one client of the run (which refuses every write in check mode), the translation of
errors into one clear failure, the result and diff helpers, and converge(): the reconcile path that
dbcs_connection (a set of one) and dbcs_connections (a declared set) share.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_client import (
    API_VERSIONS, HAS_REQUESTS, REQUESTS_IMPORT_ERROR, DbcsApiError, DbcsClient, DbcsOutcomeUnknown)
from ansible_collections.dbconvert.streams.plugins.module_utils.connection import (
    MissingReference, SpecError, assumed_warning, find_one, has_details, index_by_id, index_by_name, plan_changes,
    redact, secret_values)
from ansible_collections.dbconvert.streams.plugins.module_utils.kinds import KINDS
from ansible_collections.dbconvert.streams.plugins.module_utils.stream import (
    ConnectionIndex, active_run, plan_stream_changes, runs_of, with_history)

DEFAULT_API_URL = "http://127.0.0.1:8020/api/v1"


def dbcs_argument_spec():
    """The API options of every module (documented once in doc_fragments/dbcs.py)."""
    return dict(
        api_url=dict(type="str", default=DEFAULT_API_URL, fallback=(env_fallback, ["DBCS_API_URL"])),
        api_key=dict(type="str", no_log=True, fallback=(env_fallback, ["DBCS_API_KEY"])),
        validate_certs=dict(type="bool", default=True, fallback=(env_fallback, ["DBCS_VALIDATE_CERTS"])),
        ca_path=dict(type="path", fallback=(env_fallback, ["DBCS_CA_PATH"])),
        timeout=dict(type="int", default=30),
        api_version=dict(type="str", default="auto", choices=list(API_VERSIONS), fallback=(env_fallback, ["DBCS_API_VERSION"])),
    )


def check_api_options(params):
    """The API options' rules (modules and the lookup), checked before any request; SpecError naming the option."""
    url = urlparse(params["api_url"] or "")
    if url.scheme not in ("http", "https") or not url.netloc:
        raise SpecError("api_url must be an http:// or https:// URL such as %s, got %r "
                        "(set the api_url option or DBCS_API_URL)" % (DEFAULT_API_URL, params["api_url"]))
    if not params["api_key"]:
        raise SpecError("api_key is required: set the api_key option (for example through module_defaults "
                        "for group/dbconvert.streams.dbcs) or the DBCS_API_KEY environment variable")
    if params["timeout"] is None or params["timeout"] <= 0:
        raise SpecError("timeout must be a positive number of seconds, got %s" % params["timeout"])
    if params["ca_path"] and not os.access(params["ca_path"], os.R_OK):
        raise SpecError("ca_path cannot be read: %s" % params["ca_path"])
    if "parallel" in params and not 1 <= params["parallel"] <= 32:  # the modules that send requests at once
        raise SpecError("parallel must be between 1 and 32, got %s" % params["parallel"])


def fullest_message(first, messages):
    """The message to fail with when Ansible's validation of the arguments finds problems.

    AnsibleModule reports only the first problem, and for some the first is a bare one that a later,
    fuller message repeats with the option's name: a string where a list of dicts is expected gives
    'dictionary requested, could not parse JSON or key=value' first, then 'Elements value for option
    'connections' is of type str ... : dictionary requested, ...'. The fuller one is the one to show.
    """
    fuller = [message for message in messages if message != first and first in message]
    return fuller[0] if fuller else first


class DbcsModule(AnsibleModule):
    """AnsibleModule with the API options, one API client and the shared converge path."""

    _arguments_validated = False  # until AnsibleModule's own validation has passed

    def __init__(self, argument_spec=None, **kwargs):
        spec = dbcs_argument_spec()
        spec.update(argument_spec or {})
        super().__init__(argument_spec=spec, **kwargs)
        self._arguments_validated = True
        if not HAS_REQUESTS:
            self.fail_json(msg=missing_required_lib("requests"), exception=REQUESTS_IMPORT_ERROR)
        self._check_api_options()
        self._client = None
        self.known_secrets = set()

    def _check_api_options(self):
        try:
            check_api_options(self.params)
        except SpecError as exc:
            self.fail_json(msg=str(exc))

    def fail_json(self, msg=None, **kwargs):  # pylint: disable=arguments-differ
        result = getattr(self, "validation_result", None)
        errors = list(getattr(getattr(result, "errors", None), "errors", None) or [])
        if not self._arguments_validated and errors and msg == result.errors.msg:
            msg = fullest_message(msg, [str(error.args[0]) for error in errors if error.args])
        super().fail_json(msg=msg, **kwargs)

    @property
    def client(self):
        """The run's one API client; in check mode it refuses to send POST, PUT or DELETE."""
        if self._client is None:
            p = self.params
            self._client = DbcsClient(p["api_url"], p["api_key"], validate_certs=p["validate_certs"],
                                      ca_path=p["ca_path"], timeout=p["timeout"], read_only=self.check_mode,
                                      pool_size=max(p.get("parallel") or 1, 1), api_version=p["api_version"])
        return self._client

    def learn_secrets(self, connections):
        """Remember the secrets the server returned, so that no message can carry them out."""
        for conn in connections:
            self.known_secrets.update(secret_values(conn))

    def run(self, recipe):
        """Run a module's recipe; turn bad input and API errors into one clear failure."""
        try:
            recipe()
        except SpecError as exc:
            self.fail_json(msg=redact(str(exc), self.known_secrets))
        except DbcsApiError as exc:
            self.fail_json(msg=redact(exc.message, self.known_secrets), status=exc.status)

    def finish(self, diff=None, **result):
        """exit_json with `diff` only when --diff is on, and no secret the server returned in it."""
        if self._diff and diff is not None:
            result["diff"] = diff
        self.exit_json(**redact(result, self.known_secrets))

    # -- the reconcile path ---------------------------------------------------------------------------

    def read_connections(self, refs=None, select=None):
        """The server's connections, with full details for the ones named in `refs` (names or ids).

        The list is read once; a connection's details are fetched only when its list entry is a
        summary and it matters (refs None: every entry; `select`, a test of a list entry, narrows
        that further, e.g. to one type).
        """
        server = self.client.list_connections()
        wanted = [conn for conn in server if not has_details(conn) and
                  (refs is None or conn.get("name") in refs or conn.get("id") in refs) and
                  (select is None or select(conn))]
        details = dict((conn["id"], conn) for conn in self.map(
            lambda conn: self.client.get_connection(conn["id"], missing_ok=True), wanted) if conn)
        server = [details.get(conn.get("id"), conn) for conn in server]
        self.learn_secrets(server)
        return server

    def database_connection(self, ref, option="connection", what="this"):
        """The one MySQL or PostgreSQL connection that `ref` (a name or an id) names, read once.

        In check mode a connection that does not exist may be one an earlier task would create: then None,
        with a warning, and the caller plans as if it were there.
        """
        if not ref or not ref.strip():
            raise SpecError("%s must not be empty: give the name or id of a connection" % option)
        server = self.read_connections(set([ref]))
        try:
            conn = find_one(index_by_name(server), index_by_id(server), ref, option)
        except MissingReference:
            if not self.check_mode:
                raise
            self.warn(assumed_warning(option, ref))
            return None
        if str(conn.get("type") or "").lower() not in KINDS:
            raise SpecError("%s: '%s' is a %s connection, and %s needs a MySQL or PostgreSQL connection" % (
                option, conn.get("name"), conn.get("type"), what))
        return conn

    def map(self, func, items):
        """func over items with at most `parallel` requests in flight; results in input order."""
        items = list(items)
        workers = min(max(self.params.get("parallel") or 1, 1), len(items))
        if workers <= 1:
            return [func(item) for item in items]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(func, items))

    def converge(self, specs, purge=False, verify="never"):
        """Make the server hold `specs`: read once, plan, write only what differs, test if asked.

        Returns (changes, failures). Every write that can be done is done even when others fail;
        failures are {name, action, msg} dicts. In check mode nothing is written and the plan is
        returned as if it had been carried out.
        """
        refs = set(spec.name for spec in specs) | set(spec.clone_from for spec in specs if spec.clone_from)
        client = self.client
        if client.api_version != "auto":
            self.check_dialect(specs)  # pinned: known before any request
        client.start_session()
        if client.nested_known:
            self.check_dialect(specs)  # a 2.x install id: known before the connections are read
        server = self.read_connections(refs)
        changes = plan_changes(specs, server, purge=purge, nested=client.nested, check_mode=self.check_mode)
        for change in changes:
            if change.warning:
                self.warn(change.warning)
        failures = []
        if not self.check_mode:
            created = {}

            def attempt(change):
                try:
                    self._apply(change, created)
                except DbcsApiError as exc:
                    change.failed = True
                    return dict(name=change.name, action=change.action, msg=redact(exc.message, self.known_secrets))
                return None

            # Creates and updates first, then clones (their source may be one of the creates), then deletes.
            # Failures are listed in the declared order, whatever order the parallel writes ended in.
            for phase in (("create", "update"), ("clone",), ("delete",)):
                failures.extend(failure for failure in self.map(attempt, [c for c in changes if c.action in phase]) if failure)
            to_test = [c for c in changes if not c.failed and c.action != "delete" and
                       c.conn_id and (verify == "always" or (verify == "on_change" and c.changed))]
            failures.extend(failure for failure in self.map(self._test, to_test) if failure)
        return changes, failures

    def _test(self, change):
        """Test one connection; a failed test of a change undoes the change (see _undo). None when it passes."""
        ok, error = self.client.ping_connection(change.conn_id, change.name)
        if ok:
            return None
        text = "The test of connection '%s' failed: %s" % (change.name, error)
        if change.changed:
            text += "; " + self._undo(change)
        return dict(name=change.name, action="verify", msg=redact(text, self.known_secrets))

    def _undo(self, change):
        """Undo a change whose test failed, as the validate option of ansible.builtin.template keeps a file that
        does not validate from replacing the old one: a created (or cloned) connection is deleted again, an updated
        one gets its previous settings back. The next run then makes the change, and tests it, again, so a
        connection that does not work never looks converged. Returns what was done, for the message."""
        client = self.client
        try:
            if change.action in ("create", "clone"):
                client.delete_connection(change.conn_id, change.name)
                change.conn_id = None
                what = "the new connection was deleted again"
            else:
                client.update_connection(change.conn_id, change.previous_body())
                what = "its previous settings were restored"
                if "password" not in change.current:
                    what += " (with the password this task sent: the server does not return the one it had)"
        except DbcsApiError as exc:
            change.failed = True
            return ("undoing the change failed too (%s), so the connection stays as this task wrote it: fix it before "
                    "the next run, which will not test it again unless verify is always" % exc.message)
        change.failed = change.undone = True
        return "%s, so the next run makes the change and tests it again" % what

    def check_dialect(self, specs):
        """Refuse declared fields the server's dialect cannot hold, as early as the dialect is known."""
        for spec in specs:
            if spec.state != "absent":
                spec.check_dialect(spec.fields.get("type"), self.client.nested)

    def _apply(self, change, created):
        client = self.client
        if change.action == "create":
            change.conn_id = client.create_connection(change.body)
            created[change.name] = change.conn_id
        elif change.action == "update":
            client.update_connection(change.conn_id, change.body)
        elif change.action == "delete":
            client.delete_connection(change.conn_id, change.name)
        elif change.action == "clone":
            source_id = change.source.get("id") or created.get(change.spec.clone_from)
            if not source_id:
                raise DbcsApiError("clone '%s' into '%s'" % (change.spec.clone_from, change.name),
                                   error="the source connection was not created")
            new_id = client.clone_connection(source_id, change.spec.clone_from)
            try:
                client.update_connection(new_id, change.body)
            except DbcsApiError:
                # Leave no copy under the server-chosen name behind: a re-run would clone again.
                try:
                    client.delete_connection(new_id)
                except DbcsApiError:
                    pass
                raise
            change.conn_id = new_id

    # -- the reconcile path of stream configurations (dbcs_stream_config is a set of one) ----------------

    def read_streams(self):
        """(the server's configurations, a ConnectionIndex of its connections), in three requests on a 2.x server."""
        self.client.require_streams()
        connections = ConnectionIndex(self.read_connections())
        return self.client.list_stream_configs(), connections

    def read_runs(self, configs, runs=None):
        """{config id: its runs, newest first, as run_view gives them}: one list of the runs, one history per
        configuration that has runs (rows written, duration and the error come from the history)."""
        runs = self.client.list_streams() if runs is None else runs
        mine = dict((config["id"], runs_of(runs, config["id"])) for config in configs)
        with_runs = [config for config in configs if mine[config["id"]]]
        histories = self.map(lambda config: self.client.stream_history(config["id"], config.get("name")), with_runs)
        result = dict((config["id"], []) for config in configs)
        for config, history in zip(with_runs, histories):
            result[config["id"]] = with_history(mine[config["id"]], history)
        return result

    def converge_stream_configs(self, specs, purge=False, force=False):
        """Make the server hold the declared configurations: read once, plan, write only what differs.

        A configuration with an active run is deleted only with `force` (its run is stopped at once first);
        without it the whole task fails before any write. Returns (changes, failures, connections).
        """
        configs, connections = self.read_streams()
        changes = plan_stream_changes(specs, configs, connections, purge=purge, check_mode=self.check_mode)
        for warning in set(warning for change in changes for warning in change.warnings):
            self.warn(warning)
        deletes = [change for change in changes if change.action == "delete"]
        runs = self.client.list_streams() if deletes else []
        busy = dict((change.config_id, active_run(runs_of(runs, change.config_id))) for change in deletes)
        blocked = [change.name for change in deletes if busy[change.config_id] and not force]
        if blocked:
            raise SpecError("stream configuration %s has an active run, and deleting it would end that run: stop the run "
                            "first (dbconvert.streams.dbcs_stream with state stopped), or set force to stop it at once and "
                            "delete" % ", ".join("'%s'" % name for name in blocked))
        failures = []
        if not self.check_mode:
            client = self.client

            def attempt(change):
                try:
                    if change.action == "create":
                        change.config_id = client.create_stream_config(change.body)
                    elif change.action == "update":
                        client.update_stream_config(change.config_id, change.body)
                    elif change.action == "delete":
                        if busy.get(change.config_id):
                            client.act_on_stream(busy[change.config_id]["id"], "stop", force=True)
                        client.delete_stream_config(change.config_id, change.name)
                except DbcsApiError as exc:
                    change.failed = True
                    return dict(name=change.name, action=change.action, msg=redact(exc.message, self.known_secrets))
                return None

            for phase in (("create", "update"), ("delete",)):
                failures.extend(failure for failure in self.map(attempt, [c for c in changes if c.action in phase]) if failure)
        return changes, failures, connections


def create_and_confirm(create, listed, what):
    """Send a create, then read back: only what the server lists counts as created.

    A 409 (created meanwhile by someone else) or a create whose outcome is unknown is settled by that read
    too: the create's error is raised only when the read does not find what it was to create.
    """
    failure = None
    try:
        create()
    except DbcsApiError as exc:
        if exc.status != 409 and not isinstance(exc, DbcsOutcomeUnknown):
            raise
        failure = exc
    if not listed():
        raise failure or DbcsApiError("confirm %s" % what, error="the server answered the create with success, "
                                                                 "but does not list it afterwards")


def change_summary(changes):
    """Names by outcome, the shape dbcs_connections returns."""
    summary = dict(created=[], updated=[], deleted=[], unchanged=[])
    key = {"create": "created", "clone": "created", "update": "updated", "delete": "deleted", "none": "unchanged"}
    for change in changes:
        if not change.failed:
            summary[key[change.action]].append(change.name)
    return summary
