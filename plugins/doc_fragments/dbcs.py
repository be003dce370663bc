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
      - Base URL of the DBConvert Streams API, including the C(/api/v1) path (the same for both dialects).
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
      - Seconds to wait for each answer of the API, per attempt. A request that is safe to repeat is tried up
        to 5 times (see the notes), so a server that never answers fails a read after about 5 times this plus
        the pauses between attempts; the failure message says how many attempts were made and how long they took.
      - The server may connect to the database while it creates or tests a connection,
        so allow a few seconds more than the database needs to answer.
    type: int
    default: 30
  api_version:
    description:
      - The dialect of the API the server speaks. V(1) is the documented API of early 2025; V(2) is what
        DBConvert Streams 2.0 and later (December 2025 onwards, 2.0 to 2.7) speak.
      - V(auto) decides from what the server shows, feature by feature, as the vendor's own client does; the
        declared options are the same for both dialects, so set this only to pin a dialect.
      - If not set, the value of the E(DBCS_API_VERSION) environment variable is used.
    type: str
    choices: ['auto', '1', '2']
    default: auto
requirements:
  - requests
notes:
  - "Each module run starts with C(GET /system/defaults) (no API key): a 2.x server answers it with its install
    id, which is then sent as C(X-Install-ID) on every request. A server without one (v1) gets C(GET /user/configs)
    first, as v1 servers require. With O(api_version=1) only C(GET /user/configs) is sent."
  - "Lists are read as a bare array (v1) or as C({items: [...]}) (2.x); connections flat (v1) or under
    C(spec.database) (2.x), and written in the form the server showed. Every C(DELETE) carries
    C(X-Confirm-Delete: true), which 2.x servers require and v1 servers ignore."
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

    # The same API options for the plugins that run on the controller (the lookup), with their variables.
    PLUGIN = r"""
options:
  api_url:
    description:
      - Base URL of the DBConvert Streams API, including the C(/api/v1) path.
    type: str
    default: http://127.0.0.1:8020/api/v1
    env:
      - name: DBCS_API_URL
    vars:
      - name: dbcs_api_url
  api_key:
    description:
      - API key of the DBConvert Streams account, sent in the C(X-API-Key) header. Keep it in Ansible Vault.
    type: str
    env:
      - name: DBCS_API_KEY
    vars:
      - name: dbcs_api_key
  validate_certs:
    description: Verify the server's TLS certificate when O(api_url) uses C(https).
    type: bool
    default: true
    env:
      - name: DBCS_VALIDATE_CERTS
    vars:
      - name: dbcs_validate_certs
  ca_path:
    description: A PEM file of CA certificates to verify the server's TLS certificate with.
    type: path
    env:
      - name: DBCS_CA_PATH
    vars:
      - name: dbcs_ca_path
  timeout:
    description: Seconds to wait for each answer of the API, per attempt.
    type: int
    default: 30
    vars:
      - name: dbcs_timeout
  api_version:
    description: The dialect of the API, V(auto) (decided from what the server shows), V(1) or V(2).
    type: str
    choices: ['auto', '1', '2']
    default: auto
    env:
      - name: DBCS_API_VERSION
    vars:
      - name: dbcs_api_version
"""
