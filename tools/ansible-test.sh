#!/usr/bin/env bash
# Run ansible-test on a copy of the collection: ansible-test needs the path
# .../ansible_collections/dbconvert/streams and resolves symlinks, so the tree (tracked and
# untracked files that git does not ignore) is copied there, outside the repository (inside it,
# ansible-test would ask git for the file list and find the copy ignored).
#   tools/ansible-test.sh sanity|units|integration [ansible-test options...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${DBCS_VENV:-$root/.venv}
dest=${TMPDIR:-/tmp}/dbcs-ansible-test-$(printf '%s' "$root" | md5sum | cut -c1-8)/ansible_collections/dbconvert/streams

# ansible-test downloads get-pip from a host that is not reachable here: give it the stand-in.
pip_version=$("$venv/bin/python" -c 'from ansible_test._internal.python_requirements import get_venv_packages as g; from types import SimpleNamespace as N; print(g(N(version="3.12"))["pip"])')
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")"
cp "$root/tools/get_pip_standin.py" "$cache"

rm -rf "$dest"
mkdir -p "$dest"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf - | tar -xf - -C "$dest")
[ -f "$root/tests/integration/integration_config.yml" ] && cp "$root/tests/integration/integration_config.yml" "$dest/tests/integration/"

cd "$dest"
PATH=$venv/bin:$PATH exec "$venv/bin/ansible-test" "$@" --python 3.12
