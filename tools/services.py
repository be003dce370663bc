"""Throwaway services for the demo, the tests, molecule and the bench: PostgreSQL, MariaDB, an S3-compatible
object store (moto_server) and local Connection API servers (dbcs-server), each a plain process listening
on 127.0.0.1 only.

    python tools/services.py start-db DIR         PostgreSQL and MariaDB (those not already running in DIR)
    python tools/services.py start-s3 DIR         an S3-compatible server (moto) with a bucket and an access key
    python tools/services.py start-server DIR NAME [--port N] [--key KEY] [dbcs-server options...]
                                                   a local API server named NAME; --port: try N first, and
                                                   when it is taken, a port the system picks
    python tools/services.py stop DIR...           stop everything started under each DIR, by pid
    python tools/services.py env DIR [NAME]        shell exports: DBCS_PG_*, DBCS_MY_*, DBCS_S3_* (when started) and
                                                   NAME's DBCS_API_URL, DBCS_API_KEY, DBCS_REQUEST_LOG, DBCS_SERVER_LOG
    python tools/services.py vars DIR NAME [--output FILE]
                                                   the variables Ansible test runs read (dbcs_api_url, dbcs_pg...)
    python tools/services.py install-mariadb       apt-get install mariadb-server when it is missing

Run it with the Python of .venv (`make venv`): the API server runs as `python -m dbcs_server`.
Python code imports it (tools/ on sys.path): Services(DIR).start_databases(), .start_server(NAME, args),
.stop(), .env(NAME), .vars(NAME); a failed start raises StartError.

State: DIR/services.json (mode 0600: it holds passwords and keys), one record per service under
"services", keyed by name ("postgresql", "mariadb", "s3", or the server's NAME):
    kind          postgresql | mariadb | s3 | dbcs-server
    pid, started  the process id and its start time (/proc/PID/stat, clock ticks after boot): a stop
                  signals that pid only while it still is the process that was started
    host, port    127.0.0.1 and the port the process itself bound
    log           its output (under DIR, also when its data is elsewhere)
    postgresql:   user, password, database, socket_dir, data_dir
    mariadb:      user, password, socket, data_dir
    s3:           endpoint, region, bucket, access_key, secret_key (moto checks signatures: its IAM user's key)
    dbcs-server:  url, api_keys (the first is the one `env` exports), args, data_dir, request_log
and "data_root" when the databases keep their files outside DIR (below).

Ports: dbcs-server binds port 0 itself and reports what it got (--port-file); moto_server binds port 0
and names the port in its first log line. PostgreSQL and MariaDB
cannot report a port-0 bind, so a port is picked below the kernel's ephemeral range (which port-0 binds
use) among those not listening, and when the process itself says the address is in use, it is
started again on another one: no probe socket is ever bound and released.

Users and directories: as root; PostgreSQL runs as postgres, MariaDB as mysql (both refuse root). They
keep their data and sockets under DIR when both users can enter DIR (DIR itself is made 0755). When they
cannot (DIR below a 0700 directory, such as a private TMPDIR) or DIR's path is too long for a socket,
the data goes to a new 0755 directory under /tmp (or /var/tmp); DBCS_SERVICES_DATA_ROOT=PATH chooses
where that directory is made, whatever DIR is (e.g. /dev/shm). Such a directory is recorded as data_root
and removed when the databases are stopped; services.json and every log stay in DIR. A start that fails
says which service, shows the end of its own log, and what to do.
"""

import argparse
import contextlib
import fcntl
import json
import os
import random
import re
import secrets
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HOST = "127.0.0.1"
API_PATH = "/api/v1"
STATE_FILE = "services.json"
DATABASES = ("postgresql", "mariadb")
# The system users the databases run as.
DB_USERS = {"postgresql": "postgres", "mariadb": "mysql"}
# How each kind is asked to stop: PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for clients).
STOP_SIGNALS = {"postgresql": signal.SIGINT, "mariadb": signal.SIGTERM, "s3": signal.SIGTERM, "dbcs-server": signal.SIGTERM}
STOP_SECONDS = 30
# Every one of the three says this when its port is taken (the system's text for EADDRINUSE).
ADDRESS_IN_USE = "Address already in use"
PORT_ATTEMPTS = 8
START_SECONDS = 60
# What a failed start shows of the log: all of it up to LOG_LINES lines, else its error lines and its end.
LOG_LINES = 25
LOG_END_LINES = 10
ERROR_LINE = re.compile(r"error|fatal|denied|cannot|can't|could not|failed|no such|in use", re.IGNORECASE)
# Unix socket paths are limited to 107 bytes; PostgreSQL's is the socket directory + "/.s.PGSQL.NNNNN".
SOCKET_PATH_MAX = 100
DATA_ROOT_FALLBACKS = ("/tmp", "/var/tmp")
# The S3-compatible server: moto's, with signature checks on (its first requests, unsigned, make the IAM user
# whose key every later request must be signed with), one region and one bucket.
S3 = "s3"
S3_REGION = "us-east-1"
S3_BUCKET = "dbcs-test"
S3_USER = "dbcs"
S3_BOOTSTRAP_ACTIONS = 3  # create_user, put_user_policy, create_access_key: unsigned, then signatures count
S3_ALLOW_ALL = '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}'
S3_LISTENING = re.compile(r"Running on http://127\.0\.0\.1:(\d+)")

# Children of this process, by pid: polled (and so reaped) rather than probed, so that a stopped child
# does not linger as a zombie that still looks alive.
_CHILDREN: dict[int, subprocess.Popen] = {}
_STATE_LOCK = threading.Lock()


class StartError(RuntimeError):
    """A service did not start. The message names it, shows the end of its own log and says what to do."""


def _secret() -> str:
    return secrets.token_urlsafe(18)


def _log_excerpt(path: Path, offset: int = 0) -> str:
    """The log from offset, indented: whole when short, else its error lines and its end."""
    lines = _log_since(path, offset).strip().splitlines()
    if not lines:
        return "    (the log is empty)" if path.exists() else "    (no log was written)"
    if len(lines) > LOG_LINES:
        errors = [line for line in lines[:-LOG_END_LINES] if ERROR_LINE.search(line)][:LOG_LINES - LOG_END_LINES]
        lines = errors + ["..."] + lines[-LOG_END_LINES:]
    return "\n".join("    " + line for line in lines)


def _log_since(path: Path, offset: int) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _start_failure(what: str, reason: str, log: Path, offset: int, hint: str) -> StartError:
    return StartError(f"{what} did not start: {reason}. From its log ({log}):\n"
                      f"{_log_excerpt(log, offset)}\nWhat to do: {hint}")


# ---------------------------------------------------------------- processes

def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks after boot, or None when there is no such live process."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # After the command name: state is field 3 of stat(5), starttime field 22.
    return None if fields[0] in ("Z", "X") else int(fields[19])


def _alive(pid: int, started: int | None) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        del _CHILDREN[pid]
        return False
    now = process_start_time(pid)
    return now is not None and (started is None or now == started)


def _spawn(command: list[str], log: Path, user: str | None = None, env: dict | None = None,
           cwd: Path | None = None) -> subprocess.Popen:
    """Start a process in its own session (a Ctrl-C of the caller's terminal does not reach it; it is
    stopped by pid), its output appended to log, as `user` when given."""
    ids = {}
    if user is not None:
        ids = dict(user=user, group=user, extra_groups=[])
    with open(log, "ab") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,  # pylint: disable=consider-using-with
                                env=env, cwd=cwd, start_new_session=True, **ids)
    _CHILDREN[proc.pid] = proc
    return proc


def _run_logged(command: list[str], log: Path, user: str | None = None, env: dict | None = None,
                cwd: Path | None = None) -> int:
    """Run a command to its end, its output appended to log; its exit status."""
    proc = _spawn(command, log, user=user, env=env, cwd=cwd)
    proc.wait()
    _CHILDREN.pop(proc.pid, None)
    return proc.returncode


def _db_env(home: Path) -> dict:
    """A database process's environment: TMPDIR is its own directory (MariaDB writes temporary files to
    TMPDIR, and the caller's may be closed to the mysql user)."""
    return dict(os.environ, TMPDIR=str(home))


def _process_record(proc: subprocess.Popen) -> dict:
    return dict(pid=proc.pid, started=process_start_time(proc.pid))


def terminate(pids: list[tuple[int, int | None, int]], seconds: float = STOP_SECONDS) -> None:
    """Send each (pid, started, signal) its signal, wait for all, then SIGKILL those still running."""
    for pid, started, sig in pids:
        if _alive(pid, started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
    deadline = time.monotonic() + seconds
    for pid, started, _sig in pids:
        while _alive(pid, started) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid, started):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            while _alive(pid, started):
                time.sleep(0.05)


# ---------------------------------------------------------------- ports

def _listening_ports() -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as handle:
                rows = handle.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 3 and fields[3] == "0A":  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def pick_port() -> int:
    """A port for a database, below the kernel's ephemeral range (where port-0 binds and outgoing
    connections take theirs) and not listening now. Nothing is bound here: the database binds it, and
    when another process took it meanwhile, the database says so and is started on another."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as handle:
            low = int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    taken = _listening_ports()
    while True:
        port = random.randrange(10000, max(low, 10001))
        if port not in taken:
            return port


# ---------------------------------------------------------------- packages

def _apt_install(package: str) -> None:
    print(f"services: installing {package} with apt-get", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")

    def install():
        return subprocess.run(["apt-get", "install", "-y", "-q", package], capture_output=True, text=True, env=env,
                              check=False)

    installed = install()
    if installed.returncode != 0:  # the package lists may be missing or old
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
        installed = install()
    if installed.returncode != 0:
        tail = "\n".join("    " + line for line in installed.stderr.strip().splitlines()[-LOG_END_LINES:])
        raise StartError(f"{package} is missing and apt-get could not install it:\n{tail}\n"
                         f"What to do: install {package} (as root), then start again")


def mariadbd() -> str | None:
    return shutil.which("mariadbd") or ("/usr/sbin/mariadbd" if os.access("/usr/sbin/mariadbd", os.X_OK) else None)


def install_mariadb() -> None:
    if not mariadbd():
        _apt_install("mariadb-server")


def pg_bindir() -> Path | None:
    """Where initdb and postgres live: pg_config's bindir, else the newest /usr/lib/postgresql/*/bin."""
    if shutil.which("pg_config"):
        bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False).stdout.strip()
        if bindir and (Path(bindir) / "initdb").exists():
            return Path(bindir)
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return found[-1].parent if found else None


def install_postgresql() -> None:
    if not pg_bindir():
        _apt_install("postgresql")


# ---------------------------------------------------------------- the API server

def server_command(port_file: Path, data_dir: Path, request_log: Path, args: list[str] | tuple = (),
                   port: int = 0) -> list[str]:
    """dbcs-server on 127.0.0.1, binding `port` itself (0: one the system picks) and writing it to port_file."""
    return [sys.executable, "-m", "dbcs_server", "--host", HOST, "--port", str(port), "--port-file", str(port_file),
            "--data-dir", str(data_dir), "--request-log", str(request_log), *args]


def _healthy(url: str) -> bool:
    """GET /health answers 200. Straight to 127.0.0.1, whatever proxy the environment names; over TLS
    unverified: the port came from the process itself, so it is ours whatever certificate it shows."""
    handlers = [urllib.request.ProxyHandler({})]
    if url.startswith("https:"):
        handlers.append(urllib.request.HTTPSHandler(context=ssl._create_unverified_context()))  # pylint: disable=protected-access
    try:
        with urllib.request.build_opener(*handlers).open(url + "/health", timeout=2) as answer:
            return answer.status == 200
    except OSError:
        return False


def _server_hint(log_text: str) -> str:
    if "No module named" in log_text and "dbcs_server" in log_text:
        return ("dbcs_server is not installed for this Python; run `make venv` and use .venv/bin/python "
                "(" + sys.executable + " was used)")
    return "correct the dbcs-server options or the condition its log reports, then start it again"


# ---------------------------------------------------------------- the state directory

class Services:
    """The services started under one state directory; their records in DIR/services.json."""

    def __init__(self, directory):
        self.dir = Path(directory).absolute()
        self.state_file = self.dir / STATE_FILE

    # -- state

    @contextlib.contextmanager
    def _locked(self):
        """Read-modify-write of services.json, one writer at a time (threads and processes)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with _STATE_LOCK, open(self.dir / ".services.lock", "a", encoding="utf-8") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.state()
            yield state
            partial = self.state_file.with_name(STATE_FILE + ".partial")
            with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
                json.dump(state, out, indent=2)
                out.write("\n")
            os.replace(partial, self.state_file)

    def state(self) -> dict:
        try:
            with open(self.state_file, encoding="utf-8") as handle:
                state = json.load(handle)
        except FileNotFoundError:
            state = {}
        state.setdefault("services", {})
        return state

    def record(self, name: str) -> dict:
        services = self.state()["services"]
        if name not in services:
            known = ", ".join(services) or "none"
            raise KeyError(f"no service {name!r} in {self.state_file} (started there: {known})")
        return services[name]

    def running(self, name: str) -> bool:
        record = self.state()["services"].get(name)
        return record is not None and _alive(record["pid"], record.get("started"))

    def _save(self, name: str, record: dict) -> dict:
        with self._locked() as state:
            state["services"][name] = record
        return record

    # -- where the databases keep their files

    @staticmethod
    def _closed_to_users(path: Path, users=tuple(DB_USERS.values())) -> tuple[str, Path] | None:
        """(user, the outermost directory that stops it) for the first of the users that cannot enter path;
        None when all can."""
        def enters(user, directory):
            return subprocess.run(["test", "-x", str(directory)], user=user, group=user, extra_groups=[],
                                  check=False).returncode == 0

        for user in users:
            if not enters(user, path):
                return user, next(step for step in [*reversed(path.parents), path] if not enters(user, step))
        return None

    def _data_root(self) -> Path:
        """Where the databases keep data and sockets: a new directory in $DBCS_SERVICES_DATA_ROOT when it is
        set; else DIR when postgres and mysql can enter it and its socket paths fit; else a new directory
        under /tmp. A new directory is recorded as data_root and removed with the databases."""
        state = self.state()
        if state.get("data_root") and Path(state["data_root"]).is_dir():
            return Path(state["data_root"])
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        base = os.environ.get("DBCS_SERVICES_DATA_ROOT")
        if not base:
            fits = len(str(self.dir / "postgresql" / ".s.PGSQL.65535")) <= SOCKET_PATH_MAX
            if fits and self._closed_to_users(self.dir) is None:
                return self.dir
            base = next((b for b in DATA_ROOT_FALLBACKS if Path(b).is_dir() and self._closed_to_users(Path(b)) is None),
                        None)
            if base is None:
                return self.dir  # the databases will say what is wrong; their logs are shown
            print(f"services: the postgres and mysql users cannot use {self.dir} (a directory above it is closed to "
                  f"them, or the path is too long for a socket): their data goes to a new directory in {base}",
                  file=sys.stderr)
        root = Path(tempfile.mkdtemp(prefix="dbcs-services-", dir=base))
        os.chmod(root, 0o755)
        with self._locked() as state:
            state["data_root"] = str(root)
        return root

    def _prepare(self, kind: str, root: Path) -> tuple[Path, Path]:
        """A fresh directory for the service (owned by its user) under root; its log directory under DIR."""
        home = root / kind
        shutil.rmtree(home / "data", ignore_errors=True)  # throwaway: every start begins empty
        home.mkdir(parents=True, exist_ok=True)
        shutil.chown(home, DB_USERS[kind], DB_USERS[kind])
        os.chmod(home, 0o755)
        logs = self.dir / kind
        logs.mkdir(parents=True, exist_ok=True)
        return home, logs

    # -- databases

    def start_databases(self) -> dict:
        """PostgreSQL and MariaDB (each unless already running here), started side by side. Either both
        run afterwards or a StartError is raised and neither that this call started is left running."""
        if os.geteuid() != 0:
            raise StartError("the databases did not start: this needs root (PostgreSQL and MariaDB run as the "
                             "postgres and mysql users, which root switches to). What to do: run as root")
        install_mariadb()
        install_postgresql()
        wanted = [kind for kind in DATABASES if not self.running(kind)]
        root = self._data_root() if wanted else None
        starters = {"postgresql": self.start_postgresql, "mariadb": self.start_mariadb}
        with ThreadPoolExecutor(len(wanted) or 1) as pool:
            futures = {kind: pool.submit(starters[kind], root) for kind in wanted}
        errors = [str(f.exception()) for f in futures.values() if f.exception() is not None]
        if errors:
            self._stop([kind for kind, f in futures.items() if f.exception() is None])
            raise StartError("\n\n".join(errors))
        services = self.state()["services"]
        return {kind: services[kind] for kind in DATABASES}

    def _start_on_free_port(self, what: str, launch, ready, log: Path, hint: str) -> tuple[subprocess.Popen, int]:
        """launch(port) -> process; ready(process, log offset of this start) -> True once it serves. Started
        again on another port when the process says its address is in use."""
        for _attempt in range(PORT_ATTEMPTS):
            port = pick_port()
            offset = _size(log)
            proc = launch(port)
            deadline = time.monotonic() + START_SECONDS
            while proc.poll() is None and time.monotonic() < deadline:
                if ready(proc, offset):
                    return proc, port
                time.sleep(0.05)
            if proc.poll() is None:
                terminate([(proc.pid, None, signal.SIGKILL)])
                raise _start_failure(what, f"not ready after {START_SECONDS} s", log, offset, hint)
            if ADDRESS_IN_USE not in _log_since(log, offset):
                raise _start_failure(what, f"it exited with status {proc.returncode}", log, offset, hint)
        raise _start_failure(what, f"{PORT_ATTEMPTS} ports in a row were taken", log, 0,
                             "stop some of the programs listening on 127.0.0.1, or try again")

    def _db_hint(self, kind: str, root: Path) -> str:
        closed = self._closed_to_users(root, (DB_USERS[kind],))
        if closed is not None:
            user, step = closed
            return (f"the {user} user cannot enter {step} (mode {step.stat().st_mode & 0o777:04o}), so the databases "
                    f"cannot use {root}: set DBCS_SERVICES_DATA_ROOT (or TMPDIR) to a directory every user can enter, "
                    f"such as /tmp, or unset it")
        return (f"the {kind} server runs as the {DB_USERS[kind]} user with its files in {root / kind}; "
                f"the log above says what failed")

    def start_postgresql(self, root: Path | None = None) -> dict:
        """A fresh PostgreSQL cluster (superuser postgres, a random password) on a port of its own."""
        root = root or self._data_root()
        bindir = pg_bindir()
        home, logs = self._prepare("postgresql", root)
        data, password = home / "data", _secret()
        hint = self._db_hint("postgresql", root)
        pwfile = home / "pwfile"
        with open(os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
            out.write(password + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        initdb_log = logs / "initdb.log"
        offset = _size(initdb_log)
        status = _run_logged([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
                              "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"],
                             initdb_log, user="postgres", env=_db_env(home), cwd=home)
        pwfile.unlink(missing_ok=True)
        if status != 0:
            raise _start_failure("PostgreSQL", f"initdb exited with status {status}", initdb_log, offset, hint)
        log = logs / "server.log"

        def launch(port):
            return _spawn([str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(home),
                           "-c", "listen_addresses=" + HOST, "-c", "fsync=off"], log, user="postgres",
                          env=_db_env(home), cwd=home)

        def ready(proc, _offset):
            try:
                lines = (data / "postmaster.pid").read_text(encoding="utf-8").splitlines()
            except OSError:
                return False
            return len(lines) >= 8 and lines[0] == str(proc.pid) and lines[7].strip() == "ready"

        proc, port = self._start_on_free_port("PostgreSQL", launch, ready, log, hint)
        return self._save("postgresql", dict(
            kind="postgresql", **_process_record(proc), host=HOST, port=port, user="postgres", password=password,
            database="postgres", socket_dir=str(home), data_dir=str(data), log=str(log)))

    def start_mariadb(self, root: Path | None = None) -> dict:
        """A fresh MariaDB (TCP user dbcs@'%' with every privilege, a random password) on a port of its own."""
        root = root or self._data_root()
        home, logs = self._prepare("mariadb", root)
        data, socket_path = home / "data", home / "mariadb.sock"
        hint = self._db_hint("mariadb", root)
        install_log = logs / "install.log"
        offset = _size(install_log)
        status = _run_logged(["mariadb-install-db", "--no-defaults", "--user=mysql", f"--datadir={data}",
                              "--auth-root-authentication-method=normal", "--skip-test-db"], install_log,
                             env=_db_env(home), cwd=home)
        if status != 0:
            raise _start_failure("MariaDB", f"mariadb-install-db exited with status {status}", install_log, offset, hint)
        log = logs / "server.log"

        def launch(port):
            return _spawn([mariadbd(), "--no-defaults", "--user=mysql", f"--datadir={data}", f"--port={port}",
                           "--bind-address=" + HOST, f"--socket={socket_path}", f"--pid-file={home / 'mariadb.pid'}",
                           "--character-set-server=utf8mb4", "--skip-name-resolve",
                           "--innodb-flush-log-at-trx-commit=2"], log, env=_db_env(home), cwd=home)

        def ready(_proc, offset):
            return "ready for connections" in _log_since(log, offset)

        proc, port = self._start_on_free_port("MariaDB", launch, ready, log, hint)
        password = _secret()
        created = subprocess.run(
            ["mariadb", "--no-defaults", f"--socket={socket_path}", "-u", "root"], capture_output=True, text=True,
            check=False, input=f"CREATE OR REPLACE USER 'dbcs'@'%' IDENTIFIED BY '{password}';\n"
                               "GRANT ALL PRIVILEGES ON *.* TO 'dbcs'@'%';\nFLUSH PRIVILEGES;\n")
        record = self._save("mariadb", dict(
            kind="mariadb", **_process_record(proc), host=HOST, port=port, user="dbcs", password=password,
            socket=str(socket_path), data_dir=str(data), log=str(log)))
        if created.returncode != 0:
            self.stop("mariadb")
            raise StartError(f"MariaDB started but its user 'dbcs' could not be created:\n    {created.stderr.strip()}\n"
                             f"What to do: see {log}")
        return record

    # -- the object store

    def start_s3(self) -> dict:
        """moto_server on a port it binds itself, an IAM user with an access key, and the bucket S3_BUCKET
        made with that key. A server already running here is kept."""
        existing = self.state()["services"].get(S3)
        if existing is not None and self.running(S3):
            return existing
        import boto3  # pylint: disable=import-outside-toplevel  # only this service needs it
        from botocore.config import Config  # pylint: disable=import-outside-toplevel

        home = self.dir / S3
        home.mkdir(parents=True, exist_ok=True)
        log = home / "server.log"
        offset = _size(log)
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(S3_BOOTSTRAP_ACTIONS))
        proc = _spawn([sys.executable, "-m", "moto.server", "-H", HOST, "-p", "0"], log, env=env, cwd=home)
        hint = "moto[server] is needed (requirements-dev.txt: run `make venv` and use .venv/bin/python)"
        deadline = time.monotonic() + START_SECONDS
        found = None
        while proc.poll() is None and time.monotonic() < deadline and found is None:
            found = S3_LISTENING.search(_log_since(log, offset))
            time.sleep(0.05)
        if found is None:
            if proc.poll() is None:
                terminate([(proc.pid, None, signal.SIGKILL)])
            raise _start_failure("moto_server (S3)", "it named no port it listens on", log, offset, hint)
        port = int(found.group(1))
        endpoint = f"http://{HOST}:{port}"
        options = dict(endpoint_url=endpoint, region_name=S3_REGION, config=Config(retries={"max_attempts": 3}))
        try:
            iam = boto3.client("iam", aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap", **options)
            iam.create_user(UserName=S3_USER)
            iam.put_user_policy(UserName=S3_USER, PolicyName="all", PolicyDocument=S3_ALLOW_ALL)
            key = iam.create_access_key(UserName=S3_USER)["AccessKey"]
            boto3.client("s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"],
                         **options).create_bucket(Bucket=S3_BUCKET)
        except Exception as exc:  # pylint: disable=broad-except  # any failure: the process goes, the cause is told
            terminate([(proc.pid, None, signal.SIGKILL)])
            raise _start_failure("moto_server (S3)", f"its bucket or user could not be made ({exc})", log, offset,
                                 hint) from None
        return self._save(S3, dict(
            kind=S3, **_process_record(proc), host=HOST, port=port, endpoint=endpoint, region=S3_REGION,
            bucket=S3_BUCKET, access_key=key["AccessKeyId"], secret_key=key["SecretAccessKey"], log=str(log)))

    # -- API servers

    def start_server(self, name: str, args: list[str] | tuple = (), keys: list[str] | None = None, port: int = 0,
                     data_dir=None, request_log=None, log=None, timeout: float = START_SECONDS) -> dict:
        """Start dbcs-server NAME with these options (a fresh key unless `keys`). It binds `port` itself, and
        when `port` is taken, a port the system picks. Returns its record once /health answers. A server of
        this name already running with the same options is kept."""
        if name in (*DATABASES, S3) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
            raise ValueError(f"server name {name!r}: use letters, digits, '.', '_' or '-', and not {(*DATABASES, S3)}")
        args = list(args)
        existing = self.state()["services"].get(name)
        if existing is not None and self.running(name):
            if existing["args"] == args and (keys is None or existing["api_keys"] == list(keys)):
                return existing
            raise StartError(f"dbcs-server {name!r} is already running in {self.dir} with other options. "
                             f"What to do: stop it first")
        home = self.dir / name
        home.mkdir(parents=True, exist_ok=True)
        keys = list(keys) if keys else [_secret()]
        data_dir = Path(data_dir or home / "data")
        request_log = Path(request_log or home / "requests.jsonl")
        log = Path(log or home / "server.log")
        port_file = home / "port"
        scheme = "https" if "--tls-cert" in args else "http"
        env = dict(os.environ, DBCS_API_KEYS=",".join(keys))
        for try_port in dict.fromkeys((port, 0)):
            port_file.unlink(missing_ok=True)
            offset = _size(log)
            proc = _spawn(server_command(port_file, data_dir, request_log, args, try_port), log, env=env)
            deadline = time.monotonic() + timeout
            url = None
            while proc.poll() is None and time.monotonic() < deadline:
                if url is None and port_file.exists():
                    bound = int(port_file.read_text(encoding="ascii"))
                    url = f"{scheme}://{HOST}:{bound}{API_PATH}"
                if url is not None and _healthy(url):
                    return self._save(name, dict(
                        kind="dbcs-server", **_process_record(proc), host=HOST, port=bound, url=url, api_keys=keys,
                        args=args, data_dir=str(data_dir), request_log=str(request_log), log=str(log)))
                time.sleep(0.05)
            text = _log_since(log, offset)
            if proc.poll() is None:
                terminate([(proc.pid, None, signal.SIGKILL)])
                raise _start_failure(f"dbcs-server {name!r}", f"no answer from /health after {timeout:.0f} s", log, offset,
                                     _server_hint(text))
            if not (try_port and ADDRESS_IN_USE in text):
                raise _start_failure(f"dbcs-server {name!r}", f"it exited with status {proc.returncode}", log, offset,
                                     _server_hint(text))
            print(f"services: port {try_port} is in use by another program; {name} listens on a port the system picks",
                  file=sys.stderr)
        raise AssertionError("unreachable: port 0 cannot be in use")

    # -- stopping

    def stop(self, *names: str) -> None:
        """Stop the named services (all when none is named) by pid, and forget them."""
        self._stop(list(names) if names else list(self.state()["services"]))

    def _stop(self, names: list[str]) -> None:
        """Stop these services; the data directory made outside DIR goes with the last database."""
        services = self.state()["services"]
        chosen = [n for n in names if n in services]
        terminate([(services[n]["pid"], services[n].get("started"), STOP_SIGNALS[services[n]["kind"]]) for n in chosen])
        with self._locked() as state:
            for name in chosen:
                state["services"].pop(name, None)
            data_root = state.get("data_root")
            if data_root and not any(kind in state["services"] for kind in DATABASES):
                shutil.rmtree(data_root, ignore_errors=True)
                del state["data_root"]

    def kill(self, name: str) -> None:
        """SIGKILL one service (a crash, for the tests that need one) and forget it."""
        record = self.record(name)
        terminate([(record["pid"], record.get("started"), signal.SIGKILL)])
        with self._locked() as state:
            state["services"].pop(name, None)

    # -- what callers read

    def env(self, server: str | None = None) -> dict[str, str]:
        """The environment variables the tests, the demo and the example read."""
        services = self.state()["services"]
        env = {}
        if "postgresql" in services:
            pg = services["postgresql"]
            env.update(DBCS_PG_HOST=pg["host"], DBCS_PG_PORT=str(pg["port"]), DBCS_PG_USER=pg["user"],
                       DBCS_PG_PASSWORD=pg["password"], DBCS_PG_DATABASE=pg["database"], DBCS_PG_SOCKET_DIR=pg["socket_dir"])
        if "mariadb" in services:
            my = services["mariadb"]
            env.update(DBCS_MY_HOST=my["host"], DBCS_MY_PORT=str(my["port"]), DBCS_MY_USER=my["user"],
                       DBCS_MY_PASSWORD=my["password"], DBCS_MY_SOCKET=my["socket"])
        if S3 in services:
            s3 = services[S3]
            env.update(DBCS_S3_ENDPOINT=s3["endpoint"], DBCS_S3_REGION=s3["region"], DBCS_S3_BUCKET=s3["bucket"],
                       DBCS_S3_ACCESS_KEY=s3["access_key"], DBCS_S3_SECRET_KEY=s3["secret_key"])
        if server is not None:
            record = self.record(server)
            env.update(DBCS_API_URL=record["url"], DBCS_API_KEY=record["api_keys"][0],
                       DBCS_REQUEST_LOG=record["request_log"], DBCS_SERVER_LOG=record["log"])
        return env

    def vars(self, server: str) -> dict:
        """The variables of an Ansible test run (integration targets, molecule) against server NAME and the
        databases of DIR, and two fresh passwords for the targets to set."""
        record, pg, my = self.record(server), self.record("postgresql"), self.record("mariadb")
        s3 = self.state()["services"].get(S3)
        extra = {} if s3 is None else {"dbcs_s3": {field: s3[field] for field in (
            "endpoint", "region", "bucket", "access_key", "secret_key")}}
        return dict(
            dbcs_api_url=record["url"], dbcs_api_key=record["api_keys"][0], dbcs_request_log=record["request_log"],
            dbcs_server_hides_passwords="--hide-passwords" in record["args"],
            dbcs_api_dialect=api_dialect(record["args"]),
            dbcs_pg=dict(host=pg["host"], port=pg["port"], user=pg["user"], password=pg["password"], database=pg["database"]),
            dbcs_my=dict(host=my["host"], port=my["port"], user=my["user"], password=my["password"]),
            dbcs_test_password_a=secrets.token_urlsafe(15), dbcs_test_password_b=secrets.token_urlsafe(15), **extra)


def api_dialect(args: list[str]) -> int:
    """The API dialect a server serves, from its options: 1 or 2 (dbcs-server's default, also DBCS_API_VERSION)."""
    value = os.environ.get("DBCS_API_VERSION", "2")
    for index, arg in enumerate(args):
        if arg == "--api-version" and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith("--api-version="):
            value = arg.split("=", 1)[1]
    return 1 if str(value) == "1" else 2


# ---------------------------------------------------------------- command line

def _print_started(record: dict, name: str) -> None:
    where = record.get("url") or record.get("endpoint") or f"{record['host']}:{record['port']}"
    print(f"{name}: {where} (pid {record['pid']}; log {record['log']})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="services.py", description=" ".join(__doc__.splitlines()[:3]),
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.splitlines()[3:17]))
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("start-db", help="start PostgreSQL and MariaDB").add_argument("dir")
    commands.add_parser("start-s3", help="start an S3-compatible server (moto) with a bucket").add_argument("dir")
    start_server = commands.add_parser("start-server", allow_abbrev=False,
                                       help="start a local API server NAME; other options go to dbcs-server")
    start_server.add_argument("dir")
    start_server.add_argument("name")
    start_server.add_argument("--port", type=int, default=0, help="try this port first (default: one the system picks)")
    start_server.add_argument("--key", help="the API key (default: a fresh random one)")
    commands.add_parser("stop", help="stop everything started under each DIR").add_argument("dirs", nargs="+", metavar="dir")
    env = commands.add_parser("env", help="print shell exports")
    env.add_argument("dir")
    env.add_argument("name", nargs="?")
    test_vars = commands.add_parser("vars", help="print the variables of an Ansible test run (JSON, which YAML reads)")
    test_vars.add_argument("dir")
    test_vars.add_argument("name")
    test_vars.add_argument("--output", type=Path, help="write them to this file (mode 0600) instead")
    commands.add_parser("install-mariadb", help="apt-get install mariadb-server when it is missing")
    args, server_args = parser.parse_known_args(argv)
    if server_args and args.command != "start-server":
        parser.error("unrecognized arguments: " + " ".join(server_args))
    try:
        if args.command == "install-mariadb":
            install_mariadb()
        elif args.command == "start-db":
            for kind, record in Services(args.dir).start_databases().items():
                _print_started(record, kind)
        elif args.command == "start-s3":
            _print_started(Services(args.dir).start_s3(), S3)
        elif args.command == "start-server":
            record = Services(args.dir).start_server(args.name, server_args, [args.key] if args.key else None, args.port)
            _print_started(record, args.name)
        elif args.command == "stop":
            for directory in args.dirs:
                if (Path(directory) / STATE_FILE).exists():
                    Services(directory).stop()
        elif args.command == "env":
            for name, value in Services(args.dir).env(args.name).items():
                print(f"export {name}={shlex.quote(value)}")
        elif args.command == "vars":
            text = json.dumps(Services(args.dir).vars(args.name), indent=2) + "\n"
            if args.output:
                with open(os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
                    out.write(text)
            else:
                sys.stdout.write(text)
    except (StartError, KeyError) as exc:
        print(f"services: {exc.args[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
