#!/usr/bin/env bash
# The test command (`make test` runs `tools/test.sh all`). Starts what the tests need (throwaway
# PostgreSQL and MariaDB, local API servers), runs the steps, stops everything it started even when
# a step fails, and prints a summary. Every step runs even after an earlier one failed.
#   tools/test.sh all | STEP...     steps: lint docs sanity units harness server integration molecule reliability build bench
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/.venv
export PATH=$venv/bin:$PATH
export ANSIBLE_COLLECTIONS_PATH=$venv/collections
export ANSIBLE_NOCOLOR=1 PY_COLORS=0 ANSIBLE_FORCE_COLOR=0
ALL_STEPS=(lint docs sanity units harness server integration molecule reliability build)
# The integration flavours, run at once, each against its own databases and its own local server
# (the targets create schemas, tables and users): NAME and its server's dbcs-server options. "main"
# answers as the vendor's v1 server does (passwords returned); "hidden" is a hardened v1 server in the
# documented shapes (passwords hidden, summary list, id-only create answers); "v2" speaks 2.x, as every
# server installed since December 2025 does.
FLAVOURS=(
  "main --api-version 1 --strict-configs"
  "hidden --api-version 1 --strict-configs --hide-passwords --list-summary --sparse-create"
  "v2 --api-version 2"
)

# Services live in $state/NAME (tools/services.py; NAME/services.json): "main" holds the databases
# of the server, reliability and bench steps and the main flavour's server; every other flavour has its own.
state=$(mktemp -d "${TMPDIR:-/tmp}/dbcs-test.XXXXXX")
chmod 755 "$state"  # so that postgres and mysql can keep their files in it (else the harness uses /tmp)
logs=$root/tests/output/logs
mkdir -p "$logs"
services() { python "$root/tools/services.py" "$@"; }
cleanup() {
  services stop "$state"/*/
  rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The databases in $state/main (started unless running), their DBCS_PG_* / DBCS_MY_* exported.
need_db() {
  services start-db "$state/main" >/dev/null || return 1
  eval "$(services env "$state/main")"
}

step_lint() {
  # The integration targets include the shared setup_dbcs target as a role, as ansible-test does.
  (cd "$root" && ANSIBLE_ROLES_PATH=$root/tests/integration/targets ansible-lint --offline --profile production)
}

step_docs() {
  local kind m rc=0
  for kind in module lookup; do
    for m in $(cd "$root/plugins/${kind/module/modules}" && ls ./*.py | sed 's#^\./##; s#\.py$##'); do
      ansible-doc -t "$kind" "dbconvert.streams.$m" >"$logs/ansible-doc-$m.txt" 2>&1 || {
        echo "ansible-doc $kind $m failed" >&2; rc=1; continue; }
      grep -q "^EXAMPLES:" "$logs/ansible-doc-$m.txt" && grep -q "^RETURN VALUES:" "$logs/ansible-doc-$m.txt" ||
        { echo "ansible-doc $kind $m: no EXAMPLES or RETURN VALUES" >&2; rc=1; }
    done
  done
  return $rc
}

step_sanity() { "$root/tools/ansible-test.sh" sanity --color no; }
step_units() { "$root/tools/ansible-test.sh" units --color no; }

# The services harness itself (tools/services.py) and the parallel ansible-test runs (fresh HOME).
step_harness() {
  (cd "$root" && pytest -q -p no:cacheprovider tests/harness)
}

# The S3-compatible server (moto) in $state/main, its DBCS_S3_* exported (started unless running).
need_s3() {
  services start-s3 "$state/main" >/dev/null || return 1
  eval "$(services env "$state/main")"
}

step_server() {
  need_db && need_s3 || return 1
  (cd "$root" && pytest -q -p no:cacheprovider tests/server)
}

# One flavour of the integration run, in $state/FLAVOUR: its databases, its server, its config, its log.
integration_flavour() {  # flavour dbcs-server-options...
  local flavour=$1 dir=$state/$1
  shift
  # The S3-compatible server too: the s3 connections and stream targets of 2.x (dbcs_s3 in the variables).
  services start-db "$dir" >/dev/null && services start-s3 "$dir" >/dev/null &&
    services start-server "$dir" "$flavour" "$@" >/dev/null &&
    services vars "$dir" "$flavour" --output "$state/integration-$flavour.yml" &&
    DBCS_INTEGRATION_CONFIG=$state/integration-$flavour.yml \
      "$root/tools/ansible-test.sh" integration --color no -vvvv >"$logs/integration-$flavour.log" 2>&1
}

step_integration() {
  local entry flavour rc=0
  local -A pids
  for entry in "${FLAVOURS[@]}"; do
    # shellcheck disable=SC2086  # the options are words
    integration_flavour $entry &
    pids[${entry%% *}]=$!
  done
  for entry in "${FLAVOURS[@]}"; do
    flavour=${entry%% *}
    echo "== integration against the '$flavour' server (log: tests/output/logs/integration-$flavour.log)"
    if ! wait "${pids[$flavour]}"; then
      rc=1
      grep -E "^(FATAL|ERROR)|fatal:|FAILED!" "$logs/integration-$flavour.log" 2>/dev/null | head -40
      tail -20 "$logs/integration-$flavour.log" 2>/dev/null
    fi
    grep -E "^Running .* integration test role|^testhost +: ok=" "$logs/integration-$flavour.log" 2>/dev/null |
      sed 's/^Running /  /; s/ integration test role$//' || true
    if [ -f "$state/integration-$flavour.yml" ]; then
      (eval "$(services env "$state/$flavour" "$flavour")" &&
        python "$root/tests/support/scan_secrets.py" --config "$state/integration-$flavour.yml" \
          "$logs/integration-$flavour.log" "$DBCS_REQUEST_LOG" "$DBCS_SERVER_LOG") || rc=1
    fi
  done
  return $rc
}

# The molecule runs: SCENARIO and, for each flavour of FLAVOURS, the server it runs against. "default" (the
# README's example) runs against every flavour; "streams" against v2 only (v1 has no streams: the integration
# targets check that failure); the other scenarios against one server of each dialect.
molecule_runs() {
  local scenario entry
  for scenario in $(cd "$root/extensions/molecule" && ls -d -- */ | tr -d / | grep -vx utils); do
    for entry in "${FLAVOURS[@]}"; do
      [ "$scenario" = default ] || [ "${entry%% *}" != hidden ] || continue
      [ "$scenario" != streams ] || [ "${entry%% *}" = v2 ] || continue
      echo "$scenario $entry"
    done
  done
}

# Each run at -vvvv; its output and its server's logs are scanned for every secret it used.
step_molecule() {
  local scenario flavour server dir log rc=0 configs f
  while read -r scenario flavour server; do
    log=$logs/molecule-$scenario-$flavour.log
    echo "== molecule $scenario against the '$flavour' server (-vvvv, then a secret scan of its output and its server's logs)"
    # --destroy never: the services (and their logs) outlive the run for the scan; destroyed below.
    (cd "$root/extensions" && DBCS_MOLECULE_SERVER=$server molecule test -s "$scenario" --destroy never -- -vvvv) >"$log" 2>&1 || {
      rc=1; tail -40 "$log"; }
    dir=$(cat "$root/.work/molecule/$scenario.services" 2>/dev/null || true)
    if [ -n "$dir" ] && [ -f "$dir/server.yml" ]; then
      # Not declared.yml or exported.yml: their password fields hold vault placeholders, not secrets.
      configs=(--config "$dir/server.yml")
      for f in "$dir/example/vault.yml" "$dir/vault-export.yml"; do [ -f "$f" ] && configs+=(--config "$f"); done
      (eval "$(services env "$dir" main)" &&
        python "$root/tests/support/scan_secrets.py" "${configs[@]}" "$log" "$DBCS_REQUEST_LOG" "$DBCS_SERVER_LOG") || rc=1
    else
      echo "molecule $scenario: no services directory left to scan" >&2
      rc=1
    fi
    (cd "$root/extensions" && molecule destroy -s "$scenario") >>"$log" 2>&1 || rc=1
    grep -m1 -h "actions=" "$log" || true
  done < <(molecule_runs)
  return $rc
}

step_reliability() {
  need_db || return 1
  # Two workers, a test file each at a time: much of the suite waits (timeouts, servers, databases).
  (cd "$root" && DBCS_RELIABILITY_REPORT=$root/docs/reliability.md \
    pytest -q -p no:cacheprovider -n 2 --dist loadfile --durations=15 tests/reliability)
}

step_build() {
  local out=$state/build
  mkdir -p "$out"
  (cd "$root" && ansible-galaxy collection build --force --output-path "$out") || return 1
  ansible-galaxy collection install --offline --force -p "$out/installed" "$out"/dbconvert-streams-*.tar.gz || return 1
  tar -tzf "$out"/dbconvert-streams-*.tar.gz | grep -E '^(server|tools|tests/output|\.venv)/' && {
    echo "the tarball carries files that must not ship" >&2; return 1; }
  local m installed=$out/installed/ansible_collections/dbconvert/streams
  for m in $(cd "$installed/plugins/modules" && ls ./*.py | sed 's#^\./##; s#\.py$##'); do
    ANSIBLE_COLLECTIONS_PATH=$out/installed ansible-doc "dbconvert.streams.$m" >/dev/null || return 1
  done
  for m in $(cd "$installed/plugins/lookup" && ls ./*.py | sed 's#^\./##; s#\.py$##'); do
    ANSIBLE_COLLECTIONS_PATH=$out/installed ansible-doc -t lookup "dbconvert.streams.$m" >/dev/null || return 1
  done
  python "$root/tests/support/check_links.py" "$installed" "$root" || return 1
  # The changelog records the releases before this version (antsibull-changelog release), not an empty list.
  python - "$root" <<'EOF' || return 1
import sys, yaml
from packaging.version import Version
root = sys.argv[1]
version = Version(yaml.safe_load(open(root + "/galaxy.yml"))["version"])
releases = sorted(Version(v) for v in (yaml.safe_load(open(root + "/changelogs/changelog.yaml")).get("releases") or {}))
if not releases or releases[-1] > version:
    sys.exit("changelogs/changelog.yaml records no release up to %s (releases: %s)" % (version, releases))
print("changelog: releases %s recorded; galaxy.yml is at %s" % (", ".join(map(str, releases)), version))
EOF
  echo "built and installed $(basename "$out"/dbconvert-streams-*.tar.gz); ansible-doc renders from the installed copy"
}

step_bench() {
  need_db || return 1
  local rc=0
  (cd "$root" && python tests/bench/bench.py) || rc=1
  (cd "$root" && python tests/bench/bench_load.py) || rc=1
  (cd "$root" && python tests/bench/bench_streams.py) || rc=1
  return $rc
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
