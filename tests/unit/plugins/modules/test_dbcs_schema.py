# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of dbcs_schema's confirmation step, for the answers the real server cannot be made to give
(a create that succeeds without the schema appearing, a race with another creator, an unknown outcome)."""

from __future__ import annotations

import pytest

from ansible_collections.dbconvert.streams.plugins.module_utils.dbcs_client import DbcsApiError, DbcsOutcomeUnknown
from ansible_collections.dbconvert.streams.plugins.modules.dbcs_schema import confirm_created

CONN_ID = "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5"


class FakeClient(object):
    """Answers create_schema with `create` (an exception to raise, or None) and list_databases with `listed`."""

    def __init__(self, create=None, listed=()):
        self.create = create
        self.listed = list(listed)
        self.calls = []

    def create_schema(self, conn_id, database, name):
        self.calls.append(("create_schema", conn_id, database, name))
        if self.create is not None:
            raise self.create

    def list_databases(self, conn_id, name=None):
        self.calls.append(("list_databases", conn_id))
        return [{"name": "appdb", "schemas": self.listed}]


class FakeModule(object):
    def __init__(self, client):
        self.client = client


def test_a_create_is_confirmed_by_reading_the_schemas_again():
    client = FakeClient(listed=["public", "sales"])
    confirm_created(FakeModule(client), CONN_ID, "pg", "appdb", "sales")
    assert client.calls == [("create_schema", CONN_ID, "appdb", "sales"), ("list_databases", CONN_ID)]


def test_a_create_that_does_not_show_fails_clearly():
    client = FakeClient(listed=["public"])
    with pytest.raises(DbcsApiError) as caught:
        confirm_created(FakeModule(client), CONN_ID, "pg", "appdb", "sales")
    assert caught.value.message == ("Could not confirm schema 'sales' in database 'appdb' of connection 'pg': the server "
                                    "answered the create with success, but does not list the schema afterwards")


@pytest.mark.parametrize("fault", [DbcsApiError("create schema", 409, "schema 'sales' already exists"),
                                   DbcsOutcomeUnknown("create schema", 504, "gateway timeout")])
def test_a_schema_created_meanwhile_or_by_a_lost_answer_counts_once_it_is_listed(fault):
    confirm_created(FakeModule(FakeClient(create=fault, listed=["public", "sales"])), CONN_ID, "pg", "appdb", "sales")


@pytest.mark.parametrize("fault", [DbcsApiError("create schema", 409, "schema 'sales' already exists"),
                                   DbcsOutcomeUnknown("create schema", 503, "connection failed")])
def test_such_an_answer_without_the_schema_listed_is_the_failure(fault):
    with pytest.raises(DbcsApiError) as caught:
        confirm_created(FakeModule(FakeClient(create=fault, listed=["public"])), CONN_ID, "pg", "appdb", "sales")
    assert caught.value is fault


def test_other_errors_fail_without_a_second_read():
    client = FakeClient(create=DbcsApiError("create schema", 400, "schemas can only be created in postgresql connections"))
    with pytest.raises(DbcsApiError, match="HTTP 400"):
        confirm_created(FakeModule(client), CONN_ID, "pg", "appdb", "sales")
    assert [c[0] for c in client.calls] == ["create_schema"]
