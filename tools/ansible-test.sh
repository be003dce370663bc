#!/usr/bin/env bash
# Run ansible-test on a copy of the collection: ansible-test needs the path
# .../ansible_collections/dbconvert/streams and resolves symlinks, so the tree (tracked files and
# untracked ones that git does not ignore) is copied into a fresh directory outside the repository
# (inside it, ansible-test would ask git for the file list and find the copy ignored).
#   tools/ansible-test.sh sanity|units|integration [ansible-test options and targets...]
# Integration targets get their variables from $DBCS_INTEGRATION_CONFIG (default:
# tests/integration/integration_config.yml, written by tools/test.sh).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${DBCS_VENV:-$root/.venv}
work=$(mktemp -d "${TMPDIR:-/tmp}/dbcs-ansible-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/dbconvert/streams

# ansible-test downloads get-pip from a host that is not reachable here: give it the stand-in
# (copied, then renamed into place: a run reading it never sees half a file).
pip_version=$("$venv/bin/python" -c 'from ansible_test._internal.python_requirements import get_venv_packages as g; from types import SimpleNamespace as N; print(g(N(version="3.12"))["pip"])')
cache=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$cache")"
cp "$root/tools/get_pip_standin.py" "$cache.$$" && mv -f "$cache.$$" "$cache"

# ansible-test makes its SSH key pair ~/.ansible/test/id_rsa{,.pub} on the first integration run, with
# ssh-keygen, which asks "Overwrite (y/n)?" and fails when a run started at the same moment has just
# made the file. Make the pair here first, once, under a lock, whatever number of runs start at once:
# generated aside and renamed into place (the key before the .pub), so that a run finds both or neither.
ssh_key=$HOME/.ansible/test/id_rsa
if [ ! -f "$ssh_key" ] || [ ! -f "$ssh_key.pub" ]; then
  (
    flock 9
    if [ ! -f "$ssh_key" ] || [ ! -f "$ssh_key.pub" ]; then
      aside=$(mktemp -d "$HOME/.ansible/test/.id_rsa.XXXXXX")
      # As ansible-test makes it: PEM, no passphrase, and the header paramiko reads.
      ssh-keygen -m PEM -q -t rsa -N '' -f "$aside/id_rsa"
      sed -i -E 's/(BEGIN|END) PRIVATE KEY/\1 RSA PRIVATE KEY/' "$aside/id_rsa"
      mv -f "$aside/id_rsa" "$ssh_key" && mv -f "$aside/id_rsa.pub" "$ssh_key.pub" && rmdir "$aside"
    fi
  ) 9>"$HOME/.ansible/test/.id_rsa.lock"
fi

mkdir -p "$dest"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
  [ -e "$f" ] && printf '%s\0' "$f"; done | tar --null -T - -cf - | tar -xf - -C "$dest")
config=${DBCS_INTEGRATION_CONFIG:-$root/tests/integration/integration_config.yml}
[ -f "$config" ] && cp "$config" "$dest/tests/integration/integration_config.yml"

cd "$dest"
PATH=$venv/bin:$PATH "$venv/bin/ansible-test" "$@" --python 3.12
