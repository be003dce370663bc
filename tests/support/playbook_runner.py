"""Real ansible-playbook runs for the reliability suite, every output kept and scanned for secrets.

    runner = PlaybookRunner(tmp_path, secrets=[api_key, *passwords])
    runner.watch(server.request_log, server.stderr_path)        # the server's logs are scanned too
    run = runner.run("converge", play(TASKS), {"api_url": ..., "api_key": ..., "connections": [...]}, diff=True)
    run.rc, run.output, run.results                             # results: what the play saved to result_file
    scan = runner.scan(); assert scan.hits == 0, scan.where()

Every run is at -vvvv against localhost (local connection, this Python), with the collection from
$DBCS_COLLECTIONS_PATH (default: the venv's development link, .venv/collections). Its stdout and stderr go to one log
file per run. The variables go in a 0600 JSON file passed with -e @file (never on the command line).
A play can save registered results for the test to `result_file`; `run.results` reads it back.
The scan counts, with tests/support/scan_secrets.py, every secret the runner was given (passwords,
ssl client keys in PEM and base64, API keys) in every log, result file and watched server log.
"""

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from scan_secrets import hits_in_files  # pylint: disable=import-error
from server_helpers import REPO_ROOT  # pylint: disable=import-error

# Environment a developer's shell may carry that would change what a module talks to.
SCRUBBED_ENV = ("DBCS_API_URL", "DBCS_API_KEY", "DBCS_CA_PATH", "DBCS_VALIDATE_CERTS", "ANSIBLE_CONFIG",
                "ANSIBLE_STDOUT_CALLBACK", "ANSIBLE_VERBOSITY")

PLAY = """---
- name: {title}
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/dbconvert.streams.dbcs:
      api_url: "{{{{ api_url }}}}"
      api_key: "{{{{ api_key | default(omit) }}}}"
      timeout: "{{{{ api_timeout | default(omit) }}}}"
  tasks:
{tasks}
"""

SAVE_RESULT = """
    - name: Save the result for the test
      ansible.builtin.copy:
        content: "{{{{ {var} | to_json }}}}"
        dest: "{{{{ result_file }}}}"
        mode: "0600"
      check_mode: false
"""


def play(tasks: str, title: str = "reliability scenario", save: str | None = None) -> str:
    """A play on localhost with the collection's API options from the variables api_url, api_key and
    api_timeout; with `save`, the variable of that name is written to result_file at the end."""
    text = PLAY.format(title=title, tasks=tasks.rstrip("\n"))
    if save:
        text += SAVE_RESULT.format(var=save)
    return text


@dataclass
class Run:
    name: str
    command: list[str]
    rc: int
    log: Path
    result_file: Path
    seconds: float

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def results(self) -> Any:
        if not self.result_file.exists():
            return None
        return json.loads(self.result_file.read_text())

    def recap(self) -> str:
        """The PLAY RECAP line of localhost, or the last lines of the log."""
        lines = self.output.splitlines()
        for line in reversed(lines):
            if line.startswith("localhost") and "ok=" in line:
                return " ".join(line.split())
        return "\n".join(lines[-15:])


@dataclass
class Scan:
    secrets: int
    files: dict[str, int] = field(default_factory=dict)

    @property
    def hits(self) -> int:
        return sum(self.files.values())

    def where(self) -> str:
        return "secrets found in: " + ", ".join(f"{path} ({n})" for path, n in self.files.items() if n)

    def summary(self) -> str:
        return f"secret scan: {len(self.files)} files, {self.secrets} secrets, {self.hits} hits"


class PendingRun:
    """An ansible-playbook started in the background (for parallel runs)."""

    def __init__(self, runner: "PlaybookRunner", name: str, command: list[str], env: dict, log: Path,
                 result_file: Path, timeout: float):
        self.name, self.command, self.log, self.result_file, self.timeout = name, command, log, result_file, timeout
        self.started = time.monotonic()
        with open(log, "wb") as out:
            # Waited for in wait(); the log handle is inherited by the child and closed here.
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,  # pylint: disable=consider-using-with
                                         stdin=subprocess.DEVNULL, env=env, cwd=runner.workdir)

    def wait(self) -> Run:
        try:
            rc = self.proc.wait(self.timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(30)
            rc = -9
        return Run(self.name, self.command, rc, self.log, self.result_file, time.monotonic() - self.started)


class PlaybookRunner:
    """The ansible-playbook runs of one scenario, and the secret scan of everything they left."""

    def __init__(self, workdir: Path, secrets: Iterable[str] = ()):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.secrets: set[str] = set()
        self.add_secrets(*secrets)
        self.watched: list[Path] = []
        self.runs: list[Run] = []
        self._count = 0

    def add_secrets(self, *values: str) -> None:
        for value in values:
            if not value:
                continue
            if len(value) < 6:
                raise ValueError("a secret shorter than 6 characters would match by chance; use a longer one")
            self.secrets.add(value)

    def watch(self, *paths: Path) -> None:
        """Files the scan covers besides the runs' own (the server's request log and log)."""
        self.watched.extend(Path(p) for p in paths)

    def environment(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        bindir = str(Path(sys.executable).parent)
        env["PATH"] = bindir + os.pathsep + env.get("PATH", "")
        # Not inherited: under pytest, the pytest-ansible plugin points ANSIBLE_COLLECTIONS_PATH at its own
        # <root>/collections tree, a symlink farm made once that misses what was added later (roles/).
        env["ANSIBLE_COLLECTIONS_PATH"] = os.environ.get("DBCS_COLLECTIONS_PATH", str(REPO_ROOT / ".venv" / "collections"))
        env.update(ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_RETRY_FILES_ENABLED="0",
                   ANSIBLE_LOCALHOST_WARNING="0", ANSIBLE_DEPRECATION_WARNINGS="0", PYTHONUNBUFFERED="1")
        env.update(extra or {})
        return env

    def _prepare(self, name: str, playbook: str, extra_vars: dict | None, check: bool, diff: bool,
                 args: Iterable[str]) -> tuple[list[str], Path, Path]:
        self._count += 1
        stem = f"{self._count:02d}-{name}"
        book = self.workdir / f"{stem}.yml"
        book.write_text(playbook)
        result_file = self.workdir / f"{stem}.result.json"
        variables = dict(extra_vars or {}, result_file=str(result_file))
        vars_file = self.workdir / f"{stem}.vars.json"
        fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(variables, handle)
        command = [str(Path(sys.executable).parent / "ansible-playbook"), "-vvvv", "-i", "localhost,", "-c", "local",
                   "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"@{vars_file}", *args, str(book)]
        if check:
            command.insert(-1, "--check")
        if diff:
            command.insert(-1, "--diff")
        return command, self.workdir / f"{stem}.log", result_file

    def start(self, name: str, playbook: str, extra_vars: dict | None = None, check: bool = False, diff: bool = False,
              env: dict[str, str] | None = None, args: Iterable[str] = (), timeout: float = 600) -> PendingRun:
        command, log, result_file = self._prepare(name, playbook, extra_vars, check, diff, args)
        return PendingRun(self, name, command, self.environment(env), log, result_file, timeout)

    def finish(self, pending: PendingRun) -> Run:
        run = pending.wait()
        self.runs.append(run)
        return run

    def run(self, name: str, playbook: str, extra_vars: dict | None = None, check: bool = False, diff: bool = False,
            env: dict[str, str] | None = None, args: Iterable[str] = (), timeout: float = 600) -> Run:
        return self.finish(self.start(name, playbook, extra_vars, check, diff, env, args, timeout))

    def scan(self) -> Scan:
        files = [run.log for run in self.runs] + [run.result_file for run in self.runs] + self.watched
        return Scan(len(self.secrets), hits_in_files([str(p) for p in files], self.secrets))
