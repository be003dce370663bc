# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    # The options of one connection (argument spec: module_utils/connection.py CONNECTION_OPTIONS, built from the
    # table of kinds in module_utils/kinds.py): dbcs_connection takes them (DOCUMENTATION), each item of
    # dbcs_connections takes them (ITEMS: the same entries, every O() reference relative to the item). ansible-test
    # reads doc fragments as literal strings, so both are written out; tests/unit/plugins/doc_fragments keeps ITEMS
    # equal to DOCUMENTATION, the kind choices equal to the table, and the entries of the fields the table describes
    # (Field.doc: files, s3) equal to what the table says.

    DOCUMENTATION = r"""
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
      - Kind of connection. Required to create a connection (unless O(clone_from) is set).
      - V(mysql) and V(postgresql) are databases (O(host), O(port), O(username), O(password), O(database), O(ssl); and
        O(schema) on v1 servers). V(files) is a directory on the DBConvert Streams server, V(s3) an S3 or S3-compatible
        object store; the options of each are described below. V(files) and V(s3) exist on 2.x servers only; declaring
        one against a v1 server fails before any request.
      - An option of another kind (for example O(base_path) on a V(mysql) connection) fails before any request.
      - The server's value is compared case-insensitively (some servers store C(PostgreSQL)).
    type: str
    choices: ["mysql", "postgresql", "files", "s3"]
  host:
    description:
      - Host name or address of the database server, as the DBConvert Streams server reaches it.
      - Required to create a V(mysql) or V(postgresql) connection (unless O(clone_from) is set).
    type: str
  port:
    description:
      - TCP port of the database server, 1 to 65535.
      - When a connection is created without it, the type's default is used (3306 for MySQL, 5432 for PostgreSQL).
    type: int
  username:
    description:
      - Database user. Required to create a V(mysql) or V(postgresql) connection (unless O(clone_from) is set).
    type: str
  password:
    description:
      - Password of the database user. Required to create a V(mysql) or V(postgresql) connection (unless O(clone_from)
        is set).
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
      - V(always) compares the secrets (O(password), O(ssl.client_key), and the other kinds' secrets) with the server's
        and sends them when they differ.
        Some servers do not return passwords; then the module cannot compare, so V(always) sends the
        password on every run and reports RV(ignore:changed=true). Against such a server use V(on_create) for idempotent
        runs (and, in molecule, for the idempotence step to pass).
      - V(on_create) sends the secrets only when the connection is created (or cloned), and otherwise
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
  base_path:
    description:
    - Directory on the DBConvert Streams server that the connection reads and writes (C(basePath)); the test of the connection
      checks that it exists and that the server can write to it.
    - Only for O(type=files); required to create one.
    type: str
  region:
    description:
    - Region of the object store, for example C(us-east-1).
    - Only for O(type=s3); required to create one.
    type: str
  endpoint:
    description:
    - URL of an S3-compatible service, for example C(http://minio.internal:9000); leave it out for Amazon S3.
    - Only for O(type=s3).
    type: str
  bucket:
    description:
    - Bucket the connection works in (its scope); the test of the connection lists it.
    - Only for O(type=s3).
    type: str
  prefix:
    description:
    - Key prefix inside the bucket that the connection works under.
    - Only for O(type=s3).
    type: str
  access_key:
    description:
    - Access key id; leave the access and secret keys out to use the server's own credentials.
    - Only for O(type=s3).
    type: str
  secret_key:
    description:
    - Secret access key that goes with the access key.
    - Only for O(type=s3).
    - A secret, like O(password) - never shown in output, logs or diffs, compared and sent as O(update_password) says.
    type: str
  session_token:
    description:
    - Session token of temporary credentials.
    - Only for O(type=s3).
    - A secret, like O(password) - never shown in output, logs or diffs, compared and sent as O(update_password) says.
    type: str
"""

    ITEMS = r"""
options:
  connections:
    description:
      - The declared connections; each item takes the options of M(dbconvert.streams.dbcs_connection) (without
        C(verify), which is an option of the task). Names must be unique in the list.
      - An item with O(connections[].state=absent) is deleted.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Name of the connection; identifies it on the server (exact, case-sensitive match).
          - Any text without control characters. A line break or tab in a name is refused (except with O(connections[].state=absent)),
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
          - Kind of connection. Required to create a connection (unless O(connections[].clone_from) is set).
          - V(mysql) and V(postgresql) are databases (O(connections[].host), O(connections[].port),
            O(connections[].username), O(connections[].password), O(connections[].database), O(connections[].ssl); and
            O(connections[].schema) on v1 servers). V(files) is a directory on the DBConvert Streams server, V(s3) an S3 or S3-compatible
            object store; the options of each are described below. V(files) and V(s3) exist on 2.x servers only; declaring
            one against a v1 server fails before any request.
          - An option of another kind (for example O(connections[].base_path) on a V(mysql) connection) fails before any request.
          - The server's value is compared case-insensitively (some servers store C(PostgreSQL)).
        type: str
        choices: ["mysql", "postgresql", "files", "s3"]
      host:
        description:
          - Host name or address of the database server, as the DBConvert Streams server reaches it.
          - Required to create a V(mysql) or V(postgresql) connection (unless O(connections[].clone_from) is set).
        type: str
      port:
        description:
          - TCP port of the database server, 1 to 65535.
          - When a connection is created without it, the type's default is used (3306 for MySQL, 5432 for PostgreSQL).
        type: int
      username:
        description:
          - Database user. Required to create a V(mysql) or V(postgresql) connection (unless O(connections[].clone_from) is set).
        type: str
      password:
        description:
          - Password of the database user. Required to create a V(mysql) or V(postgresql) connection (unless O(connections[].clone_from)
            is set).
          - Never shown in output, logs or diffs. Keep it in Ansible Vault.
          - See O(connections[].update_password) for when it is compared and sent.
        type: str
      database:
        description:
          - Database to connect to. Required to create a PostgreSQL connection on a v1 server; optional for MySQL
            (a v1 server stores an empty string) and on 2.x servers.
        type: str
      schema:
        description:
          - PostgreSQL schema the connection works in. Only valid for O(connections[].type=postgresql).
          - Only on servers of the v1 dialect. On 2.x servers a connection has no schema (2.x chooses the schema
            per stream); setting it there fails before any change. Use M(dbconvert.streams.dbcs_schema) to create
            the schema.
        type: str
      ssl:
        description:
          - TLS settings for the connection to the database. When set, they replace the server's SSL
            settings as a whole.
          - Each certificate or key is given either as PEM text (O(connections[].ssl.ca), O(connections[].ssl.client_cert), O(connections[].ssl.client_key))
            or as a path to a PEM file read by the module (O(connections[].ssl.ca_path),
            O(connections[].ssl.client_cert_path), O(connections[].ssl.client_key_path)).
          - An update sends the whole connection. Against a server that does not return secrets, a connection
            with a client certificate can only be updated with O(connections[].ssl) declared, client key included, since
            the module cannot carry over a key it cannot read; it fails before any change otherwise.
        type: dict
        suboptions:
          mode:
            description:
              - V(disabled) connects without TLS; V(require) uses TLS without verifying the certificate;
                V(verify-ca) also verifies it against O(connections[].ssl.ca); V(verify-full) also checks the host name.
            type: str
            choices: [disabled, require, verify-ca, verify-full]
            default: require
          ca:
            description: PEM text of the CA certificate. Mutually exclusive with O(connections[].ssl.ca_path).
            type: str
          ca_path:
            description: Path of a PEM file with the CA certificate. Mutually exclusive with O(connections[].ssl.ca).
            type: path
          client_cert:
            description: PEM text of the client certificate. Mutually exclusive with O(connections[].ssl.client_cert_path).
            type: str
          client_cert_path:
            description: Path of a PEM file with the client certificate. Mutually exclusive with O(connections[].ssl.client_cert).
            type: path
          client_key:
            description:
              - PEM text of the client's private key; never shown. Mutually exclusive with O(connections[].ssl.client_key_path).
              - Compared and sent like O(connections[].password), see O(connections[].update_password).
            type: str
          client_key_path:
            description: Path of a PEM file with the client's private key. Mutually exclusive with O(connections[].ssl.client_key).
            type: path
      update_password:
        description:
          - V(always) compares the secrets (O(connections[].password), O(connections[].ssl.client_key), and the other kinds' secrets) with the server's
            and sends them when they differ.
            Some servers do not return passwords; then the module cannot compare, so V(always) sends the
            password on every run and reports RV(ignore:changed=true). Against such a server use V(on_create) for idempotent
            runs (and, in molecule, for the idempotence step to pass).
          - V(on_create) sends the secrets only when the connection is created (or cloned), and otherwise
            never compares it. An update of other fields must still send a password, because the API replaces the
            whole connection; the server's is kept when it returns it, else the declared one is sent.
        type: str
        choices: [always, on_create]
        default: always
      clone_from:
        description:
          - Name or id of an existing connection to copy when the connection O(connections[].name) does not exist yet.
            The copy takes the source's settings (its password included), then your options.
          - Ignored when O(connections[].name) already exists. Fails before any change when nothing has that name or id.
        type: str
      base_path:
        description:
        - Directory on the DBConvert Streams server that the connection reads and writes (C(basePath)); the test of the connection
          checks that it exists and that the server can write to it.
        - Only for O(connections[].type=files); required to create one.
        type: str
      region:
        description:
        - Region of the object store, for example C(us-east-1).
        - Only for O(connections[].type=s3); required to create one.
        type: str
      endpoint:
        description:
        - URL of an S3-compatible service, for example C(http://minio.internal:9000); leave it out for Amazon S3.
        - Only for O(connections[].type=s3).
        type: str
      bucket:
        description:
        - Bucket the connection works in (its scope); the test of the connection lists it.
        - Only for O(connections[].type=s3).
        type: str
      prefix:
        description:
        - Key prefix inside the bucket that the connection works under.
        - Only for O(connections[].type=s3).
        type: str
      access_key:
        description:
        - Access key id; leave the access and secret keys out to use the server's own credentials.
        - Only for O(connections[].type=s3).
        type: str
      secret_key:
        description:
        - Secret access key that goes with the access key.
        - Only for O(connections[].type=s3).
        - A secret, like O(connections[].password) - never shown in output, logs or diffs, compared and sent as O(connections[].update_password) says.
        type: str
      session_token:
        description:
        - Session token of temporary credentials.
        - Only for O(connections[].type=s3).
        - A secret, like O(connections[].password) - never shown in output, logs or diffs, compared and sent as O(connections[].update_password) says.
        type: str
"""
