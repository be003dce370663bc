"""The server flavours the collection-level reliability suites run against, and what each makes a module send.

    flavour.server(workdir, key_count=2)   # a ServerProcess of this flavour (not started)
    flavour.session_requests               # what a module run sends before its own work
    flavour.held(server, key)              # what the server holds, passwords included (when it hides them: restarted
                                           # on its data without --hide-passwords to read them, then as it was)

v1: as the vendor's v1 server answers (passwords returned, full lists, the object on create).
v1-hidden: a hardened v1 server in the documented shapes (passwords hidden, summary lists, id-only creates).
v2: the 2.x dialect, as every server installed since December 2025 speaks it.

The collection detects the dialect per module run: GET /system/defaults (no API key) first; a 2.x
server answers its install id (then sent as X-Install-ID), and the run needs no session start; a v1
server answers 404, and the run starts a session with GET /user/configs. So a module run sends 2
requests before its own work on v1 and 1 on 2.x; to a server that answers /system/defaults with
anything but an install id (a wrong server, a URL without /api/v1) it sends those same 2.
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from declared import server_connections  # pylint: disable=import-error
from server_helpers import ServerProcess  # pylint: disable=import-error

HIDING = ("--hide-passwords",)
NO_INSTALL_ID_SESSION = 2  # GET /system/defaults (not an install id), then GET /user/configs
# What a report row names as its server when the scenario does not depend on it (run once, against PRIMARY).
ANY_SERVER = "any server (run once, against 2.x)"


@dataclass(frozen=True)
class Flavour:
    name: str
    api_version: int
    args: tuple[str, ...]
    label: str
    # The flavour that also runs what does not depend on the server (input refused before any request, the
    # wrong servers, TLS failures before the first answer): 2.x, what servers installed today speak.
    primary: bool = False

    @property
    def dialect(self) -> str:
        return "2.x" if self.api_version == 2 else "v1"

    @property
    def hides_passwords(self) -> bool:
        return "--hide-passwords" in self.args

    @property
    def list_summary(self) -> bool:
        return "--list-summary" in self.args

    @property
    def session_requests(self) -> int:
        """Requests a module run sends before its own: GET /system/defaults, and on v1 GET /user/configs."""
        return 1 if self.api_version == 2 else NO_INSTALL_ID_SESSION

    def declared(self, connections: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Declared connections as a user of this flavour declares them: against a server that hides passwords,
        update_password: on_create (the documented way to idempotent runs there; with always, every run sends the
        password and reports a change)."""
        if not self.hides_passwords:
            return connections
        return [dict(c, update_password="on_create") if c.get("state", "present") != "absent" else c for c in connections]

    def size(self, full: int, smoke: int) -> int:
        """A load size: `full` for the primary flavour (or every flavour with DBCS_REL_FULL_SIZE=1), `smoke` for the
        others, which pass through the same scenarios with fewer connections (the make test time budget)."""
        return full if self.primary or os.environ.get("DBCS_REL_FULL_SIZE") == "1" else smoke

    def server(self, workdir: Path, key_count: int = 2, extra: tuple[str, ...] = (), **kwargs) -> ServerProcess:
        return ServerProcess(workdir, key_count=key_count, args=[*self.args, *extra], api_version=self.api_version,
                             **kwargs)

    @contextmanager
    def reveal(self, server: ServerProcess, restore: bool = True):
        """The server restarted on its data with passwords shown, for the block; then (`restore`) as it was. A
        restart gets a new port: nothing may be talking to the server meanwhile. Nothing to do for a flavour
        that shows passwords."""
        if not self.hides_passwords:
            yield server
            return
        hidden = list(server.args)
        server.args = [arg for arg in hidden if arg not in HIDING]
        server.restart()
        try:
            yield server
        finally:
            server.args = hidden
            if restore:
                server.restart()

    def held(self, server: ServerProcess, key: str, restore: bool = True) -> list[dict[str, Any]]:
        """Every connection the key holds on the server, in full and flat, passwords included (see reveal)."""
        with self.reveal(server, restore):
            return server_connections(server.api(key))


FLAVOURS = (
    Flavour("v1", 1, ("--strict-configs",), "v1 as the vendor's server answers"),
    Flavour("v1-hidden", 1, ("--strict-configs", "--hide-passwords", "--list-summary", "--sparse-create"),
            "v1 hiding passwords (summary lists, id-only creates)"),
    Flavour("v2", 2, (), "2.x", primary=True),
)
PRIMARY = next(flavour for flavour in FLAVOURS if flavour.primary)
