#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dbcs_stream
short_description: Run a DBConvert Streams stream configuration - running, paused, stopped or finished
version_added: 0.2.0
description:
  - Makes the runs (streams) of a stream configuration on a DBConvert Streams 2.x server match a state, safely
    enough to re-apply on every playbook run.
  - V(running) - a run is active; one is started when none is, a paused one is resumed.
  - V(paused) or V(stopped) - the active run, if there is one, is paused or stopped.
  - V(finished) - an active run is waited for (a paused one is resumed first). Otherwise, when the configuration's
    newest run ended in a status of O(accept) and the configuration has not changed since that run started (as far as
    the server lets the module tell, see the notes), nothing is done - a re-run of a playbook does not copy the data
    again. Otherwise a new run is started and waited for.
  - A run that ends in a status that is not accepted fails the task with the server's error.
  - A start is never sent twice blindly - when its outcome is unknown (a reset, a timeout, an HTTP 5xx), the runs are
    read back and only a start that did not happen is sent again; a server that already runs the configuration
    refuses a second run, and the module then follows that run.
author:
  - DBConvert Streams collection developers (@dbconvert)
extends_documentation_fragment:
  - dbconvert.streams.dbcs
  - dbconvert.streams.dbcs.ACTION_GROUP
attributes:
  check_mode:
    support: full
    description: Sends no POST and does not wait; RV(ignore:changed), RV(action) and RV(started) say what would be done.
  diff_mode:
    support: none
    description: A run has no declared fields to show a difference of; RV(action) says what was done.
  action:
    support: full
    description: An action plugin on the controller does the waiting, so that C(-v) shows the progress of the run.
options:
  config:
    description: Name or id of the stream configuration.
    type: str
    required: true
  state:
    description: The state the configuration's runs must be in; see the description.
    type: str
    choices: [running, paused, stopped, finished]
    default: finished
  force:
    description:
      - With V(running) or V(finished), start a new run regardless (an active run is stopped at once first).
      - With V(stopped), stop the active run at once (the bundle in flight is rolled back) instead of at the next
        bundle boundary.
    type: bool
    default: false
  wait:
    description:
      - Wait until the run is in the state (for V(finished), until it ends; for V(running), until it runs or ends).
      - While waiting, C(-v) prints the rows written so far at the run's reporting interval.
      - The waiting is done on the controller, which polls with M(dbconvert.streams.dbcs_stream_info).
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait at most; the task fails, saying the run's status and rows so far, when they pass.
    type: int
    default: 3600
  accept:
    description:
      - For V(finished), the ended statuses that count as success (the run ending in another fails the task).
    type: list
    elements: str
    choices: [FINISHED, STOPPED, TIME_LIMIT_REACHED, EVENT_LIMIT_REACHED]
    default: [FINISHED]
notes:
  - Whether a configuration changed since its newest run is told from the C(updated) time a server stamps on a
    configuration. A server that does not send it gives the module nothing to tell by; then a change made by
    M(dbconvert.streams.dbcs_stream_config) in the same play should be passed on with O(force) (the
    C(dbconvert.streams.streams) role does that).
seealso:
  - module: dbconvert.streams.dbcs_stream_config
  - module: dbconvert.streams.dbcs_stream_info
"""

EXAMPLES = r"""
- name: Copy the shop into the warehouse once, and not again on the next run of the playbook
  dbconvert.streams.dbcs_stream:
    config: shop-to-warehouse
    state: finished
    wait_timeout: 7200
  register: load

- name: Show the rows copied per table
  ansible.builtin.debug:
    var: load.stream.rows

- name: Keep a change-data-capture stream running
  dbconvert.streams.dbcs_stream:
    config: orders-cdc
    state: running

- name: Stop it at once
  dbconvert.streams.dbcs_stream:
    config: orders-cdc
    state: stopped
    force: true
"""

RETURN = r"""
action:
  description:
    - What was done (would be done, in check mode) - V(none), V(start), V(resume), V(pause), V(stop), V(restart)
      (the active run stopped at once, then a new one started) or V(wait) (an active run followed to its end).
  returned: success
  type: str
  sample: start
started:
  description: Whether a new run was (would be) started.
  returned: success
  type: bool
  sample: true
config_id:
  description: Id of the stream configuration.
  returned: success
  type: str
  sample: config_2sZyDMeIbdaXnN9OL7vYzzAiZU5
stream:
  description:
    - The run acted on or followed, as it is when the task ends; empty when the configuration has no run (or, in check
      mode, for a run that would be started).
  returned: success
  type: dict
  contains:
    id:
      description: Id of the run.
      type: str
      returned: when there is a run
    status:
      description: Its status.
      type: str
      returned: when there is a run
    rows:
      description: Rows written per target table.
      type: dict
      returned: when the server says
    rows_total:
      description: Rows written in all.
      type: int
      returned: when the server says
    duration_s:
      description: How long it ran, in seconds.
      type: float
      returned: when it has ended
    error:
      description: Why it failed, in the server's words.
      type: str
      returned: when it failed
  sample: {id: stream_2sZyDMeIbdaXnN9OL7vYzzAiZU5, status: FINISHED, rows: {customers: 1000, orders: 2000}, rows_total: 3000,
           duration_s: 1.8}
"""

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import MissingReference, SpecError, assumed_warning
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import DbcsModule
from ansible_collections.dbconvert.streams.plugins.module_utils.stream import GOALS, RUN_STATES, find_config, plan_run


def main():
    module = DbcsModule(
        argument_spec=dict(
            config=dict(type="str", required=True),
            state=dict(type="str", choices=list(RUN_STATES), default="finished"),
            force=dict(type="bool", default=False),
            wait=dict(type="bool", default=True),
            wait_timeout=dict(type="int", default=3600),
            accept=dict(type="list", elements="str", default=["FINISHED"],
                        choices=["FINISHED", "STOPPED", "TIME_LIMIT_REACHED", "EVENT_LIMIT_REACHED"]),
        ),
        supports_check_mode=True,
    )

    def recipe():
        params = module.params
        ref, state, force = params["config"], params["state"], params["force"]
        if not ref or not ref.strip():
            raise SpecError("config must not be empty: give the name or id of a stream configuration")
        if params["wait_timeout"] <= 0:
            raise SpecError("wait_timeout must be a positive number of seconds, got %s" % params["wait_timeout"])
        client = module.client
        client.require_streams()
        try:
            config = find_config(client.list_stream_configs(), ref)
        except MissingReference:
            if not module.check_mode or state not in ("running", "finished"):
                raise
            # Check mode: a configuration an earlier task would create has no run yet; one would be started.
            module.warn(assumed_warning("config", ref).replace("no connection", "no stream configuration"))
            module.finish(changed=True, action="start", started=True, config_id=None, stream={})
        config_id = config["id"]
        runs = module.read_runs([config])[config_id]
        action, run = plan_run(state, runs, config, force=force, accept=tuple(params["accept"]))
        stream_id = run["id"] if run else None
        if not module.check_mode:
            if action in ("pause", "resume", "stop"):
                client.act_on_stream(stream_id, action, force=force and action == "stop")
            elif action in ("start", "restart"):
                if action == "restart":
                    client.act_on_stream(stream_id, "stop", force=True)
                stream_id = client.start_stream(config_id, config.get("name"), known_runs=[r["id"] for r in runs])
        started = action in ("start", "restart")
        result = dict(changed=action not in ("none", "wait"), action=action, started=started, config_id=config_id,
                      stream={} if (module.check_mode and started) else (run or {}))
        if stream_id and not module.check_mode:
            result["stream"] = dict(id=stream_id, status=(run or {}).get("status") if not started else "READY")
            if params["wait"] and (action != "none" or str((run or {}).get("status")).upper() not in GOALS[state]):
                # The action plugin polls the run until one of these statuses (and reports progress on the way).
                result["wait_for"] = dict(stream_id=stream_id, statuses=list(GOALS[state]),
                                          interval=config.get("reportingInterval") or 3)
            elif action == "none" and run:
                result["stream"] = run
        module.finish(**result)

    module.run(recipe)


if __name__ == "__main__":
    main()
