#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dbcs_stream_info
short_description: Read DBConvert Streams stream configurations, with their runs and statistics
version_added: 0.2.0
description:
  - Returns the stream configurations of a DBConvert Streams 2.x server, in the declared form of
    M(dbconvert.streams.dbcs_stream_config) (connections by name and by id), one by O(name) or O(id), or all of them.
  - Optionally their runs (status, rows written, duration, the error of a failed run) and the statistics of each
    configuration's newest run (rows per table).
  - Never changes anything on the server.
author:
  - DBConvert Streams collection developers (@dbconvert)
extends_documentation_fragment:
  - dbconvert.streams.dbcs
  - dbconvert.streams.dbcs.ACTION_GROUP
attributes:
  check_mode:
    support: full
    description: Reads exactly as without check mode.
  diff_mode:
    support: none
    description: The module changes nothing.
options:
  name:
    description:
      - Return only the configurations with this exact (case-sensitive) name; none is not a failure.
      - Mutually exclusive with O(id). Without O(name) and O(id), every configuration is returned.
    type: str
  id:
    description:
      - Return only the configuration with this id, for example C(config_2sZyDMeIbdaXnN9OL7vYzzAiZU5). Fails when no
        configuration has it.
    type: str
  gather:
    description:
      - V(runs) adds RV(stream_configs[].runs), the configuration's runs, newest first.
      - V(stats) adds RV(stream_configs[].stats), the statistics of its newest run (rows written per table).
    type: list
    elements: str
    choices: [runs, stats]
    default: []
  parallel:
    description: How many configurations are read at the same time, 1 to 32.
    type: int
    default: 4
seealso:
  - module: dbconvert.streams.dbcs_stream_config
  - module: dbconvert.streams.dbcs_stream
"""

EXAMPLES = r"""
- name: Read a configuration with its runs and the rows of its newest run
  dbconvert.streams.dbcs_stream_info:
    name: shop-to-warehouse
    gather: [runs, stats]
  register: info

- name: Show when it last ran and how it ended
  ansible.builtin.debug:
    msg: "{{ info.stream_configs[0].runs[0].status | default('never run') }}"

- name: Every configuration, as declared
  dbconvert.streams.dbcs_stream_info:
  register: all_streams
"""

RETURN = r"""
stream_configs:
  description:
    - The selected configurations, in the server's order; a list also for one, empty when none is selected.
    - Each in the shape of RV(dbconvert.streams.dbcs_stream_config#module:stream_config), with its id.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Id of the configuration.
      type: str
      returned: always
    name:
      description: Name of the configuration.
      type: str
      returned: always
    declared:
      description:
        - The options of M(dbconvert.streams.dbcs_stream_config) that make a server hold this configuration
          (connections by name), what the C(dbconvert.streams.export) playbook writes.
      type: dict
      returned: always
    runs:
      description: The runs, newest first.
      type: list
      elements: dict
      returned: when O(gather) contains V(runs)
      contains:
        id:
          description: Id of the run (a stream).
          type: str
          returned: always
        status:
          description:
            - C(READY), C(RUNNING), C(PAUSED) (active); C(FINISHED), C(STOPPED), C(FAILED), C(TIME_LIMIT_REACHED),
              C(EVENT_LIMIT_REACHED) (ended).
          type: str
          returned: always
        rows_total:
          description: Rows written, when the server says.
          type: int
          returned: when known
        duration_s:
          description: How long the run took, in seconds, when it has ended.
          type: float
          returned: when known
        error:
          description: Why a failed run failed, in the server's words.
          type: str
          returned: when the run failed
      sample: [{id: stream_2sZyDMeIbdaXnN9OL7vYzzAiZU5, status: FINISHED, rows_total: 3000, duration_s: 1.8}]
    stats:
      description: The newest run's statistics; C(rows) per target table.
      type: dict
      returned: when O(gather) contains V(stats) and the configuration has run
      sample: {id: stream_2sZyDMeIbdaXnN9OL7vYzzAiZU5, status: RUNNING, rows: {customers: 1000, orders: 250}, rows_total: 1250}
"""

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import SpecError
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import DbcsModule
from ansible_collections.dbconvert.streams.plugins.module_utils.stream import (
    check_config_id, config_view, declared_config, normalise_config, run_view)


def main():
    module = DbcsModule(
        argument_spec=dict(
            name=dict(type="str"),
            id=dict(type="str"),
            gather=dict(type="list", elements="str", choices=["runs", "stats"], default=[]),
            parallel=dict(type="int", default=4),
        ),
        mutually_exclusive=[("name", "id")],
        supports_check_mode=True,
    )

    def recipe():
        params = module.params
        name, config_id, gather = params["name"], params["id"], set(params["gather"])
        if name is not None and not name.strip():
            raise SpecError("name must not be empty; leave name out to read every stream configuration")
        if config_id is not None:
            check_config_id(config_id)
        configs, connections = module.read_streams()
        if config_id is not None and not any(config.get("id") == config_id for config in configs):
            raise SpecError("id: no stream configuration has the id %s (with this API key)" % config_id)
        selected = [normalise_config(config) for config in configs
                    if (name is None or config.get("name") == name) and (config_id is None or config.get("id") == config_id)]
        runs = module.read_runs(selected) if gather else {}
        views = []
        for config in selected:
            view = config_view(config, connections)
            view["declared"] = declared_config(config, connections)
            if "runs" in gather:
                view["runs"] = runs[config["id"]]
            newest = runs.get(config["id"])
            if "stats" in gather and newest:
                view["stats"] = dict(run_view(dict(id=newest[0]["id"], status=newest[0]["status"]),
                                              module.client.stream_stats(newest[0]["id"])))
            views.append(view)
        module.finish(changed=False, stream_configs=views)

    module.run(recipe)


if __name__ == "__main__":
    main()
