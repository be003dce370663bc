"""Scan output files for secrets: every password, key and API key a test run used must appear nowhere.

    scan_secrets.py [--config FILE.yml]... [--secret VALUE]... FILE...

Secrets are the values under keys named like *password*, *api_key*, *secret* or *client_key* (at any
depth below such a key) in the given YAML files, the --secret values, and the DBCS_*PASSWORD / DBCS_API_KEY environment variables.
Prints one line per file and exits 1 when any secret is found (the line says which file, not the secret).
"""
import argparse
import os
import sys

import yaml

SECRET_KEYS = ("password", "api_key", "secret", "client_key")


def secrets_in(value, secret=False):
    """Strings under a secret-like key, at any depth (vault_passwords: {shop: x} holds a secret too)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from secrets_in(v, secret or any(word in str(k).lower() for word in SECRET_KEYS))
    elif isinstance(value, list):
        for v in value:
            yield from secrets_in(v, secret)
    elif isinstance(value, str) and secret and len(value) >= 6:
        yield value


def collect(configs, extra):
    found = set(extra)
    for path in configs:
        with open(path) as handle:
            found.update(secrets_in(yaml.safe_load(handle)))
    for name, value in os.environ.items():
        if name.startswith("DBCS_") and (name.endswith("PASSWORD") or name == "DBCS_API_KEY") and len(value) >= 6:
            found.add(value)
    return found


def hits_in_files(paths, secrets):
    """{path: occurrences of any secret} for each path that exists (bytes, so any encoding is caught)."""
    found = {}
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, "rb") as handle:
            data = handle.read()
        found[path] = sum(data.count(s.encode()) for s in secrets)
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", default=[])
    parser.add_argument("--secret", action="append", default=[])
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    secrets = collect(args.config, args.secret)
    if not secrets:
        print("secret scan: no secrets to look for", file=sys.stderr)
        return 2
    found = hits_in_files(args.files, secrets)
    for path, count in found.items():
        if count:
            print("secret scan: %s: %d occurrence(s) of a secret" % (path, count))
    hits = sum(found.values())
    print("secret scan: %d file(s), %d secret(s) looked for, %d hit(s)" % (len(found), len(secrets), hits))
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main())
