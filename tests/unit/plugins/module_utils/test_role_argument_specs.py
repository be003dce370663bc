# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The roles' meta/argument_specs.yml declare each item with the options of the module it feeds: they must stay
equal to the modules' argument specs (module_utils), which are the one declaration of those options."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import CONNECTION_OPTIONS
from ansible_collections.dbconvert.streams.plugins.module_utils.stream import STREAM_CONFIG_OPTIONS

ROLES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "roles")
# What an argument spec says about an option that Ansible enforces; descriptions are free to differ.
ENFORCED = ("type", "required", "default", "choices", "elements", "no_log", "mutually_exclusive")


def item_options(role, variable):
    with open(os.path.join(ROLES, role, "meta", "argument_specs.yml")) as f:
        spec = yaml.safe_load(f)["argument_specs"]["main"]["options"][variable]
    assert spec["type"] == "list" and spec["elements"] == "dict"
    return spec["options"]


def normalised(options):
    """Each option's enforced keys, with the defaults Ansible assumes spelled out, recursively."""
    result = {}
    for name, option in options.items():
        entry = {key: option[key] for key in ENFORCED if option.get(key) not in (None, False)}
        entry.setdefault("type", "str")
        if "mutually_exclusive" in entry:
            entry["mutually_exclusive"] = sorted(sorted(group) for group in entry["mutually_exclusive"])
        if option.get("options"):
            entry["options"] = normalised(option["options"])
        result[name] = entry
    return result


@pytest.mark.parametrize("role, variable, module_options, role_only", [
    ("connections", "dbcs_connections", CONNECTION_OPTIONS, {"schemas", "databases"}),
    ("streams", "dbcs_streams", STREAM_CONFIG_OPTIONS, {"run"}),
])
def test_role_items_take_the_module_options(role, variable, module_options, role_only):
    declared = normalised(item_options(role, variable))
    assert set(declared) - set(module_options) == role_only
    assert {name: entry for name, entry in declared.items() if name not in role_only} == normalised(module_options)


def test_the_comparison_sees_a_difference():
    """A role spec that drifts from the module (a choice added to one side) is caught."""
    drifted = dict(STREAM_CONFIG_OPTIONS, mode=dict(type="str", choices=["load", "cdc", "convert"]))
    assert normalised(drifted) != normalised(STREAM_CONFIG_OPTIONS)
