# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of create_and_confirm (dbcs_schema, dbcs_database), for the answers the real server cannot be
made to give: a create that succeeds without the object appearing, a race with another creator, an unknown outcome."""

from __future__ import annotations

import pytest

from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_client import DbcsApiError, DbcsOutcomeUnknown
from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_module import create_and_confirm


class Recorder(object):
    """A create that raises `fault` (or succeeds) and a read that answers `listed`; records the calls."""

    def __init__(self, fault=None, listed=False):
        self.fault, self.listed, self.calls = fault, listed, []

    def create(self):
        self.calls.append("create")
        if self.fault is not None:
            raise self.fault

    def read(self):
        self.calls.append("read")
        return self.listed

    def run(self):
        create_and_confirm(self.create, self.read, "schema 'sales' in database 'appdb' of connection 'pg'")


def test_a_create_is_confirmed_by_reading_again():
    recorder = Recorder(listed=True)
    recorder.run()
    assert recorder.calls == ["create", "read"]


def test_a_create_that_does_not_show_fails_clearly():
    with pytest.raises(DbcsApiError) as caught:
        Recorder(listed=False).run()
    assert caught.value.message == ("Could not confirm schema 'sales' in database 'appdb' of connection 'pg': the server "
                                    "answered the create with success, but does not list it afterwards")


@pytest.mark.parametrize("fault", [DbcsApiError("create schema", 409, "schema 'sales' already exists"),
                                   DbcsOutcomeUnknown("create schema", 504, "gateway timeout")])
def test_created_meanwhile_or_by_a_lost_answer_counts_once_it_is_listed(fault):
    Recorder(fault=fault, listed=True).run()


@pytest.mark.parametrize("fault", [DbcsApiError("create schema", 409, "schema 'sales' already exists"),
                                   DbcsOutcomeUnknown("create schema", 503, "connection failed")])
def test_such_an_answer_without_the_object_listed_is_the_failure(fault):
    with pytest.raises(DbcsApiError) as caught:
        Recorder(fault=fault, listed=False).run()
    assert caught.value is fault


def test_other_errors_fail_without_a_second_read():
    recorder = Recorder(fault=DbcsApiError("create schema", 400, "schemas can only be created in postgresql connections"))
    with pytest.raises(DbcsApiError, match="HTTP 400"):
        recorder.run()
    assert recorder.calls == ["create"]
