# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: dbcs_connection
author:
  - DBConvert Streams collection developers (@dbconvert)
version_added: 0.2.0
short_description: A DBConvert Streams connection by name, without its secrets, or one of its fields such as its id
description:
  - Reads connections of a DBConvert Streams server by name (or id) and returns each without its password and SSL
    client key, or only one of its fields (O(field)), for templating ids and hosts into other tools' configuration.
  - Speaks both dialects of the API, as the modules do; a 2.x server's C(spec.database) fields come out as
    C(host), C(port) and so on.
  - Runs on the controller and sends only reads.
options:
  _terms:
    description: Names (exact, case-sensitive) or ids of the connections.
    required: true
    type: list
    elements: str
  field:
    description:
      - Return only this field of each connection, for example V(id) or V(host).
      - Without it, each connection is returned as a dictionary.
    type: str
extends_documentation_fragment:
  - dbconvert.streams.dbcs.PLUGIN
notes:
  - A name that no connection has, or that several have, is an error that says so (several are listed by id).
seealso:
  - module: dbconvert.streams.dbcs_connection_info
"""

EXAMPLES = r"""
- name: Put the id of the warehouse connection into another tool's configuration
  ansible.builtin.copy:
    dest: /etc/pipeline/target.env
    content: "DBCS_TARGET={{ lookup('dbconvert.streams.dbcs_connection', 'warehouse', field='id') }}\n"
    mode: "0644"

- name: The whole connection, without secrets
  ansible.builtin.debug:
    msg: "{{ lookup('dbconvert.streams.dbcs_connection', 'warehouse') }}"

- name: The hosts of two connections, against a server given explicitly
  ansible.builtin.debug:
    msg: "{{ query('dbconvert.streams.dbcs_connection', 'shop', 'warehouse', field='host',
             api_url='https://streams.example.com/api/v1', api_key=vault_dbcs_api_key) }}"
"""

RETURN = r"""
_raw:
  description:
    - One item per term, in order; each the connection without its secrets (a dictionary), or the value of O(field).
  type: list
  elements: raw
"""

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import (
    SpecError, find_one, index_by_id, index_by_name, info_view)
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_client import HAS_REQUESTS, DbcsApiError, DbcsClient
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import check_api_options


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        if not HAS_REQUESTS:
            raise AnsibleError("the dbconvert.streams.dbcs_connection lookup needs the requests library on the controller")
        self.set_options(var_options=variables, direct=kwargs)
        options = dict((key, self.get_option(key)) for key in
                       ("api_url", "api_key", "validate_certs", "ca_path", "timeout", "api_version"))
        field = self.get_option("field")
        try:
            check_api_options(options)
            client = DbcsClient(options["api_url"], options["api_key"], validate_certs=options["validate_certs"],
                                ca_path=options["ca_path"], timeout=options["timeout"], read_only=True,
                                api_version=options["api_version"])
            server = client.list_connections()
            by_name, by_id = index_by_name(server), index_by_id(server)
            found = [info_view(find_one(by_name, by_id, term, "dbconvert.streams.dbcs_connection")) for term in terms]
        except (SpecError, DbcsApiError, ValueError) as exc:
            raise AnsibleError(str(exc))
        for conn in found:
            conn.pop("declared", None)  # the export's view; the lookup returns the connection as the server holds it
        if field is None:
            return found
        missing = [conn.get("name") for conn in found if field not in conn]
        if missing:
            raise AnsibleError("dbconvert.streams.dbcs_connection: connection %s has no field '%s' (it has: %s)" % (
                ", ".join("'%s'" % name for name in missing), field, ", ".join(sorted(found[0]))))
        return [conn[field] for conn in found]
