#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dbcs_connection_info
short_description: Read DBConvert Streams connections, with their databases, tables and a connection test
version_added: 0.1.0
description:
  - Returns the database connections a DBConvert Streams server holds for the API key, without their
    passwords and SSL client keys, to feed later tasks, to audit a server, or to adopt existing
    connections into Git.
  - Selects one connection by O(name) or O(id), or all of them, optionally only those of one O(type).
  - Optionally gathers, per connection, the databases and schemas the connection's user sees, the tables
    of its database, and the result of a connection test (see O(gather)).
  - Never changes anything on the server.
author:
  - DBConvert Streams collection developers (@dbconvert)
extends_documentation_fragment:
  - dbconvert.streams.dbcs
  - dbconvert.streams.dbcs.ACTION_GROUP
attributes:
  check_mode:
    support: full
    description:
      - Reads exactly as without check mode, except that no connection test is run, because the test is a
        POST request and check mode sends none; RV(connections[].ping) then says it was skipped.
  diff_mode:
    support: none
    description: The module changes nothing, so there is nothing to show a difference of.
options:
  name:
    description:
      - Return only the connections with this exact (case-sensitive) name.
      - When no connection has this name, RV(connections) is empty; this is not a failure.
      - Mutually exclusive with O(id). Without O(name) and O(id), every connection is returned.
    type: str
  id:
    description:
      - Return only the connection with this id, for example C(conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5).
      - Fails when no connection has this id.
      - Mutually exclusive with O(name).
    type: str
  type:
    description:
      - Return only connections of this type (compared case-insensitively with the server's).
      - V(files), V(s3) and V(snowflake) connections exist on 2.x servers; this collection reads them (without
        their secrets) and can delete them, but does not create or change them.
    type: str
    choices: [mysql, postgresql, files, s3, snowflake]
  gather:
    description:
      - What to read for each returned connection, besides the connection itself. Each of these makes
        the server connect to the connection's database.
      - V(databases) adds RV(connections[].databases), the databases the connection's user sees (with
        their schemas for PostgreSQL).
      - V(tables) adds RV(connections[].tables), the tables of the connection's database. A MySQL or PostgreSQL
        connection without a database has none to list, so its list is empty.
      - V(ping) tests the connection and adds RV(connections[].ping). A failed test is a result, not a failure
        of the task. In check mode the test is not run.
      - When the server cannot read the databases or tables of a connection (for example because its database
        is down or refuses the login), that part is V(null) and RV(connections[].errors) says why; the task
        does not fail. Other errors (a wrong API key, an unreachable API) fail the task.
    type: list
    elements: str
    choices: [databases, tables, ping]
    default: []
  parallel:
    description:
      - How many connections are read, listed or tested at the same time, 1 to 32.
      - Tests and listings can take seconds each when a database is slow to answer.
    type: int
    default: 4
notes:
  - The list of connections is read once. The details of a connection are read only when the list does not
    carry them (some servers list only a summary), and only for the connections that are returned.
seealso:
  - module: dbconvert.streams.dbcs_connection
  - module: dbconvert.streams.dbcs_connections
  - module: dbconvert.streams.dbcs_schema
"""

EXAMPLES = r"""
- name: Read every connection
  dbconvert.streams.dbcs_connection_info:
    api_url: https://streams.example.com/api/v1
    api_key: "{{ vault_dbcs_api_key }}"
  register: all_connections

- name: Show their names
  ansible.builtin.debug:
    msg: "{{ all_connections.connections | map(attribute='name') | list }}"

- name: Read one connection with its databases and tables
  dbconvert.streams.dbcs_connection_info:
    name: warehouse
    gather: [databases, tables]
  register: warehouse

- name: Use the schemas of the connection's own database
  ansible.builtin.debug:
    msg: >-
      {{ (warehouse.connections[0].databases
          | selectattr('name', 'eq', warehouse.connections[0].database) | first).schemas }}

- name: Test every PostgreSQL connection
  dbconvert.streams.dbcs_connection_info:
    type: postgresql
    gather: [ping]
  register: tested

- name: Fail when any of them does not work
  ansible.builtin.assert:
    that: tested.connections | rejectattr('ping.ok') | list | length == 0
    fail_msg: >-
      Failing: {{ tested.connections | rejectattr('ping.ok')
                  | map(attribute='name') | list | join(', ') }}

- name: Read a connection by its id
  dbconvert.streams.dbcs_connection_info:
    id: conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5
"""

RETURN = r"""
connections:
  description:
    - The selected connections, in the server's order; a list also for one connection, and empty
      when none is selected.
    - Each is the connection as the server holds it, with every field the server returns, the type in lower
      case, and without its password and SSL client key.
    - The same shape whichever dialect the server speaks; a 2.x server's C(spec.database) fields come out as
      RV(connections[].host), RV(connections[].port) and so on.
    - A connection of a kind this collection does not manage (V(files), V(s3), V(snowflake)) comes with its
      C(spec) as the server sent it, without any secret in it (keys such as C(password), C(secretKey),
      C(sessionToken) are removed).
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Id of the connection.
      type: str
      returned: always
      sample: conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5
    name:
      description: Name of the connection.
      type: str
      returned: always
      sample: warehouse
    type:
      description: Connection type, V(mysql) or V(postgresql) (or, on 2.x servers, V(files), V(s3), V(snowflake)).
      type: str
      returned: always
      sample: postgresql
    host:
      description: Host of the database server.
      type: str
      returned: for MySQL and PostgreSQL connections
      sample: pg.example.com
    port:
      description: Port of the database server.
      type: int
      returned: for MySQL and PostgreSQL connections
      sample: 5432
    username:
      description: Database user.
      type: str
      returned: for MySQL and PostgreSQL connections
      sample: streams
    database:
      description: Database of the connection (empty or absent for a connection without one).
      type: str
      returned: when the connection has one
      sample: analytics
    schema:
      description: PostgreSQL schema of the connection.
      type: str
      returned: when the server returns it
      sample: sales
    ssl:
      description: TLS settings, without the client key.
      type: dict
      returned: when the server returns them
      sample: {mode: verify-full, ca: LS0tLS1CRUdJTi...}
    declared:
      description:
        - The options of M(dbconvert.streams.dbcs_connection) that make a server hold this connection as it is
          (what the C(dbconvert.streams.export) playbook writes); only fields with a value, certificates as PEM
          text, and each secret as a placeholder for a vault variable keyed by the connection's name,
          C({{ vault_dbcs_passwords["NAME"] }}) and C({{ vault_dbcs_ssl_client_keys["NAME"] }}).
        - V(null) for a connection of a kind this collection does not manage.
      type: dict
      returned: always
      sample:
        name: warehouse
        type: postgresql
        host: pg.example.com
        port: 5432
        username: streams
        database: analytics
        password: '{{ vault_dbcs_passwords["warehouse"] }}'
    created:
      description: When the connection was created, in Unix seconds.
      type: int
      returned: when the server returns it
      sample: 1735689600
    databases:
      description:
        - The databases the connection's user sees, system databases left out.
        - For PostgreSQL, each with the names of its schemas (system schemas left out).
        - V(null) when the server could not read them, see RV(connections[].errors).
      type: list
      elements: dict
      returned: when O(gather) contains V(databases)
      sample: [{name: analytics, schemas: [public, sales]}]
    tables:
      description:
        - The tables of the connection's database, as the server names them (PostgreSQL tables outside the
          C(public) schema may come schema-qualified, such as C(sales.orders)).
        - Empty for a MySQL connection without a database. V(null) when the server could not read them, see RV(connections[].errors).
      type: list
      elements: str
      returned: when O(gather) contains V(tables)
      sample: [customers, sales.orders]
    errors:
      description:
        - Why the server could not read a gathered part of this connection, by part (V(databases), V(tables)).
          That part is V(null) then.
      type: dict
      returned: when a gathered part could not be read
      sample:
        databases: "Could not list databases of connection 'warehouse' (conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5): HTTP 503: connection failed"
    ping:
      description: The result of the connection test.
      type: dict
      returned: when O(gather) contains V(ping)
      contains:
        ok:
          description: V(true) when the test passed, V(false) when it failed, V(null) when it was not run (check mode).
          type: bool
          returned: always
        error:
          description: The server's error when the test failed, else V(null).
          type: str
          returned: always
        skipped:
          description: Why the test was not run (V(check mode)).
          type: str
          returned: when the test was not run
      sample: {ok: false, error: 'password authentication failed for user "streams"'}
"""

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import (
    PING_SKIPPED_IN_CHECK_MODE, SpecError, check_connection_id, info_view, is_type, ping_result, select_connections)
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_client import DbcsApiError
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import DbcsModule
from ansible_collections.dbconvert.streams.plugins.module_utils.kinds import ALL_KINDS, is_managed

# The statuses with which the server says it could not read a connection's database (400: not for this
# connection, 503: unreachable or refused); any other error fails the task.
DATABASE_ERROR_STATUSES = (400, 503)


def main():
    module = DbcsModule(
        argument_spec=dict(
            name=dict(type="str"),
            id=dict(type="str"),
            type=dict(type="str", choices=list(ALL_KINDS)),
            gather=dict(type="list", elements="str", choices=["databases", "tables", "ping"], default=[]),
            parallel=dict(type="int", default=4),
        ),
        mutually_exclusive=[("name", "id")],
        supports_check_mode=True,
    )

    def recipe():
        params = module.params
        name, conn_id, conn_type, gather = params["name"], params["id"], params["type"], set(params["gather"])
        if name is not None and not name.strip():
            raise SpecError("name must not be empty; leave name out to read every connection")
        if conn_id is not None:
            check_connection_id(conn_id)

        refs = None if name is None and conn_id is None else set([name if conn_id is None else conn_id])
        server = module.read_connections(refs, select=lambda conn: is_type(conn, conn_type))
        selected = select_connections(server, name=name, conn_id=conn_id, conn_type=conn_type)

        def gathered(conn):
            client, cid, cname = module.client, conn["id"], conn.get("name")
            item = info_view(conn)

            def read(part, reader):
                try:
                    item[part] = reader(cid, cname)
                except DbcsApiError as exc:
                    # The server could not read this connection's database: a result for this item, as a failed test is.
                    if exc.status not in DATABASE_ERROR_STATUSES:
                        raise
                    item[part] = None
                    item.setdefault("errors", {})[part] = exc.message

            if "databases" in gather:
                read("databases", client.list_databases)
            if "tables" in gather:
                if is_managed(item) and not item.get("database"):
                    item["tables"] = []  # the API lists the tables of the connection's database, and it has none
                else:
                    read("tables", lambda cid, cname: client.list_tables(cid, cname, item.get("database")))
            if "ping" in gather:
                item["ping"] = dict(PING_SKIPPED_IN_CHECK_MODE) if module.check_mode else ping_result(
                    *client.ping_connection(cid, cname))
            return item

        module.finish(changed=False, connections=module.map(gathered, selected))

    module.run(recipe)


if __name__ == "__main__":
    main()
