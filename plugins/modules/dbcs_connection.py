#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dbcs_connection
short_description: Create, update, clone, test or delete one DBConvert Streams connection
version_added: 0.1.0
description:
  - Makes one database connection on a DBConvert Streams server match what you declare, through the
    server's Connection API.
  - The connection is identified by its O(name) (exact, case-sensitive). Only the options you set are
    compared with the server, and an update sends the whole connection, as the API requires.
  - To converge many connections in one task (much faster than a loop), use
    M(dbconvert.streams.dbcs_connections), which takes the same options per connection.
author:
  - DBConvert Streams collection developers (@dbconvert)
extends_documentation_fragment:
  - dbconvert.streams.dbcs
  - dbconvert.streams.connection
  - dbconvert.streams.dbcs.ACTION_GROUP
attributes:
  check_mode:
    support: full
    description: Sends no POST, PUT or DELETE, and predicts RV(ignore:changed) and the diff exactly.
  diff_mode:
    support: full
    description: Shows the connection before and after, with the password and SSL client key masked.
options:
  verify:
    description:
      - Test the connection (the server connects to the database) and fail with the server's error
        when the test fails.
      - V(true) or V(on_change) tests after a create, clone or update; V(always) tests on every run,
        also when nothing changed; V(false) or V(never) does not test.
      - A change whose test fails is undone, as the C(validate) option of M(ansible.builtin.template) keeps a
        file that does not validate from replacing the old one - a created or cloned connection is deleted again,
        an updated one gets its previous settings back - and the task fails. The next run therefore makes the
        change, and tests it, again; a connection that does not work never passes as converged. Against a server
        that does not return passwords, the restored connection keeps the password the task sent, the only one
        the module knows.
      - In check mode nothing is tested (a test is a POST request).
    type: raw
    default: false
seealso:
  - module: dbconvert.streams.dbcs_connections
  - module: dbconvert.streams.dbcs_connection_info
  - module: dbconvert.streams.dbcs_schema
"""

EXAMPLES = r"""
- name: Set the API options once for every module of the collection
  module_defaults:
    group/dbconvert.streams.dbcs:
      api_url: https://streams.example.com/api/v1
      api_key: "{{ vault_dbcs_api_key }}"
  block:
    - name: Declare the PostgreSQL target (password from Ansible Vault)
      dbconvert.streams.dbcs_connection:
        name: warehouse
        type: postgresql
        host: pg.example.com
        port: 5432
        username: streams
        password: "{{ vault_warehouse_password }}"
        database: analytics
        verify: true

    - name: Declare the MySQL source, keeping a password that is rotated elsewhere
      dbconvert.streams.dbcs_connection:
        name: shop
        type: mysql
        host: mysql.example.com
        username: replicator
        password: "{{ vault_shop_password }}"
        update_password: on_create

- name: Copy the warehouse connection for a staging database
  dbconvert.streams.dbcs_connection:
    name: warehouse-staging
    clone_from: warehouse
    database: analytics_staging

- name: Require verified TLS, with the CA from a file
  dbconvert.streams.dbcs_connection:
    name: warehouse
    ssl:
      mode: verify-full
      ca_path: files/pg-ca.pem

- name: Test an existing connection on every run
  dbconvert.streams.dbcs_connection:
    name: warehouse
    verify: always

- name: Delete a connection
  dbconvert.streams.dbcs_connection:
    name: legacy-crm
    state: absent
"""

RETURN = r"""
connection:
  description:
    - The connection as the server holds it after the task (as it would be, in check mode),
      without its password and SSL client key. Empty after a delete.
  returned: success
  type: dict
  sample:
    id: conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5
    name: warehouse
    type: postgresql
    host: pg.example.com
    port: 5432
    username: streams
    database: analytics
id:
  description: Id of the connection (of the deleted one after a delete). Null when it does not exist, and for a create in check mode.
  returned: success
  type: str
  sample: conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5
password_changed:
  description: Whether a password was (or, in check mode, would be) sent that the server did not already have, or could not be compared.
  returned: success
  type: bool
  sample: false
diff:
  description: The connection's fields before and after, secrets masked as C(********) and marked C((changed)) when sent changed.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The connection before the task; empty when it did not exist.
      type: dict
      returned: always
    after:
      description: The connection after the task; empty after a delete.
      type: dict
      returned: always
  sample:
    before: {name: warehouse, host: pg-old.example.com, port: 5432, password: "********"}
    after: {name: warehouse, host: pg.example.com, port: 5432, password: "********"}
"""

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import (
    CONNECTION_OPTIONS, ConnectionSpec, normalise_verify)
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import DbcsModule


def main():
    module = DbcsModule(argument_spec=dict(CONNECTION_OPTIONS, verify=dict(type="raw", default=False)),
                        supports_check_mode=True)

    def recipe():
        spec = ConnectionSpec(module.params)
        verify = normalise_verify(module.params["verify"])
        (change,), failures = module.converge([spec], verify=verify)
        result = dict(changed=change.changed and not change.failed, connection=change.end_state(),
                      id=change.conn_id, password_changed=change.password_changed)
        if failures:
            module.fail_json(msg=failures[0]["msg"], **result)
        module.finish(diff=change.diff(), **result)

    module.run(recipe)


if __name__ == "__main__":
    main()
