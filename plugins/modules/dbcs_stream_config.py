#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dbcs_stream_config
short_description: Create, update or delete one DBConvert Streams stream configuration
version_added: 0.2.0
description:
  - Makes one stream configuration on a DBConvert Streams 2.x server match what you declare - a source connection,
    database and tables, a target connection, database and how to write there, a mode and limits.
  - Connections are named by name (or id); the module resolves them to ids and fails, before any write, when one does
    not exist. Results and diffs show connections by name.
  - Only the options you set are compared; the tables as a set. An update sends the whole configuration, as the API
    requires, with the server's other settings kept.
  - Streams exist in the 2.x API only (DBConvert Streams 2.0 and later); against a v1 server the module fails saying so.
  - To converge many configurations in one task, use M(dbconvert.streams.dbcs_stream_configs). To run one, use
    M(dbconvert.streams.dbcs_stream).
author:
  - DBConvert Streams collection developers (@dbconvert)
extends_documentation_fragment:
  - dbconvert.streams.dbcs
  - dbconvert.streams.dbcs.ACTION_GROUP
  - dbconvert.streams.stream_config
attributes:
  check_mode:
    support: full
    description: Sends no POST, PUT or DELETE, and predicts RV(ignore:changed) and the diff exactly.
  diff_mode:
    support: full
    description: Shows the declared options of the configuration before and after, connections by name.
options:
  force:
    description:
      - With O(state=absent), delete a configuration that has an active run, stopping the run at once first.
      - Without it, such a delete fails before any write.
    type: bool
    default: false
seealso:
  - module: dbconvert.streams.dbcs_stream_configs
  - module: dbconvert.streams.dbcs_stream
  - module: dbconvert.streams.dbcs_stream_info
"""

EXAMPLES = r"""
- name: Copy three tables of the shop into the warehouse's sales schema
  dbconvert.streams.dbcs_stream_config:
    api_url: https://streams.example.com/api/v1
    api_key: "{{ vault_dbcs_api_key }}"
    name: shop-to-warehouse
    description: nightly copy of the shop
    source:
      connection: shop
      database: shop
      tables: [customers, orders, order_items]
    target:
      connection: warehouse
      database: analytics
      schema: sales
      schema_policy: create_missing_only
      write_mode: truncate_and_load
    bundle_size: 5000

- name: Only change the write mode of an existing configuration
  dbconvert.streams.dbcs_stream_config:
    name: shop-to-warehouse
    target:
      connection: warehouse
      write_mode: upsert

- name: Delete a configuration, stopping its run if one is active
  dbconvert.streams.dbcs_stream_config:
    name: old-copy
    state: absent
    force: true
"""

RETURN = r"""
stream_config:
  description:
    - The configuration as the server holds it after the task (as it would be, in check mode), in the declared
      form, connections by name and by id. Empty after a delete.
  returned: success
  type: dict
  sample:
    id: config_2sZyDMeIbdaXnN9OL7vYzzAiZU5
    name: shop-to-warehouse
    mode: load
    source: {connection: shop, connection_id: conn_2sZyDMeIbdaXnN9OL7vYzzAiZU6, database: shop, tables: [customers, orders]}
    target: {connection: warehouse, connection_id: conn_2sZyDMeIbdaXnN9OL7vYzzAiZU7, database: analytics, schema: sales,
             schema_policy: create_missing_only, write_mode: truncate_and_load}
    limits: {rows: 0, seconds: 0}
id:
  description: Id of the configuration (of the deleted one after a delete). Null for a create in check mode.
  returned: success
  type: str
  sample: config_2sZyDMeIbdaXnN9OL7vYzzAiZU5
diff:
  description: The declared options before and after, connections by name.
  returned: when diff mode is on
  type: dict
  sample:
    before: {name: shop-to-warehouse, target: {connection: warehouse, write_mode: append}}
    after: {name: shop-to-warehouse, target: {connection: warehouse, write_mode: upsert}}
"""

from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import DbcsModule
from ansible_collections.dbconvert.streams.plugins.module_utils.stream import STREAM_CONFIG_OPTIONS, StreamConfigSpec


def main():
    module = DbcsModule(argument_spec=dict(STREAM_CONFIG_OPTIONS, force=dict(type="bool", default=False)),
                        supports_check_mode=True)

    def recipe():
        spec = StreamConfigSpec(module.params)
        (change,), failures, connections = module.converge_stream_configs([spec], force=module.params["force"])
        result = dict(changed=change.changed and not change.failed, stream_config=change.end_state(connections),
                      id=change.config_id)
        if failures:
            module.fail_json(msg=failures[0]["msg"], **result)
        module.finish(diff=change.diff(connections), **result)

    module.run(recipe)


if __name__ == "__main__":
    main()
