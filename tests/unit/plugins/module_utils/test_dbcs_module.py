# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of DbcsModule's failure on arguments that Ansible's own validation refuses."""

from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import CONNECTION_OPTIONS
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import DbcsModule, fullest_message

SET_SPEC = dict(connections=dict(type="list", elements="dict", required=True, options=CONNECTION_OPTIONS))


def failure(args, spec=None):
    """The message a DbcsModule fails with for these arguments."""
    with patch_module_args(dict(args, api_key="the-key-123")), pytest.raises(SystemExit):
        DbcsModule(argument_spec=spec or SET_SPEC)


def test_a_bare_first_message_gives_way_to_the_one_that_names_the_option():
    messages = ["dictionary requested, could not parse JSON or key=value",
                "Elements value for option 'connections' is of type str and we were unable to convert to dict: "
                "dictionary requested, could not parse JSON or key=value"]
    assert fullest_message(messages[0], messages) == messages[1]


def test_a_message_that_no_other_repeats_is_kept():
    assert fullest_message("missing required arguments: name", ["missing required arguments: name", "other"]) == \
        "missing required arguments: name"


def test_a_string_for_a_list_of_connections_fails_naming_the_option(capsys):
    failure(dict(connections="shop"))
    result = json.loads(capsys.readouterr().out)
    assert result["failed"] and result["msg"] == (
        "Elements value for option 'connections' is of type str and we were unable to convert to dict: "
        "dictionary requested, could not parse JSON or key=value")


def test_other_validation_failures_keep_ansibles_message(capsys):
    failure(dict(connections=[dict(name="pg", port="abc")]))
    assert "argument 'port' is of type str found in 'connections'" in json.loads(capsys.readouterr().out)["msg"]
