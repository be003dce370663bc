#!/usr/bin/env bash
# The README's main job (`make demo`): on this machine, start throwaway PostgreSQL and MariaDB and
# the local API server in its 2.x dialect (127.0.0.1:8020, or a port the system picks when 8020 is taken), apply
# playbooks/examples/pipeline.yml with playbooks/apply.yml (plan; apply, the stream copying the shop's tables, and
# the rows counted on both sides; re-apply: unchanged, nothing copied),
# export the server with playbooks/export.yml, show the exported file, and stop everything it
# started, by pid, also on failure or Ctrl-C. A service that fails to start prints its own error (the
# end of its log) and what to do (tools/services.py).
#
#   tools/demo.sh [ANSIBLE-PLAYBOOK OPTIONS...]   e.g. -vvv: passed on, and every run's full output shown
#
# Needs root (the databases run as their own system users) and .venv (make venv).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${DBCS_VENV:-$root/.venv}
ansible_args=("$@")

if [ "$(id -u)" -ne 0 ]; then
  echo "demo: run as root: the throwaway databases run as the postgres and mysql users" >&2
  exit 1
fi
if [ ! -x "$venv/bin/ansible-playbook" ]; then
  echo "demo: $venv is missing; run \`make venv\` (or \`make demo\`, which creates it)" >&2
  exit 1
fi
export PATH=$venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$venv/collections
export ANSIBLE_LOCALHOST_WARNING=false ANSIBLE_INVENTORY_UNPARSED_WARNING=false
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=false

# The services' state directory (tools/services.py), also holding the example's files.
state=$(mktemp -d "${TMPDIR:-/tmp}/dbcs-demo.XXXXXX")
services() { python "$root/tools/services.py" "$@"; }
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  echo
  echo "==> Stopping what the demo started (by pid)"
  services stop "$state" || true
  rm -rf "$state"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { printf '\n==> %s\n' "$*"; }
indent() { sed 's/^/    /'; }

# Runs ansible-playbook; prints the role's report, its diff lines, the export's messages and the
# recap (everything with extra options); on failure, the end of the full output.
run() {
  local log=$state/run.log
  if ansible-playbook "${ansible_args[@]}" "$@" >"$log" 2>&1; then
    if [ "${#ansible_args[@]}" -gt 0 ]; then
      cat "$log"
    else
      sed -n -E \
        -e 's/^ *"msg": "(.*)"$/\1/p' \
        -e 's/^ *"([-+~] .*)",?$/\1/p' \
        -e 's/^ *"(Wrote .*|Define .*|Then: .*)",?$/\1/p' \
        -e 's/^(localhost +: .*[^ ]) *$/\1/p' "$log" | indent
    fi
  else
    echo "    ansible-playbook failed; the end of its output:" >&2
    tail -n 40 "$log" | indent >&2
    return 1
  fi
}

echo "DBConvert Streams collection demo: a declared pipeline (connections and a stream) applied to a local DBConvert Streams API server (2.x dialect)"

# The rows of each table of the stream, in the source (MariaDB) and the target (PostgreSQL), read directly.
row_counts() {
  local table source target
  for table in customers orders order_items; do
    source=$(mariadb --no-defaults --socket="$DBCS_MY_SOCKET" -u root -N -e "SELECT COUNT(*) FROM shop.$table")
    target=$(runuser -u postgres -- "$(command -v psql || find /usr/lib/postgresql -name psql -path '*/bin/*' | sort -V | tail -n 1)" \
      -X -q -t -A -h "$DBCS_PG_SOCKET_DIR" -p "$DBCS_PG_PORT" -d analytics -c "SELECT count(*) FROM sales.$table")
    printf '%-12s MySQL shop: %6s   PostgreSQL analytics.sales: %6s\n' "$table" "$source" "$target"
  done
}

say "Starting throwaway PostgreSQL and MariaDB on 127.0.0.1"
services start-db "$state" >/dev/null
eval "$(services env "$state")"
echo "    PostgreSQL 127.0.0.1:$DBCS_PG_PORT, MariaDB 127.0.0.1:$DBCS_MY_PORT"

say "Starting the local API server, speaking the 2.x dialect as DBConvert Streams 2.0 to 2.7 do, on 127.0.0.1:8020 (a port the system picks when 8020 is in use)"
services start-server "$state" demo --port 8020 --api-version 2 >/dev/null
eval "$(services env "$state" demo)"  # exports DBCS_API_URL and DBCS_API_KEY, which the modules read
echo "    DBCS_API_URL=$DBCS_API_URL (DBCS_API_KEY: a random key, not shown)"

say "The example: playbooks/examples/pipeline.yml"
"$root/tools/example-setup.sh" "$state" "$state/example"
cd "$state/example"
echo "    MySQL source 'shop' (500 customers, 2,000 orders, 5,000 order lines), PostgreSQL target 'warehouse' with"
echo "    schemas sales and staging, 'legacy-crm' to delete, and the load stream 'shop-to-warehouse' (run: finished);"
echo "    its hosts and ports pointed at the throwaway databases, its passwords in vault_dbcs_passwords (vault.yml)"

say "1. Plan: ansible-playbook playbooks/apply.yml -e @pipeline.yml -e @vault.yml --check --diff"
run "$root/playbooks/apply.yml" -e @pipeline.yml -e @vault.yml --check --diff

say "2. Apply: ansible-playbook playbooks/apply.yml -e @pipeline.yml -e @vault.yml (the stream runs to its end)"
run "$root/playbooks/apply.yml" -e @pipeline.yml -e @vault.yml
echo
echo "    rows on both sides:"
row_counts | indent

say "3. Apply again: nothing to change, no write sent, nothing copied again"
mark=$(wc -l <"$DBCS_REQUEST_LOG")
run "$root/playbooks/apply.yml" -e @pipeline.yml -e @vault.yml
echo "    requests: $(tail -n +$((mark + 1)) "$DBCS_REQUEST_LOG" | wc -l), of which writes (POST, PUT, DELETE):" \
  "$(tail -n +$((mark + 1)) "$DBCS_REQUEST_LOG" | grep -c -E '"method": "(POST|PUT|DELETE)"' || true)"

say "4. Export the server: ansible-playbook playbooks/export.yml -e dbcs_export_file=exported.yml"
run "$root/playbooks/export.yml" -e dbcs_export_file="$state/example/exported.yml"
echo
echo "    exported.yml (no secrets: passwords are vault placeholders):"
indent <"$state/example/exported.yml" | sed 's/^/  /'

cat <<'EOF'

==> The same playbooks against a real DBConvert Streams server
    export DBCS_API_URL=https://streams.example.com/api/v1
    export DBCS_API_KEY=...            # or -e dbcs_api_url=... -e dbcs_api_key=... from a vault file
    cp playbooks/examples/vault.example.yml vault.yml && ansible-vault encrypt vault.yml
    ansible-playbook dbconvert.streams.apply -e @pipeline.yml -e @vault.yml --ask-vault-pass --check --diff
    (then without --check to apply; dbconvert.streams.drift in CI; dbconvert.streams.export to adopt a server)
EOF
