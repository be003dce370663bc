#!/usr/bin/env bash
# The test command (`make test` runs `tools/test.sh all`). Starts what the tests need (throwaway
# PostgreSQL and MariaDB, local API servers), runs the steps, stops everything it started even when
# a step fails, and prints a summary. Every step runs even after an earlier one failed.
#   tools/test.sh all | STEP...     steps: lint docs sanity units server integration molecule reliability build bench
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.venv
export PATH=$venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$venv/collections
export ANSIBLE_NOCOLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
ALL_STEPS=(lint docs sanity units server integration molecule reliability build)

state=$(mktemp -d "${TMPDIR:-/tmp}/dbcs-test.XXXXXX")
chmod 755 "$state"
logs=$root/tests/output/logs
mkdir -p "$logs"
cleanup() {
  "$root/tools/services.sh" stop "$state/servers"
  "$root/tools/services.sh" stop "$state/db"
  "$root/tools/services.sh" stop "$state/db-hidden"
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need_db() {
  if [ ! -f "$state/db/env.sh" ]; then
    "$root/tools/services.sh" start-db "$state/db" || return 1
  fi
  # shellcheck disable=SC1091
  . "$state/db/env.sh"
}

# Two servers: "main" as the vendor's server answers (passwords returned), "hidden" a hardened
# server in the documented shapes (passwords hidden, summary list, id-only create answers).
need_servers() {
  need_db || return 1
  if [ ! -f "$state/servers/main.env" ]; then
    "$root/tools/services.sh" start-server "$state/servers" main --api-version 1 --strict-configs || return 1
    "$root/tools/services.sh" start-server "$state/servers" hidden --api-version 1 --strict-configs --hide-passwords \
      --list-summary --sparse-create || return 1
  fi
}

step_lint() {
  # The integration targets include the shared setup_dbcs target as a role, as ansible-test does.
  (cd "$root" && ANSIBLE_ROLES_PATH=$root/tests/integration/targets ansible-lint --offline --profile production)
}

step_docs() {
  local m rc=0
  for m in $(cd "$root/plugins/modules" && ls ./*.py | sed 's#^\./##; s#\.py$##'); do
    ansible-doc "dbconvert.streams.$m" >"$logs/ansible-doc-$m.txt" 2>&1 || { echo "ansible-doc $m failed" >&2; rc=1; continue; }
    grep -q "^EXAMPLES:" "$logs/ansible-doc-$m.txt" && grep -q "^RETURN VALUES:" "$logs/ansible-doc-$m.txt" ||
      { echo "ansible-doc $m: no EXAMPLES or RETURN VALUES" >&2; rc=1; }
  done
  return $rc
}

step_sanity() { "$root/tools/ansible-test.sh" sanity --color no; }
step_units() { "$root/tools/ansible-test.sh" units --color no; }

step_server() {
  need_db || return 1
  (cd "$root" && pytest -q -p no:cacheprovider tests/server)
}

# One flavour of the integration run: its own databases, its own server, its own log.
integration_flavour() {  # flavour db_dir
  local flavour=$1 db_dir=$2
  "$root/tools/integration-config.sh" "$db_dir" "$state/servers" "$flavour" >"$state/integration-$flavour.yml" &&
    DBCS_INTEGRATION_CONFIG=$state/integration-$flavour.yml \
      "$root/tools/ansible-test.sh" integration --color no -vvvv >"$logs/integration-$flavour.log" 2>&1
}

step_integration() {
  need_servers || return 1
  # The two flavours run at once, each against its own databases (targets create schemas, tables and users).
  [ -f "$state/db-hidden/env.sh" ] || "$root/tools/services.sh" start-db "$state/db-hidden" || return 1
  local flavour rc=0 main_pid hidden_pid main_rc=0 hidden_rc=0
  integration_flavour main "$state/db" & main_pid=$!
  integration_flavour hidden "$state/db-hidden" & hidden_pid=$!
  wait "$main_pid" || main_rc=1
  wait "$hidden_pid" || hidden_rc=1
  for flavour in main hidden; do
    echo "== integration against the '$flavour' server (log: tests/output/logs/integration-$flavour.log)"
    if { [ "$flavour" = main ] && [ "$main_rc" -ne 0 ]; } || { [ "$flavour" = hidden ] && [ "$hidden_rc" -ne 0 ]; }; then
      rc=1
      grep -E "^(FATAL|ERROR)|fatal:|FAILED!" "$logs/integration-$flavour.log" | head -40
      tail -20 "$logs/integration-$flavour.log"
    fi
    grep -E "^Running .* integration test role|^testhost +: ok=" "$logs/integration-$flavour.log" | sed 's/^Running /  /; s/ integration test role$//' || true
    python "$root/tests/support/scan_secrets.py" --config "$state/integration-$flavour.yml" \
      "$logs/integration-$flavour.log" "$state/servers/$flavour/requests.jsonl" "$state/servers/$flavour/server.log" || rc=1
  done
  return $rc
}

# Each scenario at -vvvv; its output and its server's logs are scanned for every secret it used.
step_molecule() {
  local scenario dir log rc=0 configs f
  for scenario in $(cd "$root/extensions/molecule" && ls -d -- */ | tr -d / | grep -vx utils); do
    log=$logs/molecule-$scenario.log
    echo "== molecule $scenario (-vvvv, then a secret scan of its output and its server's logs)"
    # --destroy never: the services (and their logs) outlive the run for the scan; destroyed below.
    (cd "$root/extensions" && molecule test -s "$scenario" --destroy never -- -vvvv) >"$log" 2>&1 || {
      rc=1; tail -40 "$log"; }
    dir=$(cat "$root/.work/molecule/$scenario.services" 2>/dev/null || true)
    if [ -n "$dir" ] && [ -f "$dir/server.yml" ]; then
      # Not declared.yml or exported.yml: their password fields hold vault placeholders, not secrets.
      configs=(--config "$dir/server.yml")
      for f in "$dir/example/vault.yml" "$dir/vault-export.yml"; do [ -f "$f" ] && configs+=(--config "$f"); done
      python "$root/tests/support/scan_secrets.py" "${configs[@]}" \
        "$log" "$dir/servers/main/requests.jsonl" "$dir/servers/main/server.log" || rc=1
    else
      echo "molecule $scenario: no services directory left to scan" >&2
      rc=1
    fi
    (cd "$root/extensions" && molecule destroy -s "$scenario") >>"$log" 2>&1 || rc=1
    grep -m1 -h "actions=" "$log" || true
  done
  return $rc
}

step_reliability() {
  need_db || return 1
  (cd "$root" && DBCS_RELIABILITY_REPORT=$root/docs/reliability.md pytest -q -p no:cacheprovider tests/reliability)
}

step_build() {
  local out=$state/build
  mkdir -p "$out"
  (cd "$root" && ansible-galaxy collection build --force --output-path "$out") || return 1
  ansible-galaxy collection install --offline --force -p "$out/installed" "$out"/dbconvert-streams-*.tar.gz || return 1
  tar -tzf "$out"/dbconvert-streams-*.tar.gz | grep -E '^(server|tools|tests/output|\.venv)/' && {
    echo "the tarball carries files that must not ship" >&2; return 1; }
  local m
  for m in dbcs_connection dbcs_connections dbcs_connection_info dbcs_schema; do
    [ -f "$root/plugins/modules/$m.py" ] || continue
    ANSIBLE_COLLECTIONS_PATH=$out/installed ansible-doc "dbconvert.streams.$m" >/dev/null || return 1
  done
  echo "built and installed $(basename "$out"/dbconvert-streams-*.tar.gz); ansible-doc renders from the installed copy"
}

step_bench() {
  need_db || return 1
  (cd "$root" && python tests/bench/bench.py)
}

steps=("$@")
[ "${#steps[@]}" -eq 0 ] || [ "${steps[0]}" = all ] && steps=("${ALL_STEPS[@]}")
declare -a summary
failed=0
for step in "${steps[@]}"; do
  if ! declare -F "step_$step" >/dev/null; then
    echo "unknown step '$step'; steps: ${ALL_STEPS[*]} bench" >&2
    exit 2
  fi
  echo
  echo "===== $step"
  start=$(date +%s)
  if "step_$step"; then result=passed; else result=FAILED; failed=1; fi
  summary+=("$(printf '%-12s %-7s %4ss' "$step" "$result" "$(($(date +%s) - start))")")
done
echo
echo "===== summary"
printf '%s\n' "${summary[@]}"
exit $failed
