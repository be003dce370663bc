# -*- coding: utf-8 -*-
# Copyright: dbconvert.streams contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the connection model: pure logic, no HTTP."""

from __future__ import annotations

import base64
import random

import pytest

from ansible_collections.dbconvert.streams.plugins.module_utils.connection import (
    CONNECTION_OPTIONS, MASK, MASK_CHANGED, ConnectionSpec, SpecError, build_body, compare, diff_view,
    has_details, normalise_server, normalise_ssl, normalise_verify, plan_changes, redact, secret_values,
    strip_secrets)
from ansible_collections.dbconvert.streams.plugins.module_utils.kinds import from_wire, to_wire

PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAsecret\n-----END PRIVATE KEY-----\n"
PEM_CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAV2gAwIBAgIUca\n-----END CERTIFICATE-----\n"


def params(**kwargs):
    """Module parameters as AnsibleModule would hand them over: every option present, defaults applied."""
    result = dict((key, spec.get("default")) for key, spec in CONNECTION_OPTIONS.items())
    result.update(kwargs)
    return result


def spec(**kwargs):
    return ConnectionSpec(params(**kwargs))


def server_conn(**kwargs):
    conn = dict(id="conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5", name="pg", type="postgresql", host="db1", port=5432,
                username="app", password="s3cret-pw", database="appdb", schema="", created=1735689600)
    conn.update(kwargs)
    return conn


# -- validation -----------------------------------------------------------------------------------

@pytest.mark.parametrize("port", [0, -1, 65536, 100000])
def test_port_out_of_range_names_the_option(port):
    with pytest.raises(SpecError, match=r"^port must be between 1 and 65535, got %d$" % port):
        spec(name="pg", port=port)


@pytest.mark.parametrize("port", [True, False])
def test_port_given_as_a_boolean_is_refused(port):
    # Ansible's int type passes a YAML boolean through unchanged; the API answers 400 to it.
    with pytest.raises(SpecError, match=r"^port must be a whole number between 1 and 65535, got %s$" % port):
        spec(name="pg", port=port)


@pytest.mark.parametrize("port", [1, 5432, 65535])
def test_port_in_range_is_accepted(port):
    assert spec(name="pg", port=port).fields["port"] == port


def test_schema_on_mysql_is_rejected():
    with pytest.raises(SpecError, match=r"^schema is only valid for type postgresql"):
        spec(name="my", type="mysql", schema="sales")


def test_empty_name_is_rejected():
    with pytest.raises(SpecError, match=r"^name must not be empty"):
        spec(name="  ")


@pytest.mark.parametrize("name, shown", [("shop\n", r"'shop\\n'"), ("a\tb", r"'a\\tb'"), ("x\x00", r"'x\\x00'"),
                                         ("\r\nshop", r"'\\r\\nshop'")])
def test_a_name_with_control_characters_is_refused(name, shown):
    with pytest.raises(SpecError, match=r"^name must not contain control characters such as line breaks or tabs, got %s; "
                                        r"a YAML block scalar" % shown):
        spec(name=name)


@pytest.mark.parametrize("name", ["it's a \"quoted\" \\name\\", "Lager-Ümlaut-数据库-🚀", "../x?y=1#z%2F", "  spaced  "])
def test_odd_but_printable_names_are_kept_exactly(name):
    assert spec(name=name, type="mysql").name == name


def test_a_connection_with_any_name_can_be_deleted():
    assert spec(name="shop\n", state="absent").state == "absent"


def test_item_errors_say_which_item():
    with pytest.raises(SpecError, match=r"^connections\[3\] \(pg\): port must be between"):
        ConnectionSpec(params(name="pg", port=0), where="connections[3] (pg): ")


def test_absent_ignores_other_fields():
    declared = spec(name="pg", state="absent", port=99999)
    assert declared.state == "absent" and declared.fields == {}


def test_only_declared_fields_are_kept():
    assert spec(name="pg", host="db1").fields == {"host": "db1"}


def test_unreadable_ssl_file_names_the_option(tmp_path):
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(SpecError, match=r"^ssl\.ca_path cannot be read: .*nope\.pem"):
        spec(name="pg", ssl=dict(mode="verify-ca", ca_path=missing, ca=None, client_cert=None,
                                 client_cert_path=None, client_key=None, client_key_path=None))


def ssl_params(**kwargs):
    result = dict(mode="require", ca=None, ca_path=None, client_cert=None, client_cert_path=None,
                  client_key=None, client_key_path=None)
    result.update(kwargs)
    return result


def test_ssl_files_are_read_and_base64_encoded(tmp_path):
    key_file = tmp_path / "client.key"
    key_file.write_text(PEM_KEY)
    declared = spec(name="pg", ssl=ssl_params(mode="verify-full", ca=PEM_CA, client_key_path=str(key_file)))
    assert declared.fields["ssl"] == {
        "mode": "verify-full",
        "ca": base64.b64encode(PEM_CA.encode()).decode(),
        "client_key": base64.b64encode(PEM_KEY.encode()).decode(),
    }


def test_ssl_content_that_is_not_pem_is_rejected():
    with pytest.raises(SpecError, match=r"^ssl\.ca must be PEM"):
        spec(name="pg", ssl=ssl_params(ca="not a certificate"))


@pytest.mark.parametrize("value,expected", [
    (False, "never"), (True, "on_change"), ("always", "always"), ("on_change", "on_change"),
    ("never", "never"), ("yes", "on_change"), (None, "never")])
def test_verify_values(value, expected):
    assert normalise_verify(value) == expected


def test_verify_rejects_other_words():
    with pytest.raises(SpecError, match=r"^verify must be true, false, 'on_change' or 'always', got 'sometimes'"):
        normalise_verify("sometimes")


# -- normalising what the server returns --------------------------------------------------------------

def test_server_type_is_compared_lowercase_and_port_as_int():
    normal = normalise_server(dict(type="PostgreSQL", port="5432", name="x", cloud_provider="aws"))
    assert normal == {"type": "postgresql", "port": 5432, "name": "x"}


def test_no_ssl_and_disabled_ssl_are_the_same():
    assert normalise_ssl(None) is None
    assert normalise_ssl({"mode": "disabled", "ca": ""}) is None
    assert normalise_ssl({"mode": "require", "ca": None}) == {"mode": "require"}


def test_summary_list_entries_lack_details():
    assert not has_details(dict(id="conn_x", name="a", type="mysql", host="h", port=1))
    assert has_details(server_conn())


# -- compare ------------------------------------------------------------------------------------------

def current(**kwargs):
    conn = normalise_server(server_conn(**kwargs))
    conn["id"] = "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5"
    return conn


def test_compare_only_declared_fields():
    assert compare(spec(name="pg", host="db1"), current(port=9999)) == ([], set())


def test_compare_type_case_insensitively():
    assert compare(spec(name="pg", type="postgresql"), current(type="PostgreSQL")) == ([], set())


def test_compare_reports_changed_fields():
    changed, secrets = compare(spec(name="pg", host="db2", port=5433), current())
    assert changed == ["host", "port"] and secrets == set()


def test_password_returned_by_server_is_compared():
    assert compare(spec(name="pg", password="s3cret-pw"), current()) == ([], set())
    assert compare(spec(name="pg", password="other"), current()) == (["password"], {"password"})


def test_password_hidden_by_server_counts_as_changed_with_always():
    hidden = current()
    del hidden["password"]
    assert compare(spec(name="pg", password="s3cret-pw"), hidden) == (["password"], {"password"})


def test_password_is_not_compared_with_on_create():
    hidden = current()
    del hidden["password"]
    assert compare(spec(name="pg", password="x", update_password="on_create"), hidden) == ([], set())
    assert compare(spec(name="pg", password="x", update_password="on_create"), current()) == ([], set())


def test_empty_and_missing_database_or_schema_are_equal():
    assert compare(spec(name="my", database=""), current(type="mysql", database=None)) == ([], set())
    assert compare(spec(name="pg", schema=""), current(schema=None)) == ([], set())


def test_ssl_is_compared_as_a_whole():
    ca = base64.b64encode(PEM_CA.encode()).decode()
    have = current(ssl={"mode": "verify-ca", "ca": ca})
    assert compare(spec(name="pg", ssl=ssl_params(mode="verify-ca", ca=PEM_CA)), have) == ([], set())
    assert compare(spec(name="pg", ssl=ssl_params(mode="verify-full", ca=PEM_CA)), have)[0] == ["ssl"]
    assert compare(spec(name="pg", ssl=ssl_params(mode="require")), have)[0] == ["ssl"]


def test_declared_disabled_ssl_matches_no_ssl():
    assert compare(spec(name="pg", ssl=ssl_params(mode="disabled")), current()) == ([], set())


def test_hidden_client_key_counts_as_changed_only_with_always():
    key = base64.b64encode(PEM_KEY.encode()).decode()
    have = current(ssl={"mode": "require"})
    assert compare(spec(name="pg", ssl=ssl_params(client_key=PEM_KEY)), have) == (["ssl"], {"ssl.client_key"})
    on_create = spec(name="pg", ssl=ssl_params(client_key=PEM_KEY), update_password="on_create")
    assert compare(on_create, have) == ([], set())
    assert compare(spec(name="pg", ssl=ssl_params(client_key=PEM_KEY)), current(ssl={"mode": "require", "client_key": key})) == ([], set())


# -- the body of a write --------------------------------------------------------------------------------

def test_put_body_is_the_whole_connection_with_declared_changes():
    body = build_body(spec(name="pg", host="db2"), current())
    assert body == dict(name="pg", type="postgresql", host="db2", port=5432, username="app",
                        password="s3cret-pw", database="appdb")


def test_put_body_keeps_the_server_password_with_on_create():
    body = build_body(spec(name="pg", host="db2", password="new", update_password="on_create"), current())
    assert body["password"] == "s3cret-pw"


def test_put_body_sends_declared_password_when_server_hides_it():
    hidden = current()
    del hidden["password"]
    body = build_body(spec(name="pg", host="db2", password="declared", update_password="on_create"), hidden)
    assert body["password"] == "declared"


def test_create_body_gets_default_port_and_empty_mysql_database():
    body = build_body(spec(name="my", type="mysql", host="h", username="u", password="p"), {})
    assert body == dict(name="my", type="mysql", host="h", port=3306, username="u", password="p", database="")
    assert build_body(spec(name="pg", type="postgresql", host="h", username="u", password="p",
                           database="d"), {})["port"] == 5432


# -- plans ------------------------------------------------------------------------------------------------

def test_plan_create_update_none_delete_in_order():
    server = [server_conn(name="same"), server_conn(name="old-host", id="conn_2sZyDMeIbdaXnN9OL7vYzzAiZU6"),
              server_conn(name="gone", id="conn_2sZyDMeIbdaXnN9OL7vYzzAiZU7")]
    declared = [spec(name="new", type="mysql", host="h", username="u", password="p"),
                spec(name="same", host="db1"), spec(name="old-host", host="db9"), spec(name="gone", state="absent"),
                spec(name="never-existed", state="absent")]
    plan = plan_changes(declared, server)
    assert [(c.name, c.action) for c in plan] == [
        ("new", "create"), ("same", "none"), ("old-host", "update"), ("gone", "delete"), ("never-existed", "none")]
    assert plan[2].changed_fields == ["host"] and plan[2].conn_id == "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU6"


def test_plan_purge_deletes_what_is_not_declared():
    server = [server_conn(name="keep"), server_conn(name="extra", id="conn_2sZyDMeIbdaXnN9OL7vYzzAiZU6")]
    plan = plan_changes([spec(name="keep")], server, purge=True)
    assert [(c.name, c.action) for c in plan] == [("keep", "none"), ("extra", "delete")]
    assert [(c.name, c.action) for c in plan_changes([spec(name="keep")], server)] == [("keep", "none")]


def test_plan_fails_on_two_server_connections_with_the_name():
    server = [server_conn(), server_conn(id="conn_2sZyDMeIbdaXnN9OL7vYzzAiZU6")]
    with pytest.raises(SpecError, match=r"2 connections on the server are named 'pg' \(ids conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5, "
                                        r"conn_2sZyDMeIbdaXnN9OL7vYzzAiZU6\)"):
        plan_changes([spec(name="pg")], server)


def test_plan_create_lists_every_missing_option():
    with pytest.raises(SpecError, match=r"connection 'pg' does not exist yet: to create it, set host, username, password, database$"):
        plan_changes([spec(name="pg", type="postgresql")], [])


def test_plan_create_without_password_fails():
    with pytest.raises(SpecError, match=r"set password$"):
        plan_changes([spec(name="my", type="mysql", host="h", username="u")], [])


def test_plan_schema_on_a_server_mysql_connection_fails_before_writing():
    with pytest.raises(SpecError, match=r"^schema is only valid for type postgresql; connection 'my' is mysql"):
        plan_changes([spec(name="my", schema="s")], [server_conn(name="my", type="MySQL", schema=None)])


def test_plan_update_without_any_password_against_hiding_server_fails():
    hidden = server_conn()
    del hidden["password"]
    with pytest.raises(SpecError, match=r"^password is needed to update connection 'pg'"):
        plan_changes([spec(name="pg", host="other")], [hidden])


def test_plan_clone_takes_source_fields_then_declared_ones():
    plan = plan_changes([spec(name="copy", clone_from="pg", database="other")], [server_conn()])
    change = plan[0]
    assert change.action == "clone" and change.source["id"] == "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5"
    assert change.body == dict(name="copy", type="postgresql", host="db1", port=5432, username="app",
                               password="s3cret-pw", database="other")


def test_plan_clone_by_id():
    plan = plan_changes([spec(name="copy", clone_from="conn_2sZyDMeIbdaXnN9OL7vYzzAiZU5")], [server_conn()])
    assert plan[0].action == "clone"


def test_plan_clone_from_nothing_fails():
    with pytest.raises(SpecError, match=r"^clone_from: no connection is named 'ghost' and none has that id"):
        plan_changes([spec(name="copy", clone_from="ghost")], [server_conn()])


def test_plan_clone_is_ignored_when_name_exists():
    plan = plan_changes([spec(name="pg", clone_from="ghost")], [server_conn()])
    assert plan[0].action == "none"


def test_plan_clone_of_a_declared_connection_listed_after_it():
    source = spec(name="src", type="postgresql", host="db9", username="app", password="pw-9", database="appdb")
    plan = plan_changes([spec(name="copy", clone_from="src", database="other"), source], [])
    assert [(c.name, c.action) for c in plan] == [("copy", "clone"), ("src", "create")]
    assert plan[0].source == plan[1].body
    assert plan[0].body == dict(plan[1].body, name="copy", database="other")


def test_plan_clone_cycle_between_undeclared_sources_fails():
    with pytest.raises(SpecError, match=r"clone_from: no connection is named"):
        plan_changes([spec(name="a", clone_from="b"), spec(name="b", clone_from="a")], [])


def test_plan_clone_of_hiding_server_needs_declared_password():
    hidden = server_conn()
    del hidden["password"]
    with pytest.raises(SpecError, match=r"^password is needed to clone 'pg'"):
        plan_changes([spec(name="copy", clone_from="pg")], [hidden])


# -- what modules return ------------------------------------------------------------------------------------

def test_diff_masks_secrets_and_marks_a_changed_password():
    plan = plan_changes([spec(name="pg", host="db2", password="new-secret")], [server_conn()])
    diff = plan[0].diff()
    assert diff["before"]["password"] == MASK and diff["after"]["password"] == MASK_CHANGED
    assert diff["before"]["host"] == "db1" and diff["after"]["host"] == "db2"
    assert "s3cret-pw" not in repr(diff) and "new-secret" not in repr(diff)


def test_create_diff_has_empty_before_and_delete_diff_empty_after():
    create = plan_changes([spec(name="n", type="mysql", host="h", username="u", password="p")], [])[0].diff()
    delete = plan_changes([spec(name="pg", state="absent")], [server_conn()])[0].diff()
    assert create["before"] == {} and create["after"]["password"] == MASK
    assert delete["after"] == {} and delete["before"]["password"] == MASK


def test_end_state_has_no_secret():
    key = base64.b64encode(PEM_KEY.encode()).decode()
    plan = plan_changes([spec(name="pg")], [server_conn(ssl={"mode": "require", "client_key": key})])
    state = plan[0].end_state()
    assert "password" not in state and "client_key" not in state["ssl"] and state["id"].startswith("conn_")


def test_strip_secrets_handles_lists():
    assert strip_secrets([{"password": "x", "name": "a"}]) == [{"name": "a"}]


def test_diff_view_masks_client_key():
    assert diff_view({"ssl": {"mode": "require", "client_key": "abc"}})["ssl"]["client_key"] == MASK


def test_secret_values_include_decoded_client_key():
    key = base64.b64encode(PEM_KEY.encode()).decode()
    values = secret_values(server_conn(ssl={"client_key": key}))
    assert values == ["s3cret-pw", key, PEM_KEY]


def test_redact_masks_nested_strings():
    value = {"msg": "login failed for pw s3cret-pw", "list": ["s3cret-pw"], "n": 1}
    assert redact(value, ["s3cret-pw"]) == {"msg": "login failed for pw %s" % MASK, "list": [MASK], "n": 1}
    assert redact(value, []) is value


def _masked_by_positions(text, secrets):
    """The reference for redact: mark every character any occurrence of any secret covers, mask each run."""
    covered = [False] * len(text)
    for secret in secrets:
        start = text.find(secret)
        while start != -1:
            covered[start:start + len(secret)] = [True] * len(secret)
            start = text.find(secret, start + 1)
    out, index = [], 0
    while index < len(text):
        if covered[index]:
            while index < len(text) and covered[index]:
                index += 1
            out.append(MASK)
        else:
            out.append(text[index])
            index += 1
    return "".join(out)


@pytest.mark.parametrize("text, secrets", [
    ("pw=abc;pw2=abcdef", ["abc", "abcdef"]),     # a secret inside a longer one
    ("xabcdefx", ["abcd", "cdef"]),               # overlapping secrets: one mask over both
    ("abab", ["ab"]),                             # adjacent occurrences
    ("a", ["a", "bb"]),                           # secrets of different lengths
    ("no secret here", ["s3cret"]),
])
def test_redact_masks_every_character_a_secret_covers(text, secrets):
    assert redact(text, secrets) == _masked_by_positions(text, secrets)


def test_redact_agrees_with_the_reference_on_random_overlaps():
    chooser = random.Random(7)

    def word(letters, shortest, longest):
        return "".join(chooser.choice(letters) for dummy in range(chooser.randint(shortest, longest)))

    for dummy in range(3000):
        secrets = [word("abc", 1, 4) for dummy in range(chooser.randint(1, 4))]
        text = word("abcd", 0, 12)
        assert redact(text, secrets) == _masked_by_positions(text, secrets), (text, secrets)


def test_plan_update_on_hiding_server_keeps_a_client_key_it_cannot_see_or_fails():
    cert = base64.b64encode(PEM_CA.encode()).decode()
    hidden = server_conn(ssl={"mode": "verify-full", "client_cert": cert})
    del hidden["password"]
    with pytest.raises(SpecError, match=r"^ssl is needed to update connection 'pg': it has a client certificate"):
        plan_changes([spec(name="pg", host="other", password="p")], [hidden])
    plan = plan_changes([spec(name="pg", host="other", password="p",
                              ssl=ssl_params(mode="verify-full", client_cert=PEM_CA, client_key=PEM_KEY))], [hidden])
    assert plan[0].action == "update" and plan[0].body["ssl"]["client_key"] == base64.b64encode(PEM_KEY.encode()).decode()
    shown = server_conn(ssl={"mode": "verify-full", "client_cert": cert, "client_key": "a2V5"})
    assert plan_changes([spec(name="pg", host="other")], [shown])[0].body["ssl"]["client_key"] == "a2V5"


# -- dialects and kinds ------------------------------------------------------------------------------

def test_plan_on_a_2x_server_refuses_schema_and_points_to_dbcs_schema():
    with pytest.raises(SpecError, match=r"^schema cannot be set on this server: it speaks the 2.x API, where a "
                                        r"connection has no schema; .*dbconvert.streams.dbcs_schema$"):
        plan_changes([spec(name="pg", schema="sales")], [server_conn(schema=None)], nested=True)


def test_plan_on_a_2x_server_creates_postgresql_without_a_database():
    created = spec(name="new", type="postgresql", host="h", username="u", password="p")
    (change,) = plan_changes([created], [], nested=True)
    assert change.action == "create" and "database" not in change.body
    with pytest.raises(SpecError, match=r"to create it, set database$"):
        plan_changes([created], [], nested=False)


def test_a_connection_of_an_unmanaged_kind_is_never_written_but_can_be_deleted_and_purged():
    snow = {"id": "conn_2sZyDMeIbdaXnN9OL7vYzzAiZU6", "name": "lake", "type": "snowflake",
            "spec": {"snowflake": {"account": "acme", "username": "u", "password": "snow-pw"}}}
    with pytest.raises(SpecError, match=r"^name 'lake' is a snowflake connection on the server, which this collection "
                                        r"does not manage"):
        plan_changes([spec(name="lake", type="postgresql", host="h")], [snow], nested=True)
    with pytest.raises(SpecError, match=r"^clone_from 'lake' is a snowflake connection"):
        plan_changes([spec(name="copy", clone_from="lake")], [snow], nested=True)
    (deleted,) = plan_changes([spec(name="lake", state="absent")], [snow], nested=True)
    (purged,) = plan_changes([], [snow], purge=True, nested=True)
    assert deleted.action == purged.action == "delete"
    assert purged.diff() == {"before": {"name": "lake", "type": "snowflake"}, "after": {},
                             "before_header": "connection 'lake'", "after_header": "connection 'lake'"}


def test_the_secrets_of_an_unmanaged_kind_are_found_and_stripped():
    snow = {"id": "conn_x", "name": "wh", "type": "snowflake",
            "spec": {"snowflake": {"account": "acme", "username": "u", "password": "snow-pw", "privateKey": "PK"}}}
    assert sorted(secret_values(snow)) == ["PK", "snow-pw"]
    assert strip_secrets(snow) == {"id": "conn_x", "name": "wh", "type": "snowflake",
                                   "spec": {"snowflake": {"account": "acme", "username": "u"}}}
    assert snow["spec"]["snowflake"]["password"] == "snow-pw"  # the original is not changed
    assert has_details(snow)


def test_the_wire_forms_map_every_field_both_ways():
    flat = dict(name="pg", type="postgresql", host="h", port=5432, username="u", password="p", database="d",
                ssl={"mode": "require"})
    nested = to_wire(flat, nested=True)
    assert nested == {"name": "pg", "type": "postgresql", "ssl": {"mode": "require"},
                      "spec": {"database": {"host": "h", "port": 5432, "username": "u", "password": "p", "database": "d"}}}
    assert to_wire(flat, nested=False) == flat
    assert from_wire(nested) == flat == from_wire(flat)
    with pytest.raises(ValueError):
        to_wire(dict(flat, schema="s"), nested=True)  # plan_changes refuses it before: never dropped silently


# -- certificates and hidden passwords in diffs ---------------------------------------------------------

def _certificate_pem(common_name):
    x509 = pytest.importorskip("cryptography.x509")
    import datetime
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def test_a_diff_shows_certificates_by_subject_and_fingerprint_not_as_base64():
    pem = _certificate_pem(u"ca.example.test")
    encoded = base64.b64encode(pem.encode()).decode()
    view = diff_view(server_conn(ssl=dict(mode="verify-ca", ca=encoded)))
    assert view["ssl"]["ca"].startswith("CN=ca.example.test (SHA256 ")
    assert encoded not in str(view) and len(view["ssl"]["ca"]) < 150
    bundle = base64.b64encode((pem + _certificate_pem(u"other.example.test")).encode()).decode()
    assert diff_view(server_conn(ssl=dict(mode="verify-ca", ca=bundle)))["ssl"]["ca"].count("SHA256") == 2


def test_ssl_certificates_are_taken_as_base64_too_as_the_info_module_returns_them():
    encoded = base64.b64encode(PEM_CA.encode()).decode()
    assert spec(name="pg", ssl=dict(mode="verify-ca", ca=encoded)).fields["ssl"] == spec(name="pg", ssl=dict(mode="verify-ca", ca=PEM_CA)).fields["ssl"]
    with pytest.raises(SpecError, match=r"^ssl.ca must be PEM .*or base64 of PEM text"):
        spec(name="pg", ssl=dict(mode="verify-ca", ca=base64.b64encode(b"not a certificate").decode()))


def test_a_password_the_server_hides_shows_as_not_returned_not_as_absent():
    hidden = server_conn(host="old")
    del hidden["password"]
    (change,) = plan_changes([spec(name="pg", host="new", password="pw")], [hidden])
    diff = change.diff()
    assert diff["before"]["password"] == "(not returned by the server)"
    assert diff["after"]["password"] == MASK_CHANGED


def test_check_mode_plans_a_clone_of_a_source_an_earlier_task_would_create():
    copy = spec(name="copy", clone_from="created-earlier", database="other")
    with pytest.raises(SpecError, match=r"^clone_from: no connection is named 'created-earlier'"):
        plan_changes([copy], [])
    (change,) = plan_changes([copy], [], check_mode=True)
    assert change.action == "clone" and change.changed
    assert change.warning.startswith("clone_from: no connection 'created-earlier' exists yet; check mode takes it")
    assert change.diff()["after"] == {"name": "copy", "database": "other"}
