#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dbcs_stream_configs
short_description: Converge a declared set of DBConvert Streams stream configurations in one task
version_added: 0.2.0
description:
  - Makes the stream configurations on a DBConvert Streams 2.x server match a declared list in one module run. It
    reads the server once (its connections and configurations), creates, updates or deletes only what differs, and can
    delete the configurations the list does not name (O(purge)).
  - Each item of O(configs) takes the options of M(dbconvert.streams.dbcs_stream_config) and behaves exactly like it; a
    task with one item is the same as that module. An unchanged re-run sends three requests whatever the size of the list.
author:
  - DBConvert Streams collection developers (@dbconvert)
extends_documentation_fragment:
  - dbconvert.streams.dbcs
  - dbconvert.streams.dbcs.ACTION_GROUP
attributes:
  check_mode:
    support: full
    description: Sends no POST, PUT or DELETE, and returns the exact plan in RV(created), RV(updated), RV(deleted) and the diff.
  diff_mode:
    support: full
    description: One before/after per configuration that changes, connections by name.
options:
  configs:
    description:
      - The declared stream configurations; each item takes the options of M(dbconvert.streams.dbcs_stream_config)
        (O(dbconvert.streams.dbcs_stream_config#module:name), O(dbconvert.streams.dbcs_stream_config#module:state),
        O(dbconvert.streams.dbcs_stream_config#module:mode), O(dbconvert.streams.dbcs_stream_config#module:source),
        O(dbconvert.streams.dbcs_stream_config#module:target), O(dbconvert.streams.dbcs_stream_config#module:limits) and
        the others), and is checked against them before any request, naming the item.
      - Names must be unique in the list.
    type: list
    elements: dict
    required: true
  purge:
    description:
      - Delete every stream configuration on the server that O(configs) does not name.
      - With an empty O(configs) list this deletes every configuration of the API key; run with C(--check --diff) first.
    type: bool
    default: false
  force:
    description:
      - Delete configurations (by C(state=absent) or O(purge)) that have an active run, stopping the run at once first.
      - Without it, such a delete fails the task before any write.
    type: bool
    default: false
  parallel:
    description: How many writes are sent at once, 1 to 32.
    type: int
    default: 4
notes:
  - When some writes fail, the others are still made; the task then fails, listing the failures in RV(failures).
seealso:
  - module: dbconvert.streams.dbcs_stream_config
  - module: dbconvert.streams.dbcs_stream
"""

EXAMPLES = r"""
- name: Converge the stream configurations declared in Git, removing any the file no longer names
  dbconvert.streams.dbcs_stream_configs:
    purge: true
    configs:
      - name: shop-to-warehouse
        source: {connection: shop, database: shop, tables: [customers, orders]}
        target: {connection: warehouse, database: analytics, schema: sales, write_mode: truncate_and_load}
      - name: crm-to-warehouse
        source: {connection: crm, database: crm}
        target: {connection: warehouse, database: analytics, schema: crm}
  register: streams

- name: Show what changed
  ansible.builtin.debug:
    msg: "created {{ streams.created }}, updated {{ streams.updated }}, deleted {{ streams.deleted }}"
"""

RETURN = r"""
created:
  description: Names of the configurations created, or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: [shop-to-warehouse]
updated:
  description: Names of the configurations updated, or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: []
deleted:
  description: Names of the configurations deleted (by C(state=absent) or O(purge)).
  returned: always
  type: list
  elements: str
  sample: [old-copy]
unchanged:
  description: Names of the declared configurations that already matched.
  returned: always
  type: list
  elements: str
  sample: [crm-to-warehouse]
stream_configs:
  description:
    - The declared configurations (not those with C(state=absent)) as the server holds them after the task, in the
      declared order, each in the shape of RV(dbconvert.streams.dbcs_stream_config#module:stream_config), with its id.
  returned: always
  type: list
  elements: dict
failures:
  description: The writes that failed, each with the configuration's name, the action and the error.
  returned: always
  type: list
  elements: dict
  sample:
    - name: crm-to-warehouse
      action: create
      msg: "Could not create stream configuration 'crm-to-warehouse': HTTP 400: table 'leads' does not exist"
diff:
  description: One before/after per configuration that changes, connections by name.
  returned: when diff mode is on
  type: list
  elements: dict
"""

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import SpecError
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import DbcsModule, change_summary
from ansible_collections.dbconvert.streams.plugins.module_utils.stream import STREAM_CONFIG_OPTIONS, StreamConfigSpec


def read_items(items):
    """Each item checked against the options of dbcs_stream_config (documented once, for both modules)."""
    validator = ArgumentSpecValidator(STREAM_CONFIG_OPTIONS)
    specs, seen = [], {}
    for index, item in enumerate(items):
        label = "configs[%d]" % index + (" (%s)" % item["name"] if isinstance(item.get("name"), str) else "")
        checked = validator.validate(item)
        if checked.error_messages:
            raise SpecError("%s: %s" % (label, "; ".join(checked.error_messages)))
        spec = StreamConfigSpec(checked.validated_parameters, where="%s: " % label)
        if spec.name in seen:
            raise SpecError("configs[%d]: the name '%s' is declared twice (also configs[%d]); names identify stream "
                            "configurations and must be unique" % (index, spec.name, seen[spec.name]))
        seen[spec.name] = index
        specs.append(spec)
    return specs


def main():
    module = DbcsModule(
        argument_spec=dict(
            configs=dict(type="list", elements="dict", required=True),
            purge=dict(type="bool", default=False),
            force=dict(type="bool", default=False),
            parallel=dict(type="int", default=4),
        ),
        supports_check_mode=True,
    )

    def recipe():
        params = module.params
        specs = read_items(params["configs"])
        changes, failures, connections = module.converge_stream_configs(specs, purge=params["purge"], force=params["force"])
        summary = change_summary(changes)
        result = dict(created=summary["created"], updated=summary["updated"], deleted=summary["deleted"],
                      unchanged=summary["unchanged"], failures=failures,
                      stream_configs=[c.end_state(connections) for c in changes
                                      if c.spec is not None and c.spec.state != "absent" and c.end_state(connections)])
        result["changed"] = bool(result["created"] or result["updated"] or result["deleted"])
        diff = [change.diff(connections) for change in changes if change.changed and not change.failed]
        if failures:
            module.fail_json(msg="%d of %d stream configuration changes failed: %s" % (
                len(failures), len(changes), "; ".join(f["msg"] for f in failures)), **result)
        module.finish(diff=diff, **result)

    module.run(recipe)


if __name__ == "__main__":
    main()
