# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection doc fragment is written out (ansible-test reads doc fragments as literal strings); these keep it what
the table of kinds says: the kind choices, the entries of the fields the table describes (Field.doc), and ITEMS equal
to DOCUMENTATION for each item of dbcs_connections. On a failure, the message shows the entry to write."""

from __future__ import annotations

import ast
import os
import re

import yaml

from ansible_collections.dbconvert.streams.plugins.module_utils.kinds import KINDS, fields_by_name

FRAGMENT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "plugins", "doc_fragments", "connection.py")


def fragment():
    """The fragment's strings, read as ansible-test reads them (literal assignments in the class), without importing
    controller code into the module_utils unit tests."""
    with open(FRAGMENT) as handle:
        tree = ast.parse(handle.read())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            found[node.targets[0].id] = node.value.value
    return found


def table_entries():
    """The documentation entry of each field the table describes, as the table says it."""
    entries = {}
    for name, field in fields_by_name().items():
        if field.doc is None:
            continue
        kinds = [kind_name for kind_name, kind in KINDS.items() if kind.field(name) is not None]
        required = any(name in KINDS[kind_name].required for kind_name in kinds)
        description = [field.doc, "Only for O(type=%s)%s." % ("|".join(kinds), "; required to create one" if required else "")]
        if field.secret:
            description.append("A secret, like O(password) - never shown in output, logs or diffs, compared and sent as "
                               "O(update_password) says.")
        entries[name] = dict(description=description, type=field.option.get("type", "str"))
    return entries


def for_items(options):
    """The options of dbcs_connection as the suboptions of an item of dbcs_connections (O() references made relative)."""
    text = yaml.safe_dump(options)
    return yaml.safe_load(re.sub(r"O\((?!dbconvert\.)", "O(connections[].", text))


def test_the_kind_choices_are_the_table():
    options = yaml.safe_load(fragment()["DOCUMENTATION"])["options"]
    assert options["type"]["choices"] == list(KINDS)


def test_the_fields_the_table_describes_are_documented_as_it_says():
    options = yaml.safe_load(fragment()["DOCUMENTATION"])["options"]
    for name, entry in table_entries().items():
        assert options.get(name) == entry, "write in plugins/doc_fragments/connection.py:\n" + yaml.safe_dump({name: entry})


def test_items_take_the_same_options():
    options = yaml.safe_load(fragment()["DOCUMENTATION"])["options"]
    items = yaml.safe_load(fragment()["ITEMS"])["options"]["connections"]
    assert items["suboptions"] == for_items(options)
