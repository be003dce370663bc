# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    # The API options every module of the collection takes (argument spec: module_utils/dbcs_module.py).
    DOCUMENTATION = r"""
options:
  api_url:
    description:
      - Base URL of the DBConvert Streams Connection API, including the C(/api/v1) path.
      - If not set, the value of the E(DBCS_API_URL) environment variable is used.
    type: str
    default: http://127.0.0.1:8020/api/v1
  api_key:
    description:
      - API key of the DBConvert Streams account, sent in the C(X-API-Key) header.
      - If not set, the value of the E(DBCS_API_KEY) environment variable is used.
      - Required, through the option or the environment variable.
    type: str
  validate_certs:
    description:
      - Verify the server's TLS certificate when O(api_url) uses C(https).
      - Set to V(false) only for a server you trust on a network you control.
      - If not set, the value of the E(DBCS_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
  ca_path:
    description:
      - A PEM file of CA certificates to verify the server's TLS certificate with,
        instead of the system's trust store.
      - If not set, the value of the E(DBCS_CA_PATH) environment variable is used.
    type: path
  timeout:
    description:
      - Seconds to wait for each answer of the API.
      - The server may connect to the database while it creates or tests a connection,
        so allow a few seconds more than the database needs to answer.
    type: int
    default: 30
requirements:
  - requests
notes:
  - The modules call C(GET /user/configs) once per run before any other request, as the
    DBConvert Streams server requires.
  - Reads, updates and deletes are retried with backoff on connection errors and HTTP 502, 503
    and 504. A create is never sent twice blindly; when its outcome is unknown the module
    looks the connection up by name instead.
  - A connection test, and a read of a connection's databases or tables, makes the server log in to the
    database; its HTTP 503 is the database's answer and is not retried, so that failed logins are not repeated.
"""

    # The action group, so that module_defaults: {group/dbconvert.streams.dbcs: {...}} reaches every module.
    ACTION_GROUP = r"""
options: {}
attributes:
  action_group:
    description:
      - Use C(group/dbconvert.streams.dbcs) in C(module_defaults) to set O(api_url), O(api_key) and the
        other API options once for all modules of this collection.
    support: full
    membership:
      - dbconvert.streams.dbcs
"""
