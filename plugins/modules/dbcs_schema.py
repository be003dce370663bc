#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: dbcs_schema
short_description: Make sure a PostgreSQL schema exists, through a DBConvert Streams connection
version_added: 0.1.0
description:
  - Creates a schema in a PostgreSQL database through a connection of a DBConvert Streams server (the
    server connects to the database with the connection's credentials), unless it exists already.
  - Reads the connection's databases and schemas first, so a schema that exists is left alone and a second
    run changes nothing. After a create, reads them again to confirm that the schema is there.
  - Works with servers of both API dialects (on 2.x, where a connection has no schema of its own, this is how
    the schema a stream writes into is created).
  - The API cannot drop schemas, so O(state=absent) only confirms that a schema does not exist. MySQL has no schemas apart from
    its databases, so a MySQL connection is refused too.
author:
  - DBConvert Streams collection developers (@dbconvert)
extends_documentation_fragment:
  - dbconvert.streams.dbcs
  - dbconvert.streams.dbcs.ACTION_GROUP
attributes:
  check_mode:
    support: full
    description: Reads the existing schemas and predicts RV(ignore:changed) and the diff exactly, sending no POST.
  diff_mode:
    support: full
    description: Shows the schemas of the database before and after.
options:
  connection:
    description:
      - Name or id of the PostgreSQL connection to create the schema through.
      - Fails when no connection, or more than one, has this name.
    type: str
    required: true
  database:
    description:
      - Database to create the schema in. The connection's user must be able to connect to it.
      - Defaults to the connection's own database.
    type: str
  name:
    description:
      - Name of the schema, taken literally. It is case-sensitive and may contain any character but NUL
        (it is quoted as an identifier, never folded to lower case or read as SQL).
      - At most 63 bytes in UTF-8. Names starting with C(pg_), and C(information_schema), are reserved by PostgreSQL.
    type: str
    required: true
    aliases: [schema]
  state:
    description:
      - V(present) creates the schema when it does not exist.
      - V(absent) succeeds, changing nothing, when the schema does not exist; when it exists the task fails, because
        the API cannot drop schemas.
    type: str
    choices: [present, absent]
    default: present
seealso:
  - module: dbconvert.streams.dbcs_connection
  - module: dbconvert.streams.dbcs_connection_info
  - name: CREATE SCHEMA
    description: The PostgreSQL statement the server runs.
    link: https://www.postgresql.org/docs/current/sql-createschema.html
"""

EXAMPLES = r"""
- name: Create the schema the stream writes into, in the connection's own database
  dbconvert.streams.dbcs_schema:
    api_url: https://streams.example.com/api/v1
    api_key: "{{ vault_dbcs_api_key }}"
    connection: warehouse
    name: sales

- name: Create a schema in another database of the same server
  dbconvert.streams.dbcs_schema:
    connection: warehouse
    database: analytics_staging
    name: sales
"""

RETURN = r"""
schema:
  description: Name of the schema.
  returned: success
  type: str
  sample: sales
database:
  description: Database the schema is in (the connection's own unless O(database) was set).
  returned: success
  type: str
  sample: analytics
connection_id:
  description: Id of the connection used.
  returned: success
  type: str
  sample: conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5
diff:
  description: The schemas of the database before and after, by name and sorted.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The database and its schemas before the task.
      type: dict
      returned: always
    after:
      description: The database and its schemas after the task (as they would be, in check mode).
      type: dict
      returned: always
  sample:
    before: {database: analytics, schemas: [public]}
    after: {database: analytics, schemas: [public, sales]}
"""

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import (
    SpecError, check_schema_name, database_names, schemas_in)
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import DbcsModule, create_and_confirm


def main():
    module = DbcsModule(
        argument_spec=dict(
            connection=dict(type="str", required=True),
            database=dict(type="str"),
            name=dict(type="str", required=True, aliases=["schema"]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
        ),
        supports_check_mode=True,
    )

    def recipe():
        params = module.params
        ref, name, database = params["connection"], params["name"], params["database"]
        if not ref or not ref.strip():
            raise SpecError("connection must not be empty: give the name or id of a PostgreSQL connection")
        check_schema_name(name)
        if database is not None and not database.strip():
            raise SpecError("database must not be empty; leave it out to use the connection's own database")

        conn = module.database_connection(ref, what="a schema")
        if conn is None:  # check mode, a connection an earlier task would create: its schemas cannot be read yet
            module.finish(changed=params["state"] == "present", schema=name, database=database, connection_id=None,
                          diff=dict(before={}, after=dict(database=database, schemas=[name])))
        conn_id, conn_name = conn["id"], conn.get("name")
        if str(conn.get("type") or "").lower() != "postgresql":
            raise SpecError("connection: '%s' is a %s connection, and schemas can only be created in PostgreSQL "
                            "(in MySQL a schema is a database)" % (conn_name, conn.get("type")))
        database = database or conn.get("database")
        if not database:
            raise SpecError("database: connection '%s' has no database of its own; set database" % conn_name)

        client = module.client
        databases = client.list_databases(conn_id, conn_name)
        before = schemas_in(databases, database)
        if before is None:
            raise SpecError("database: connection '%s' does not see a database '%s' (it sees: %s); check the name, and that "
                            "the connection's user may connect to it" % (conn_name, database, ", ".join(database_names(databases)) or "none"))
        if params["state"] == "absent":
            if name in before:
                raise SpecError("state=absent cannot be carried out: schema %r exists in database '%s', and the DBConvert "
                                "Streams API cannot drop schemas. Drop it with a PostgreSQL tool (for example "
                                "community.postgresql.postgresql_schema)" % (name, database))
            module.finish(changed=False, schema=name, database=database, connection_id=conn_id,
                          diff=dict(before=dict(database=database, schemas=before), after=dict(database=database, schemas=before)))
        changed = name not in before
        if changed and not module.check_mode:
            create_and_confirm(
                lambda: client.create_schema(conn_id, database, name),
                lambda: name in (schemas_in(client.list_databases(conn_id, conn_name), database) or []),
                "schema '%s' in database '%s' of connection '%s'" % (name, database, conn_name))
        header = "schemas of database '%s'" % database
        diff = dict(before=dict(database=database, schemas=before),
                    after=dict(database=database, schemas=sorted(before + [name]) if changed else before),
                    before_header=header, after_header=header)
        module.finish(changed=changed, schema=name, database=database, connection_id=conn_id, diff=diff)

    module.run(recipe)


if __name__ == "__main__":
    main()
