# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the pure parts of dbcs_connection_info and dbcs_schema: selection, views, schema names."""

from __future__ import annotations

import base64

import pytest

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import (
    CONNECTION_OPTIONS, PING_SKIPPED_IN_CHECK_MODE, ConnectionSpec, SpecError, check_connection_id, check_database_name,
    check_schema_name,
    database_names, info_view, is_type, jinja_literal, jinja_string, ping_result, plan_changes, schemas_in,
    select_connections)
from ansible_collections.dbconvert.streams.plugins.module_utils.kinds import from_wire

CONNECTION_DEFAULTS = dict((key, spec.get("default")) for key, spec in CONNECTION_OPTIONS.items())

PG_ID = "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5"
MY_ID = "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU6"
DUP_ID = "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU7"
SERVER = [
    dict(id=PG_ID, name="warehouse", type="PostgreSQL", host="pg", port=5432, username="app", password="pw-1",
         database="analytics", ssl=dict(mode="verify-full", ca="Q0E=", client_key="S0VZ"), cloud_provider="none"),
    dict(id=MY_ID, name="shop", type="mysql", host="my", port=3306, username="app", password="pw-2", database=""),
    dict(id=DUP_ID, name="shop", type="mysql", host="my2", port=3306),
]


# -- selection ------------------------------------------------------------------------------------

def test_no_selector_selects_everything_in_the_server_order():
    assert select_connections(SERVER) == SERVER


def test_name_selects_every_connection_of_that_name():
    assert [c["id"] for c in select_connections(SERVER, name="shop")] == [MY_ID, DUP_ID]


def test_name_is_exact_and_case_sensitive():
    assert select_connections(SERVER, name="Shop") == []
    assert select_connections(SERVER, name="shop ") == []


def test_unknown_name_selects_nothing():
    assert select_connections(SERVER, name="nothing") == []


def test_id_selects_one():
    assert select_connections(SERVER, conn_id=MY_ID) == [SERVER[1]]


def test_unknown_id_fails_naming_the_option():
    with pytest.raises(SpecError, match=r"^id: no connection has the id conn_2sZyDMeIbdaXnN9OL7vYzzAiZU9"):
        select_connections(SERVER, conn_id="conn_2sZyDMeIbdaXnN9OL7vYzzAiZU9")


def test_type_is_compared_case_insensitively():
    assert [c["id"] for c in select_connections(SERVER, conn_type="postgresql")] == [PG_ID]
    assert [c["id"] for c in select_connections(SERVER, conn_type="mysql")] == [MY_ID, DUP_ID]


def test_type_filter_on_a_known_id_of_another_type_selects_nothing():
    assert select_connections(SERVER, conn_id=PG_ID, conn_type="mysql") == []


@pytest.mark.parametrize("entry, wanted, expected", [
    ({"type": "PostgreSQL"}, "postgresql", True),
    ({"type": "mysql"}, "postgresql", False),
    ({"name": "summary without type"}, "mysql", True),  # its details will say
    ({"type": "mysql"}, None, True),
])
def test_is_type(entry, wanted, expected):
    assert is_type(entry, wanted) is expected


@pytest.mark.parametrize("value", [PG_ID])
def test_well_formed_id_is_accepted(value):
    check_connection_id(value)


@pytest.mark.parametrize("value", ["", "warehouse", "conn_short", PG_ID + "x", "CONN_2sZyDMeIbdaXnN9OL7vYzzAiZU5",
                                   "conn_2sZyDMeIbdaXnN9OL7vYzzAi-U5"])
def test_malformed_id_is_refused_with_the_fix(value):
    with pytest.raises(SpecError, match=r"^id must be a connection id such as conn_.*to select a connection by its name, use name$"):
        check_connection_id(value)


# -- what is returned -------------------------------------------------------------------------------

def test_info_view_keeps_every_field_but_the_secrets():
    view = info_view(SERVER[0])
    assert "password" not in view
    assert view["ssl"] == {"mode": "verify-full", "ca": "Q0E="}
    assert view["cloud_provider"] == "none"
    assert view["type"] == "postgresql"
    assert SERVER[0]["password"] == "pw-1" and SERVER[0]["ssl"]["client_key"] == "S0VZ"  # the input is not changed


def test_info_view_of_a_summary():
    assert info_view({"id": PG_ID, "name": "x"}) == {"id": PG_ID, "name": "x", "declared": None}


PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAV2gAwIBAgIUca\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8\n-----END PRIVATE KEY-----\n"


def b64(text):
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("conn, vault", [
    (dict(id=PG_ID, name="wh \U0001F600 {{x}}", type="PostgreSQL", host="pg", port=5432, username="u", password="pw",
          database="d", schema="s", created=1, cloud_provider="",
          ssl=dict(mode="verify-ca", ca=b64(PEM_CERT), client_cert=b64(PEM_CERT), client_key=b64(PEM_KEY))),
     {"password": "{{ vault_dbcs_passwords[\"wh \U0001F600 {\" ~ \"{x}}\"] }}",
      "ssl.client_key": "{{ vault_dbcs_ssl_client_keys[\"wh \U0001F600 {\" ~ \"{x}}\"] }}"}),
    (dict(id=PG_ID, name="shop", type="mysql", host="my", port=3306, username="u", database=""),  # password hidden
     {"password": "{{ vault_dbcs_passwords[\"shop\"] }}"}),
])
def test_the_declared_view_reproduces_the_connection_and_names_each_secret_by_its_vault_variable(conn, vault):
    declared = info_view(conn)["declared"]
    assert declared["password"] == vault["password"]
    assert (declared.get("ssl") or {}).get("client_key") == vault.get("ssl.client_key")
    assert "created" not in declared and "id" not in declared and "cloud_provider" not in declared
    # Applied back, templated as Ansible templates a variables file (with the secrets from the vault), it plans
    # no change against the connection itself.
    name = conn["name"]
    rendered = render(declared, vault_dbcs_passwords={name: "pw"}, vault_dbcs_ssl_client_keys={name: PEM_KEY})
    assert rendered["name"] == name
    if "ssl" in declared:
        assert declared["ssl"]["ca"] == PEM_CERT  # PEM text, as the option takes it
    (change,) = plan_changes([ConnectionSpec(dict(CONNECTION_DEFAULTS, **rendered))], [dict(conn, password="pw")])
    assert change.action == "none", change.changed_fields


def render(value, **variables):
    """Every string of a nested structure that holds Jinja templated, as Ansible templates variables."""
    jinja2 = pytest.importorskip("jinja2")
    if isinstance(value, dict):
        return dict((k, render(v, **variables)) for k, v in value.items())
    if isinstance(value, str) and any(marker in value for marker in ("{{", "{%", "{#")):
        return jinja2.Environment().from_string(value).render(**variables)
    return value


def test_an_unmanaged_kind_has_no_declared_view_and_no_secret():
    view = info_view({"id": PG_ID, "name": "wh", "type": "snowflake",
                      "spec": {"snowflake": {"account": "acme", "username": "u", "password": "snow-pw"}}})
    assert view == {"id": PG_ID, "name": "wh", "type": "snowflake", "declared": None,
                    "spec": {"snowflake": {"account": "acme", "username": "u"}}}


def test_an_s3_connection_reads_flat_without_its_secrets_and_declares_them_from_the_vault():
    conn = from_wire({"id": PG_ID, "name": "lake", "type": "S3", "spec": {"s3": {
        "region": "eu", "endpoint": "http://127.0.0.1:9000", "scope": {"bucket": "b", "prefix": "p/"},
        "credentials": {"accessKey": "AK", "secretKey": "SK", "sessionToken": "ST"}}}})
    fields = dict(region="eu", endpoint="http://127.0.0.1:9000", bucket="b", prefix="p/", access_key="AK")
    assert info_view(conn) == dict(fields, id=PG_ID, name="lake", type="s3", declared=dict(
        fields, name="lake", type="s3", secret_key='{{ vault_dbcs_secret_keys["lake"] }}',
        session_token='{{ vault_dbcs_session_tokens["lake"] }}'))
    # A server that hides secrets: the secret key goes with the access key; a session token is not assumed.
    hidden = dict(conn)
    del hidden["secret_key"], hidden["session_token"]
    assert info_view(hidden)["declared"] == dict(fields, name="lake", type="s3",
                                                 secret_key='{{ vault_dbcs_secret_keys["lake"] }}')
    assert info_view(dict(hidden, access_key=None))["declared"].get("secret_key") is None


def test_a_files_connection_reads_flat():
    conn = from_wire({"id": PG_ID, "name": "dir", "type": "files", "spec": {"files": {"basePath": "/data"}}})
    assert info_view(conn) == dict(id=PG_ID, name="dir", type="files", base_path="/data",
                                   declared=dict(name="dir", type="files", base_path="/data"))


def test_ping_result_shapes():
    assert ping_result(True, None) == {"ok": True, "error": None}
    assert ping_result(False, "password authentication failed") == {"ok": False, "error": "password authentication failed"}
    assert ping_result(False, "") == {"ok": False, "error": "the test failed"}
    assert PING_SKIPPED_IN_CHECK_MODE == {"ok": None, "error": None, "skipped": "check mode"}


# -- schemas ------------------------------------------------------------------------------------------

DATABASES = [{"name": "analytics", "schemas": ["sales", "public"]}, {"name": "empty", "schemas": []},
             {"name": "mysql_style"}]


def test_schemas_in_a_database_are_sorted():
    assert schemas_in(DATABASES, "analytics") == ["public", "sales"]


def test_schemas_in_a_database_without_any():
    assert schemas_in(DATABASES, "empty") == []
    assert schemas_in(DATABASES, "mysql_style") == []


def test_schemas_in_an_unlisted_database_is_none():
    assert schemas_in(DATABASES, "Analytics") is None
    assert schemas_in([], "analytics") is None
    assert schemas_in(None, "analytics") is None


def test_database_names():
    assert database_names(DATABASES) == ["analytics", "empty", "mysql_style"]


@pytest.mark.parametrize("name", ["sales", "Sales", " spaced ", 'a"b', "Robert'); DROP SCHEMA public; --", "line\nbreak",
                                  "схема", u"é" * 31 + "x", "pgsales", "PG_sales"])
def test_schema_names_taken_literally(name):
    check_schema_name(name)


@pytest.mark.parametrize("name, message", [
    ("", r"^name must not be empty"),
    ("   ", r"^name must not be empty"),
    (None, r"^name must not be empty"),
    ("a\x00b", r"^name must not contain a NUL character"),
    ("x" * 64, r"^name must be at most 63 bytes in UTF-8 .*got 64 bytes"),
    (u"é" * 32, r"^name must be at most 63 bytes in UTF-8 .*got 64 bytes"),
    ("pg_sales", r"^name 'pg_sales' is reserved"),
    ("information_schema", r"^name 'information_schema' is reserved"),
])
def test_bad_schema_names_are_refused_naming_the_option(name, message):
    with pytest.raises(SpecError, match=message):
        check_schema_name(name)


@pytest.mark.parametrize("name", ["a{{b", "x{{{y}}}", "{#c", "p{%q%}", "plain", "é\U0001F600 \"q\" \\ {{", "it's",
                                  "back\\slash", "\"", "\\", "", "{"])
def test_jinja_strings_carry_any_text_without_escapes_or_markers(name):
    expression = jinja_string(name)
    assert "\\" not in expression.replace('("%c" | format(92))', "")
    assert not [piece for piece in expression.split(" ~ ") if any(m in piece for m in ("{{", "{%", "{#"))]
    assert render("{{ %s }}" % expression) == name
    assert render(jinja_literal(name)) == name


@pytest.mark.parametrize("name, conn_type, message", [
    ("", None, r"^name must not be empty"),
    ("a\x00b", None, r"^name must not contain a NUL character"),
    ("\u00e9" * 32, "postgresql", r"^name must be at most 63 bytes in UTF-8"),
    ("x" * 65, "mysql", r"^name must be at most 64 characters for MySQL"),
    ("shop ", "mysql", r"^name must not end with a space"),
    ("shop \U0001F600", "mysql", r"^name must not contain characters outside the Basic Multilingual Plane"),
])
def test_database_names_the_database_would_refuse_fail_before_any_write(name, conn_type, message):
    with pytest.raises(SpecError, match=message):
        check_database_name(name, conn_type=conn_type)


def test_database_names_each_database_takes():
    check_database_name("x" * 64, conn_type="mysql")
    check_database_name("shop \U0001F600", conn_type="postgresql")
    check_database_name("a`b'c\"d", conn_type="mysql")
