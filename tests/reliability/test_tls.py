"""TLS: the modules against the server over HTTPS with a throwaway CA.

A CA and a certificate for 127.0.0.1 are made here with `cryptography`; dbcs-server serves HTTPS with
them (--tls-cert, --tls-key). Real ansible-playbook runs (-vvvv) prove that the modules verify the
certificate by default and fail clearly when they cannot, take the CA from ca_path or DBCS_CA_PATH,
and skip verification only when told to, whatever REQUESTS_CA_BUNDLE the environment carries.

What runs where: every request of a module run passes the same verify setting, whatever the dialect, and
a failure of TLS comes with the first request (GET /system/defaults), before the server could show its
dialect. So the failures and the ways of giving the settings (option, environment, REQUESTS_CA_BUNDLE
beside them) run once, against the primary flavour (2.x); against every other flavour, a module run
verified with ca_path and one with validate_certs: false create and read back over HTTPS in its dialect.
"""

import datetime
import ipaddress
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from declared import declare, secrets_of, server_connections
from flavours import ANY_SERVER
from playbook_runner import PlaybookRunner, play


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(directory: Path, label: str):
    """A self-signed CA: (key, certificate, path of its PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name(label)).issuer_name(_name(label))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / f"{label}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert, path


def make_server_cert(directory: Path, ca_key, ca_cert):
    """A certificate for IP 127.0.0.1 signed by the CA: (cert path, key path, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_text(key_pem)
    key_path.chmod(0o600)
    return cert_path, key_path, key_pem


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert, ca_path = make_ca(directory, "throwaway-ca")
    _other_key, _other_cert, other_ca_path = make_ca(directory, "other-ca")
    cert_path, key_path, key_pem = make_server_cert(directory, ca_key, ca_cert)
    return dict(ca=ca_path, other_ca=other_ca_path, cert=cert_path, key=key_path, key_pem=key_pem)


@pytest.fixture
def https_server(flavour, tmp_path, pki):
    server = flavour.server(tmp_path / "tls-server", key_count=12, verify=str(pki["ca"]),
                            extra=("--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"])))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def http_server(flavour, tmp_path):
    """A plain-HTTP server, for the primary flavour's case of https:// to it (None for the other flavours)."""
    if not flavour.primary:
        yield None
        return
    server = flavour.server(tmp_path / "plain-server", key_count=2)
    server.start()
    yield server
    server.stop()


TASKS = """
    - name: Declare a connection over HTTPS
      dbconvert.streams.dbcs_connection: "{{ conn | combine(tls) }}"
      register: created
      ignore_errors: true

    - name: Read it back over HTTPS
      dbconvert.streams.dbcs_connection_info: "{{ {'name': conn.name} | combine(tls) }}"
      register: read
      when: created is succeeded

    - name: Collect the outcome
      ansible.builtin.set_fact:
        outcome: {created: "{{ created }}", read: "{{ read }}"}
"""

UNTRUSTED = (r"^Could not start an API session \(GET /system/defaults\): TLS verification of https://127\.0\.0\.1:\d+/api/v1 "
             r"failed: certificate verify failed: unable to get local issuer certificate\. Set ca_path to the CA that "
             r"signed the server's certificate \(or validate_certs: false for a server you trust\)$")
PLAIN_TO_TLS = r"^Could not start an API session \(GET /system/defaults\): .*http://127\.0\.0\.1:\d+/api/v1.*"
NOT_TLS = (r"^Could not start an API session \(GET /system/defaults\): https://127\.0\.0\.1:\d+/api/v1 does not answer in TLS "
           r"\(.+\)\. Check the scheme of api_url: http:// or https://$")


# Run against every flavour; the other cases only against the primary one (see the module's docstring).
EVERY_FLAVOUR = ("ca-path", "no-verify")


def test_tls_verification(flavour, https_server, http_server, pki, databases, tmp_path, report):
    keys = {}
    pool = declare(databases, "tls", 12, ssl_every=3)
    server_ca_bundle = "/etc/ssl/certs/ca-certificates.crt"
    # name: (what the module is given, environment, expected failure pattern or None, the server it talks to)
    cases = [
        ("default", "validate_certs unset (true), no ca_path", {}, {}, UNTRUSTED, https_server),
        ("other-ca", "ca_path: a CA that did not sign the certificate", {"ca_path": str(pki["other_ca"])}, {},
         UNTRUSTED, https_server),
        ("ca-path", "ca_path: the throwaway CA", {"ca_path": str(pki["ca"])}, {}, None, https_server),
        ("ca-env", "DBCS_CA_PATH: the throwaway CA", {}, {"DBCS_CA_PATH": str(pki["ca"])}, None, https_server),
        ("ca-path-bundle-env", "ca_path: the CA, REQUESTS_CA_BUNDLE: the system bundle",
         {"ca_path": str(pki["ca"])}, {"REQUESTS_CA_BUNDLE": server_ca_bundle, "CURL_CA_BUNDLE": server_ca_bundle},
         None, https_server),
        ("no-verify", "validate_certs: false", {"validate_certs": False}, {}, None, https_server),
        ("no-verify-bundle-env", "validate_certs: false, REQUESTS_CA_BUNDLE: the system bundle", {"validate_certs": False},
         {"REQUESTS_CA_BUNDLE": server_ca_bundle, "CURL_CA_BUNDLE": server_ca_bundle}, None, https_server),
        ("no-verify-env", "DBCS_VALIDATE_CERTS=false", {}, {"DBCS_VALIDATE_CERTS": "false"}, None, https_server),
        ("unreadable-ca", "ca_path: a file that does not exist", {"ca_path": str(tmp_path / "missing.pem")}, {},
         r"^ca_path cannot be read: .*missing\.pem", https_server),
        ("https-to-http", "api_url https:// to a plain-HTTP server", {"ca_path": str(pki["ca"])}, {}, NOT_TLS, http_server),
        ("http-to-https", "api_url http:// to the HTTPS server", {}, {}, PLAIN_TO_TLS, https_server),
    ]
    cases = [case for case in cases if flavour.primary or case[0] in EVERY_FLAVOUR]
    servers = [s for s in (https_server, http_server) if s is not None]
    runner = PlaybookRunner(tmp_path, secrets_of(pool, *[s.key for s in servers]))
    runner.add_secrets(*[line for line in pki["key_pem"].splitlines() if not line.startswith("-----")])
    runner.watch(*[path for s in servers for path in (s.request_log, s.stderr_path)])
    pending = []
    for (name, _title, tls, env, _expected, server), conn in zip(cases, pool):
        keys[name] = server.take_key() if server is https_server else server.key
        url = {"https-to-http": server.url.replace("http://", "https://"),
               "http-to-https": server.url.replace("https://", "http://")}.get(name, server.url)
        pending.append(runner.start(name, play(TASKS, name, save="outcome"),
                                    dict(api_url=url, api_key=keys[name], conn=conn, tls=tls), env=env))
    outcomes = {}
    for (name, *_rest), started in zip(cases, pending):
        run = runner.finish(started)
        assert run.results is not None and "Traceback" not in run.output, (name, run.recap())
        outcomes[name] = run.results
    for (name, _title, _tls, _env, expected, server), conn in zip(cases, pool):
        created = outcomes[name]["created"]
        held = server_connections(server.api(keys[name])) if server is https_server else []
        if expected:
            assert created.get("failed") and re.match(expected, created["msg"]), (name, created.get("msg"))
            assert [c["name"] for c in held] == [], name
        else:
            assert not created.get("failed") and created["changed"], (name, created.get("msg"))
            assert [c["name"] for c in outcomes[name]["read"]["connections"]] == [conn["name"]]
            assert [c["name"] for c in held] == [conn["name"]], name
    scan = runner.scan()
    assert scan.hits == 0, scan.where()
    for name, title, _tls, _env, expected, _server in cases:
        created = outcomes[name]["created"]
        report.row("TLS: " + name, title, "fails, nothing created: %r" % created["msg"] if expected else
                   "connection created and read back over verified HTTPS" if "no-verify" not in name else
                   "connection created and read back (certificate not verified, as asked)",
                   server=None if name in EVERY_FLAVOUR else ANY_SERVER)
    report.row("TLS: secrets", "the %d runs above at -vvvv, the servers' request logs and logs" % len(cases),
               scan.summary() + " (the server's TLS key included)")
