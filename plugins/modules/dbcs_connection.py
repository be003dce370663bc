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
  - dbconvert.streams.dbcs.ACTION_GROUP
attributes:
  check_mode:
    support: full
    description: Sends no POST, PUT or DELETE, and predicts RV(ignore:changed) and the diff exactly.
  diff_mode:
    support: full
    description: Shows the connection before and after, with the password and SSL client key masked.
options:
  name:
    description:
      - Name of the connection; identifies it on the server (exact, case-sensitive match).
      - Any text without control characters. A line break or tab in a name is refused (except with O(state=absent)),
        as it is almost always a YAML slip, such as a block scalar (C(|) or C(>)) that ends with a line break.
      - If two connections on the server have this name, the module fails and lists their ids.
    type: str
    required: true
  state:
    description:
      - V(present) creates the connection or updates the options you set.
      - V(absent) deletes it; deleting a connection that does not exist changes nothing.
    type: str
    choices: [present, absent]
    default: present
  type:
    description:
      - Database type. Required to create a connection (unless O(clone_from) is set).
      - The server's value is compared case-insensitively (some servers store C(PostgreSQL)).
    type: str
    choices: [mysql, postgresql]
  host:
    description:
      - Host name or address of the database server, as the DBConvert Streams server reaches it.
      - Required to create a connection (unless O(clone_from) is set).
    type: str
  port:
    description:
      - TCP port of the database server, 1 to 65535.
      - When a connection is created without it, the type's default is used (3306 for MySQL, 5432 for PostgreSQL).
    type: int
  username:
    description:
      - Database user. Required to create a connection (unless O(clone_from) is set).
    type: str
  password:
    description:
      - Password of the database user. Required to create a connection (unless O(clone_from) is set).
      - Never shown in output, logs or diffs. Keep it in Ansible Vault.
      - See O(update_password) for when it is compared and sent.
    type: str
  database:
    description:
      - Database to connect to. Required to create a PostgreSQL connection on a v1 server; optional for MySQL
        (a v1 server stores an empty string) and on 2.x servers.
    type: str
  schema:
    description:
      - PostgreSQL schema the connection works in. Only valid for O(type=postgresql).
      - Only on servers of the v1 dialect. On 2.x servers a connection has no schema (2.x chooses the schema
        per stream); setting it there fails before any change. Use M(dbconvert.streams.dbcs_schema) to create
        the schema.
    type: str
  ssl:
    description:
      - TLS settings for the connection to the database. When set, they replace the server's SSL
        settings as a whole.
      - Each certificate or key is given either as PEM text (O(ssl.ca), O(ssl.client_cert), O(ssl.client_key))
        or as a path to a PEM file read by the module (O(ssl.ca_path), O(ssl.client_cert_path), O(ssl.client_key_path)).
      - An update sends the whole connection. Against a server that does not return secrets, a connection
        with a client certificate can only be updated with O(ssl) declared, client key included, since
        the module cannot carry over a key it cannot read; it fails before any change otherwise.
    type: dict
    suboptions:
      mode:
        description:
          - V(disabled) connects without TLS; V(require) uses TLS without verifying the certificate;
            V(verify-ca) also verifies it against O(ssl.ca); V(verify-full) also checks the host name.
        type: str
        choices: [disabled, require, verify-ca, verify-full]
        default: require
      ca:
        description: PEM text of the CA certificate. Mutually exclusive with O(ssl.ca_path).
        type: str
      ca_path:
        description: Path of a PEM file with the CA certificate. Mutually exclusive with O(ssl.ca).
        type: path
      client_cert:
        description: PEM text of the client certificate. Mutually exclusive with O(ssl.client_cert_path).
        type: str
      client_cert_path:
        description: Path of a PEM file with the client certificate. Mutually exclusive with O(ssl.client_cert).
        type: path
      client_key:
        description:
          - PEM text of the client's private key; never shown. Mutually exclusive with O(ssl.client_key_path).
          - Compared and sent like O(password), see O(update_password).
        type: str
      client_key_path:
        description: Path of a PEM file with the client's private key. Mutually exclusive with O(ssl.client_key).
        type: path
  update_password:
    description:
      - V(always) compares O(password) (and O(ssl.client_key)) with the server's and sends it when it differs.
        Some servers do not return passwords; then the module cannot compare, so V(always) sends the
        password on every run and reports RV(ignore:changed=true). Against such a server use V(on_create) for idempotent
        runs (and, in molecule, for the idempotence step to pass).
      - V(on_create) sends the password only when the connection is created (or cloned), and otherwise
        never compares it. An update of other fields must still send a password, because the API replaces the
        whole connection; the server's is kept when it returns it, else the declared one is sent.
    type: str
    choices: [always, on_create]
    default: always
  clone_from:
    description:
      - Name or id of an existing connection to copy when the connection O(name) does not exist yet.
        The copy takes the source's settings (its password included), then your options.
      - Ignored when O(name) already exists. Fails before any change when nothing has that name or id.
    type: str
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
