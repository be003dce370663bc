#!/usr/bin/env bash
# Create or refresh .venv: Python 3.12, the pinned tools (requirements-dev.txt), the local server
# (server/, editable) and a development link of this collection for ansible-playbook and ansible-doc.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.venv
stamp=$venv/.installed

is_py312() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }

find_python() {
  local candidate v
  for candidate in "${PYTHON:-}" "$(command -v python3.12 || true)"; do
    # A pyenv shim exists even when its version is not selected: only a Python that runs counts.
    if [ -n "$candidate" ] && is_py312 "$candidate"; then echo "$candidate"; return; fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    v=$(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.[0-9]+)?$' | sort -V | tail -n 1 || true)
    candidate=${v:+$(PYENV_VERSION=$v pyenv which python3 2>/dev/null)}
    if [ -n "$candidate" ] && is_py312 "$candidate"; then echo "$candidate"; return; fi
  fi
  echo "venv: Python 3.12 is needed (ansible-core 2.21 requires it); set PYTHON=/path/to/python3.12" >&2
  exit 1
}

if [ ! -x "$venv/bin/python" ]; then
  python=$(find_python)
  echo "venv: creating .venv with $python" >&2
  "$python" -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ "$root/requirements-dev.txt" -nt "$stamp" ] || [ "$root/server/pyproject.toml" -nt "$stamp" ]; then
  echo "venv: installing pinned dependencies (requirements-dev.txt) and the local server" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/requirements-dev.txt" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --no-deps -e "$root/server" 2>&1 | grep -v "is ignored: it is neither" >&2 || true
  "$venv/bin/python" -c 'import ansible, fastapi, dbcs_server' || { echo "venv: installation failed" >&2; exit 1; }
  touch "$stamp"
fi
# ansible-playbook and ansible-doc find the collection through this link (ANSIBLE_COLLECTIONS_PATH=.venv/collections).
mkdir -p "$venv/collections/ansible_collections/dbconvert"
ln -sfn "$root" "$venv/collections/ansible_collections/dbconvert/streams"
