#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dbcs_connections
short_description: Converge a declared set of DBConvert Streams connections in one task
version_added: 0.1.0
description:
  - Makes the connections on a DBConvert Streams server match a declared list in one module run.
    It reads the server once, creates, updates or deletes only what differs, and can delete the
    connections the list does not name (O(purge)).
  - Each list item takes the options of M(dbconvert.streams.dbcs_connection) and behaves exactly
    like it; a task with one item is the same as that module.
  - One task instead of a loop, so 100 connections converge in about a second instead of about 40
    seconds of per-task overhead, and an unchanged re-run sends two requests whatever the size of the list.
author:
  - DBConvert Streams collection developers (@dbconvert)
extends_documentation_fragment:
  - dbconvert.streams.dbcs
  - dbconvert.streams.connection.ITEMS
  - dbconvert.streams.dbcs.ACTION_GROUP
attributes:
  check_mode:
    support: full
    description: Sends no POST, PUT or DELETE, and returns the exact plan in RV(created), RV(updated), RV(deleted) and the diff.
  diff_mode:
    support: full
    description: One before/after per connection that changes, secrets masked.
options:
  purge:
    description:
      - Delete every connection on the server that O(connections) does not name.
      - With an empty O(connections) list this deletes every connection of the API key; run with
        C(--check --diff) first to see the plan.
    type: bool
    default: false
  verify:
    description:
      - Test connections (the server connects to each database). A failed test fails the task after
        every other change has been made, and is listed in RV(failures).
      - V(true) or V(on_change) tests the connections that were created, cloned or updated;
        V(always) tests every declared connection; V(false) or V(never) tests none.
      - A change whose test fails is undone (a created or cloned connection is deleted again, an updated one gets
        its previous settings back), so the next run makes it, and tests it, again; see
        O(dbconvert.streams.dbcs_connection#module:verify).
      - In check mode nothing is tested.
    type: raw
    default: false
  parallel:
    description:
      - How many writes (and tests) are sent at once, 1 to 32. The server may take seconds per
        create when it connects to the database, so a few in flight shorten a large converge.
    type: int
    default: 4
notes:
  - When some writes fail, the others are still made; the task then fails, listing the failures in
    RV(failures) and what was done in RV(created), RV(updated) and RV(deleted). Nothing is left half-written
    silently, and a re-run completes the rest.
seealso:
  - module: dbconvert.streams.dbcs_connection
"""

EXAMPLES = r"""
- name: Converge the connections declared in Git, removing any the file no longer names
  dbconvert.streams.dbcs_connections:
    api_url: https://streams.example.com/api/v1
    api_key: "{{ vault_dbcs_api_key }}"
    purge: true
    verify: true
    connections:
      - name: shop
        type: mysql
        host: mysql.example.com
        username: replicator
        password: "{{ vault_passwords.shop }}"
      - name: warehouse
        type: postgresql
        host: pg.example.com
        username: streams
        password: "{{ vault_passwords.warehouse }}"
        database: analytics
      - name: legacy-crm
        state: absent
  register: converge

- name: Show what changed
  ansible.builtin.debug:
    msg: "created {{ converge.created }}, updated {{ converge.updated }}, deleted {{ converge.deleted }}"

- name: Use the ids in later tasks
  ansible.builtin.set_fact:
    connection_ids: "{{ converge.connections | items2dict(key_name='name', value_name='id') }}"

- name: Plan only, for review in a merge request (run the play with --check --diff)
  dbconvert.streams.dbcs_connections:
    connections: "{{ dbcs_connections }}"
    purge: true
  check_mode: true
"""

RETURN = r"""
created:
  description: Names of the connections created (or cloned), or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: [warehouse]
updated:
  description: Names of the connections updated, or that would be in check mode.
  returned: always
  type: list
  elements: str
  sample: [shop]
deleted:
  description: Names of the connections deleted (by O(connections[].state=absent) or O(purge)).
  returned: always
  type: list
  elements: str
  sample: [legacy-crm]
unchanged:
  description: Names of the declared connections that already matched.
  returned: always
  type: list
  elements: str
  sample: []
connections:
  description:
    - The name and id of each declared connection (not those with O(connections[].state=absent)) after the task, in
      the declared order, to chain ids into later tasks, for example
      C(converge.connections | items2dict(key_name='name', value_name='id')). Their settings are in the
      declaration; what the server holds is what M(dbconvert.streams.dbcs_connection_info) returns.
    - Only names and ids, because Ansible masks every declared password in every string a module returns (the
      cost grows with connections times strings); a converge of 1000 connections stays fast.
    - In check mode, as they would be; a connection that would be created has no id yet. A connection whose change
      failed (or was undone after a failed test) appears when it exists on the server, with its id.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Id of the connection; null for one that would be created in check mode.
      type: str
      returned: always
    name:
      description: Name of the connection.
      type: str
      returned: always
  sample:
    - id: conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5
      name: warehouse
    - id: conn_2sZyDQ1pTnR7wOq0vRPMo2TfWbB
      name: shop
failures:
  description:
    - The writes and tests that failed, each with the connection's name, the action and the error.
      The task fails when this is not empty.
    - Named C(failures) because Ansible reserves C(failed) for the task's own status.
  returned: always
  type: list
  elements: dict
  sample:
    - name: warehouse
      action: verify
      msg: "The test of connection 'warehouse' failed: connection refused"
diff:
  description: One before/after per connection that changes, secrets masked.
  returned: when diff mode is on
  type: list
  elements: dict
"""

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import (
    CONNECTION_OPTIONS, ConnectionSpec, SpecError, normalise_verify)
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import DbcsModule, change_summary


def main():
    module = DbcsModule(
        argument_spec=dict(
            connections=dict(type="list", elements="dict", required=True, options=CONNECTION_OPTIONS),
            purge=dict(type="bool", default=False),
            verify=dict(type="raw", default=False),
            parallel=dict(type="int", default=4),
        ),
        supports_check_mode=True,
    )

    def recipe():
        params = module.params
        specs = [ConnectionSpec(item, where="connections[%d] (%s): " % (index, item["name"]))
                 for index, item in enumerate(params["connections"])]
        seen = {}
        for index, spec in enumerate(specs):
            if spec.name in seen:
                raise SpecError("connections[%d]: the name '%s' is declared twice (also connections[%d]); "
                                "names identify connections and must be unique" % (index, spec.name, seen[spec.name]))
            seen[spec.name] = index
        changes, failures = module.converge(specs, purge=params["purge"], verify=normalise_verify(params["verify"]))
        result = dict(change_summary(changes), failures=failures,
                      connections=[dict(name=state["name"], id=state["id"]) for state in
                                   (change.end_state() for change in changes if change.spec is not None and
                                    change.spec.state != "absent") if state])
        result["changed"] = bool(result["created"] or result["updated"] or result["deleted"])
        diff = [change.diff() for change in changes if change.changed and not change.failed]
        if failures:
            module.fail_json(msg="%d of %d connection changes failed: %s" % (
                len(failures), len(changes), "; ".join(f["msg"] for f in failures)), **result)
        module.finish(diff=diff, **result)

    module.run(recipe)


if __name__ == "__main__":
    main()
