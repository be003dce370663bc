#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dbcs_database
short_description: Make sure a database exists on the server of a DBConvert Streams connection
version_added: 0.2.0
description:
  - Creates a database on the MySQL or PostgreSQL server that a DBConvert Streams connection points at (the
    DBConvert Streams server connects with the connection's credentials and runs C(CREATE DATABASE)), unless
    it exists already. This is what the web client's "Add database" button does.
  - Reads the databases the connection's user sees first, so a database that exists is left alone and a second
    run changes nothing. After a create, reads them again to confirm that the database is there.
  - Works with servers of both API dialects (v1 and 2.x).
  - The API cannot drop databases, so O(state=absent) only confirms that a database does not exist.
author:
  - DBConvert Streams collection developers (@dbconvert)
extends_documentation_fragment:
  - dbconvert.streams.dbcs
  - dbconvert.streams.dbcs.ACTION_GROUP
attributes:
  check_mode:
    support: full
    description: Reads the existing databases and predicts RV(ignore:changed) and the diff exactly, sending no POST.
  diff_mode:
    support: full
    description: Shows the databases the connection's user sees before and after.
options:
  connection:
    description:
      - Name or id of the MySQL or PostgreSQL connection to create the database through.
      - Fails when no connection, or more than one, has this name.
      - The connection's user needs the right to create databases (C(CREATEDB) in PostgreSQL, C(CREATE) in MySQL).
    type: str
    required: true
  name:
    description:
      - Name of the database, taken literally and case-sensitively (it is quoted as an identifier, never read as SQL).
      - At most 63 bytes in UTF-8 for PostgreSQL; at most 64 characters for MySQL, without a trailing space and
        without characters outside the Basic Multilingual Plane (such as emoji), which MySQL refuses in names.
    type: str
    required: true
  state:
    description:
      - V(present) creates the database when the connection's user does not see it.
      - V(absent) succeeds, changing nothing, when the connection's user does not see the database; when the database
        exists the task fails, because the API cannot drop databases.
    type: str
    choices: [present, absent]
    default: present
notes:
  - A PostgreSQL database that exists but that the connection's user may not connect to is not listed by the
    server; the create then fails with the server's error (it exists), and the task fails rather than report it present.
seealso:
  - module: dbconvert.streams.dbcs_schema
  - module: dbconvert.streams.dbcs_connection_info
"""

EXAMPLES = r"""
- name: Create the database a stream writes into
  dbconvert.streams.dbcs_database:
    api_url: https://streams.example.com/api/v1
    api_key: "{{ vault_dbcs_api_key }}"
    connection: warehouse
    name: analytics_staging

- name: Then a schema in it
  dbconvert.streams.dbcs_schema:
    connection: warehouse
    database: analytics_staging
    name: sales
"""

RETURN = r"""
database:
  description: Name of the database.
  returned: success
  type: str
  sample: analytics_staging
connection_id:
  description: Id of the connection used.
  returned: success
  type: str
  sample: conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5
diff:
  description: The databases the connection's user sees before and after, by name and sorted.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The databases before the task.
      type: dict
      returned: always
    after:
      description: The databases after the task (as they would be, in check mode).
      type: dict
      returned: always
  sample:
    before: {databases: [analytics]}
    after: {databases: [analytics, analytics_staging]}
"""

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import SpecError, check_database_name, database_names
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import DbcsModule, create_and_confirm


def main():
    module = DbcsModule(
        argument_spec=dict(
            connection=dict(type="str", required=True),
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )

    def recipe():
        params = module.params
        ref, name = params["connection"], params["name"]
        check_database_name(name)
        conn = module.database_connection(ref, what="a database")
        if conn is None:  # check mode, a connection an earlier task would create: its databases cannot be read yet
            module.finish(changed=params["state"] == "present", database=name, connection_id=None,
                          diff=dict(before={}, after=dict(databases=[name])))
        conn_id, conn_name = conn["id"], conn.get("name")
        check_database_name(name, conn_type=str(conn.get("type")).lower())

        client = module.client
        before = sorted(database_names(client.list_databases(conn_id, conn_name)))
        header = "databases of connection '%s'" % conn_name
        if params["state"] == "absent":
            if name in before:
                raise SpecError("state=absent cannot be carried out: database %r exists, and the DBConvert Streams API cannot "
                                "drop databases. Drop it with a database tool (for example community.postgresql.postgresql_db "
                                "or community.mysql.mysql_db)" % name)
            module.finish(changed=False, database=name, connection_id=conn_id,
                          diff=dict(before=dict(databases=before), after=dict(databases=before), before_header=header,
                                    after_header=header))
        changed = name not in before
        if changed and not module.check_mode:
            create_and_confirm(lambda: client.create_database(conn_id, name, conn_name),
                               lambda: name in database_names(client.list_databases(conn_id, conn_name)),
                               "database '%s' of connection '%s'" % (name, conn_name))
        diff = dict(before=dict(databases=before), after=dict(databases=sorted(before + [name]) if changed else before),
                    before_header=header, after_header=header)
        module.finish(changed=changed, database=name, connection_id=conn_id, diff=diff)

    module.run(recipe)


if __name__ == "__main__":
    main()
